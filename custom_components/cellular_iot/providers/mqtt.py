"""An asyncio MQTT client built on paho-mqtt and driven by the caller's event loop.

paho does the protocol; this module does the I/O the way Home Assistant's own MQTT
integration does: paho's socket callbacks register the socket with the event loop
(``add_reader`` / ``add_writer``), a one-second timer runs paho's keep-alive, and the
only blocking step -- opening the TCP (and TLS) connection -- runs in the loop's default
executor. No paho thread is started.

What the client adds on top of paho:

* :meth:`MqttClient.publish` waits for the broker's PUBACK at QoS 1 (for QoS 0, until
  the message was written to the socket). A message published while the connection is
  down stays queued in paho and is sent after the reconnect.
* Automatic reconnect with exponential backoff and jitter; the subscriptions are made
  again after every connect.
* :meth:`MqttClient.stop` disconnects cleanly and fails what is still waiting.
* Problems that retrying alone will not solve are reported once each through
  ``on_problem`` (see :class:`MqttProblem`): the broker refusing the credentials, and
  *flapping* -- connections that the broker keeps closing soon after accepting them,
  typically because another client with the same client id takes the session over.
  While flapping, the reconnect delay keeps growing instead of starting again from the
  shortest one, and the lost connections are logged at debug level.
* Whatever a broker sends, nothing raises out of the read path: a message whose topic
  is not UTF-8 is dropped (and acknowledged, so the broker does not send it again).

Errors use the providers' hierarchy: refused credentials raise
:class:`ProviderAuthError`, a broker certificate that does not verify
:class:`MqttTlsError`, everything else :class:`ProviderConnectionError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
from enum import StrEnum
import logging
import random
import socket
import ssl
import time
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from .errors import ProviderAuthError, ProviderConnectionError, ProviderTimeoutError

_LOGGER = logging.getLogger(__name__)

DEFAULT_KEEPALIVE: Final = 60
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
# Reconnect backoff: the first retry after RECONNECT_MIN seconds, doubling up to
# RECONNECT_MAX, each delay multiplied by a random factor in RECONNECT_JITTER.
RECONNECT_MIN: float = 1.0
RECONNECT_MAX: float = 120.0
RECONNECT_JITTER: Final = (0.8, 1.2)
MISC_INTERVAL: float = 1.0
MAX_PACKETS_PER_READ: Final = 100
# A connection that ends within STABLE_AFTER seconds of the broker accepting it is
# short-lived; FLAP_THRESHOLD short-lived connections in a row are flapping. Flapping
# ends once a connection has stayed up for STABLE_AFTER seconds.
STABLE_AFTER: float = 60.0
FLAP_THRESHOLD: Final = 3
# CONNACK return codes 4 (bad user name or password) and 5 (not authorised).
_AUTH_REFUSED: Final = frozenset({4, 5, 134, 135})
# CONNACK return code 2: the broker does not accept this client id.
_ID_REJECTED: Final = frozenset({2, 133})


def reconnect_delay(attempt: int) -> float:
    """Return the seconds to wait before reconnect ``attempt`` (1, 2, ...)."""
    # The exponent is capped: 2 ** 1100 does not fit a float (days of outage).
    delay = min(RECONNECT_MAX, RECONNECT_MIN * 2.0 ** min(attempt - 1, 32))
    return delay * random.uniform(*RECONNECT_JITTER)


def monotonic() -> float:
    """Return the clock the flapping detection runs on (tests substitute their own)."""
    return time.monotonic()


class MqttProblem(StrEnum):
    """What keeps the client from staying connected, beyond a passing outage."""

    # The broker refuses the username or password (CONNACK 4 or 5).
    AUTH_REFUSED = "auth_refused"
    # The broker keeps closing the connection soon after accepting it.
    FLAPPING = "flapping"


class MqttTlsError(ProviderConnectionError):
    """The broker's certificate did not verify (unknown issuer, expired, other name)."""


class MqttClientIdRejectedError(ProviderConnectionError):
    """The broker does not accept the client id (CONNACK 2)."""


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = ""
    tls: bool = False
    verify_tls: bool = True
    keepalive: int = DEFAULT_KEEPALIVE
    # A persistent session (clean session off, needs a fixed client id): the broker
    # keeps the subscriptions and queues QoS 1 messages while the client is away.
    persistent_session: bool = False


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """One message received on a subscription."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


def valid_topic_filter(value: str) -> bool:
    """Return whether ``value`` is a valid MQTT subscription filter."""
    if not value or len(value.encode()) > 65535 or "\0" in value:
        return False
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def valid_topic_name(value: str) -> bool:
    """Return whether ``value`` can be published to (no wildcards)."""
    return (
        bool(value)
        and len(value.encode()) <= 65535
        and not any(char in value for char in "+#\0")
    )


def _reason_value(reason: ReasonCode | int) -> int:
    return reason.value if isinstance(reason, ReasonCode) else int(reason)


def _connack_error(reason: ReasonCode | int) -> Exception:
    value = _reason_value(reason)
    text = str(reason) if isinstance(reason, ReasonCode) else mqtt.connack_string(value)
    if value in _AUTH_REFUSED:
        return ProviderAuthError(f"The MQTT broker refused the credentials: {text}")
    if value in _ID_REJECTED:
        return MqttClientIdRejectedError(
            f"The MQTT broker refused the client ID: {text}"
        )
    return ProviderConnectionError(f"The MQTT broker refused the connection: {text}")


class MqttClient:
    """One broker connection: publish with acknowledgement, subscriptions, reconnects."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: Callable[[MqttMessage], None] | None = None,
        on_connection_change: Callable[[bool], None] | None = None,
        on_problem: Callable[[MqttProblem, bool], None] | None = None,
        on_connect_failed: Callable[[str], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Prepare the client; nothing connects before :meth:`start`.

        ``on_connection_change`` learns when the connection comes up and goes down;
        ``on_connect_failed`` why an attempt to connect failed (each attempt).
        """
        self._settings = settings
        self._subscriptions = list(subscriptions)
        self._on_message_cb = on_message
        self._on_connection_change = on_connection_change
        self._on_problem = on_problem
        self._on_connect_failed = on_connect_failed
        self._loop = asyncio.get_running_loop()
        self._connected = False
        self._stopping = False
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._pending_subscribe: dict[int, str] = {}
        # The outcome of the first connection attempt: None, or the error.
        self._first_result: asyncio.Future[Exception | None] = (
            self._loop.create_future()
        )
        self._connection_lost: asyncio.Future[bool] = self._loop.create_future()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._misc_handle: asyncio.TimerHandle | None = None
        # Set from a write made at once until the loop's next turn: what is
        # published meanwhile is written together then (see _send).
        self._batch_handle: asyncio.Handle | None = None
        self.last_error: str | None = None
        self.connect_count = 0
        self.session_present = False
        # Messages dropped before on_message (topic not UTF-8).
        self.dropped = 0
        self._problems: set[MqttProblem] = set()
        # When the broker accepted the current connection (None while there is none),
        # and how many connections in a row ended soon after that.
        self._session_since: float | None = None
        self._short_lived = 0
        self._attempt_failed = False

        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not (settings.persistent_session and settings.client_id),
            reconnect_on_failure=False,
        )
        client.connect_timeout = DEFAULT_CONNECT_TIMEOUT
        if settings.username:
            client.username_pw_set(settings.username, settings.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        self._client = client
        self._ssl_context = ssl_context
        self._tls_ready = not settings.tls

    @property
    def connected(self) -> bool:
        """Return whether the connection is up and the subscriptions are in place."""
        return self._connected

    @property
    def settings(self) -> MqttSettings:
        """Return where the client connects."""
        return self._settings

    @property
    def problems(self) -> frozenset[MqttProblem]:
        """Return the problems reported and not yet over."""
        return frozenset(self._problems)

    async def start(self, *, wait: bool = False, timeout: float = 15.0) -> None:
        """Start connecting (and keep reconnecting) in the background.

        With ``wait``, return only after the first connection attempt succeeded and
        raise its error otherwise (the client is then stopped): the config flow uses
        this to validate broker settings.
        """
        self._reconnect_task = self._loop.create_task(self._run_connect())
        self._schedule_misc()
        if not wait:
            return
        try:
            async with asyncio.timeout(timeout):
                error = await asyncio.shield(self._first_result)
        except TimeoutError:
            error = ProviderTimeoutError("The MQTT broker did not answer in time")
        if error is not None:
            await self.stop()
            raise error

    async def stop(self) -> None:
        """Disconnect, stop reconnecting and fail every publish still waiting."""
        self._stopping = True
        if self._misc_handle is not None:
            self._misc_handle.cancel()
            self._misc_handle = None
        if self._batch_handle is not None:
            self._batch_handle.cancel()
            self._batch_handle = None
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connected:
            self._client.disconnect()
            # Flush the DISCONNECT packet; paho closes the socket after writing it.
            self._client.loop_write()
        self._close_socket()
        self._set_connected(False)
        error = ProviderConnectionError("The MQTT client was stopped")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        if not self._first_result.done():
            self._first_result.set_result(error)
        # paho's __del__ closes sockets too: keep it from calling into a closed loop.
        self._client.on_socket_close = None
        self._client.on_socket_open = None
        self._client.on_socket_register_write = None
        self._client.on_socket_unregister_write = None

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        *,
        timeout: float = 30.0,
        queue: bool = True,
    ) -> int:
        """Publish and wait for the broker (QoS 1: its PUBACK); return the message id.

        While the connection is down a QoS 1 message stays queued in paho and is sent
        after the reconnect (a timeout leaves it queued: it may still be delivered); a
        QoS 0 message is refused at once. With ``queue=False`` any message is refused
        at once while the connection is down (the caller keeps it instead).
        """
        if self._stopping:
            raise ProviderConnectionError("The MQTT client was stopped")
        if not queue and not self._connected:
            raise ProviderConnectionError("Not connected to the MQTT broker")
        info = self._client.publish(topic, payload, qos)
        queued = info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS and not queued:
            # paho drops a QoS 0 message when there is no connection.
            raise ProviderConnectionError(
                f"The MQTT publish failed: {mqtt.error_string(info.rc)}"
            )
        if not queued and self._connected:
            self._send(qos)
        if not queued and info.is_published():
            return info.mid
        future: asyncio.Future[None] = self._loop.create_future()
        self._pending[info.mid] = future
        # A timer rather than asyncio.timeout(): one handle, no context manager,
        # on the path of every message.
        expiry = self._loop.call_later(timeout, _expire, future)
        try:
            await future
        except TimeoutError as err:
            raise ProviderTimeoutError(
                "The MQTT broker did not acknowledge the message in time"
                + ("" if self._connected else " (not connected; it stays queued)")
            ) from err
        finally:
            expiry.cancel()
            self._pending.pop(info.mid, None)
        return info.mid

    # --- connecting ---------------------------------------------------------------

    async def _run_connect(self) -> None:
        """Connect, and after each loss of the connection, reconnect with backoff."""
        attempt = 0
        while not self._stopping:
            if attempt:
                await asyncio.sleep(reconnect_delay(attempt))
            attempt += 1
            self._connection_lost = self._loop.create_future()
            self._attempt_failed = False
            connecting = self._loop.run_in_executor(None, self._connect_blocking)
            connecting.add_done_callback(self._connect_done)
            try:
                # Shielded: a stop cancels this task, not the connect in the thread,
                # whose end _connect_done sees.
                await asyncio.shield(connecting)
            except ssl.SSLCertVerificationError as err:
                self._connect_failed(
                    MqttTlsError(
                        f"Cannot reach the MQTT broker {self._settings.host}:"
                        f"{self._settings.port}: its certificate was not accepted "
                        f"({err.verify_message or err.reason})"
                    )
                )
                continue
            except (OSError, ValueError) as err:
                detail = getattr(err, "strerror", None) or type(err).__name__
                self._connect_failed(
                    ProviderConnectionError(
                        f"Cannot reach the MQTT broker {self._settings.host}:"
                        f"{self._settings.port}: {detail}"
                    )
                )
                continue
            # Wait until this connection is gone (or its CONNACK refused it); after
            # a connection that was up, start again from the shortest delay -- unless
            # the connections keep ending soon after they start (flapping).
            if await self._connection_lost:
                attempt = 1

    def _connect_done(self, connecting: asyncio.Future[None]) -> None:
        """Close what a connect opened after :meth:`stop` (it ran on in the executor).

        Left open, that connection would hold the client ID's session at the broker
        and knock off the next client with the ID until the broker's keep-alive ends.
        """
        if not connecting.cancelled():
            connecting.exception()  # retrieved: the task may be gone (stop)
        if self._stopping:
            self._close_socket()

    def _connect_blocking(self) -> None:
        """Open the TCP (and TLS) connection and send CONNECT (executor thread)."""
        if not self._tls_ready:
            context = self._ssl_context
            if context is None:
                # Loads the system's CA files: done here, off the event loop.
                context = ssl.create_default_context()
                if not self._settings.verify_tls:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            self._client.tls_set_context(context)
            if not self._settings.verify_tls:
                self._client.tls_insecure_set(True)
            self._tls_ready = True
        self._client.connect(
            self._settings.host, self._settings.port, self._settings.keepalive
        )

    def _connect_failed(self, error: Exception) -> None:
        self._attempt_failed = True
        self.last_error = str(error)
        _LOGGER.debug("%s", error)
        if self._on_connect_failed is not None and not self._stopping:
            self._on_connect_failed(str(error))
        if isinstance(error, ProviderAuthError):
            self._set_problem(MqttProblem.AUTH_REFUSED, True)
        if not self._first_result.done():
            self._first_result.set_result(error)

    def _set_problem(self, problem: MqttProblem, active: bool) -> None:
        """Report a problem when it starts and when it ends, once each."""
        if active == (problem in self._problems):
            return
        if active:
            self._problems.add(problem)
        else:
            self._problems.discard(problem)
        if self._on_problem is not None and not self._stopping:
            self._on_problem(problem, active)

    def _session_ended(self) -> bool:
        """Account for a connection that ended; return whether to reconnect at once.

        A connection the broker had accepted is reconnected after the shortest delay,
        unless connections keep ending soon after they start (flapping).
        """
        since, self._session_since = self._session_since, None
        if since is None:
            return False
        if monotonic() - since >= STABLE_AFTER:
            self._short_lived = 0
            return True
        self._short_lived += 1
        if self._short_lived >= FLAP_THRESHOLD:
            self._set_problem(MqttProblem.FLAPPING, True)
            return False
        return True

    # --- paho callbacks (on the event loop, except the socket-open/write ones) -------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        if reason.is_failure:
            self._connect_failed(_connack_error(reason))
            return
        self.connect_count += 1
        self.last_error = None
        # Whether the broker still had this client id's persistent session.
        self.session_present = bool(flags.session_present)
        self._session_since = monotonic()
        self._set_problem(MqttProblem.AUTH_REFUSED, False)
        self._pending_subscribe.clear()
        for topic, qos in self._subscriptions:
            result, mid = client.subscribe(topic, qos)
            if result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._pending_subscribe[mid] = topic
        if not self._pending_subscribe:
            self._ready()
        _LOGGER.debug(
            "Connected to the MQTT broker %s:%s",
            self._settings.host,
            self._settings.port,
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Any,
    ) -> None:
        topic = self._pending_subscribe.pop(mid, None)
        if topic is None:
            return
        if any(reason.is_failure for reason in reasons):
            _LOGGER.warning("The MQTT broker refused the subscription to %s", topic)
        if not self._pending_subscribe:
            self._ready()

    def _ready(self) -> None:
        """Report the connection up: connected and every subscription acknowledged."""
        self._set_connected(True)
        if not self._first_result.done():
            self._first_result.set_result(None)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        was_connected = self._connected
        accepted = self._session_since is not None
        self._set_connected(False)
        reconnect_now = self._session_ended()
        if self._stopping or self._attempt_failed:
            pass  # stopped, or the CONNACK refusal was reported already
        elif was_connected or accepted:
            self.last_error = f"Connection to the MQTT broker lost: {reason}"
            # Debug only: whoever uses the client says it once, at the level it
            # chooses (the integration: info, with its entities going unavailable).
            _LOGGER.debug(
                "Lost the connection to the MQTT broker %s:%s (%s); reconnecting",
                self._settings.host,
                self._settings.port,
                reason,
            )
        else:
            self._connect_failed(
                ProviderConnectionError(
                    f"The MQTT broker {self._settings.host}:{self._settings.port} "
                    f"closed the connection before accepting it ({reason})"
                )
            )
        if not self._connection_lost.done():
            self._connection_lost.set_result(reconnect_now)

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        # Nothing may raise from here: paho would skip the PUBACK (the broker sends
        # the message again after every reconnect) and lose its place in the stream.
        try:
            topic = message.topic
        except UnicodeDecodeError as err:
            self.dropped += 1
            _LOGGER.log(
                logging.WARNING if self.dropped == 1 else logging.DEBUG,
                "Dropped an MQTT message whose topic is not UTF-8: %r",
                bytes(err.object[:200]),
            )
            return
        if self._on_message_cb is None:
            return
        try:
            self._on_message_cb(
                MqttMessage(topic, bytes(message.payload), message.qos, message.retain)
            )
        except Exception:
            _LOGGER.exception("Error handling an MQTT message on %s", topic)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        future = self._pending.get(mid)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.call_soon_threadsafe(self._async_socket_open, sock)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho closes sockets on the loop (read errors, DISCONNECT) or, for a failed
        # connect, in the executor thread: forget the socket wherever we are.
        self._on_loop(self._async_socket_close, sock)

    def _on_socket_register_write(
        self, client: mqtt.Client, userdata: Any, sock: Any
    ) -> None:
        self._on_loop(self._async_register_write, sock)

    def _on_socket_unregister_write(
        self, client: mqtt.Client, userdata: Any, sock: Any
    ) -> None:
        self._on_loop(self._async_unregister_write, sock)

    def _on_loop(self, function: Callable[[Any], None], sock: Any) -> None:
        """Run ``function(sock)`` on the event loop, from whichever thread paho is in."""
        if self._loop_thread_is_current():
            function(sock)
        else:
            self._loop.call_soon_threadsafe(function, sock)

    def _loop_thread_is_current(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    # --- socket plumbing (event loop) ---------------------------------------------

    def _async_socket_open(self, sock: Any) -> None:
        if self._stopping or sock.fileno() < 0:
            return
        # Small packets go out as they are written, not held back by Nagle's
        # algorithm until the broker's ACK of the one before (paho leaves it on).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._loop.add_reader(sock, self._read)

    def _async_socket_close(self, sock: Any) -> None:
        try:
            fileno = sock.fileno()
        except OSError:
            fileno = -1
        if fileno >= 0:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _async_register_write(self, sock: Any) -> None:
        if self._batch_handle is not None:
            return  # the batch is written on the loop's next turn (_write_batch)
        if not self._stopping and sock.fileno() >= 0:
            self._loop.add_writer(sock, self._write)

    def _send(self, qos: int) -> None:
        """Write a message just published: at once, or with the loop turn's batch.

        The first message of a turn of the event loop is written at once (a QoS 0
        message is then published without waiting for the loop; a QoS 1 one waits
        for its PUBACK only). Those published after it in the same turn wait in
        paho's queue and leave together on the next turn, in one write: many
        senders at once cost one system call, not one each. A socket that cannot
        take everything is written again when it can (the writer callback).
        """
        if self._batch_handle is None:
            self._write()
            self._batch_handle = self._loop.call_soon(self._write_batch)

    def _write_batch(self) -> None:
        self._batch_handle = None
        if self._stopping:
            return
        if self._connected and self._client.want_write():
            self._write()
        # Whatever is left (the socket was full, or the connection is not up yet, as
        # while reconnecting) is written by the writer callback: paho registered the
        # write while this batch was pending, and it was not added then.
        sock = self._client.socket()
        if sock is not None and self._client.want_write() and sock.fileno() >= 0:
            self._loop.add_writer(sock, self._write)

    def _async_unregister_write(self, sock: Any) -> None:
        if sock.fileno() >= 0:
            self._loop.remove_writer(sock)

    def _read(self) -> None:
        result = self._client.loop_read(MAX_PACKETS_PER_READ)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._socket_failed(result)

    def _write(self) -> None:
        result = self._client.loop_write()
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._socket_failed(result)

    def _socket_failed(self, result: MQTTErrorCode) -> None:
        """Paho already closed the socket and reported the disconnect."""
        reconnect_now = self._session_ended()
        if not self._connection_lost.done():
            self._connection_lost.set_result(reconnect_now)
        self._set_connected(False)

    def _close_socket(self) -> None:
        sock = self._client.socket()
        if sock is None:
            return
        self._async_socket_close(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def _schedule_misc(self) -> None:
        self._misc_handle = self._loop.call_later(MISC_INTERVAL, self._misc)

    def _misc(self) -> None:
        if self._stopping:
            return
        if self._client.socket() is not None:
            self._client.loop_misc()
        since = self._session_since
        if since is not None and monotonic() - since >= STABLE_AFTER:
            # This connection has stayed up: whatever flapped has stopped.
            self._short_lived = 0
            self._set_problem(MqttProblem.FLAPPING, False)
        self._schedule_misc()

    def _set_connected(self, connected: bool) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        if self._on_connection_change is not None:
            self._on_connection_change(connected)


def _expire(future: asyncio.Future[None]) -> None:
    """End the wait for a broker's acknowledgement that did not come in time."""
    if not future.done():
        future.set_exception(TimeoutError())

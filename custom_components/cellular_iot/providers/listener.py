"""The on-device listener: a bounded asyncio TCP or UDP server for cloud messages.

Hologram's cloud delivers a cloud message to the device by opening a TCP connection to
the device's port (or sending a UDP datagram), writing the payload and closing -- the
way ``nc -l -p 9876`` receives them in Hologram's guide. One connection or datagram is
one message.

Who may talk to it: only senders inside the allowed networks (loopback and the private
ranges by default). A connection from anywhere else is closed before anything is read
from it; a datagram from anywhere else is dropped.

What that proves differs by protocol. A TCP sender's address is real: the handshake
needs the sender to receive at it. A UDP datagram's source address is whatever the
sender wrote into it: anyone who can reach the port can claim an allowed address.
The optional shared ``secret`` authenticates the message itself: a message must start
with the secret and one space (``<secret> <message>``), or it is refused before it
can fire anything or use up a rate-limit token; the secret and the space are taken
off what is delivered. It is a token, not a signature: whoever can read a message on
its way (the provider, the local network) can reuse it.

Bounded against slow, hostile or merely enthusiastic peers:

- at most ``max_bytes`` per message (10 KB, the cloud's maximum; the rest is discarded
  and the connection closed);
- at most ``max_per_source`` connections open at once from one sender (an IPv4 address
  or an IPv6 /64); more from it are closed at once;
- at most ``max_connections`` open at once in all; when every slot is taken, the sender
  holding the most connections loses its oldest one, so one new sender always gets in;
- a connection silent for ``idle_timeout`` is closed, and every connection is closed
  ``deadline`` seconds after it was accepted, however it trickles (what it sent so far
  is delivered);
- at most ``rate_limit`` messages a minute from one sender (a token bucket; a burst of
  that many, then one every ``60 / rate_limit`` seconds) and four times that from all
  senders together; the excess is dropped, counted and logged at WARNING once a minute.
  Only messages that passed every check (allowed network, secret) take a token, so a
  flood of forged datagrams without the secret cannot use up the share of real
  senders. Without a secret nothing can tell a forged UDP source from a real one.

Timers and the rate limit run on an injectable clock (the event loop by default), so
tests can move time without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
import hmac
import ipaddress
import logging
from typing import Any, Final, Literal, Protocol as TypingProtocol

MAX_MESSAGE_BYTES: Final = 10 * 1024
DEFAULT_MAX_CONNECTIONS: Final = 64
DEFAULT_MAX_PER_SOURCE: Final = 8
DEFAULT_IDLE_TIMEOUT: Final = 10.0
DEFAULT_DEADLINE: Final = 30.0
DEFAULT_RATE_LIMIT: Final = 30
# All senders together may send this many times the per-sender rate.
GLOBAL_RATE_FACTOR: Final = 4
RATE_PERIOD: Final = 60.0
# Refusals are logged at DEBUG each, and at WARNING at most this often.
REFUSAL_WARNING_PERIOD: Final = 3600.0
# Rate-limit state is kept for at most this many senders (least recent dropped).
MAX_TRACKED_SOURCES: Final = 4096
DEFAULT_ALLOWED_NETWORKS: Final = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
)
# A shared secret: printable ASCII without spaces (the space ends it in a message),
# long enough that guessing it one datagram at a time is hopeless.
SECRET_MIN_LENGTH: Final = 16
SECRET_MAX_LENGTH: Final = 128
SECRET_SEPARATOR: Final = b" "
_LOGGER = logging.getLogger(__name__)

type Protocol = Literal["TCP", "UDP"]
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TimerHandle(TypingProtocol):
    """What :meth:`Clock.call_later` returns: a timer that can be cancelled."""

    def cancel(self) -> None:
        """Stop the timer."""


class Clock(TypingProtocol):
    """The time source of the listener; an asyncio event loop is one."""

    def time(self) -> float:
        """Monotonic seconds."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Call ``callback`` after ``delay`` seconds."""


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as it arrived on the listener."""

    data: bytes
    remote: str
    protocol: Protocol
    truncated: bool
    # Whether the message started with the listener's secret (taken off ``data``).
    authenticated: bool = False


def validate_secret(secret: str) -> str:
    """Return the secret if it has the form a listener takes; ValueError if not.

    16 to 128 printable ASCII characters without spaces: what a device's firmware
    can hold as a constant and write in front of a message, and what a cloud
    message sent from the Hologram Dashboard or API can start with.
    """
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH or not all(
        "!" <= char <= "~" for char in secret
    ):
        raise ValueError("not a listener secret")
    return secret


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR networks (a bare address is one host); ValueError names a bad one.

    Host bits are allowed and cleared: ``10.1.2.3/8`` is ``10.0.0.0/8``.
    """
    networks: list[Network] = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as err:
            raise ValueError(text) from err
    return tuple(networks)


def open_to_all(networks: Iterable[Network]) -> bool:
    """Whether the networks let every IPv4 or every IPv6 address in."""
    return any(network.prefixlen == 0 for network in networks)


def is_loopback_host(host: str) -> bool:
    """Whether a bind address only listens on loopback (empty means every interface)."""
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def peer_address(peer: object) -> Address | None:
    """Return the sender's address from a peer name; IPv4-mapped IPv6 as IPv4."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    try:
        address = ipaddress.ip_address(str(peer[0]))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def source_key(address: Address) -> str:
    """Return the sender as the per-sender limits count it: an address, an IPv6 /64.

    One IPv6 host usually has a whole /64 to pick addresses from.
    """
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _host(address: Address) -> str:
    return (
        f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    )


def _remote(peer: object) -> str:
    address = peer_address(peer)
    if address is None or not isinstance(peer, tuple):
        return "unknown"
    return f"{_host(address)}:{peer[1]}"


class _Bucket:
    """A token bucket: ``capacity`` at most, refilled at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def has_token(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Listener:
    """A TCP or UDP server that hands every message to ``on_message``."""

    def __init__(
        self,
        protocol: Protocol,
        host: str,
        port: int,
        on_message: Callable[[ReceivedMessage], None],
        *,
        allowed: Iterable[str] | None = DEFAULT_ALLOWED_NETWORKS,
        rate_limit: int | None = DEFAULT_RATE_LIMIT,
        max_bytes: int = MAX_MESSAGE_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_per_source: int = DEFAULT_MAX_PER_SOURCE,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        clock: Clock | None = None,
        secret: str | None = None,
    ) -> None:
        """Describe the server; :meth:`start` binds it.

        ``allowed`` None lets every sender in; ``rate_limit`` None sets no rate limit;
        ``secret`` None takes messages without a secret.
        """
        if protocol not in ("TCP", "UDP"):
            raise ValueError("protocol must be TCP or UDP")
        self.protocol: Protocol = protocol
        self._host = host or None
        self._port = port
        self._on_message = on_message
        self._max_bytes = max_bytes
        self._max_connections = max(1, max_connections)
        self._max_per_source = max(1, max_per_source)
        self._idle_timeout = idle_timeout
        self._deadline = deadline
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._datagrams: _Datagrams | None = None
        # Open connections, oldest first, and the same grouped by sender.
        self._connections: dict[_Connection, None] = {}
        self._by_source: dict[str, dict[_Connection, None]] = {}
        self._stopping = False
        self.allowed: tuple[Network, ...] | None = None
        self._rate_limit: int | None = None
        self._secret: bytes | None = None
        self._buckets: dict[str, _Bucket] = {}
        # Per peer host: its display form, its sender key, whether it is allowed
        # (parsing the address for every datagram would cost more than the rest).
        self._senders: dict[object, tuple[str | None, str, bool]] = {}
        self._global_bucket: _Bucket | None = None
        self._next_rate_warning = 0.0
        self._dropped_since_warning = 0
        self._next_refusal_warning = 0.0
        self._refused_since_warning = 0
        self._next_secret_warning = 0.0
        self._unauthenticated_since_warning = 0
        # Counters (diagnostics): senders outside the allowed networks; messages
        # without the secret (or with a wrong one); connections
        # over the per-sender cap; connections closed to make room for a new sender;
        # messages (or TCP senders) over the rate limit; connections closed at the
        # idle timeout or at the deadline; bytes read from allowed senders.
        self.refused = 0
        self.unauthenticated = 0
        self.rejected = 0
        self.evicted = 0
        self.rate_limited = 0
        self.timed_out = 0
        self.cut_at_deadline = 0
        self.bytes_received = 0
        self.configure(allowed=allowed, rate_limit=rate_limit, secret=secret)

    def configure(
        self,
        *,
        allowed: Iterable[str] | None,
        rate_limit: int | None,
        secret: str | None = None,
    ) -> None:
        """Change who may send, how often and the secret, without rebinding.

        Raises ValueError (naming the entry) when a network is not valid. The
        secret is taken as given (the flow checks its form): it is compared as a
        fixed prefix, so even a hand-edited one with a space works.
        """
        self.allowed = None if allowed is None else parse_networks(allowed)
        self._rate_limit = rate_limit if rate_limit and rate_limit > 0 else None
        self._secret = secret.encode() if secret else None
        self._buckets.clear()
        self._senders.clear()
        self._global_bucket = None

    @property
    def rate_limit(self) -> int | None:
        """Messages a minute one sender may send (None: no limit)."""
        return self._rate_limit

    @property
    def has_secret(self) -> bool:
        """Whether every message must start with the shared secret."""
        return self._secret is not None

    @property
    def listening(self) -> bool:
        """Whether the server is bound and serving."""
        if self._server is not None:
            return self._server.is_serving()
        return self._transport is not None and not self._transport.is_closing()

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one the OS chose for 0)."""
        sockets = self._server.sockets if self._server is not None else ()
        if sockets:
            return int(sockets[0].getsockname()[1])
        if self._transport is not None:
            return int(self._transport.get_extra_info("sockname")[1])
        return self._port

    @property
    def active_connections(self) -> int:
        """TCP connections being read right now."""
        return len(self._connections)

    @property
    def clock(self) -> Clock:
        """The listener's time source (the running loop unless one was given)."""
        if self._clock is None:
            self._clock = asyncio.get_running_loop()
        return self._clock

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        if self.protocol == "TCP":
            self._server = await loop.create_server(
                lambda: _Connection(self), self._host, self._port
            )
        else:
            datagrams = _Datagrams(self)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: datagrams,
                local_addr=(self._host or "0.0.0.0", self._port),  # noqa: S104 - the user chose all interfaces
            )
            self._transport = transport
            self._datagrams = datagrams

    async def stop(self) -> None:
        """Stop serving, close every open connection; return once the port is free.

        A partly read message is not delivered. The UDP socket is closed by the loop
        after ``close()``: waiting for that lets a new listener bind the same port at
        once (a config flow's probe, a reload).
        """
        self._stopping = True
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.finish("stopping")
            await self._server.wait_closed()
            self._server = None
        if self._transport is not None:
            self._transport.close()
            if self._datagrams is not None:
                await self._datagrams.closed
            self._transport = None
            self._datagrams = None

    # --- who may send ---------------------------------------------------------------

    def _allowed(self, address: Address | None) -> bool:
        if self.allowed is None:
            return True
        if address is None:
            return False
        return any(address in network for network in self.allowed)

    def _sender(self, peer: object) -> tuple[str, str, bool]:
        """Return the peer's ``remote`` (ip:port), sender key and whether it may send."""
        if not isinstance(peer, tuple) or len(peer) < 2:
            return "unknown", "unknown", self.allowed is None
        info = self._senders.get(peer[0])
        if info is None:
            address = peer_address(peer)
            if address is None:
                info = (None, "unknown", self._allowed(None))
            else:
                info = (_host(address), source_key(address), self._allowed(address))
            if len(self._senders) >= MAX_TRACKED_SOURCES:
                self._senders.clear()
            self._senders[peer[0]] = info
        host, key, allowed = info
        return ("unknown" if host is None else f"{host}:{peer[1]}"), key, allowed

    def _refuse(self, remote: str) -> None:
        self.refused += 1
        self._refused_since_warning += 1
        _LOGGER.debug("Refused %s: not in the allowed networks", remote)
        now = self.clock.time()
        if now >= self._next_refusal_warning:
            _LOGGER.warning(
                "Refused %s message(s) or connection(s) from senders outside the "
                "allowed networks (the last from %s); change the allowed networks in "
                "the listener's options if this sender is yours",
                self._refused_since_warning,
                remote,
            )
            self._refused_since_warning = 0
            self._next_refusal_warning = now + REFUSAL_WARNING_PERIOD

    # --- the shared secret ------------------------------------------------------------

    def _prefix_ok(self, head: bytes | bytearray) -> bool | None:
        """Whether a message's first bytes carry the secret (None: too few to tell).

        Compared in constant time: how long the comparison takes says nothing about
        how much of a guess was right.
        """
        assert self._secret is not None
        expected = self._secret + SECRET_SEPARATOR
        if len(head) < len(expected):
            return None
        return hmac.compare_digest(head[: len(expected)], expected)

    def _authenticate(self, data: bytes) -> bytes | None:
        """Return the message without the secret, or None when it lacks the secret."""
        if self._secret is None:
            return data
        if not self._prefix_ok(data):
            return None
        return data[len(self._secret) + len(SECRET_SEPARATOR) :]

    def _unauthenticated(self, remote: str) -> None:
        """Count and log a message refused for its secret (never logging its bytes)."""
        self.unauthenticated += 1
        self._unauthenticated_since_warning += 1
        _LOGGER.debug(
            "Refused a message from %s: it lacks the listener's secret", remote
        )
        now = self.clock.time()
        if now >= self._next_secret_warning:
            _LOGGER.warning(
                "Refused %s message(s) that did not start with the listener's secret "
                "(the last from %s); a sender of yours must start every message with "
                "the secret and a space",
                self._unauthenticated_since_warning,
                remote,
            )
            self._unauthenticated_since_warning = 0
            self._next_secret_warning = now + REFUSAL_WARNING_PERIOD

    # --- how often ------------------------------------------------------------------

    def _bucket(self, key: str, now: float) -> _Bucket:
        assert self._rate_limit is not None
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_SOURCES:
                del self._buckets[next(iter(self._buckets))]
            bucket = _Bucket(self._rate_limit, self._rate_limit / RATE_PERIOD, now)
        self._buckets[key] = bucket  # most recent last
        return bucket

    def _global(self, now: float) -> _Bucket:
        assert self._rate_limit is not None
        if self._global_bucket is None:
            limit = self._rate_limit * GLOBAL_RATE_FACTOR
            self._global_bucket = _Bucket(limit, limit / RATE_PERIOD, now)
        return self._global_bucket

    def _may_send(self, key: str) -> bool:
        """Whether a sender has a token left (a new connection is worth reading)."""
        if self._rate_limit is None:
            return True
        now = self.clock.time()
        return self._bucket(key, now).has_token(now) and self._global(now).has_token(
            now
        )

    def _take_token(self, key: str) -> bool:
        if self._rate_limit is None:
            return True
        now = self.clock.time()
        if not self._bucket(key, now).take(now):
            return False
        if not self._global(now).take(now):
            self._buckets[key].tokens += 1  # not this sender's fault
            return False
        return True

    def _drop(self, remote: str) -> None:
        self.rate_limited += 1
        self._dropped_since_warning += 1
        _LOGGER.debug("Dropped a message from %s: over the rate limit", remote)
        now = self.clock.time()
        if now >= self._next_rate_warning:
            _LOGGER.warning(
                "Dropped %s message(s) over the rate limit of %s a minute per sender "
                "(the last from %s)",
                self._dropped_since_warning,
                self._rate_limit,
                remote,
            )
            self._dropped_since_warning = 0
            self._next_rate_warning = now + RATE_PERIOD

    def _deliver(self, data: bytes, remote: str, key: str, truncated: bool) -> None:
        # The secret first: a message without it takes no rate-limit token, so
        # forged senders cannot use up the share of the real ones.
        body = self._authenticate(data)
        if body is None:
            self._unauthenticated(remote)
            return
        if not self._take_token(key):
            self._drop(remote)
            return
        if truncated:
            _LOGGER.warning(
                "Message from %s was larger than %s bytes: the rest was discarded",
                remote,
                self._max_bytes,
            )
        try:
            self._on_message(
                ReceivedMessage(
                    body, remote, self.protocol, truncated, self._secret is not None
                )
            )
        except Exception:
            _LOGGER.exception("Error while handling a message from %s", remote)

    # --- TCP connections ------------------------------------------------------------

    def _admit(self, connection: _Connection, allowed: bool) -> bool:
        """Give the connection a slot, or say why not (it is then closed unread)."""
        if not allowed:
            self._refuse(connection.remote)
            return False
        same_source = self._by_source.get(connection.key, {})
        if len(same_source) >= self._max_per_source:
            self.rejected += 1
            _LOGGER.debug(
                "Too many connections from %s: closing the new one", connection.remote
            )
            return False
        if not self._may_send(connection.key):
            self._drop(connection.remote)
            return False
        if len(self._connections) >= self._max_connections:
            # The sender holding the most slots gives up its oldest connection.
            busiest = max(self._by_source.values(), key=len)
            oldest = next(iter(busiest))
            self.evicted += 1
            _LOGGER.debug(
                "All %s connection slots taken: closing the oldest from %s",
                self._max_connections,
                oldest.remote,
            )
            oldest.finish("evicted")
        self._connections[connection] = None
        self._by_source.setdefault(connection.key, {})[connection] = None
        return True

    def _release(self, connection: _Connection) -> None:
        self._connections.pop(connection, None)
        same_source = self._by_source.get(connection.key)
        if same_source is not None:
            same_source.pop(connection, None)
            if not same_source:
                del self._by_source[connection.key]


class _Connection(asyncio.Protocol):
    """One TCP connection: read up to the size limit, deliver on close."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._truncated = False
        # Whether the secret at the start was seen (or none is needed).
        self._vouched = False
        self._done = False
        self._idle: TimerHandle | None = None
        self._deadline: TimerHandle | None = None
        self.remote = "unknown"
        self.key = "unknown"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        listener = self._listener
        self.remote, self.key, allowed = listener._sender(  # noqa: SLF001
            transport.get_extra_info("peername")
        )
        if listener._stopping or not listener._admit(self, allowed):  # noqa: SLF001
            # Closed before the loop reads anything from it.
            self._done = True
            transport.abort()
            return
        clock = listener.clock
        self._deadline = clock.call_later(
            listener._deadline,  # noqa: SLF001
            lambda: self.finish("deadline"),
        )
        self._restart_idle()

    def _restart_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = self._listener.clock.call_later(
            self._listener._idle_timeout,  # noqa: SLF001
            lambda: self.finish("idle"),
        )

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        listener = self._listener
        listener.bytes_received += len(data)
        room = listener._max_bytes - len(self._buffer)  # noqa: SLF001
        self._buffer += data[:room]
        if not self._vouched and listener._secret is not None:  # noqa: SLF001
            # Close a connection as soon as it shows it lacks the secret.
            verdict = listener._prefix_ok(self._buffer)  # noqa: SLF001
            if verdict is False:
                self._buffer.clear()
                listener._unauthenticated(self.remote)  # noqa: SLF001
                self.finish("unauthenticated")
                return
            self._vouched = verdict is True
        if len(data) > room:
            self._truncated = True
            self.finish("too large")
            return
        self._restart_idle()

    def eof_received(self) -> bool:
        self.finish(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self._done:
            _LOGGER.debug("Connection from %s failed: %s", self.remote, exc)
        self.finish(None)

    def finish(self, reason: str | None) -> None:
        """Close the connection (once) and deliver what it sent."""
        if self._done:
            return
        self._done = True
        for timer in (self._idle, self._deadline):
            if timer is not None:
                timer.cancel()
        listener = self._listener
        listener._release(self)  # noqa: SLF001
        if reason == "idle":
            listener.timed_out += 1
            _LOGGER.debug("Connection from %s idle: closing it", self.remote)
        elif reason == "deadline":
            listener.cut_at_deadline += 1
            _LOGGER.debug("Connection from %s open too long: closing it", self.remote)
        assert self._transport is not None
        if reason is None:
            self._transport.close()
        else:
            self._transport.abort()
        if self._buffer and not listener._stopping:  # noqa: SLF001
            listener._deliver(  # noqa: SLF001
                bytes(self._buffer), self.remote, self.key, self._truncated
            )


class _Datagrams(asyncio.DatagramProtocol):
    """One message per datagram, cut to the size limit."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        listener = self._listener
        if not data or listener._stopping:  # noqa: SLF001
            return
        remote, key, allowed = listener._sender(addr)  # noqa: SLF001
        if not allowed:
            listener._refuse(remote)  # noqa: SLF001
            return
        listener.bytes_received += len(data)
        limit = listener._max_bytes  # noqa: SLF001
        listener._deliver(data[:limit], remote, key, len(data) > limit)  # noqa: SLF001

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for an earlier datagram; nothing to do for a receiver.
        _LOGGER.debug("UDP error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

"""The on-device listener: a bounded asyncio TCP or UDP server for cloud messages.

Hologram's cloud delivers a cloud message to the device by opening a TCP connection to
the device's port (or sending a UDP datagram), writing the payload and closing -- the
way ``nc -l -p 9876`` receives them in Hologram's guide. One connection or datagram is
one message.

Bounded against slow or hostile peers: at most ``max_bytes`` per message (10 KB, the
cloud's maximum; the rest is discarded and the connection closed), at most
``max_connections`` open at once (more are closed at once), and an idle timeout after
which a silent connection is closed (what it sent so far is delivered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import logging
from typing import Final, Literal

MAX_MESSAGE_BYTES: Final = 10 * 1024
DEFAULT_MAX_CONNECTIONS: Final = 64
DEFAULT_IDLE_TIMEOUT: Final = 10.0
_READ_SIZE: Final = 4096
_LOGGER = logging.getLogger(__name__)

type Protocol = Literal["TCP", "UDP"]


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as it arrived on the listener."""

    data: bytes
    remote: str
    protocol: Protocol
    truncated: bool


def _remote(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return "unknown"


class Listener:
    """A TCP or UDP server that hands every message to ``on_message``."""

    def __init__(
        self,
        protocol: Protocol,
        host: str,
        port: int,
        on_message: Callable[[ReceivedMessage], None],
        *,
        max_bytes: int = MAX_MESSAGE_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        """Describe the server; :meth:`start` binds it."""
        if protocol not in ("TCP", "UDP"):
            raise ValueError("protocol must be TCP or UDP")
        self.protocol: Protocol = protocol
        self._host = host or None
        self._port = port
        self._on_message = on_message
        self._max_bytes = max_bytes
        self._max_connections = max_connections
        self._idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.rejected = 0

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
        return len(self._handlers)

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        if self.protocol == "TCP":
            self._server = await asyncio.start_server(
                self._handle, self._host, self._port, limit=_READ_SIZE
            )
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self),
                local_addr=(self._host or "0.0.0.0", self._port),  # noqa: S104 - the user chose all interfaces
            )
            self._transport = transport

    async def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            for task in list(self._handlers):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._server.wait_closed()
            self._server = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _deliver(self, data: bytes, remote: str, truncated: bool) -> None:
        if truncated:
            _LOGGER.warning(
                "Message from %s was larger than %s bytes: the rest was discarded",
                remote,
                self._max_bytes,
            )
        try:
            self._on_message(ReceivedMessage(data, remote, self.protocol, truncated))
        except Exception:
            _LOGGER.exception("Error while handling a message from %s", remote)

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        remote = _remote(writer.get_extra_info("peername"))
        if len(self._handlers) >= self._max_connections:
            self.rejected += 1
            _LOGGER.debug("Too many connections: closing the one from %s", remote)
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        buffer = bytearray()
        truncated = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle_timeout):
                        chunk = await reader.read(_READ_SIZE)
                except TimeoutError:
                    _LOGGER.debug("Connection from %s idle: closing it", remote)
                    break
                if not chunk:
                    break
                room = self._max_bytes - len(buffer)
                buffer += chunk[:room]
                if len(chunk) > room:
                    truncated = True
                    break
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("Connection from %s failed: %s", remote, err)
        finally:
            self._handlers.discard(task)
            writer.close()
        if buffer:
            self._deliver(bytes(buffer), remote, truncated)


class _Datagrams(asyncio.DatagramProtocol):
    """One message per datagram, cut to the size limit."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        limit = self._listener._max_bytes  # noqa: SLF001 - the listener's own helper
        if data:
            self._listener._deliver(  # noqa: SLF001
                data[:limit], _remote(addr), len(data) > limit
            )

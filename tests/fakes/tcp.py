"""A TCP server on 127.0.0.1 for fakes, that can stop while clients still connect.

``asyncio.start_server`` accepts a connection in one loop step and attaches its
transport in a later one; a ``Server.close()`` in between makes that later step fail
with an ``AssertionError`` the loop reports (and HA's test harness turns into a test
error). A client that reconnects in a loop (MQTT) hits that window sooner or later.
Here the listening socket has a reader callback of its own that takes every
waiting connection off the backlog and hands it to a handler task. Stopping removes
the callback before the socket closes, so a connection is either handed to the
handler or never taken off the backlog. (``loop.sock_accept`` is no way out:
cancelling a pending one races its reader callback, which then sets the result of the
cancelled future, ``InvalidStateError`` at teardown on Python 3.13.0.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import socket

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LoopbackServer:
    """Run ``handler(reader, writer)`` for every connection to a free loopback port."""

    def __init__(self, handler: Handler) -> None:
        """Keep the handler; :meth:`start` listens."""
        self._handler = handler
        self._sock: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> int:
        """Listen and return the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        asyncio.get_running_loop().add_reader(sock, self._accept)
        return self.port

    def _accept(self) -> None:
        """Take every waiting connection; each gets a handler task."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            task = loop.create_task(self._open(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except BaseException:
            conn.close()
            raise
        self._writers.append(writer)
        await self._serve(reader, writer)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await self._handler(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """Stop accepting, close every connection, end the handlers still running."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock)
            self._sock.close()
            self._sock = None
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

"""Serve tests/fakes/hologram.py's FakeHologram over HTTPS, as dashboard.hologram.io.

Runs in a thread of the e2e driver with an event loop of its own; the driver reads
the requests the fake recorded (``fake.requests``, ``fake.cloud_messages``) and its
``violations`` (requests that break Hologram's documented schema).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Any

from aiohttp import web

from tests.fakes.hologram import FakeHologram


class TLSFakeHologram:
    """FakeHologram on https://<host>:<port> with the given certificate."""

    def __init__(self, certfile: str, keyfile: str, host: str, port: int) -> None:
        self.certfile = certfile
        self.keyfile = keyfile
        self.host = host
        self.port = port
        self.fake: FakeHologram | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> FakeHologram:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)

    async def _start(self) -> FakeHologram:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        self.fake = FakeHologram()
        self._runner = web.AppRunner(self.fake.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        return self.fake

    def call(self, func: Any) -> Any:
        """Run ``func()`` on the fake's loop (to read or change its state safely)."""

        async def run() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                30
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

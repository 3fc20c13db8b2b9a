"""The on-device listener against real loopback sockets, nc included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import shutil
import socket

import pytest

from custom_components.cellular_iot.providers.listener import (
    Listener,
    Protocol,
    ReceivedMessage,
)

NC = shutil.which("nc")


class Inbox:
    """Collects messages; waiting needs no sleeps."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()

    def __call__(self, message: ReceivedMessage) -> None:
        self.queue.put_nowait(message)

    async def get(self) -> ReceivedMessage:
        async with asyncio.timeout(5):
            return await self.queue.get()


@pytest.fixture
async def start(
    socket_enabled: None,
) -> AsyncGenerator[Callable[..., asyncio.Future[tuple[Listener, Inbox]]]]:
    listeners: list[Listener] = []

    async def _start(
        protocol: Protocol = "TCP", **kwargs: object
    ) -> tuple[Listener, Inbox]:
        inbox = Inbox()
        listener = Listener(protocol, "127.0.0.1", 0, inbox, **kwargs)  # type: ignore[arg-type]
        await listener.start()
        listeners.append(listener)
        return listener, inbox

    yield _start  # type: ignore[misc]
    for listener in listeners:
        await listener.stop()


async def _nc(*args: str, data: bytes) -> None:
    assert NC, "netcat is missing: scripts/system-deps installs netcat-openbsd"
    proc = await asyncio.create_subprocess_exec(
        NC,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.communicate(data)
    assert proc.returncode == 0


async def test_nc_tcp_as_in_the_guide(start: Callable) -> None:
    listener, inbox = await start("TCP")
    assert listener.listening
    await _nc("-N", "127.0.0.1", str(listener.port), data=b"hello\n")
    message = await inbox.get()
    assert message.data == b"hello\n"
    assert message.protocol == "TCP"
    assert message.remote.startswith("127.0.0.1:")
    assert not message.truncated


async def test_nc_udp(start: Callable) -> None:
    listener, inbox = await start("UDP")
    assert listener.listening
    await _nc("-u", "-w1", "127.0.0.1", str(listener.port), data=b"hello udp\n")
    message = await inbox.get()
    assert (message.data, message.protocol) == (b"hello udp\n", "UDP")


async def test_many_concurrent_connections(start: Callable) -> None:
    listener, inbox = await start("TCP", max_connections=300)

    async def send(i: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(f"message {i}".encode())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(send(i) for i in range(200)))
    received = {(await inbox.get()).data for _ in range(200)}
    assert received == {f"message {i}".encode() for i in range(200)}


async def test_oversized_input_is_cut_at_10k(start: Callable) -> None:
    listener, inbox = await start("TCP")
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)

    async def flood() -> None:
        # The listener closes the connection after 10 KB; keep writing until it shows.
        writer.write(b"x" * 50_000)
        for _ in range(1000):
            writer.write(b"y" * 65536)
            await writer.drain()

    with pytest.raises((ConnectionError, OSError)):
        await flood()
    writer.close()
    message = await inbox.get()
    assert message.data == b"x" * 10240
    assert message.truncated
    udp, udp_inbox = await start("UDP")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"z" * 20_000, ("127.0.0.1", udp.port))
    message = await udp_inbox.get()
    assert (len(message.data), message.truncated) == (10240, True)


async def test_binary_garbage_is_delivered_as_bytes(start: Callable) -> None:
    listener, inbox = await start("TCP")
    payload = bytes(range(256)) * 3
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(payload)
    writer.write_eof()
    await writer.drain()
    message = await inbox.get()
    writer.close()
    assert message.data == payload


async def test_idle_and_half_open_connections(start: Callable) -> None:
    listener, inbox = await start("TCP", idle_timeout=0.2)
    # Sends something, never closes: delivered when the idle timeout closes it.
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"partial")
    await writer.drain()
    message = await inbox.get()
    assert message.data == b"partial"
    assert await reader.read() == b""  # the listener closed it
    writer.close()
    # Connects and says nothing: closed, no message.
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    assert await reader.read() == b""
    writer.close()
    assert inbox.queue.empty()
    assert listener.active_connections == 0


async def test_connection_limit(start: Callable) -> None:
    listener, inbox = await start("TCP", max_connections=3)
    held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(3)]
    # Wait until the three are being served.
    while listener.active_connections < 3:
        await asyncio.sleep(0)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    assert await reader.read() == b""  # refused at once
    assert listener.rejected == 1
    writer.close()
    for _, w in held:
        w.write(b"ok")
        w.close()
    assert {(await inbox.get()).data for _ in range(3)} == {b"ok"}


async def test_stop_closes_open_connections(start: Callable) -> None:
    listener, inbox = await start("TCP")
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    while listener.active_connections < 1:
        await asyncio.sleep(0)
    await listener.stop()
    assert not listener.listening
    assert await reader.read() == b""
    writer.close()
    assert inbox.queue.empty()


async def test_handler_errors_do_not_stop_the_listener(
    socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bytes] = []
    two = asyncio.Event()

    def explode(message: ReceivedMessage) -> None:
        calls.append(message.data)
        if len(calls) == 2:
            two.set()
        raise RuntimeError("handler bug")

    listener = Listener("UDP", "127.0.0.1", 0, explode)
    await listener.start()
    try:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", listener.port)
        )
        transport.sendto(b"one")
        transport.sendto(b"")
        transport.sendto(b"two")
        async with asyncio.timeout(5):
            await two.wait()
        transport.close()
    finally:
        await listener.stop()
    assert calls == [b"one", b"two"]
    assert "handler bug" in caplog.text


async def test_bind_conflict_and_bad_protocol(start: Callable) -> None:
    listener, _ = await start("TCP")
    other = Listener("TCP", "127.0.0.1", listener.port, lambda m: None)
    with pytest.raises(OSError):
        await other.start()
    with pytest.raises(ValueError):
        Listener("FTP", "", 1, lambda m: None)  # type: ignore[arg-type]
    unstarted = Listener("UDP", "", 4321, lambda m: None)
    assert unstarted.port == 4321
    assert not unstarted.listening


def test_remote_formats() -> None:
    from custom_components.cellular_iot.providers.listener import _remote

    assert _remote(("::1", 9876, 0, 0)) == "[::1]:9876"
    assert _remote(None) == "unknown"

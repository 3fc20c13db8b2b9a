"""The on-device listener against real loopback sockets, nc included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
import heapq
import itertools
import logging
import shutil
import socket

import pytest

from custom_components.cellular_iot.providers import listener as listener_module
from custom_components.cellular_iot.providers.listener import (
    Listener,
    Protocol,
    ReceivedMessage,
)

from .guards import HANG_GUARD

NC = shutil.which("nc")


class FakeClock:
    """The listener's clock, moved by hand: timers fire in :meth:`advance`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], object]) -> _Timer:
        timer = _Timer(callback)
        heapq.heappush(self._timers, (self.now + delay, next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self.now = when
                timer.callback()
        self.now = target


class _Timer:
    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


async def _connect_from(
    source: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the listener on 127.0.0.1 from another loopback address."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until the condition holds (a hang guard, not a budget)."""
    async with asyncio.timeout(HANG_GUARD):
        while not condition():
            await asyncio.sleep(0)


class Inbox:
    """Collects messages; waiting needs no sleeps."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()

    def __call__(self, message: ReceivedMessage) -> None:
        self.queue.put_nowait(message)

    async def get(self) -> ReceivedMessage:
        async with asyncio.timeout(HANG_GUARD):
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
    # One sender, 200 at once: lift the per-sender cap and the rate limit.
    listener, inbox = await start(
        "TCP", max_connections=300, max_per_source=300, rate_limit=None
    )

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


async def test_connection_limit_makes_room_for_a_new_sender(start: Callable) -> None:
    """All slots taken: the sender holding the most loses its oldest connection.

    (Before issue 14 the new connection was refused, so slow clients could lock
    everyone out.)
    """
    listener, inbox = await start("TCP", max_connections=3)
    held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(3)]
    # Wait until the three are being served.
    while listener.active_connections < 3:
        await asyncio.sleep(0)
    held[0][1].write(b"first")
    await held[0][1].drain()
    while listener.bytes_received < 5:
        await asyncio.sleep(0)
    _, writer = await _connect_from("127.0.0.2", listener.port)
    # The oldest connection (from the busiest sender, 127.0.0.1) was closed; what it
    # had sent is delivered.
    assert await held[0][0].read() == b""
    assert (await inbox.get()).data == b"first"
    assert listener.evicted == 1
    assert listener.active_connections == 3
    writer.write(b"new")
    writer.close()
    assert (await inbox.get()).data == b"new"
    for _, w in held[1:]:
        w.write(b"ok")
        w.close()
    assert {(await inbox.get()).data for _ in range(2)} == {b"ok"}
    held[0][1].close()


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
        async with asyncio.timeout(HANG_GUARD):
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


# --- issue 14: who may send, slow clients, floods --------------------------------------


async def test_slowloris_cannot_lock_out_a_legitimate_message(start: Callable) -> None:
    """64 slow clients from 64 addresses trickle a byte every 5 s: the idle timeout
    (10 s, per read) never fires for them. A legitimate message still arrives while
    they hold on, and each slow client is cut at its deadline, 30 s after accept."""
    clock = FakeClock()
    listener, inbox = await start(
        "TCP", clock=clock
    )  # the defaults: 64 slots, 8/sender
    slow = [await _connect_from(f"127.0.0.{i}", listener.port) for i in range(2, 66)]
    await _until(lambda: listener.active_connections == 64)
    for step in range(1, 6):  # 5 s, 10 s, ... 25 s after accept: one byte each
        for _, writer in slow:
            writer.write(b"x")
        await _until(lambda step=step: listener.bytes_received == 64 * step)
        clock.advance(5)
    assert listener.active_connections == 64  # all 64 slots held, 25 s in
    assert listener.timed_out == 0

    _, writer = await _connect_from("127.0.0.1", listener.port)
    writer.write(b"open")
    writer.close()
    # One slow client gave up its slot (the oldest of the senders holding the most;
    # what it sent is delivered), the 63 others are still connected.
    first, second = await inbox.get(), await inbox.get()
    assert (first.data, first.remote.split(":")[0]) == (b"xxxxx", "127.0.0.2")
    assert (second.data, second.remote.split(":")[0]) == (b"open", "127.0.0.1")
    assert listener.evicted == 1
    assert listener.active_connections == 63
    assert inbox.queue.empty()

    clock.advance(4.9)  # 29.9 s after accept: not yet
    assert listener.active_connections == 63
    clock.advance(0.1)  # 30 s: every slow client is cut
    assert listener.active_connections == 0
    assert listener.cut_at_deadline == 63
    for reader, writer in slow:
        with contextlib.suppress(ConnectionError):
            assert await reader.read() == b""
        writer.close()
    # What they sent is delivered (as after an idle timeout), within the rate limit.
    assert {(await inbox.get()).data for _ in range(63)} == {b"xxxxx"}


async def test_one_sender_gets_eight_slots(start: Callable) -> None:
    """64 slow clients from one address hold 8 slots; the rest are closed at once
    and another sender still gets in."""
    listener, inbox = await start("TCP")
    slow = [await _connect_from("127.0.0.2", listener.port) for _ in range(64)]
    await _until(lambda: listener.rejected == 56)
    assert listener.active_connections == 8
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"open")
    writer.close()
    assert (await inbox.get()).data == b"open"
    assert listener.evicted == 0
    for _, w in slow:
        w.close()


@pytest.mark.parametrize("storm_size", [2000])
async def test_connection_storm_from_one_address(
    start: Callable, storm_size: int
) -> None:
    """A connection storm from one address never holds more than 8 slots, and a
    message from elsewhere arrives during it. (Run with 10,000 once by hand: the
    same; 2,000 here keeps the suite quick on a busy machine.)"""
    listener, inbox = await start("TCP")
    most = 0

    async def storm(count: int) -> None:
        nonlocal most
        for _ in range(count):
            try:
                _, writer = await _connect_from("127.0.0.2", listener.port)
            except OSError:
                continue
            most = max(most, listener.active_connections)
            writer.close()

    flood = [asyncio.create_task(storm(storm_size // 10)) for _ in range(10)]
    await _until(lambda: listener.rejected > 100)
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"still here")
    writer.close()
    assert (await inbox.get()).data == b"still here"
    await asyncio.gather(*flood)
    await _until(lambda: listener.active_connections == 0)
    assert most <= 9  # 8 of the storm and the one message
    assert listener.evicted == 0


async def test_deadline_cuts_a_trickling_client(start: Callable) -> None:
    clock = FakeClock()
    listener, inbox = await start("TCP", clock=clock)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    for second in range(1, 30):
        writer.write(b".")
        await _until(lambda second=second: listener.bytes_received == second)
        clock.advance(1)
    assert listener.active_connections == 1  # 29 s: the idle timeout never fired
    clock.advance(1)
    assert listener.active_connections == 0
    assert listener.cut_at_deadline == 1
    with contextlib.suppress(ConnectionError):
        assert await reader.read() == b""
    writer.close()
    assert (await inbox.get()).data == b"." * 29


async def test_idle_timeout_on_the_clock(start: Callable) -> None:
    clock = FakeClock()
    listener, inbox = await start("TCP", clock=clock)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    await _until(lambda: listener.active_connections == 1)
    clock.advance(9.9)
    assert listener.active_connections == 1
    clock.advance(0.1)
    assert listener.active_connections == 0
    assert listener.timed_out == 1
    assert await reader.read() == b""
    writer.close()
    assert inbox.queue.empty()


async def test_senders_outside_the_allowed_networks_are_refused_unread(
    start: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    listener, inbox = await start("TCP", allowed=["10.0.0.0/8", "fd00::/8"])
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"open")  # sent with the connection, never read
        with contextlib.suppress(ConnectionError):
            assert await reader.read() == b""
        writer.close()
    await _until(lambda: listener.refused == 3)
    assert listener.bytes_received == 0
    assert inbox.queue.empty()
    # Logged at debug each, at warning once.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "127.0.0.1" in warnings[0].getMessage()
    assert caplog.text.count("not in the allowed networks") == 3

    # New options apply to the running listener.
    listener.configure(allowed=["127.0.0.1/32"], rate_limit=30)
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"open")
    writer.close()
    assert (await inbox.get()).data == b"open"
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        listener.configure(allowed=["10.0.0.300"], rate_limit=30)

    udp, udp_inbox = await start("UDP", allowed=["10.0.0.0/8"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"open", ("127.0.0.1", udp.port))
        await _until(lambda: udp.refused == 1)
        udp.configure(allowed=None, rate_limit=None)  # None lets everyone in
        sock.sendto(b"open", ("127.0.0.1", udp.port))
        assert (await udp_inbox.get()).data == b"open"


async def test_rate_limit_per_sender(
    start: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    def warnings() -> int:
        return sum(
            "over the rate limit" in r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING
        )

    clock = FakeClock()
    listener, inbox = await start("UDP", rate_limit=3, clock=clock)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as one,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as two,
    ):
        two.bind(("127.0.0.2", 0))
        for i in range(5):
            one.sendto(b"%d" % i, ("127.0.0.1", listener.port))
        two.sendto(b"other", ("127.0.0.1", listener.port))
        # Datagrams from one socket are handled in order: "other" comes last.
        got = [(await inbox.get()).data for _ in range(4)]
        assert got == [b"0", b"1", b"2", b"other"]
        assert listener.rate_limited == 2
        assert warnings() == 1  # one warning a minute
        clock.advance(20)  # 3 a minute: one more after 20 s
        one.sendto(b"later", ("127.0.0.1", listener.port))
        one.sendto(b"too soon", ("127.0.0.1", listener.port))
        two.sendto(b"mark", ("127.0.0.1", listener.port))
        assert [(await inbox.get()).data for _ in range(2)] == [b"later", b"mark"]
        assert listener.rate_limited == 3
        assert warnings() == 1
        clock.advance(60)
        for _ in range(4):
            one.sendto(b"x", ("127.0.0.1", listener.port))
        two.sendto(b"mark", ("127.0.0.1", listener.port))
        assert [(await inbox.get()).data for _ in range(4)] == [b"x"] * 3 + [b"mark"]
        assert warnings() == 2


async def test_rate_limit_for_all_senders_together(start: Callable) -> None:
    clock = FakeClock()
    listener, inbox = await start("UDP", rate_limit=1, clock=clock)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(6)]
    try:
        for i, sock in enumerate(socks):
            sock.bind((f"127.0.0.{i + 2}", 0))
            sock.sendto(b"%d" % i, ("127.0.0.1", listener.port))
        # 1 a minute each, 4 a minute together.
        await _until(lambda: listener.rate_limited == 2)
        assert sorted([(await inbox.get()).data for _ in range(4)]) == [
            b"0",
            b"1",
            b"2",
            b"3",
        ]
        assert inbox.queue.empty()
    finally:
        for sock in socks:
            sock.close()


async def test_rate_limited_sender_is_not_read(start: Callable) -> None:
    """A TCP sender without tokens left is closed at accept."""
    clock = FakeClock()
    listener, inbox = await start("TCP", rate_limit=1, clock=clock)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"one")
    writer.close()
    assert (await inbox.get()).data == b"one"
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"two")
    with contextlib.suppress(ConnectionError):
        assert await reader.read() == b""
    writer.close()
    await _until(lambda: listener.rate_limited == 1)
    assert listener.bytes_received == 3  # "two" was never read
    assert inbox.queue.empty()


async def test_udp_flood(start: Callable, caplog: pytest.LogCaptureFixture) -> None:
    """10,000 datagrams from one sender: 30 events, the rest counted, one warning."""
    clock = FakeClock()
    listener, inbox = await start("UDP", clock=clock)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        for batch in range(200):
            for i in range(50):
                flood.sendto(b"flood %04d" % i, ("127.0.0.1", listener.port))
            # In batches the kernel's buffer holds, so none is lost on the way.
            await _until(lambda b=batch: listener.bytes_received == (b + 1) * 500)
    messages = [inbox.queue.get_nowait() for _ in range(inbox.queue.qsize())]
    assert len(messages) == 30
    assert listener.rate_limited == 10_000 - 30
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "over the rate limit of 30 a minute" in warnings[0].getMessage()


async def test_udp_listener_rebinds_at_once(start: Callable) -> None:
    """stop() returns once the UDP socket is closed, so the port can be bound again
    at once (the config flow's probe, then the entry's setup; a reload)."""
    for _ in range(3):
        listener, _ = await start("UDP")
        port = listener.port
        await listener.stop()
        again = Listener("UDP", "127.0.0.1", port, lambda m: None)
        await again.start()
        await again.stop()


def test_addresses_ipv6_and_mapped() -> None:
    from custom_components.cellular_iot.providers.listener import (
        _remote,
        is_loopback_host,
        open_to_all,
        parse_networks,
        peer_address,
        source_key,
    )

    # IPv4 seen on a dual-stack socket is IPv4 again: allow-lists and `remote` agree.
    assert str(peer_address(("::ffff:10.1.2.3", 4010, 0, 0))) == "10.1.2.3"
    assert _remote(("::ffff:10.1.2.3", 4010, 0, 0)) == "10.1.2.3:4010"
    assert _remote(("fe80::1%eth0", 4010, 0, 2)) == "[fe80::1%eth0]:4010"
    assert peer_address(("not an address", 1)) is None
    assert peer_address("garbage") is None
    # One IPv6 host has a /64 to choose from: it counts as one sender.
    assert source_key(peer_address(("2001:db8:1:2::1", 1))) == "2001:db8:1:2::/64"  # type: ignore[arg-type]
    assert source_key(peer_address(("2001:db8:1:2:ffff::9", 1))) == "2001:db8:1:2::/64"  # type: ignore[arg-type]
    assert source_key(peer_address(("10.0.0.1", 1))) == "10.0.0.1"  # type: ignore[arg-type]
    assert [str(n) for n in parse_networks(["10.1.2.3/8", " fd00::1 ", ""])] == [
        "10.0.0.0/8",
        "fd00::1/128",
    ]
    for bad in ("10.0.0.0/33", "example.com", "10.0.0.0/8/8"):
        with pytest.raises(ValueError, match=r"10|example"):
            parse_networks([bad])
    assert open_to_all(parse_networks(["10.0.0.0/8", "::/0"]))
    assert open_to_all(parse_networks(["0.0.0.0/0"]))
    assert not open_to_all(parse_networks(["0.0.0.0/1", "128.0.0.0/1"]))
    for host, loopback in (
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("my-host", False),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
    ):
        assert is_loopback_host(host) is loopback, host


class _FakeTransport(asyncio.Transport):
    """A TCP transport as the loop hands one to the protocol; records the close."""

    def __init__(self, peer: tuple[object, ...]) -> None:
        super().__init__()
        self.peer = peer
        self.closed = ""

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peer if name == "peername" else default

    def abort(self) -> None:
        self.closed = self.closed or "abort"

    def close(self) -> None:
        self.closed = self.closed or "close"

    def is_closing(self) -> bool:
        return bool(self.closed)


async def test_ipv6_senders_protocol_level() -> None:
    """IPv6 (loopback ::1 is out of the tests' reach): the protocol class directly."""
    from custom_components.cellular_iot.providers.listener import (
        _Connection,
    )

    inbox = Inbox()
    listener = Listener(
        "TCP",
        "::",
        0,
        inbox,
        allowed=["2001:db8::/32", "10.0.0.0/8"],
        max_per_source=2,
        clock=FakeClock(),
    )

    def connect(host: str) -> tuple[_Connection, _FakeTransport]:
        connection = _Connection(listener)
        transport = _FakeTransport((host, 4010, 0, 0))
        connection.connection_made(transport)
        return connection, transport

    # Three addresses of one /64: the third is over the per-sender cap.
    first, _ = connect("2001:db8:0:1::1")
    connect("2001:db8:0:1::2")
    _, third = connect("2001:db8:0:1::3")
    assert third.closed == "abort"
    assert listener.rejected == 1
    # Another /64 is another sender.
    other, other_transport = connect("2001:db8:0:2::1")
    assert not other_transport.closed
    other.data_received(b"hello v6")
    other.eof_received()
    other.data_received(b"late")  # after the end: ignored
    assert other_transport.closed == "close"
    message = await inbox.get()
    assert (message.data, message.remote) == (b"hello v6", "[2001:db8:0:2::1]:4010")
    # Mapped IPv4 on a dual-stack socket matches the IPv4 network.
    mapped, _ = connect("::ffff:10.9.8.7")
    mapped.data_received(b"hello v4")
    mapped.eof_received()
    assert (await inbox.get()).remote == "10.9.8.7:4010"
    # Outside the networks, or no address at all: closed unread.
    _, outside = connect("2001:db9::1")
    _, nameless = connect("")
    assert outside.closed == nameless.closed == "abort"
    assert listener.refused == 2
    first.connection_lost(ConnectionResetError())
    assert listener.active_connections == 1


async def test_rate_limit_state_is_bounded(
    start: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Senders are remembered for the rate limit, but only so many (spoofed UDP
    sources cannot grow the table without end); the overall limit still holds."""
    monkeypatch.setattr(listener_module, "MAX_TRACKED_SOURCES", 3)
    clock = FakeClock()
    listener, inbox = await start("UDP", rate_limit=2, clock=clock)
    datagrams = listener._datagrams
    assert datagrams is not None
    for i in range(10):
        datagrams.datagram_received(b"%d" % i, (f"10.0.0.{i}", 4010))
    assert len(listener._buckets) == 3
    # 2 a minute each, 8 a minute in all.
    assert inbox.queue.qsize() == 8
    assert listener.rate_limited == 2
    datagrams.error_received(ConnectionRefusedError())  # an ICMP error: ignored
    assert listener.listening


async def test_udp_dual_stack_sees_ipv4_as_ipv4(start: Callable) -> None:
    """A UDP listener bound to "::" also takes IPv4 (Linux dual stack): the sender is
    matched and shown as IPv4, not as ::ffff:127.0.0.1."""
    inbox = Inbox()
    listener = Listener("UDP", "::", 0, inbox, allowed=["127.0.0.0/8"])
    await listener.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"v4 on v6", ("127.0.0.1", listener.port))
            message = await inbox.get()
        assert message.data == b"v4 on v6"
        assert message.remote.startswith("127.0.0.1:")
        assert listener.refused == 0
    finally:
        await listener.stop()

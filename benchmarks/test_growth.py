"""Costs that grow with the work: how each grows (flat, linear, worse).

- The webhook at 1, 10 and 100 messages per delivery: emnify's Data Streamer posts a
  JSON list of messages in one delivery (at most 100). Deliveries of each size, with
  distinct ids (none is a duplicate), go to an emnify account's webhook through HA's
  HTTP stack, one at a time; the sizes alternate within each round. Reported: time per
  delivery and per message, and the growth factor, time per message at 100 / at 1
  (at most about 1: the total grows linearly or better).
- The on-device listener with 0 and 64 slow clients connected: 64 TCP connections
  that send a few bytes and stall (slowloris-like, kept open), then N messages as
  ``nc`` sends them (connect, write a line, close), against the same with no slow
  client; alternating rounds. Reported: the ratio of the times, 64 slow / 0 slow
  (about 1: flat).

The outbox at 10 / 1,000 / 100,000 queued sends is ``benchmarks/test_outbox_depth.py``.

Every benchmark counts that all the work was done (events, deliveries); timings are
reported, never asserted. As in ``test_alternatives.py``, the loop runs without
asyncio's debug mode and logs at WARNING, as a user's HA does.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from benchmarks.conftest import record
from custom_components.cellular_iot.const import EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers.listener import Listener
from homeassistant.core import HomeAssistant
from tests.conftest import emnify_entry, record_events, setup_entry, with_webhook
from tests.fakes.emnify import FakeEmnify
from tests.test_webhook import EMNIFY_EVENT

pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("user_log_level")]

ROUNDS = 5
SECRET = "bench-growth-secret-0123456789"
WEBHOOK_ID = "g" * 64


# --- 1. the webhook at 1, 10 and 100 messages per delivery ------------------------------

SIZES = (1, 10, 100)
DELIVERIES_PER_ROUND = 10  # per size: ROUNDS x 10 = 50 deliveries of each size


def _event(message_id: int) -> dict[str, Any]:
    """An emnify Data Streamer event (tests/test_webhook.py's), with its own id."""
    return {
        **EMNIFY_EVENT,
        "alert": False,
        "description": f"Benchmark event {message_id}",
        "id": message_id,
    }


async def test_webhook_messages_per_delivery(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify: FakeEmnify,
    no_asyncio_debug: None,
) -> None:
    """Time per delivery and per message at 1, 10 and 100 messages a delivery."""
    await setup_entry(
        hass, with_webhook(emnify_entry(emnify.application_token), WEBHOOK_ID, SECRET)
    )
    events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    client = await hass_client_no_auth()
    url = f"/api/webhook/{WEBHOOK_ID}"
    ids = iter(range(10**12, 2 * 10**12))
    sent = {"messages": 0}

    async def deliveries(size: int, count: int) -> float:
        """Post ``count`` deliveries of ``size`` messages; seconds per delivery."""
        bodies = [[_event(next(ids)) for _ in range(size)] for _ in range(count)]
        start = time.perf_counter()
        for body in bodies:
            response = await client.post(
                url, json=body, headers={"Authorization": SECRET}
            )
            assert await response.json() == {"accepted": size, "duplicates": 0}
        await hass.async_block_till_done()
        elapsed = time.perf_counter() - start
        sent["messages"] += size * count
        return elapsed / count

    for size in SIZES:  # warm-up
        await deliveries(size, 2)
    runs: dict[int, list[float]] = {size: [] for size in SIZES}
    for index in range(ROUNDS):
        shift = index % len(SIZES)
        for size in SIZES[shift:] + SIZES[:shift]:
            runs[size].append(await deliveries(size, DELIVERIES_PER_ROUND))

    # Every message of every delivery fired its event, once.
    assert len(events) == sent["messages"]
    assert len({e.data["message_id"] for e in events}) == sent["messages"]

    per_delivery = {size: statistics.median(runs[size]) for size in SIZES}
    per_message = {size: per_delivery[size] / size for size in SIZES}
    for size in SIZES:
        record(
            f"webhook {size} msg/delivery: per delivery",
            ours=f"{per_delivery[size] * 1000:.2f} ms",
            baseline="",
            ratio="",
            goal="info",
            ok="-",
            per_message_ms=round(per_message[size] * 1000, 3),
            deliveries=ROUNDS * DELIVERIES_PER_ROUND,
        )
    growth = per_message[100] / per_message[1]
    record(
        "webhook growth: per message, 100 / 1",
        ours=f"{per_message[100] * 1000:.3f} ms",
        baseline=f"{per_message[1] * 1000:.3f} ms",
        ratio=round(growth, 3),
        goal="<=1x",
        ok=growth <= 1.0,
        per_message_10_ms=round(per_message[10] * 1000, 3),
        messages=sent["messages"],
    )


# --- 2. the listener with 0 and 64 slow clients connected -------------------------------

SLOW_CLIENTS = 64
MESSAGES, CONCURRENCY = 1000, 8  # 125 per sender


async def test_listener_with_slow_clients(
    hass: HomeAssistant, socket_enabled: None, no_asyncio_debug: None
) -> None:
    """Time to deliver N messages with 64 slow clients connected vs none."""
    received = {"normal": 0, "slow": 0}

    def on_message(message: Any) -> None:
        kind = "slow" if message.data.startswith(b"SLOW") else "normal"
        received[kind] += 1
        hass.bus.async_fire(
            "cellular_iot_message_received", {"data": message.data.decode()}
        )

    # Every connection comes from 127.0.0.1 (loopback is allowed): as test_bench.py
    # does, no rate limit, and room for the 64 slow clients and the 8 concurrent
    # senders in the per-sender and total caps (at the default total of 64 a new
    # connection would evict the oldest slow one: that is measured nowhere here).
    # The slow clients stay open for the run: the idle timeout and deadline are
    # longer than it.
    listener = Listener(
        "TCP",
        "127.0.0.1",
        0,
        on_message,
        rate_limit=None,
        max_per_source=SLOW_CLIENTS + CONCURRENCY + 8,
        max_connections=SLOW_CLIENTS + CONCURRENCY + 8,
        idle_timeout=600,
        deadline=600,
    )
    await listener.start()
    port = listener.port
    counter = iter(range(10**9))

    async def open_slow() -> list[asyncio.StreamWriter]:
        writers = []
        for i in range(SLOW_CLIENTS):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"SLOW {i} GET / HTTP/1.1\r\nX-a: ".encode())
            await writer.drain()
            writers.append(writer)
        async with asyncio.timeout(10):
            while listener.active_connections < SLOW_CLIENTS:
                await asyncio.sleep(0.001)
        # Let the few bytes reach the listener before the clock starts.
        async with asyncio.timeout(10):
            while listener.bytes_received < slow_bytes_before[0] + SLOW_CLIENTS * 20:
                await asyncio.sleep(0.001)
        return writers

    async def close_slow(writers: list[asyncio.StreamWriter]) -> None:
        for writer in writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in writers))

    async def run() -> float:
        """Seconds to deliver MESSAGES messages, CONCURRENCY senders at a time."""

        async def worker(count: int) -> None:
            for _ in range(count):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"message {next(counter)}\n".encode())
                writer.close()
                await writer.wait_closed()

        expected = received["normal"] + MESSAGES
        start = time.perf_counter()
        await asyncio.gather(
            *(worker(MESSAGES // CONCURRENCY) for _ in range(CONCURRENCY))
        )
        async with asyncio.timeout(30):
            while received["normal"] < expected:
                await asyncio.sleep(0.0005)
        await hass.async_block_till_done()
        return time.perf_counter() - start

    slow_bytes_before = [0]
    slow_open_during: list[int] = []

    async def with_slow() -> float:
        slow_bytes_before[0] = listener.bytes_received
        writers = await open_slow()
        try:
            elapsed = await run()
            # The slow clients were all still held open by the listener.
            slow_open_during.append(listener.active_connections)
        finally:
            await close_slow(writers)
        async with asyncio.timeout(10):
            while listener.active_connections:
                await asyncio.sleep(0.001)
        return elapsed

    idle_runs: list[float] = []
    slow_runs: list[float] = []
    try:
        await run()  # warm-up
        await with_slow()
        for index in range(ROUNDS):
            if index % 2 == 0:
                idle_runs.append(await run())
                slow_runs.append(await with_slow())
            else:
                slow_runs.append(await with_slow())
                idle_runs.append(await run())
    finally:
        await listener.stop()

    rounds_run = ROUNDS + 1  # with the warm-up
    # Every normal message was delivered, each slow client's bytes on its close, and
    # nothing was refused, dropped, evicted or timed out.
    assert received["normal"] == MESSAGES * (2 * ROUNDS + 2)
    assert received["slow"] == SLOW_CLIENTS * rounds_run
    assert slow_open_during == [SLOW_CLIENTS] * rounds_run
    assert listener.rejected == listener.evicted == listener.rate_limited == 0
    assert listener.timed_out == listener.cut_at_deadline == 0

    idle, slow = statistics.median(idle_runs), statistics.median(slow_runs)
    ratio = slow / idle
    record(
        f"listener {MESSAGES} msgs: {SLOW_CLIENTS} slow / 0 slow",
        ours=f"{slow * 1000:.1f} ms",
        baseline=f"{idle * 1000:.1f} ms",
        ratio=round(ratio, 3),
        goal="<=1.1x",
        ok=ratio <= 1.1,
        per_message_us={
            "slow": round(slow / MESSAGES * 1e6, 1),
            "idle": round(idle / MESSAGES * 1e6, 1),
        },
    )

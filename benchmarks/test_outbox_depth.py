"""The outbox at depth: worst event-loop stall and bytes written per change.

Ours against the outbox of 077d1c5 (benchmarks/outbox_before.py), in the same run, at
10, 1,000 and 100,000 queued sends. Each side loads the same stored queue (sends to
distinct devices, all waiting for a retry: the worst case of the old scan), then:

- load: a restart reads the stored queue (the old outbox's first pass of its worker
  after that is not counted);
- enqueue: sends to a device that already has one waiting are queued behind it;
- dequeue: one of the last stored sends becomes due and the retry worker delivers it.

A meter task yields to the loop in a tight loop; the longest gap between two of its
turns is the worst stall. Writes go through HA's ``Store`` (the storage mock of the
test harness) with HA 2026.2's own serialiser on the loop; the bytes are counted.
A delivery rewrites the segment holding
the send: a full one (500 sends) in ours, the whole queue in the old one.
The old outbox cannot dequeue at 100,000 (its scan is quadratic: hours per pass);
that figure is projected from its scan at 1,000 and marked "est.".

Run alone: scripts/bench -k outbox
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import gc
import time
from types import ModuleType
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks import outbox_before
from benchmarks.conftest import record
from custom_components.cellular_iot import outbox as outbox_ours
from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.outbox import policy as outbox_policy
from custom_components.cellular_iot.providers.errors import ProviderResponseError
from homeassistant.core import HomeAssistant
from homeassistant.helpers import json as json_helper
from homeassistant.helpers.storage import Store
from homeassistant.util.json import json_loads

pytestmark = pytest.mark.timeout(1800)
DEPTHS = (10, 1_000, 100_000)
ENQUEUES = 5
DEQUEUES = 3
OPERATION = "bench_send"
# Goals, whatever the depth: no stall a user notices (HA's own debug threshold is
# 50 ms), and a change rewrites one segment at most (500 sends, about 300 KiB here).
STALL_GOAL = 0.05
BYTES_GOAL = 512 * 1024


class _Provider:
    """The send operation: a 503 for every send but those it is told to accept."""

    def __init__(self) -> None:
        self.accept: set[str] = set()

    async def __call__(self, entry: Any, item: Any) -> dict[str, Any]:
        if item.id not in self.accept:
            raise ProviderResponseError("Hologram failed (HTTP 503)", status=503)
        return {}


class _Disk:
    """Stands in for the storage mock's write: serialise as HA does, count bytes."""

    def __init__(self, hass_storage: dict[str, Any]) -> None:
        self.storage = hass_storage
        self.bytes = 0
        self.writes = 0
        self.written = asyncio.Event()
        self.files: dict[str, bytes | str] = {}

    async def write(self, store: Store[Any], *args: Any) -> None:
        data = args[-1]  # (HA 2025.4 passes the path first)
        if "data_func" in data:
            data["data"] = data.pop("data_func")()
        if hasattr(json_helper, "prepare_save_json"):
            payload = json_helper.prepare_save_json(data)[1]
        else:  # HA 2025.4: serialised in the executor; same bytes
            payload = json_helper.json_bytes(data)
        self.bytes += len(payload)
        self.writes += 1
        self.files[store.key] = payload
        await asyncio.sleep(0)  # the file is written in the executor: the loop runs
        # Only the bytes are kept (the load reads them back): keeping the rows as
        # written would hold ~4 GC-tracked objects per send that Home Assistant's
        # Store does not keep, and their collection would be counted as a stall.
        self.storage.pop(store.key, None)
        self.written.set()


class _Meter:
    """The longest time the loop took to come back to a task that only yields."""

    def __init__(self, hass: HomeAssistant) -> None:
        self._loop = hass.loop
        self.worst = 0.0
        self._on = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = self._loop
        while self._on:
            before = loop.time()
            await asyncio.sleep(0)
            self.worst = max(self.worst, loop.time() - before)

    async def __aenter__(self) -> _Meter:
        self._on = True
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._on = False
        assert self._task is not None
        await self._task


def _stored_queue(count: int) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "id": f"q{index}",
            "operation": OPERATION,
            "action": "send_cloud_message",
            "targets": [f"device:{index}"],
            "params": {
                "device_ids": [index],
                "port": 4010,
                "protocol": "TCP",
                "data": f"payload {index:08d}",
                "data_base64": None,
                "encrypted": False,
            },
            "created": now - 60,
            "attempts": 1,
            "next_attempt": now + 3600,
            "last_error": "Hologram failed (HTTP 503): fault 503",
            "progress": {},
        }
        for index in range(count)
    ]


def _params(device_id: int) -> dict[str, Any]:
    return {
        "device_ids": [device_id],
        "port": 4010,
        "protocol": "TCP",
        "data": "OPEN",
        "data_base64": None,
        "encrypted": False,
    }


async def _until(condition: Callable[[], bool], event: asyncio.Event) -> None:
    async with asyncio.timeout(600):
        while not condition():
            event.clear()
            await event.wait()


async def _measure(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    impl: ModuleType,
    depth: int,
    *,
    dequeue: bool,
) -> dict[str, float]:
    """Load ``depth`` queued sends into one outbox; enqueue, then dequeue."""
    provider = _Provider()
    impl.OPERATIONS[OPERATION] = provider
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"bench {impl.__name__} {depth}",
        data={"kind": "hologram"},
        options={"outbox_max_depth": 1_000_000},
    )
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"items": _stored_queue(depth)},
    }
    disk = _Disk(hass_storage)
    figures: dict[str, float] = {}
    with pytest.MonkeyPatch.context() as patch:

        async def write(store: Store[Any], *args: Any) -> None:
            await disk.write(store, *args)

        patch.setattr(Store, "_async_write_data", write)
        if impl is outbox_ours:
            patch.setattr(outbox_policy, "SAVE_DELAY", 0.0)
        box = impl.Outbox(hass, entry)
        await box.async_load()
        if dequeue:  # (the old worker's first pass at 100,000 would take hours)
            box.start()
        assert box.depth == depth
        await hass.async_block_till_done()

        # Each phase starts from a collected heap: the garbage of the benchmark's
        # own set-up (100,000 stored rows built, a first load) is not the phase's.
        gc.collect()
        # Enqueue: behind device 0's waiting send (no provider call), stored each.
        disk.bytes = disk.writes = 0
        async with _Meter(hass) as meter:
            for _ in range(ENQUEUES):
                response = await box.async_submit(
                    OPERATION, "send_cloud_message", ["device:0"], _params(0)
                )
                assert response["status"] == "queued"
                await asyncio.sleep(0)  # one submit per measured gap
        figures["enqueue_stall"] = meter.worst
        figures["enqueue_bytes"] = disk.bytes / ENQUEUES

        # Dequeue: one of the last stored sends becomes due and is delivered by
        # the worker (the old scan reaches it last); its write is counted.
        if dequeue:
            worst = 0.0
            written = 0
            gc.collect()
            for round_ in range(DEQUEUES):
                ident = f"q{depth - 1 - round_}"
                provider.accept.add(ident)
                delivered, writes = box.delivered, disk.writes
                disk.bytes = 0
                async with _Meter(hass) as meter:
                    _make_due(hass, box, ident)
                    await _until(
                        lambda d=delivered, w=writes: (
                            box.delivered > d and disk.writes > w
                        ),
                        disk.written,
                    )
                worst = max(worst, meter.worst)
                written += disk.bytes
            figures["dequeue_stall"] = worst
            figures["dequeue_bytes"] = written / DEQUEUES
        await box.stop()

        # Load: a restart reads what this outbox stored (ours: its segments), each
        # file decoded in the executor as HA does (not the harness's in-loop copy).
        async def load(store: Store[Any]) -> Any:
            raw = disk.files.get(store.key)
            if raw is None:
                return None
            data = await hass.async_add_executor_job(json_loads, raw)
            return data["data"]

        patch.setattr(Store, "_async_load", load)
        # A restart starts from a collected heap: the garbage of the phases before
        # would otherwise be collected during the load, its pass counted as the load's.
        hass_storage.clear()
        gc.collect()
        again = impl.Outbox(hass, entry)
        async with _Meter(hass) as meter:
            await again.async_load()
        figures["load_stall"] = meter.worst
        assert again.depth >= depth
    impl.OPERATIONS.pop(OPERATION, None)
    hass_storage.clear()
    return figures


def _make_due(hass: HomeAssistant, box: Any, ident: str) -> None:
    """Make one waiting send due now and wake the worker."""
    if isinstance(box, outbox_ours.Outbox):
        item = box._items[ident]
        item.due = hass.loop.time()
        box._schedule(item)
    else:
        item = next(item for item in box._items if item.id == ident)
        item.next_attempt = 0.0
        box._wake.set()


async def _old_scan(hass: HomeAssistant, hass_storage: dict[str, Any]) -> float:
    """Seconds of one pass of the old scan over 1,000 waiting sends."""
    entry = MockConfigEntry(domain=DOMAIN, data={"kind": "hologram"})
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.outbox.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"items": _stored_queue(1_000)},
    }
    box = outbox_before.Outbox(hass, entry)
    await box.async_load()
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        item, wait = box._next()
        runs.append(time.perf_counter() - start)
        assert item is None
        assert wait is not None
    hass_storage.clear()
    return min(runs)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _size(count: float) -> str:
    return (
        f"{count / 1024:.1f} KiB" if count < 1024 * 1024 else f"{count / 2**20:.1f} MiB"
    )


def _row(
    name: str,
    ours: float,
    base: float,
    text: Callable[[float], str],
    goal: str,
    ok: bool | str,
    **extra: Any,
) -> None:
    record(
        name,
        ours=text(ours),
        baseline=text(base) + (" (est.)" if extra.get("estimated") else ""),
        ratio=round(ours / base, 4) if base else "-",
        goal=goal,
        ok=ok,
        **extra,
    )


@pytest.mark.parametrize("depth", DEPTHS)
async def test_outbox_at_depth(
    hass: HomeAssistant, hass_storage: dict[str, Any], depth: int
) -> None:
    ours = await _measure(hass, hass_storage, outbox_ours, depth, dequeue=True)
    base = await _measure(
        hass, hass_storage, outbox_before, depth, dequeue=depth <= 1_000
    )
    if "dequeue_stall" not in base:
        # Quadratic: one pass over n sends costs (n / 1,000)^2 passes over 1,000.
        scan = await _old_scan(hass, hass_storage)
        base["dequeue_stall"] = scan * (depth / 1_000) ** 2
        base["dequeue_bytes"] = base["enqueue_bytes"]  # one write of the whole queue
        estimated = True
    else:
        estimated = False
    label = f"outbox {depth:,} queued:"
    for phase in ("load", "enqueue", "dequeue"):
        stall = ours[f"{phase}_stall"]
        # Loading once stalled for Python's full garbage collection passes (six
        # tracked objects per send); a waiting send now holds one, and the load has
        # the same goal as the rest (issue 25).
        _row(
            f"{label} worst stall, {phase}",
            stall,
            base[f"{phase}_stall"],
            _ms,
            f"<={STALL_GOAL * 1000:.0f} ms",
            stall <= STALL_GOAL,
            depth=depth,
            estimated=estimated and phase == "dequeue",
        )
    for phase in ("enqueue", "dequeue"):
        size = ours[f"{phase}_bytes"]
        _row(
            f"{label} bytes per change, {phase}",
            size,
            base[f"{phase}_bytes"],
            _size,
            "<=1 seg",
            size <= BYTES_GOAL,
            depth=depth,
            estimated=estimated and phase == "dequeue",
        )

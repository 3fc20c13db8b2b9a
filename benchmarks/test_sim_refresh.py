"""500 SIMs on one account: requests per refresh, and time on the loop per refresh.

For each provider, one account with 500 devices (subentries) against its local
fake. Ours is the account's coordinator refresh; the baseline is polling each
device's own SIM resource the way a per-device integration would (Hologram
``GET /devices/{id}``; emnify ``GET /endpoint/{id}`` + connectivity + stats; monoZ one
detail each — monoZ has no list, so there the two are the same). Requests are
counted at the fake; the time is the process CPU time of one refresh, median of 5
(the fake serves in the same process, so it is an upper bound of ours).

Run alone: scripts/bench -k sim
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks.conftest import record
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from tests.conftest import emnify_entry, hologram_entry, monoz_entry, setup_entry
from tests.fakes.emnify import FakeEmnify
from tests.fakes.hologram import FakeHologram
from tests.fakes.monoz import FakeMonoz

pytestmark = pytest.mark.timeout(1800)
SIMS = 500
ROUNDS = 5


def _account(entry: MockConfigEntry, key: str, ids: list[Any]) -> MockConfigEntry:
    return MockConfigEntry(
        domain=entry.domain,
        title=entry.title,
        data=entry.data,
        unique_id=entry.unique_id,
        minor_version=2,
        subentries_data=[
            ConfigSubentryData(
                data={key: str(i)},
                subentry_type="device",
                title=f"SIM {i}",
                unique_id=str(i),
            )
            for i in ids
        ],
    )


async def _measure(
    hass: HomeAssistant, entry: MockConfigEntry, requests: Any
) -> tuple[float, float]:
    """Median requests and CPU seconds per refresh."""
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    assert coordinator.data is not None
    assert len(coordinator.data) == SIMS, len(coordinator.data)
    counts: list[int] = []
    times: list[float] = []
    for _ in range(ROUNDS):
        before = requests()
        start = time.process_time()
        await coordinator.async_refresh()
        times.append(time.process_time() - start)
        counts.append(requests() - before)
        assert coordinator.last_update_success
    return statistics.median(counts), statistics.median(times)


def _record(name: str, requests: float, baseline: int, cpu: float) -> None:
    record(
        f"SIM refresh, {SIMS} SIMs: {name} (requests)",
        ours=int(requests),
        baseline=baseline,
        ratio=requests / baseline,
        goal="<= 1.0",
        ok=requests <= baseline,
        cpu_ms_per_refresh=round(cpu * 1000, 1),
    )
    print(
        f"{name}: {requests:.0f} requests per refresh (per-device polling: "
        f"{baseline}), {cpu * 1000:.1f} ms CPU per refresh"
    )


async def test_hologram_500_sims(hass: HomeAssistant, hologram: FakeHologram) -> None:
    ids = hologram.add_devices(SIMS, first_id=100_000)
    entry = await setup_entry(hass, _account(hologram_entry(), "device_id", ids))
    requests, cpu = await _measure(hass, entry, lambda: len(hologram.calls("/devices")))
    # Pages of 100; the fake answers "continues" on a full last page, so one more.
    assert requests <= -(-SIMS // 100) + 1
    _record("Hologram", requests, SIMS, cpu)


async def test_emnify_500_sims(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    ids = emnify.add_endpoints(SIMS)
    entry = await setup_entry(
        hass, _account(emnify_entry(emnify.application_token), "device_id", ids)
    )
    requests, cpu = await _measure(hass, entry, lambda: len(emnify.requests))
    assert requests == 1 + 2 * SIMS  # the list, then connectivity and stats
    _record("emnify", requests, 3 * SIMS, cpu)


async def test_monoz_500_sims(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    ids = [f"89811000058194{i:05d}" for i in range(SIMS)]
    monoz.iccids.update(ids)
    entry = await setup_entry(hass, _account(monoz_entry(), "iccid", ids))
    requests, cpu = await _measure(hass, entry, lambda: len(monoz.requests))
    assert requests == 2 * SIMS  # monoZ lists no SIMs: Sim/Enable and the detail each
    _record("monoZ", requests, 2 * SIMS, cpu)  # a per-device poll reads the same two

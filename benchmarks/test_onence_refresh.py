"""1,000 1NCE SIMs: requests per refresh, CPU per refresh, the highest request rate.

The 1NCE client's refresh of 1,000 SIMs (``OneNceClient.sim_statuses``) against the
local fake: the list (pages of 100) and three calls per SIM (status, data quota,
SMS quota). The baseline is polling each SIM by itself the way a per-device
integration would: ``GET /v2/sims/{iccid}`` plus the same three calls, four a SIM.
Requests are counted at the fake; the time is the process CPU time of one refresh,
median of 3 (the fake serves in the same process: an upper bound of ours).

The client runs on an injected clock (the ``onence`` fixture), its limiter's waits
cost no real time, and every request is stamped with the time the limiter let it go:
the most requests within any one second is the highest rate the limiter allows, and
must stay within 1NCE's 10 a second. At 5 a second a refresh of 1,000 SIMs takes
its requests / 5 seconds of (simulated) wall time, recorded too.

The client is measured without HA (the account's coordinator for 1NCE is the lead's).

Run alone: scripts/bench -k onence
"""

from __future__ import annotations

import statistics
import time

from aiohttp import ClientSession
import pytest

from benchmarks.conftest import record
from custom_components.cellular_iot.providers.onence import (
    CALLS_PER_SIM,
    MAX_REQUESTS_PER_SECOND,
    REQUEST_RATE,
    SIM_PAGE_SIZE,
    OneNceClient,
)
from tests.fakes.onence import CLIENT_ID, CLIENT_SECRET, FakeOneNce

pytestmark = pytest.mark.timeout(1800)
SIMS = 1000
ROUNDS = 3


async def test_onence_1000_sims(
    onence: FakeOneNce, no_asyncio_debug: None, user_log_level: None
) -> None:
    iccids = onence.add_sims(SIMS)
    async with ClientSession(trace_configs=[onence.time.trace_config()]) as session:
        client = OneNceClient(session, CLIENT_ID, CLIENT_SECRET)
        await client.authenticate()
        counts: list[int] = []
        cpu: list[float] = []
        wall: list[float] = []
        for _ in range(ROUNDS):
            before, started = len(onence.requests), onence.now
            start = time.process_time()
            statuses = await client.sim_statuses(iccids)
            cpu.append(time.process_time() - start)
            counts.append(len(onence.requests) - before)
            wall.append(onence.now - started)
            assert len(statuses) == SIMS
            onence.now += 300  # the next refresh five minutes later
    requests = statistics.median(counts)
    pages = -(-SIMS // SIM_PAGE_SIZE)
    assert requests == pages + CALLS_PER_SIM * SIMS
    assert onence.token_calls == 1
    rate = onence.time.max_rate()
    assert rate <= REQUEST_RATE <= MAX_REQUESTS_PER_SECOND
    baseline = 4 * SIMS
    record(
        f"1NCE refresh, {SIMS} SIMs (requests)",
        ours=int(requests),
        baseline=baseline,
        ratio=requests / baseline,
        goal="<= 1.0",
        ok=requests <= baseline,
        cpu_ms_per_refresh=round(statistics.median(cpu) * 1000, 1),
        simulated_seconds_per_refresh=round(statistics.median(wall), 1),
    )
    record(
        "1NCE limiter: most requests in 1 s",
        ours=rate,
        baseline=MAX_REQUESTS_PER_SECOND,
        ratio=rate / MAX_REQUESTS_PER_SECOND,
        goal="<= 1.0",
        ok=rate <= MAX_REQUESTS_PER_SECOND,
        request_rate_setting=REQUEST_RATE,
    )
    print(
        f"1NCE: {requests:.0f} requests per refresh of {SIMS} SIMs (per-SIM polling: "
        f"{baseline}), {statistics.median(cpu) * 1000:.0f} ms CPU per refresh, "
        f"{statistics.median(wall):.0f} s at the limiter's pace; at most {rate} "
        f"requests in any second (limit {MAX_REQUESTS_PER_SECOND})"
    )

"""What reading a Hologram account's messages from the API costs (issue 24 row 5).

Requests: one idle poll of an account of 50 devices is one ``GET /csr/rdm``; the
baseline asks each device's messages (``?deviceid=``), 50 requests, as a
per-device poller would. Instructions (``sys.monitoring``, exact on any machine):
per record, a poll that finds 100 new records, against the same 100 messages
posted one by one to the entry's webhook through HA's HTTP stack (a route's
delivery each); and per idle poll, recorded beside them.

Run alone: scripts/bench -k hologram_poll
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from benchmarks.conftest import record
from benchmarks.measure import count_instructions, put
from homeassistant.core import HomeAssistant
from tests.conftest import hologram_entry, setup_entry
from tests.fakes.hologram import FakeHologram

pytestmark = pytest.mark.timeout(1800)
DEVICES = 50
RECORDS = 100
SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_ID = "c" * 64


def _entry(mode: str) -> MockConfigEntry:
    entry = hologram_entry()
    return MockConfigEntry(
        domain=entry.domain,
        title=entry.title,
        data={**entry.data, "webhook_id": WEBHOOK_ID},
        options={"webhook_secret": SECRET, "inbound_mode": mode},
        unique_id=entry.unique_id,
    )


async def test_hologram_poll_requests_and_instructions(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hass_client_no_auth: ClientSessionGenerator,
    user_log_level: None,
    no_asyncio_debug: None,
) -> None:
    ids = hologram.add_devices(DEVICES, first_id=500_000)
    entry = await setup_entry(hass, _entry("both"))
    runtime: Any = entry.runtime_data
    poller = runtime.poller
    client = runtime.client

    # Requests per idle poll, against one request per device.
    before = len(hologram.calls("/csr/rdm"))
    await poller.async_poll()
    ours_requests = len(hologram.calls("/csr/rdm")) - before
    before = len(hologram.calls("/csr/rdm"))
    for device_id in ids:
        await client.list_messages(timestart=poller.since, device_ids=[device_id])
    base_requests = len(hologram.calls("/csr/rdm")) - before
    record(
        f"Hologram inbound poll, {DEVICES} devices, idle (requests)",
        ours=ours_requests,
        baseline=base_requests,
        ratio=ours_requests / base_requests,
        goal="<= 1.0",
        ok=ours_requests <= base_requests,
    )

    # Instructions per idle poll.
    idle, _, _ = await count_instructions(poller.async_poll, 5)

    # Instructions per record: 100 new records in one poll, against 100 route posts.
    counter = iter(range(10**9))

    async def poll_100() -> None:
        for _ in range(RECORDS):
            hologram.add_message(ids[0], f"reading {next(counter)}", tags=["T"])
        await poller.async_poll()

    http = await hass_client_no_auth()

    async def post_100() -> None:
        for _ in range(RECORDS):
            body = {
                "device_id": ids[0],
                "received": "2026-01-01T00:00:00+00:00",
                "data": "cmVhZGluZw==",
                "tags": ["T", f"n{next(counter)}"],
            }
            response = await http.post(
                f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}", json=body
            )
            assert response.status == 200

    ours_n, ours_parts, ours_functions = await count_instructions(poll_100, 3)
    base_n, base_parts, _ = await count_instructions(post_100, 3)
    assert poller.failures == 0
    put(
        f"Hologram inbound: {RECORDS} records, poll vs route posts (instr per record)",
        ours_n / RECORDS,
        base_n / RECORDS,
        "instr",
        "<=1.0x",
        idle_poll_instr=round(idle),
        ours_parts={k: round(v / RECORDS) for k, v in ours_parts.most_common()},
        baseline_parts={k: round(v / RECORDS) for k, v in base_parts.most_common()},
        ours_functions={
            k: round(v / RECORDS) for k, v in ours_functions.most_common(10)
        },
    )
    print(
        f"Hologram poll: {ours_requests} request per idle poll ({base_requests} "
        f"per-device), {idle:.0f} instructions per idle poll, "
        f"{ours_n / RECORDS:.0f} per record polled vs {base_n / RECORDS:.0f} per "
        "route post"
    )

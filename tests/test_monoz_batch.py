"""monoZ batches: two equal packets within one second are two messages (issue 25).

monoZ sends no message id; the webhook drops a delivery it has seen by a fingerprint of
(ICCID or Topic, Timestamp, Payload). monoZ posts the packets of one second as one
array of up to 10, so a device that sends the same reading twice within that second
gave two equal fingerprints, and 94932c4 dropped the second as a duplicate. The place
among the equal packets of the batch is now part of the fingerprint; a retried batch
still repeats every fingerprint and is dropped whole.
"""

from __future__ import annotations

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers.deliveries import parse_monoz
from homeassistant.core import HomeAssistant

from .conftest import monoz_entry, record_events, setup_entry, with_webhook
from .fakes.monoz import FakeMonoz

SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_ID = "b" * 64
ICCID = "8981100005819480000"
SECOND = "2026-11-23T10:00:00Z"


def _packet(payload: str, timestamp: str = SECOND) -> dict[str, str]:
    return {"ICCID": ICCID, "Timestamp": timestamp, "Payload": payload}


def test_equal_packets_of_one_batch_have_their_own_ids() -> None:
    batch = [_packet("21"), _packet("22"), _packet("21"), _packet("21")]
    ids = [message.message_id for message in parse_monoz(batch)]
    assert len(set(ids)) == 4
    # The same batch again (monoZ retries it): the same ids, so all are dropped.
    assert [message.message_id for message in parse_monoz(batch)] == ids
    # A packet alone keeps the id it had (the first of its kind in any batch).
    assert parse_monoz(_packet("21"))[0].message_id == ids[0]


@pytest.fixture
async def monoz_hook(hass: HomeAssistant, monoz: FakeMonoz) -> MockConfigEntry:
    return await setup_entry(hass, with_webhook(monoz_entry(), WEBHOOK_ID, SECRET))


async def test_two_equal_readings_in_one_second_are_two_events(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    client = await hass_client_no_auth()
    batch = [_packet("door open"), _packet("door closed"), _packet("door open")]
    url = f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}"
    response = await client.post(url, json=batch)
    assert response.status == 200
    assert await response.json() == {"accepted": 3, "duplicates": 0}
    await hass.async_block_till_done()
    assert [event.data["data"] for event in events] == [
        "door open",
        "door closed",
        "door open",
    ]
    # monoZ delivers the batch again: nothing new.
    response = await client.post(url, json=batch)
    assert await response.json() == {"accepted": 0, "duplicates": 3}
    await hass.async_block_till_done()
    assert len(events) == 3

"""Issue 25: SIM polling that one provider answer must not break.

Each test is the regression test of one item (4, 5, 6, 8), one suspicion or one rough
edge of issue 25, driven through the provider fakes (or, for the coordinator's own
arithmetic, a scripted SIM read) in the project's harness.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import re
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.coordinator import MAX_BACKOFF
from custom_components.cellular_iot.providers._parse import as_count
from custom_components.cellular_iot.providers.emnify import EmnifyClient
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitedError,
)
from custom_components.cellular_iot.providers.hologram import HologramClient
from custom_components.cellular_iot.providers.onence import OneNceClient
from custom_components.cellular_iot.providers.sim import (
    SIM_STATES,
    SMS_STATES,
    SimStatus,
)
from custom_components.cellular_iot.sim_status import EVENT_SMS_STATUS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from .conftest import (
    GATE_TRACKER,
    ONENCE_PUMP,
    device_subentry,
    emnify_pump_account,
    hologram_entry,
    monoz_entry,
    onence_pump_account,
    record_events,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.onence import CLIENT_ID, CLIENT_SECRET, FakeOneNce
from .guards import HANG_GUARD

SECRET = "sim-issue25-secret-0123456789"
DOCS = Path(__file__).parent.parent / "docs"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _reauth_flows(hass: HomeAssistant) -> list[str]:
    return [
        flow["context"]["source"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    ]


async def _refresh(hass: HomeAssistant, entry: Any) -> Any:
    coordinator = entry.runtime_data.sims
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    return coordinator


async def _gate(hass: HomeAssistant) -> Any:
    return await setup_entry(
        hass, with_webhook(hologram_entry(), "a" * 64, SECRET, GATE_TRACKER)
    )


# --- item 4: one SMS to a deleted emnify endpoint ---------------------------------------


async def test_a_deleted_endpoints_sms_list_does_not_fail_the_refresh(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": 1001, "message": "pump on"},
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.sims
    assert len(coordinator.sms.followed) == 1
    # The endpoint's SMS list answers 404 (the endpoint was deleted meanwhile).
    emnify.fail("/endpoint/1001/sms", 404, {"message": "Endpoint not found"})
    await _refresh(hass, entry)
    assert coordinator.last_update_success
    assert coordinator.failures == 0
    assert _state(hass, "sensor.pump_sim_status") == "active"
    # Its follow-up is dropped (pruned), the delivery sensor says unknown.
    assert coordinator.sms.followed == []
    assert _state(hass, "sensor.pump_last_sms_delivery") == STATE_UNKNOWN


async def test_another_sms_list_error_keeps_the_follow_up_for_the_next_refresh(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    await hass.async_block_till_done()
    events = record_events(hass, EVENT_SMS_STATUS)
    await hass.services.async_call(
        DOMAIN, "send_sms", {"device_id": 1001, "message": "on"}, blocking=True
    )
    await hass.async_block_till_done()
    emnify.fail("/endpoint/1001/sms", 500, {"message": "boom"})
    coordinator = await _refresh(hass, entry)
    assert coordinator.last_update_success
    assert len(coordinator.sms.followed) == 1  # kept for the next refresh
    [sms_id] = list(emnify.sms_records)
    emnify.set_sms_status(sms_id, 4)
    await _refresh(hass, entry)
    assert [event.data["status"] for event in events] == ["delivered"]


# --- item 5: back-off bounded -------------------------------------------------------


class Script:
    """A scripted Hologram SIM read."""

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self.data_used: int | None = None

    async def __call__(self, *args: Any) -> dict[str, SimStatus]:
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        sim = SimStatus(provider_id="123456", state="active", data_used=self.data_used)
        return {"123456": sim}


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    fake = Script()
    monkeypatch.setattr(
        HologramClient, "sim_statuses", lambda self, *ids: fake(), raising=False
    )
    return fake


@pytest.mark.parametrize("retry_after", [100_000_000.0, 1e300, float("inf")])
async def test_a_retry_after_holds_the_refreshes_a_day_at_most(
    hass: HomeAssistant, hologram: FakeHologram, script: Script, retry_after: float
) -> None:
    entry = await _gate(hass)
    script.answers = [ProviderRateLimitedError("429", retry_after=retry_after)]
    coordinator = await _refresh(hass, entry)
    assert not coordinator.last_update_success
    assert coordinator.update_interval == timedelta(days=1)


async def test_the_back_off_does_not_overflow_after_many_failures(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate(hass)
    coordinator = entry.runtime_data.sims
    coordinator.failures = 40  # 2**41 times 15 minutes is no timedelta
    script.answers = [ProviderConnectionError("down")]
    await _refresh(hass, entry)
    assert coordinator.failures == 41
    assert coordinator.update_interval == MAX_BACKOFF
    await _refresh(hass, entry)
    assert coordinator.failures == 0
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"


# --- item 6: garbage numbers ----------------------------------------------------------


async def test_an_emnify_volume_too_large_is_unknown_not_a_crash(
    emnify: FakeEmnify,
) -> None:
    emnify.stats[1001] = {
        "current_month": {
            "data": {"volume": 1e303},
            "sms": {"volume_tx": 1e303, "volume_rx": "2.000000"},
        }
    }
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        statuses = await client.sim_statuses([1001])
    assert statuses["1001"].state == "active"
    assert statuses["1001"].data_used is None
    assert statuses["1001"].sms_sent is None
    assert statuses["1001"].sms_received == 2


async def test_a_hologram_byte_count_of_400_digits_is_unknown(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_devices(1, first_id=123456, cur_billing_data_used=10**400)
    entry = await _gate(hass)
    await hass.async_block_till_done()
    assert entry.runtime_data.sims.last_update_success
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert _state(hass, "sensor.gate_tracker_data_used_this_period") == STATE_UNKNOWN


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        (10**400, None),
        ("9" * 19, None),
        (2**63 - 1, 2**63 - 1),
        (1e303, None),
        (float("inf"), None),
        (-1, None),
        (1_048_576, 1_048_576),
    ],
)
def test_a_count_is_what_a_byte_count_can_be(raw: Any, count: int | None) -> None:
    assert as_count(raw) == count


async def test_a_byte_count_too_large_never_reaches_the_sensor(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    script.data_used = 10**400
    entry = await _gate(hass)
    await hass.async_block_till_done()
    assert entry.runtime_data.sims.last_update_success
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert _state(hass, "sensor.gate_tracker_data_used_this_period") == STATE_UNKNOWN


# --- item 8: a refused optional read is not a refused key ----------------------------


async def test_a_403_on_emnify_connectivity_starts_no_reauth(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    await hass.async_block_till_done()
    emnify.fail("/endpoint/1001/connectivity", 403, {"message": "Forbidden"})
    coordinator = await _refresh(hass, entry)
    assert _reauth_flows(hass) == []
    assert coordinator.last_update_success
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _state(hass, "binary_sensor.pump_online") == STATE_UNKNOWN


async def test_a_refused_sim_list_with_a_good_key_starts_no_reauth(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate(hass)
    script.answers = [ProviderAuthError("403", status=403)]
    coordinator = await _refresh(hass, entry)
    # /users/me still takes the key: the refresh failed, no re-authentication.
    assert _reauth_flows(hass) == []
    assert not coordinator.last_update_success
    assert coordinator.failures == 1
    assert entry.state is ConfigEntryState.LOADED


# --- suspicions ------------------------------------------------------------------------


async def test_a_device_sent_sms_with_the_same_text_is_never_claimed(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    await hass.async_block_till_done()
    events = record_events(hass, EVENT_SMS_STATUS)
    # The fallback: a 201 without a Location, so the SMS is looked for by its text.
    emnify.fail(
        "/endpoint/1001/sms",
        201,
        b"",
        headers={"Content-Type": "text/html; charset=UTF-8"},
    )
    await hass.services.async_call(
        DOMAIN, "send_sms", {"device_id": 1001, "message": "pump on"}, blocking=True
    )
    await hass.async_block_till_done()
    # emnify lists only an SMS the device sent (MO) with the same text, delivered.
    emnify.sms_records[42] = {
        "submit_date": "2027-01-15T08:00:00.000+0000",
        "final_date": "2027-01-15T08:00:01.000+0000",
        "endpoint_id": "1001",
        "payload": "pump on",
        "id": 42,
        "status": {"description": "DELIVERED", "id": 4},
        "sms_type": {"description": "MO", "id": 2},
    }
    coordinator = await _refresh(hass, entry)
    assert events == []
    assert [item.sms_id for item in coordinator.sms.followed] == [None]
    assert _state(hass, "sensor.pump_last_sms_delivery") == "pending"


async def test_monoz_sim_pages_answering_403_with_a_good_key_start_no_reauth(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    entry = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(), "e" * 64, SECRET, device_subentry("Meter", iccid=ICCID)
        ),
    )
    await hass.async_block_till_done()
    forbidden = {"Error": True, "StatusCode": 403, "Message": "Forbidden"}
    monoz.fail(f"/Sim/Enable/{ICCID}", 403, forbidden)
    monoz.fail(f"/Device/Sim/Detail/{ICCID}", 403, forbidden)
    coordinator = await _refresh(hass, entry)
    # The setup's probe still takes the key: the SIM pages are refused, not the key.
    assert _reauth_flows(hass) == []
    assert not coordinator.last_update_success
    assert _state(hass, "sensor.meter_sim_status") == STATE_UNAVAILABLE
    assert entry.state is ConfigEntryState.LOADED
    # A refused key (the probe says 401 too) does start it, once.
    monoz.api_key = "another-key"
    await _refresh(hass, entry)
    assert _reauth_flows(hass) == ["reauth"]


async def test_emnify_reads_no_page_past_a_missing_endpoint(
    emnify: FakeEmnify,
) -> None:
    emnify.add_endpoints(20_000, first_id=2001)  # 21 pages of 1,000
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        # 1001 is on page 1; 1500 and 10**9 are not there (deleted).
        statuses = await client.sim_statuses([1001, 1500, 10**9])
    assert set(statuses) == {"1001"}
    # One page (what the rate budget counts for 3 endpoints) and one direct read of
    # the endpoint still ahead: not the 21 pages of the organization.
    assert len(emnify.calls("/endpoint")) == 1
    assert len(emnify.calls(f"/endpoint/{10**9}")) == 1
    assert emnify.violations == []


async def test_emnify_reads_an_endpoint_far_down_the_list_by_itself(
    emnify: FakeEmnify,
) -> None:
    [last] = emnify.add_endpoints(1, first_id=3_000_000)
    emnify.add_endpoints(20_000, first_id=2001)
    async with ClientSession() as session:
        client = EmnifyClient(session, emnify.application_token, timeout=HANG_GUARD)
        statuses = await client.sim_statuses([1001, last])
    assert set(statuses) == {"1001", str(last)}
    assert len(emnify.calls("/endpoint")) == 1
    assert len(emnify.calls(f"/endpoint/{last}")) == 1


async def test_hologram_sims_beyond_5000_devices_are_read(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    # 5,100 devices before the gate tracker (123456) in the list: page 52.
    hologram.add_devices(5100, first_id=1)
    hologram.add_devices(1, first_id=123456)
    entry = await _gate(hass)
    await hass.async_block_till_done()
    assert entry.runtime_data.sims.last_update_success
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"


# --- rough edges ----------------------------------------------------------------------


async def test_the_switch_shows_the_requested_state_until_the_provider_confirms(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    hologram.add_devices(1, first_id=123456, state="PAUSED-USER")
    changes: list[bool] = []

    async def set_active(self: HologramClient, device_id: int, active: bool) -> None:
        changes.append(active)
        # Hologram takes it, and reports it changing for a while.
        hologram.set_device(device_id, state="LIVE-PENDING")

    monkeypatch.setattr(HologramClient, "set_sim_active", set_active)
    entry = await _gate(hass)
    await hass.async_block_till_done()
    assert _state(hass, "switch.gate_tracker_sim_active") == "off"
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.gate_tracker_sim_active"}
    )
    await hass.async_block_till_done()
    assert changes == [True]
    # Sent at once: the switch shows what was asked for while Hologram changes it.
    switch = hass.states.get("switch.gate_tracker_sim_active")
    assert switch is not None
    assert switch.state == "on"
    assert switch.attributes["requested_state"] == "active"
    await _refresh(hass, entry)
    assert _state(hass, "sensor.gate_tracker_sim_status") == "pending"
    assert _state(hass, "switch.gate_tracker_sim_active") == "on"
    # Confirmed: the provider's state, no requested state any more.
    hologram.set_device(123456, state="LIVE")
    await _refresh(hass, entry)
    switch = hass.states.get("switch.gate_tracker_sim_active")
    assert switch is not None
    assert switch.state == "on"
    assert "requested_state" not in switch.attributes


def _enum_in_docs(label: str) -> set[str]:
    """Return the states docs/sim.md's entity table lists for one enum sensor."""
    text = (DOCS / "sim.md").read_text(encoding="utf-8")
    match = re.search(rf"\*\*{re.escape(label)}\*\* \(enum: (.*?)(?:;|\) \|)", text)
    assert match is not None, label
    return set(re.findall(r"`([a-z_]+)`", match.group(1)))


def test_the_docs_list_the_states_automations_compare() -> None:
    assert _enum_in_docs("SIM status") == set(SIM_STATES)
    assert _enum_in_docs("Last SMS delivery") == set(SMS_STATES)
    # Hologram's link states map to these states only.
    text = (DOCS / "hologram.md").read_text(encoding="utf-8")
    lines = text[text.index("| `state` | Source | SIM status |") :].splitlines()[2:]
    shown: set[str] = set()
    for line in lines:
        if not line.startswith("|"):
            break  # the table's end
        column = line.split("|")[3]
        assert re.search(r"`[a-z_]+`", column), line  # a state, as compared
        shown.update(re.findall(r"`([a-z_]+)`", column))
    assert shown == set(SIM_STATES) - {"no_sim"}


# --- the same items for a 1NCE account ---------------------------------------------


async def _onence_pump(hass: HomeAssistant, onence: FakeOneNce) -> Any:
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    await hass.async_block_till_done()
    return entry


async def test_onence_a_404_sms_list_does_not_fail_the_refresh(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    entry = await _onence_pump(hass, onence)
    await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"iccid": ONENCE_PUMP, "message": "pump on"},
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.sims
    assert len(coordinator.sms.followed) == 1
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 404)
    await _refresh(hass, entry)
    assert coordinator.last_update_success
    assert coordinator.failures == 0
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert coordinator.sms.followed == []
    assert _state(hass, "sensor.pump_last_sms_delivery") == STATE_UNKNOWN


async def test_onence_another_sms_list_error_keeps_the_follow_up(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    entry = await _onence_pump(hass, onence)
    events = record_events(hass, EVENT_SMS_STATUS)
    await hass.services.async_call(
        DOMAIN, "send_sms", {"iccid": ONENCE_PUMP, "message": "on"}, blocking=True
    )
    await hass.async_block_till_done()
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 500)
    coordinator = await _refresh(hass, entry)
    assert coordinator.last_update_success
    assert len(coordinator.sms.followed) == 1  # kept for the next refresh
    [sms_id] = list(onence.sms_records)
    onence.set_sms_status(sms_id, 4)
    await _refresh(hass, entry)
    assert [event.data["status"] for event in events] == ["delivered"]


async def test_onence_a_volume_too_large_is_unknown_not_a_crash(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    # "Used" only from two volumes that are byte counts (two 1e303 MB read 0 used).
    onence.add_sim(
        ONENCE_PUMP,
        label="Pump",
        quota={"volume": 1e303, "total_volume": 1e303, "expiry_date": "x"},
        sms_quota={"volume": float("inf"), "total_volume": 10**400},
    )
    entry = await _onence_pump(hass, onence)
    assert entry.runtime_data.sims.last_update_success
    assert _state(hass, "sensor.pump_sim_status") == "active"
    for key in ("data_used_this_period", "data_left", "sms_left"):
        assert _state(hass, f"sensor.pump_{key}") == STATE_UNKNOWN, key


async def test_onence_a_403_on_a_sims_status_starts_no_reauth(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    entry = await _onence_pump(hass, onence)
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/status", 403)
    coordinator = await _refresh(hass, entry)
    assert _reauth_flows(hass) == []
    assert coordinator.last_update_success
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _state(hass, "binary_sensor.pump_online") == STATE_UNKNOWN


async def test_onence_a_device_sent_sms_with_the_same_text_is_never_claimed(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    entry = await _onence_pump(hass, onence)
    events = record_events(hass, EVENT_SMS_STATUS)
    # An answer without an id (v1's 201 has none, and no Location here): the SMS
    # is looked for by its text.
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 201, b"")
    await hass.services.async_call(
        DOMAIN, "send_sms", {"iccid": ONENCE_PUMP, "message": "pump on"}, blocking=True
    )
    await hass.async_block_till_done()
    # 1NCE lists only an SMS the device sent (MO) with the same text, delivered.
    onence.sms_records[42] = {
        "id": 42,
        "submit_date": "2027-01-15T08:00:00.000+0000",
        "final_date": "2027-01-15T08:00:01.000+0000",
        "iccid": ONENCE_PUMP,
        "payload": "pump on",
        "status": {"id": 4, "description": "DELIVERED"},
        "sms_type": {"id": 2, "description": "MO"},
    }
    coordinator = await _refresh(hass, entry)
    assert events == []
    assert [item.sms_id for item in coordinator.sms.followed] == [None]
    assert _state(hass, "sensor.pump_last_sms_delivery") == "pending"


async def test_onence_an_sms_sent_without_an_id_is_found_by_its_text(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """The MT SMS 1NCE lists with the text sent is the one followed: its state."""
    entry = await _onence_pump(hass, onence)
    events = record_events(hass, EVENT_SMS_STATUS)
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 201, b"")
    await hass.services.async_call(
        DOMAIN, "send_sms", {"iccid": ONENCE_PUMP, "message": "pump on"}, blocking=True
    )
    await hass.async_block_till_done()
    onence.sms_records[43] = {
        "id": 43,
        "submit_date": "2099-01-15T08:00:00.000+0000",
        "final_date": "2099-01-15T08:00:01.000+0000",
        "iccid": ONENCE_PUMP,
        "payload": "pump on",
        "status": {"id": 4, "description": "DELIVERED"},
        "sms_type": {"id": 1, "description": "MT"},
    }
    coordinator = await _refresh(hass, entry)
    assert [(e.data["status"], e.data["sms_id"]) for e in events] == [
        ("delivered", "43")
    ]
    assert coordinator.sms.followed == [] or all(
        item.sms_id == "43" for item in coordinator.sms.followed
    )
    assert _state(hass, "sensor.pump_last_sms_delivery") == "delivered"


async def test_onence_the_switch_shows_the_requested_state_until_1nce_confirms(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump", status="Disabled")
    entry = await _onence_pump(hass, onence)
    assert _state(hass, "switch.pump_sim_active") == "off"
    assert _state(hass, "sensor.pump_sim_status") == "suspended"
    # 1NCE takes the PUT; its list still says Disabled for a while.
    onence.fail(f"/v2/sims/{ONENCE_PUMP}", 200, b"")
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.pump_sim_active"}
    )
    await hass.async_block_till_done()
    assert onence.faults == []
    switch = hass.states.get("switch.pump_sim_active")
    assert switch is not None
    assert switch.state == "on"
    assert switch.attributes["requested_state"] == "active"
    await _refresh(hass, entry)
    assert _state(hass, "sensor.pump_sim_status") == "suspended"
    assert _state(hass, "switch.pump_sim_active") == "on"
    # Confirmed: 1NCE's state, no requested state any more.
    onence.sims[ONENCE_PUMP]["status"] = "Enabled"
    await _refresh(hass, entry)
    switch = hass.states.get("switch.pump_sim_active")
    assert switch is not None
    assert switch.state == "on"
    assert "requested_state" not in switch.attributes
    assert _state(hass, "sensor.pump_sim_status") == "active"


async def test_onence_reads_no_page_past_a_missing_sim(onence: FakeOneNce) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    onence.add_sims(2500)  # 26 pages of 100
    missing = "8988228066609999999"
    async with ClientSession() as session:
        client = OneNceClient(session, CLIENT_ID, CLIENT_SECRET, timeout=HANG_GUARD)
        statuses = await client.sim_statuses([ONENCE_PUMP, missing])
    assert set(statuses) == {ONENCE_PUMP}
    # One page and one direct read of the SIM not on it: not the 26 pages.
    assert len(onence.calls("/v2/sims")) == 1
    assert len(onence.calls(f"/v2/sims/{missing}")) == 1


async def test_onence_reads_a_sim_far_down_the_list_by_itself(
    onence: FakeOneNce,
) -> None:
    onence.add_sim(ONENCE_PUMP, label="Pump")
    onence.add_sims(2500)
    far = "8988228066609000001"
    onence.add_sim(far, label="Far")
    async with ClientSession() as session:
        client = OneNceClient(session, CLIENT_ID, CLIENT_SECRET, timeout=HANG_GUARD)
        statuses = await client.sim_statuses([ONENCE_PUMP, far])
    assert set(statuses) == {ONENCE_PUMP, far}
    assert statuses[far].state == "active"  # "Activated" when read alone (recorded)
    assert len(onence.calls("/v2/sims")) == 1
    assert len(onence.calls(f"/v2/sims/{far}")) == 1

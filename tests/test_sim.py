"""The SIM behind each device: coordinator, entities, pause/resume, SMS delivery.

The accounts are set up against the provider fakes. Where a test is about the
coordinator's own behaviour (errors, back-off, stale data), the client's SIM read
is replaced by a scripted one; the requests each provider receives are checked in
the tests marked "through the fake".
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.coordinator import MAX_BACKOFF
from custom_components.cellular_iot.kinds import KINDS
from custom_components.cellular_iot.providers.emnify import EmnifyClient
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitedError,
)
from custom_components.cellular_iot.providers.hologram import HologramClient
from custom_components.cellular_iot.providers.onence import OneNceClient
from custom_components.cellular_iot.providers.sim import (
    SMS_DELIVERED,
    SMS_FAILED,
    SMS_IN_PROGRESS,
    SimStatus,
    SmsDelivery,
)
from custom_components.cellular_iot.sim_status import EVENT_SMS_STATUS, SimInterval
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from .conftest import (
    GATE_TRACKER,
    device_subentry,
    emnify_pump_account,
    hologram_entry,
    monoz_entry,
    onence_entry,
    onence_pump_account,
    onence_sims,
    record_events,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.onence import FakeOneNce
from .guards import HANG_GUARD

SECRET = "sim-test-secret-0123456789"
PERIOD = datetime(2026, 11, 5, tzinfo=UTC)


GATE = GATE_TRACKER


def _sim(provider_id: str = "123456", **fields: Any) -> SimStatus:
    values: dict[str, Any] = {
        "state": "active",
        "provider_state": "LIVE",
        "online": True,
        "data_used": 123_456_789,
        "period_start": PERIOD,
        "last_session": PERIOD + timedelta(days=3),
        "iccid": "8901260000000000001",
        "msisdn": "+4915000000001",
        "can_pause": True,
    }
    values.update(fields)
    return SimStatus(provider_id=provider_id, **values)


class Script:
    """A scripted SIM read: answers (or raises) what the test put in, in order."""

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self.calls = 0
        self.last: Any = {"123456": _sim()}

    async def __call__(self, *args: Any) -> dict[str, SimStatus]:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else self.last
        if isinstance(answer, Exception):
            raise answer
        self.last = answer
        return dict(answer)


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    fake = Script()
    monkeypatch.setattr(
        HologramClient, "sim_statuses", lambda self, *ids: fake(), raising=False
    )
    return fake


async def _gate_account(hass: HomeAssistant) -> MockConfigEntry:
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), "a" * 64, SECRET, GATE)
    )
    await hass.async_block_till_done()
    return entry


async def _advance(hass: HomeAssistant, delta: timedelta) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + delta)
    await hass.async_block_till_done()


async def _turn_off(hass: HomeAssistant, switch: str) -> None:
    """Turn a SIM active switch off, as its toggle does, and let the refresh run."""
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": switch}, blocking=True
    )
    await hass.async_block_till_done()


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


# --- entities ---------------------------------------------------------------------


async def test_a_device_page_shows_its_sim(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    assert script.calls == 1
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    status = hass.states.get("sensor.gate_tracker_sim_status")
    assert status is not None
    assert status.attributes["provider_state"] == "LIVE"
    assert status.attributes["options"] == [
        "active",
        "suspended",
        "pending",
        "inactive",
        "no_sim",
        "unknown",
    ]
    used = hass.states.get("sensor.gate_tracker_data_used_this_period")
    assert used is not None
    assert used.attributes["unit_of_measurement"] == "MB"
    assert float(used.state) == pytest.approx(123.5, abs=0.1)
    assert used.attributes["device_class"] == "data_size"
    assert used.attributes["state_class"] == "total"
    assert used.attributes["last_reset"] == PERIOD.isoformat()
    assert _state(hass, "binary_sensor.gate_tracker_online") == "on"
    assert (
        _state(hass, "sensor.gate_tracker_last_seen_online")
        == (PERIOD + timedelta(days=3)).isoformat()
    )
    assert _state(hass, "switch.gate_tracker_sim_active") == "on"
    registry = er.async_get(hass)
    iccid = registry.async_get("sensor.gate_tracker_iccid")
    assert iccid is not None
    assert iccid.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert iccid.entity_category is er.EntityCategory.DIAGNOSTIC
    # Hologram has no SMS status: no delivery sensor.
    assert registry.async_get("sensor.gate_tracker_last_sms_delivery") is None
    assert entry.runtime_data.sims is not None  # type: ignore[attr-defined]


async def test_an_account_without_devices_polls_nothing(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await setup_entry(hass, hologram_entry())
    await _advance(hass, timedelta(hours=2))
    assert script.calls == 0
    assert entry.runtime_data.sims is None  # type: ignore[attr-defined]


async def test_a_sim_the_provider_does_not_describe_is_unavailable(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    script.last = {}
    await _gate_account(hass)
    assert _state(hass, "sensor.gate_tracker_sim_status") == STATE_UNAVAILABLE
    assert _state(hass, "switch.gate_tracker_sim_active") == STATE_UNAVAILABLE


# --- polling: interval, errors, back-off, stale data ------------------------------


async def test_the_integration_chooses_the_interval_per_provider(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    assert coordinator.interval is KINDS["hologram"].sim_interval  # type: ignore[attr-defined]
    assert coordinator.update_interval == timedelta(minutes=15)
    # An option left by an earlier version is not read (the migration drops it).
    hass.config_entries.async_update_entry(entry, options={"sim_interval": 60})
    await _advance(hass, timedelta(minutes=15, seconds=1))
    assert script.calls == 2
    assert coordinator.update_interval == timedelta(minutes=15)


def _interval(kind: str) -> SimInterval:
    interval = KINDS[kind].sim_interval  # type: ignore[attr-defined]
    assert isinstance(interval, SimInterval)
    return interval


def test_each_provider_is_read_within_its_rate_budget() -> None:
    """The intervals docs/sim.md#polling gives, with the reasoning's numbers."""
    hologram, emnify, monoz = (_interval(k) for k in ("hologram", "emnify", "monoz"))
    assert hologram.requests(500) == 5
    assert hologram.for_devices(1) == hologram.for_devices(100_000)
    assert hologram.for_devices(100) == timedelta(minutes=15)
    assert monoz.requests(10) == 20
    assert monoz.for_devices(1000) == timedelta(minutes=30)
    # emnify: at most 1,000 requests per 5 minutes (half of its 2,000 per IP).
    assert emnify.requests(999) == 1 + 2997
    assert emnify.requests(1001) == 2 + 3003
    assert emnify.for_devices(1) == timedelta(minutes=15)
    assert emnify.for_devices(999) == timedelta(minutes=15)
    assert emnify.for_devices(1000) == timedelta(minutes=20)
    assert emnify.for_devices(5000) == timedelta(minutes=80)
    for devices in (1, 999, 1000, 1001, 5000, 40_000):
        windows = emnify.for_devices(devices) / timedelta(minutes=5)
        assert emnify.requests(devices) <= 1000 * windows


async def test_emnify_and_monoz_poll_at_their_own_interval(
    hass: HomeAssistant, emnify: FakeEmnify, monoz: FakeMonoz
) -> None:
    pump = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    meter = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(), "e" * 64, SECRET, device_subentry("Meter", iccid=ICCID)
        ),
    )
    await hass.async_block_till_done()
    assert pump.runtime_data.sims.update_interval == timedelta(minutes=15)  # type: ignore[attr-defined]
    assert meter.runtime_data.sims.update_interval == timedelta(minutes=30)  # type: ignore[attr-defined]
    assert pump.runtime_data.sims.interval is _interval("emnify")  # type: ignore[attr-defined]
    assert meter.runtime_data.sims.interval is _interval("monoz")  # type: ignore[attr-defined]


async def test_update_entity_refreshes_the_sims_at_once(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    await _gate_account(hass)
    assert script.calls == 1
    script.answers = [{"123456": _sim(state="suspended", provider_state="PAUSED-USER")}]
    await hass.services.async_call(
        "homeassistant",
        "update_entity",
        {"entity_id": "sensor.gate_tracker_sim_status"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert script.calls == 2
    assert _state(hass, "sensor.gate_tracker_sim_status") == "suspended"


async def test_errors_make_sims_unavailable_back_off_and_recover(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    script.answers = [
        ProviderConnectionError("down"),
        ProviderConnectionError("down"),
        ProviderConnectionError("down"),
    ]
    await _advance(hass, timedelta(minutes=15, seconds=1))
    assert _state(hass, "sensor.gate_tracker_sim_status") == STATE_UNAVAILABLE
    assert _state(hass, "switch.gate_tracker_sim_active") == STATE_UNAVAILABLE
    assert coordinator.update_interval == timedelta(minutes=30)
    await _advance(hass, timedelta(minutes=30, seconds=1))
    assert coordinator.update_interval == timedelta(hours=1)
    await _advance(hass, timedelta(hours=1, seconds=1))
    assert coordinator.update_interval == MAX_BACKOFF  # no longer than an hour
    calls = script.calls
    await _advance(hass, timedelta(hours=1, seconds=1))
    assert script.calls == calls + 1
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert coordinator.update_interval == timedelta(minutes=15)


async def test_a_rate_limit_waits_as_long_as_the_provider_asks(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    script.answers = [ProviderRateLimitedError("429", retry_after=7200)]
    await _advance(hass, timedelta(minutes=15, seconds=1))
    assert coordinator.update_interval == timedelta(hours=2)
    calls = script.calls
    await _advance(hass, timedelta(hours=1, seconds=1))
    assert script.calls == calls  # not before Retry-After


async def test_refused_credentials_start_reauthentication(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    script.answers = [ProviderAuthError("401", status=401)]
    hologram.fail("/users/me", 401)  # the key itself is refused: /users/me says so
    await entry.runtime_data.sims.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert entry.state is ConfigEntryState.LOADED


# --- pause and resume ---------------------------------------------------------------


async def test_set_sim_state_validates_its_input(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    await _gate_account(hass)
    for data, key in (
        ({"state": "suspended"}, "missing_field"),
        ({"device_id": 123456, "state": "off"}, "invalid_choice"),
        ({"device_id": 999, "state": "suspended"}, "sim_device_unknown"),
        (
            {"device_id": 123456, "iccid": "8981100000000000000", "state": "active"},
            "device_or_id",
        ),
        ({"device": ["nope"], "state": "active"}, "invalid_device_target"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "set_sim_state", data, blocking=True, return_response=True
            )
        assert err.value.translation_key == key, data


async def test_the_switch_pauses_and_resumes(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, bool]] = []

    async def set_active(self: HologramClient, device_id: int, active: bool) -> None:
        calls.append((device_id, active))
        script.answers.append(
            {"123456": _sim(state="active" if active else "suspended")}
        )

    monkeypatch.setattr(HologramClient, "set_sim_active", set_active, raising=False)
    await _gate_account(hass)
    await _turn_off(hass, "switch.gate_tracker_sim_active")
    assert calls == [(123456, False)]
    assert _state(hass, "sensor.gate_tracker_sim_status") == "suspended"
    assert _state(hass, "switch.gate_tracker_sim_active") == "off"
    response = await hass.services.async_call(
        DOMAIN,
        "set_sim_state",
        {"device_id": 123456, "state": "active"},
        blocking=True,
        return_response=True,
    )
    assert calls == [(123456, False), (123456, True)]
    assert response is not None
    assert response["sim_state"] == "active"
    assert response["requested"] == "active"
    assert _state(hass, "switch.gate_tracker_sim_active") == "on"


# --- SMS delivery (emnify) ------------------------------------------------------------


class SmsList:
    """What emnify lists for the endpoint, changed by the test."""

    def __init__(self) -> None:
        self.items: list[SmsDelivery] = []


async def test_an_sms_sent_without_location_is_found_by_text(
    hass: HomeAssistant, emnify: FakeEmnify, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = SmsList()

    async def list_sms(self: EmnifyClient, endpoint_id: int) -> list[SmsDelivery]:
        assert endpoint_id == 1001
        return list(listing.items)

    monkeypatch.setattr(EmnifyClient, "list_sms", list_sms, raising=False)

    async def statuses(self: EmnifyClient, ids: list[int]) -> dict[str, SimStatus]:
        return {"1001": _sim("1001", sim_id="77")}

    monkeypatch.setattr(EmnifyClient, "sim_statuses", statuses, raising=False)
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    events = record_events(hass, EVENT_SMS_STATUS)
    # The fallback: a 201 without a Location (no id): the SMS is found by its text.
    emnify.fail(
        "/endpoint/1001/sms",
        201,
        b"",
        headers={"Content-Type": "text/html; charset=UTF-8"},
    )
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": 1001, "message": "pump on"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    outbox_id = response["outbox_id"]
    assert _state(hass, "sensor.pump_last_sms_delivery") == "pending"
    sent = dt_util.utcnow()
    # An older SMS with the same text, and another text: neither is ours.
    listing.items = [
        SmsDelivery("1", SMS_DELIVERED, "pump on", sent - timedelta(hours=1)),
        SmsDelivery("2", SMS_IN_PROGRESS, "other", sent),
        SmsDelivery("3", SMS_IN_PROGRESS, "pump on", sent),
    ]
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    await coordinator.async_refresh()
    assert _state(hass, "sensor.pump_last_sms_delivery") == "in_progress"
    assert events == []
    listing.items[2] = SmsDelivery("3", SMS_FAILED, "pump on", sent)
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data == {
        "provider": "emnify",
        "config_entry_id": entry.entry_id,
        "device_id": "1001",
        "sms_id": "3",
        "status": "failed",
        "previous_status": "in_progress",
        "outbox_id": outbox_id,
        "part": 1,
    }
    delivery = hass.states.get("sensor.pump_last_sms_delivery")
    assert delivery is not None
    assert delivery.state == "failed"
    assert delivery.attributes["sms_id"] == "3"
    assert coordinator.sms.followed == []


# --- through the fakes: each provider's documented requests -----------------------


async def test_hologram_through_the_fake(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.add_devices(1, first_id=123456)
    before = len(hologram.calls("/devices"))
    await _gate_account(hass)
    assert len(hologram.calls("/devices")) == before + 1  # one page: every SIM
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert _state(hass, "sensor.gate_tracker_data_used_this_period") == "1.048576"
    assert _state(hass, "binary_sensor.gate_tracker_online") == "off"
    await _turn_off(hass, "switch.gate_tracker_sim_active")
    assert hologram.state_changes == [(123456, "pause")]
    assert _state(hass, "sensor.gate_tracker_sim_status") == "suspended"
    status = hass.states.get("sensor.gate_tracker_sim_status")
    assert status is not None
    assert status.attributes["provider_state"] == "PAUSED-USER"
    response = await hass.services.async_call(
        DOMAIN,
        "set_sim_state",
        {"device_id": 123456, "state": "active"},
        blocking=True,
        return_response=True,
    )
    assert hologram.state_changes == [(123456, "pause"), (123456, "live")]
    assert response is not None
    assert response["sim_state"] == "active"


async def test_emnify_through_the_fake(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    entry = await setup_entry(hass, emnify_pump_account(emnify, SECRET))
    await hass.async_block_till_done()
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _state(hass, "sensor.pump_data_used_this_period") == "1.5"
    assert _state(hass, "binary_sensor.pump_online") in ("on", "off")
    assert len(emnify.calls("/endpoint")) == 1
    assert len(emnify.calls("/endpoint/1001/connectivity")) == 1
    assert len(emnify.calls("/endpoint/1001/stats")) == 1
    sim_id = emnify.endpoint(1001)["sim"]["id"]
    await hass.services.async_call(
        DOMAIN,
        "set_sim_state",
        {"device_id": 1001, "state": "suspended"},
        blocking=True,
        return_response=True,
    )
    assert emnify.patches == [
        ("/endpoint/1001", {"status": {"id": 1}}),
        (f"/sim/{sim_id}", {"status": {"id": 2}}),
    ]
    assert _state(hass, "sensor.pump_sim_status") == "suspended"
    # An SMS, then emnify reports it failed: one event, the sensor follows.
    events = record_events(hass, EVENT_SMS_STATUS)
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.pump", "message": "on"},
        blocking=True,
    )
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    await coordinator.async_refresh()
    [sms_id] = list(emnify.sms_records)
    emnify.set_sms_status(sms_id, 5)
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert [event.data["status"] for event in events] == ["failed"]
    assert events[0].data["sms_id"] == str(sms_id)
    assert _state(hass, "sensor.pump_last_sms_delivery") == "failed"


async def test_monoz_through_the_fake_and_hidden_pages(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    entry = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(), "e" * 64, SECRET, device_subentry("Meter", iccid=ICCID)
        ),
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.meter_sim_status") == "active"
    await _turn_off(hass, "switch.meter_sim_active")
    assert monoz.enable_calls == [{"ICCID": ICCID, "Enable": False}]
    assert _state(hass, "sensor.meter_sim_status") == "suspended"
    monoz.sims_hidden = True
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    # monoZ hid its SIM pages: the SIM entities go unavailable, nothing else breaks.
    assert _state(hass, "sensor.meter_sim_status") == STATE_UNAVAILABLE
    assert _state(hass, "switch.meter_sim_active") == STATE_UNAVAILABLE
    assert entry.state is ConfigEntryState.LOADED


async def test_the_options_have_no_interval_field(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    entry = await _gate_account(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    fields = {str(key) for key in result["data_schema"].schema}  # type: ignore[union-attr]
    assert "sim_interval" not in fields
    assert not {field for field in fields if "interval" in field}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"outbox_max_age": 24, "outbox_max_depth": 1000}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "sim_interval" not in entry.options


async def test_the_migration_drops_the_stored_interval(
    hass: HomeAssistant, hologram: FakeHologram, script: Script
) -> None:
    old = with_webhook(hologram_entry(), "a" * 64, SECRET, GATE)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=old.title,
        data=dict(old.data),
        options={**old.options, "sim_interval": 60, "outbox_max_age": 12},
        unique_id=old.unique_id,
        minor_version=3,
        subentries_data=[GATE],
    )
    await setup_entry(hass, entry)
    await hass.async_block_till_done()
    assert entry.minor_version == 4
    assert "sim_interval" not in entry.options
    assert entry.options["outbox_max_age"] == 12  # the others stay
    assert entry.options["webhook_secret"] == SECRET
    assert entry.runtime_data.sims.update_interval == timedelta(minutes=15)  # type: ignore[attr-defined]


# --- 1NCE: the same coordinator behaviour, through the 1NCE fake ---------------------
# (Where the tests above script Hologram's SIM read, these make the fake 1NCE API fail
# as 1NCE does: the SIM list GET /v2/sims is the first request of every refresh.)


async def _onence_pump(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    await hass.async_block_till_done()
    return entry


class Reads:
    """Counts the 1NCE SIM reads begun and ended (a refresh through the fake API is
    real requests, and a scheduled refresh is a background task)."""

    def __init__(self) -> None:
        self.begun = 0
        self.ended = 0


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    counter = Reads()
    real = OneNceClient.sim_statuses

    async def counted(self: OneNceClient, iccids: Any) -> dict[str, SimStatus]:
        counter.begun += 1
        try:
            return await real(self, iccids)
        finally:
            counter.ended += 1

    monkeypatch.setattr(OneNceClient, "sim_statuses", counted)
    return counter


async def _later(hass: HomeAssistant, reads: Reads, delta: timedelta) -> None:
    """Fire the timers due within ``delta``; wait for the SIM read they start."""
    async_fire_time_changed(hass, dt_util.utcnow() + delta)
    await hass.async_block_till_done()
    async with asyncio.timeout(HANG_GUARD):
        while reads.ended < reads.begun:
            await asyncio.sleep(0.01)
    await hass.async_block_till_done()


def _sim_lists(onence: FakeOneNce) -> int:
    return len(onence.calls("/v2/sims"))


async def test_onence_a_device_page_shows_its_sim(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """What a 1NCE SIM shows: the Hologram device page's checks, plus its quotas."""
    entry = await _onence_pump(hass, onence)
    status = hass.states.get("sensor.pump_sim_status")
    assert status is not None
    assert status.state == "active"
    assert status.attributes["provider_state"] == "Enabled"
    assert status.attributes["options"] == [
        "active",
        "suspended",
        "pending",
        "inactive",
        "no_sim",
        "unknown",
    ]
    for key in ("data_used_this_period", "data_left"):
        sensor = hass.states.get(f"sensor.pump_{key}")
        assert sensor is not None, key
        # 1NCE counts in MiB ("MiB - Binary unit based"): shown as its Portal does.
        assert sensor.attributes["unit_of_measurement"] == "MiB", key
        assert sensor.attributes["device_class"] == "data_size", key
        assert float(sensor.state) > 0, key
    # The recorded quota: 479.949998 MiB left of 500.
    assert float(_state(hass, "sensor.pump_data_left")) == pytest.approx(479.95, 0.01)
    assert _state(hass, "sensor.pump_sms_left") == "240"
    assert _state(hass, "sensor.pump_data_quota_expires").startswith("2031-11-26")
    assert _state(hass, "binary_sensor.pump_online") == "on"
    assert _state(hass, "switch.pump_sim_active") == "on"
    registry = er.async_get(hass)
    for key in ("iccid", "imei", "phone_number"):
        diagnostic = registry.async_get(f"sensor.pump_{key}")
        assert diagnostic is not None, key
        assert diagnostic.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key
        assert diagnostic.entity_category is er.EntityCategory.DIAGNOSTIC, key
    # 1NCE lists its SMS with their state: a delivery sensor.
    assert registry.async_get("sensor.pump_last_sms_delivery") is not None
    assert entry.runtime_data.sims is not None  # type: ignore[attr-defined]


async def test_onence_an_account_without_devices_polls_nothing(
    hass: HomeAssistant, onence: FakeOneNce, reads: Reads
) -> None:
    onence_sims(onence)
    entry = await setup_entry(hass, onence_entry())
    await _later(hass, reads, timedelta(hours=2))
    assert reads.begun == 0
    assert _sim_lists(onence) == 0
    assert entry.runtime_data.sims is None  # type: ignore[attr-defined]


async def test_onence_a_sim_1nce_does_not_describe_is_unavailable(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """A device whose ICCID the customer does not have (200 empty, as recorded)."""
    onence_sims(onence)
    await setup_entry(
        hass,
        with_webhook(
            onence_entry(),
            "f" * 64,
            SECRET,
            device_subentry("Gate tracker", iccid="8988228066609999999"),
        ),
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.gate_tracker_sim_status") == STATE_UNAVAILABLE
    assert _state(hass, "switch.gate_tracker_sim_active") == STATE_UNAVAILABLE


def test_onence_is_read_within_its_rate_budget() -> None:
    """1NCE: 10 requests a second per customer on /sims; the SIMs take half of that
    over five minutes (1,500), a refresh being one list page per 100 SIMs and three
    reads per SIM (docs/1nce.md#polling)."""
    onence = _interval("1nce")
    assert onence.requests(1) == 1 + 3
    assert onence.requests(100) == 1 + 300
    assert onence.requests(101) == 2 + 303
    assert onence.for_devices(1) == timedelta(minutes=15)
    assert onence.for_devices(400) == timedelta(minutes=15)
    for devices in (1, 100, 499, 500, 1000, 1495, 1496, 5000, 40_000):
        windows = onence.for_devices(devices) / timedelta(minutes=5)
        assert onence.requests(devices) <= 1500 * windows
        assert onence.requests(devices) <= 10 * 300 * windows


async def test_onence_polls_at_its_own_interval(
    hass: HomeAssistant, onence: FakeOneNce, reads: Reads
) -> None:
    entry = await _onence_pump(hass, onence)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    assert coordinator.interval is _interval("1nce")
    assert coordinator.update_interval == timedelta(minutes=15)
    lists, begun = _sim_lists(onence), reads.begun
    await _later(hass, reads, timedelta(minutes=14))
    assert reads.begun == begun
    await _later(hass, reads, timedelta(minutes=15, seconds=1))
    assert reads.begun == begun + 1
    assert _sim_lists(onence) == lists + 1


async def test_onence_update_entity_refreshes_the_sims_at_once(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    from .conftest import ONENCE_PUMP

    assert await async_setup_component(hass, "homeassistant", {})
    await _onence_pump(hass, onence)
    lists = _sim_lists(onence)
    onence.sims[ONENCE_PUMP]["status"] = "Disabled"
    await hass.services.async_call(
        "homeassistant",
        "update_entity",
        {"entity_id": "sensor.pump_sim_status"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert _sim_lists(onence) == lists + 1
    assert _state(hass, "sensor.pump_sim_status") == "suspended"


async def test_onence_errors_make_sims_unavailable_back_off_and_recover(
    hass: HomeAssistant, onence: FakeOneNce, reads: Reads
) -> None:
    entry = await _onence_pump(hass, onence)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    assert _state(hass, "sensor.pump_sim_status") == "active"
    for _ in range(3):
        onence.fail("/v2/sims", 500)
    await _later(hass, reads, timedelta(minutes=15, seconds=1))
    assert _state(hass, "sensor.pump_sim_status") == STATE_UNAVAILABLE
    assert _state(hass, "switch.pump_sim_active") == STATE_UNAVAILABLE
    assert _state(hass, "sensor.pump_data_left") == STATE_UNAVAILABLE
    assert coordinator.update_interval == timedelta(minutes=30)
    await _later(hass, reads, timedelta(minutes=30, seconds=1))
    assert coordinator.update_interval == timedelta(hours=1)
    await _later(hass, reads, timedelta(hours=1, seconds=1))
    assert coordinator.update_interval == MAX_BACKOFF
    assert onence.faults == []
    lists = _sim_lists(onence)
    await _later(hass, reads, timedelta(hours=1, seconds=1))
    assert _sim_lists(onence) == lists + 1
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _state(hass, "sensor.pump_data_left") != STATE_UNAVAILABLE
    assert coordinator.update_interval == timedelta(minutes=15)


async def test_onence_a_rate_limit_waits_as_long_as_1nce_asks(
    hass: HomeAssistant, onence: FakeOneNce, reads: Reads
) -> None:
    entry = await _onence_pump(hass, onence)
    coordinator = entry.runtime_data.sims  # type: ignore[attr-defined]
    onence.fail("/v2/sims", 429, headers={"Retry-After": "7200"})
    await _later(hass, reads, timedelta(minutes=15, seconds=1))
    assert coordinator.update_interval == timedelta(hours=2)
    begun = reads.begun
    await _later(hass, reads, timedelta(hours=1, seconds=1))
    assert reads.begun == begun  # not before Retry-After
    await _later(hass, reads, timedelta(hours=2, seconds=1))
    assert reads.begun == begun + 1


async def test_onence_refused_credentials_start_reauthentication(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """The token expired and the secret was revoked: the renewal is refused (400
    CognitoAuthenticationError, as recorded), the token check too: reauth."""
    entry = await _onence_pump(hass, onence)
    onence.expire_all()
    onence.credentials.clear()
    await entry.runtime_data.sims.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert entry.state is ConfigEntryState.LOADED


async def test_onence_a_refused_sim_list_with_good_credentials_starts_no_reauth(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """/v2/sims refused (403) while a new token is granted: not the credentials."""
    entry = await _onence_pump(hass, onence)
    tokens = onence.token_calls
    onence.fail("/v2/sims", 403)
    await entry.runtime_data.sims.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    assert onence.token_calls == tokens + 1  # the token check asked for one
    assert _state(hass, "sensor.pump_sim_status") == STATE_UNAVAILABLE


async def test_onence_set_sim_state_validates_its_input(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    from .conftest import ONENCE_PUMP

    await _onence_pump(hass, onence)
    for data, key in (
        ({"state": "suspended"}, "missing_field"),
        ({"iccid": ONENCE_PUMP, "state": "off"}, "invalid_choice"),
        ({"iccid": "8988228066609999999", "state": "suspended"}, "sim_device_unknown"),
        ({"device": ["nope"], "state": "active"}, "invalid_device_target"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "set_sim_state", data, blocking=True, return_response=True
            )
        assert err.value.translation_key == key, data


async def test_onence_through_the_fake(hass: HomeAssistant, onence: FakeOneNce) -> None:
    """One refresh: the list page, then status, data and SMS quota of the SIM; the
    switch pauses (PUT Disabled) and the sensors follow."""
    from .conftest import ONENCE_PUMP

    await _onence_pump(hass, onence)
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _sim_lists(onence) == 1
    for path in ("status", "quota/data", "quota/sms"):
        assert len(onence.calls(f"/v2/sims/{ONENCE_PUMP}/{path}")) == 1, path
    assert onence.calls(f"/v2/sims/{ONENCE_PUMP}") == []  # listed, not read alone
    await _turn_off(hass, "switch.pump_sim_active")
    assert onence.puts == [(ONENCE_PUMP, {"iccid": ONENCE_PUMP, "status": "Disabled"})]
    assert _state(hass, "sensor.pump_sim_status") == "suspended"
    assert _state(hass, "switch.pump_sim_active") == "off"

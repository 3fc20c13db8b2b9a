"""Devices as subentries: flows, per-device entities, notify, routing, device targets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .conftest import (
    ONENCE_OTHER,
    ONENCE_PUMP,
    broker_data,
    device_subentry,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_entry,
    onence_pump_account,
    onence_sims,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.onence import FakeOneNce
from .guards import HANG_GUARD
from .mosquitto import Mosquitto, publish

SECRET = "device-test-secret-0123456789"
WEBHOOK_IDS = {
    "hologram": "c" * 64,
    "emnify": "d" * 64,
    "monoz": "e" * 64,
    "1nce": "f" * 64,
}


def _registry_device(
    hass: HomeAssistant, entry_id: str, identifier: str
) -> dr.DeviceEntry | None:
    """The device of ``entry_id`` with our identifier, looked up within that entry.

    HA 2026.11 refuses ``async_get_device(identifiers=...)`` across entries in tests
    (identifiers are no longer unique across config entries); this works on every HA.
    """
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry_id):
        if (DOMAIN, identifier) in device.identifiers:
            return device
    return None


def _account(entry: MockConfigEntry, *devices: ConfigSubentryData) -> MockConfigEntry:
    return with_webhook(entry, WEBHOOK_IDS[entry.data["kind"]], SECRET, *devices)


VAN = device_subentry(
    "Van tracker",
    device_id="123456",
    send_as="cloud_message",
    port=4010,
    protocol="TCP",
)
BOAT = device_subentry(
    "Boat sensor", device_id="234567", send_as="sms", port=4010, protocol="TCP"
)


@pytest.fixture
async def fleet(hass: HomeAssistant, hologram: FakeHologram) -> MockConfigEntry:
    return await setup_entry(hass, _account(hologram_entry(), VAN, BOAT))


def _entity(hass: HomeAssistant, domain: str, name: str) -> str:
    entity_id = f"{domain}.{name}"
    assert er.async_get(hass).async_get(entity_id) is not None, entity_id
    return entity_id


# --- subentry flows ---------------------------------------------------------------------


async def test_add_hologram_device_from_the_list(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, _account(hologram_entry()))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"].schema  # type: ignore[union-attr]
    selector = next(v for k, v in schema.items() if k == "device_id")
    options = selector.config["options"]
    assert {"value": "123456", "label": "Van tracker (123456)"} in options
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "device_id": "123456",
            "send_as": "cloud_message",
            "port": 5000,
            "protocol": "UDP",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Van tracker"
    await hass.async_block_till_done()
    subentry = next(iter(entry.subentries.values()))
    assert dict(subentry.data) == {
        "device_id": "123456",
        "send_as": "cloud_message",
        "port": 5000,
        "protocol": "UDP",
    }
    device = _registry_device(
        hass, entry.entry_id, f"{entry.entry_id}_{subentry.subentry_id}"
    )
    assert device is not None
    assert device.name == "Van tracker"
    assert device.manufacturer == "Hologram"
    assert device.serial_number == "123456"
    account = _registry_device(hass, entry.entry_id, entry.entry_id)
    assert account is not None
    assert device.via_device_id == account.id
    for domain, name in (
        ("notify", "van_tracker"),
        ("event", "van_tracker_message"),
        ("sensor", "van_tracker_last_message"),
        ("sensor", "van_tracker_last_heard"),
    ):
        assert hass.states.get(_entity(hass, domain, name)) is not None

    # The same device again: refused.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"device_id": "123456", "send_as": "sms", "port": 1, "protocol": "TCP"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_device_list_leaves_out_the_devices_added(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Issue 26 A10: the list offered the devices already added; picking one ended
    in "already added". It offers the others; with none left the form says so."""
    entry = await setup_entry(hass, _account(hologram_entry(), VAN))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    schema = result["data_schema"].schema  # type: ignore[union-attr]
    options = next(v for k, v in schema.items() if k == "device_id").config["options"]
    offered = {option["value"] for option in options}
    assert "123456" not in offered
    assert "234567" in offered
    for device_id in sorted(offered):
        entry = hass.config_entries.async_get_entry(entry.entry_id)
        assert entry is not None
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "device"), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {"device_id": device_id, "send_as": "sms", "port": 1, "protocol": "TCP"},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "all_devices_added"
    assert result["description_placeholders"] == {"title": entry.title}


async def test_adding_a_device_does_not_reload_the_account(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Issue 26 A11: adding one device reloaded the whole account: every entity of it
    went unavailable and came back ("became unknown" all over the logbook). The new
    device's entities are added beside the others, which stay as they were.
    """
    entry = await setup_entry(hass, _account(hologram_entry(), VAN))
    await hass.async_block_till_done()
    kept = [
        "notify.van_tracker",
        "event.van_tracker_message",
        "sensor.van_tracker_last_message",
        "sensor.van_tracker_sim_status",
    ]
    before = {entity_id: hass.states.get(entity_id) for entity_id in kept}
    assert all(before.values()), before
    assert before["sensor.van_tracker_sim_status"].state == "active"  # type: ignore[union-attr]
    runtime = entry.runtime_data
    changes: list[tuple[str, str | None]] = []

    @callback
    def _changed(event: Any) -> None:
        new = event.data["new_state"]
        changes.append((event.data["entity_id"], new.state if new else None))

    hass.bus.async_listen("state_changed", _changed)
    result = await _add(
        hass,
        entry,
        {"device_id": "234567", "send_as": "sms", "port": 4010, "protocol": "TCP"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # Not reloaded: the same runtime data, the same state objects, no transition.
    assert entry.runtime_data is runtime
    assert {entity_id: hass.states.get(entity_id) for entity_id in kept} == before
    assert not [
        c for c in changes if "van_tracker" in c[0] and c[1] in ("unavailable", None)
    ]
    # The new device: its registry device under the account, its entities, its SIM.
    subentry = next(s for s in entry.subentries.values() if s.title == "Boat sensor")
    device = _registry_device(
        hass, entry.entry_id, f"{entry.entry_id}_{subentry.subentry_id}"
    )
    account = _registry_device(hass, entry.entry_id, entry.entry_id)
    assert device is not None
    assert account is not None
    assert device.via_device_id == account.id
    for entity_id in (
        "notify.boat_sensor",
        "event.boat_sensor_message",
        "sensor.boat_sensor_last_heard",
    ):
        assert hass.states.get(entity_id) is not None, entity_id
    sim_state = hass.states.get("sensor.boat_sensor_sim_status")
    assert sim_state is not None
    assert sim_state.state == "active"
    entity = er.async_get(hass).async_get("sensor.boat_sensor_sim_status")
    assert entity is not None
    assert entity.config_subentry_id == subentry.subentry_id
    # And removed again: its entities go, the others stay, still no reload.
    assert hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("notify.boat_sensor") is None
    assert entry.runtime_data is runtime
    assert {entity_id: hass.states.get(entity_id) for entity_id in kept} == before


async def test_the_first_device_starts_the_sim_polling_without_a_reload(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    """An account without devices polls no SIM; its first device starts the polling
    (the SIM entities read at once) and the account is not reloaded."""
    entry = await setup_entry(hass, _account(emnify_entry(emnify.application_token)))
    runtime = entry.runtime_data
    assert runtime.sims is None  # type: ignore[attr-defined]
    outbox = hass.states.get("sensor.emnify_fleet_gmbh_outbox")
    assert outbox is not None
    result = await _add(hass, entry, {"device_id": "1001", "name": "Pump"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.runtime_data is runtime
    assert runtime.sims is not None  # type: ignore[attr-defined]
    assert hass.states.get("sensor.emnify_fleet_gmbh_outbox") is outbox
    sim_state = hass.states.get("sensor.pump_sim_status")
    assert sim_state is not None
    assert sim_state.state == "active"
    assert hass.states.get("switch.pump_sim_active") is not None
    assert hass.states.get("binary_sensor.pump_online") is not None


async def test_onence_the_first_device_starts_the_sim_polling_without_a_reload(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """1NCE: the first SIM starts the polling (its entities read at once)."""
    onence_sims(onence)
    entry = await setup_entry(hass, _account(onence_entry()))
    runtime = entry.runtime_data
    assert runtime.sims is None  # type: ignore[attr-defined]
    outbox = hass.states.get("sensor.1nce_fleet_outbox")
    assert outbox is not None
    result = await _add(hass, entry, {"iccid": ONENCE_PUMP})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Pump"
    await hass.async_block_till_done()
    assert entry.runtime_data is runtime
    assert runtime.sims is not None  # type: ignore[attr-defined]
    assert hass.states.get("sensor.1nce_fleet_outbox") is outbox
    sim_state = hass.states.get("sensor.pump_sim_status")
    assert sim_state is not None
    assert sim_state.state == "active"
    assert hass.states.get("switch.pump_sim_active") is not None
    assert hass.states.get("binary_sensor.pump_online") is not None


async def test_onence_adding_a_device_does_not_reload_the_account(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    """1NCE: a SIM added beside Pump; no entity of Pump blinks, no reload."""
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    runtime = entry.runtime_data
    kept = ["notify.pump", "event.pump_message", "sensor.pump_sim_status"]
    before = {entity_id: hass.states.get(entity_id) for entity_id in kept}
    assert before["sensor.pump_sim_status"].state == "active"  # type: ignore[union-attr]
    changes: list[tuple[str, str | None]] = []

    @callback
    def _changed(event: Any) -> None:
        new = event.data["new_state"]
        changes.append((event.data["entity_id"], new.state if new else None))

    hass.bus.async_listen("state_changed", _changed)
    result = await _add(hass, entry, {"iccid": ONENCE_OTHER})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.runtime_data is runtime
    assert {entity_id: hass.states.get(entity_id) for entity_id in kept} == before
    assert not [c for c in changes if "pump" in c[0] and c[1] in ("unavailable", None)]
    assert hass.states.get("sensor.sensor_1002_sim_status").state == "active"  # type: ignore[union-attr]
    subentry = next(s for s in entry.subentries.values() if s.title == "Sensor 1002")
    device = _registry_device(
        hass, entry.entry_id, f"{entry.entry_id}_{subentry.subentry_id}"
    )
    account = _registry_device(hass, entry.entry_id, entry.entry_id)
    assert device is not None
    assert account is not None
    assert device.via_device_id == account.id
    # Removed again: its entities go, the others stay, still no reload.
    assert hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("notify.sensor_1002") is None
    assert entry.runtime_data is runtime
    assert {entity_id: hass.states.get(entity_id) for entity_id in kept} == before


async def test_onence_reconfigure_and_remove_a_device(
    hass: HomeAssistant, onence: FakeOneNce
) -> None:
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    pump = next(iter(entry.subentries.values()))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": pump.subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Red pump"}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.subentries[pump.subentry_id].title == "Red pump"
    device = _registry_device(
        hass, entry.entry_id, f"{entry.entry_id}_{pump.subentry_id}"
    )
    assert device is not None
    assert device.name == "Red pump"
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.pump", "message": "hello"},
        blocking=True,
    )
    assert onence.sms[-1]["iccid"] == ONENCE_PUMP

    assert hass.config_entries.async_remove_subentry(entry, pump.subentry_id)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get("notify.pump") is None
    assert hass.states.get("sensor.pump_sim_status") is None
    assert (
        _registry_device(hass, entry.entry_id, f"{entry.entry_id}_{pump.subentry_id}")
        is None
    )


async def _add(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], user_input
        )
    )


async def test_add_emnify_endpoint(hass: HomeAssistant, emnify: FakeEmnify) -> None:
    entry = await setup_entry(hass, _account(emnify_entry(emnify.application_token)))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": "abc"}
    )
    assert result["errors"] == {"device_id": "invalid_device_id"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": "1001", "name": "Pump"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Pump"
    await hass.async_block_till_done()
    assert hass.states.get("notify.pump") is not None


async def test_emnify_endpoint_of_another_organization_is_refused(
    hass: HomeAssistant, emnify: FakeEmnify
) -> None:
    """Issue 26 A5: an endpoint id the organization does not have was added ("Created
    configuration for Pump"), and every SIM entity of it stayed unavailable without a
    word. The form reads the endpoint (GET /endpoint/{id}) before adding it.
    """
    entry = await setup_entry(hass, _account(emnify_entry(emnify.application_token)))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "device"), context={"source": SOURCE_USER}
    )
    # emnify's 404 for an endpoint it does not know (as recorded).
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": "4242", "name": "Pump"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"device_id": "device_not_found"}
    assert emnify.calls("/endpoint/4242")
    # emnify failing: the form cannot tell, and says so.
    emnify.fail("/endpoint/1001", 500)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": "1001", "name": "Pump"}
    )
    assert result["errors"] == {"base": "cannot_check_device"}
    assert not entry.subentries
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": "1001", "name": "Pump"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [s.data["device_id"] for s in entry.subentries.values()] == ["1001"]


async def test_add_monoz_sim(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    entry = await setup_entry(hass, _account(monoz_entry()))
    result = await _add(hass, entry, {"iccid": "12", "topic": "/ok", "qos": "0"})
    assert result["errors"] == {"iccid": "invalid_iccid"}
    result = await _add(hass, entry, {"iccid": ICCID, "topic": "no-slash", "qos": "0"})
    assert result["errors"] == {"topic": "invalid_topic"}
    result = await _add(hass, entry, {"iccid": ICCID, "topic": "/led", "qos": "1"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"monoz {ICCID}"
    assert result["data"] == {"iccid": ICCID, "topic": "/led", "qos": 1}
    await hass.async_block_till_done()


async def test_reconfigure_and_remove_a_device(
    hass: HomeAssistant, hologram: FakeHologram, fleet: MockConfigEntry
) -> None:
    van = next(s for s in fleet.subentries.values() if s.title == "Van tracker")
    result = await hass.config_entries.subentries.async_init(
        (fleet.entry_id, "device"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": van.subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Red van",
            "send_as": "cloud_message",
            "port": 6000,
            "protocol": "UDP",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert fleet.subentries[van.subentry_id].title == "Red van"
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.van_tracker", "message": "hello"},
        blocking=True,
    )
    assert hologram.cloud_messages[-1]["port"] == 6000
    assert hologram.cloud_messages[-1]["protocol"] == "UDP"
    device = _registry_device(
        hass, fleet.entry_id, f"{fleet.entry_id}_{van.subentry_id}"
    )
    assert device is not None
    assert device.name == "Red van"

    assert hass.config_entries.async_remove_subentry(fleet, van.subentry_id)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get("notify.van_tracker") is None
    assert hass.states.get("notify.van_tracker") is None
    assert (
        _registry_device(hass, fleet.entry_id, f"{fleet.entry_id}_{van.subentry_id}")
        is None
    )
    assert er.async_get(hass).async_get("notify.boat_sensor") is not None


# --- notify ------------------------------------------------------------------------------


async def test_notify_sends_what_is_natural_per_provider(
    hass: HomeAssistant,
    hologram: FakeHologram,
    emnify: FakeEmnify,
    monoz: FakeMonoz,
    onence: FakeOneNce,
    fleet: MockConfigEntry,
) -> None:
    await setup_entry(
        hass,
        _account(
            emnify_entry(emnify.application_token),
            device_subentry("Pump", device_id="1001"),
        ),
    )
    onence_sims(onence)
    await setup_entry(
        hass,
        _account(onence_entry(), device_subentry("Tank", iccid=ONENCE_PUMP)),
    )
    await setup_entry(
        hass,
        _account(
            monoz_entry(), device_subentry("Meter", iccid=ICCID, topic="/cmd", qos=1)
        ),
    )
    for entity_id, message in (
        ("notify.van_tracker", "unlock"),
        ("notify.boat_sensor", "sms text"),
        ("notify.pump", "pump on"),
        ("notify.meter", "read"),
        ("notify.tank", "tank level"),
    ):
        await hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": entity_id, "message": message, "title": "ignored"},
            blocking=True,
        )
    assert hologram.cloud_messages[-1]["deviceids"] == [123456]
    assert hologram.cloud_messages[-1]["data"] == "unlock"
    assert hologram.cloud_messages[-1]["port"] == 4010
    assert hologram.sms[-1]["body"] == "sms text"
    assert emnify.sms[-1]["payload"] == "pump on"
    assert [(sms["iccid"], sms["payload"]) for sms in onence.sms] == [
        (ONENCE_PUMP, "tank level")
    ]
    assert monoz.published[-1] == {
        "ICCID": ICCID,
        "Topic": "/cmd",
        "Message": "read",
        "QoS": 1,
        "Format": 1,
    }


# --- inbound routing ---------------------------------------------------------------------


async def test_inbound_message_reaches_only_its_device(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    fleet: MockConfigEntry,
) -> None:
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{WEBHOOK_IDS['hologram']}?secret={SECRET}",
        json={
            "device_id": "234567",
            "received": "2026-11-23T10:00:00+00:00",
            "decdata": "water 12C",
        },
    )
    assert response.status == 200
    await hass.async_block_till_done()
    boat_event = hass.states.get("event.boat_sensor_message")
    van_event = hass.states.get("event.van_tracker_message")
    assert boat_event is not None
    assert van_event is not None
    assert boat_event.attributes["data"] == "water 12C"
    assert van_event.state == "unknown"
    assert hass.states.get("sensor.boat_sensor_last_message").state == "water 12C"  # type: ignore[union-attr]
    assert (
        hass.states.get("sensor.boat_sensor_last_heard").state  # type: ignore[union-attr]
        == "2026-11-23T10:00:00+00:00"
    )
    assert hass.states.get("sensor.van_tracker_last_message").state == "unknown"  # type: ignore[union-attr]
    # The account's own event entity sees every message.
    account_event = hass.states.get("event.hologram_fleet_ltd_message")
    assert account_event is not None
    assert account_event.attributes["device_id"] == "234567"


async def test_onence_inbound_sms_reaches_only_its_sim_device(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence: FakeOneNce,
) -> None:
    onence_sims(onence)
    entry = await setup_entry(
        hass,
        _account(
            onence_entry(),
            device_subentry("Pump", iccid=ONENCE_PUMP),
            device_subentry("Sensor 1002", iccid=ONENCE_OTHER),
        ),
    )
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{WEBHOOK_IDS['1nce']}?secret={SECRET}",
        json={
            "id": 5150,
            "payload": "water 12C",
            "submit_date": "2026-11-23 10:00:00",
            "dest_address": "1234",
            "source_address": "882285602301002",
            "dcs": 0,
            "pid": 0,
            "endpoint": {"id": 2, "name": ONENCE_OTHER},
            "organisation": {"id": 1},
        },
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sensor_1002_last_message").state == "water 12C"  # type: ignore[union-attr]
    assert hass.states.get("event.sensor_1002_message").attributes["data"] == (  # type: ignore[union-attr]
        "water 12C"
    )
    assert hass.states.get("sensor.pump_last_message").state == "unknown"  # type: ignore[union-attr]
    assert hass.states.get("event.pump_message").state == "unknown"  # type: ignore[union-attr]
    account_event = hass.states.get("event.1nce_fleet_message")
    assert account_event is not None
    assert account_event.attributes["iccid"] == ONENCE_OTHER
    assert entry.state.value == "loaded"


# --- device targets in actions -------------------------------------------------------


def _device_id(hass: HomeAssistant, entry: MockConfigEntry, title: str) -> str:
    sub = next(s for s in entry.subentries.values() if s.title == title)
    device = _registry_device(
        hass, entry.entry_id, f"{entry.entry_id}_{sub.subentry_id}"
    )
    assert device is not None
    return device.id


async def test_actions_take_devices(
    hass: HomeAssistant,
    hologram: FakeHologram,
    monoz: FakeMonoz,
    fleet: MockConfigEntry,
) -> None:
    meter_entry = await setup_entry(
        hass,
        _account(monoz_entry(), device_subentry("Meter", iccid=ICCID, topic="", qos=0)),
    )
    van = _device_id(hass, fleet, "Van tracker")
    boat = _device_id(hass, fleet, "Boat sensor")
    meter = _device_id(hass, meter_entry, "Meter")
    response = await hass.services.async_call(
        DOMAIN,
        "send_cloud_message",
        {"device": [van, boat], "port": 4010, "data": "both"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["config_entry_id"] == fleet.entry_id
    assert hologram.cloud_messages[-1]["deviceids"] == [123456, 234567]
    await hass.services.async_call(
        DOMAIN, "send_sms", {"device": boat, "message": "hi"}, blocking=True
    )
    sms = hologram.sms[-1]
    assert sms.get("deviceids", [sms.get("deviceid")]) == [234567]
    await hass.services.async_call(
        DOMAIN, "publish_downlink", {"device": meter, "message": "m"}, blocking=True
    )
    assert monoz.published[-1]["ICCID"] == ICCID

    for action, data, key in (
        ("send_sms", {"device": "nope", "message": "x"}, "invalid_device_target"),
        ("send_sms", {"device": [van, boat], "message": "x"}, "one_device"),
        (
            "send_cloud_message",
            {"device": van, "device_ids": [1], "port": 1, "data": "x"},
            "device_or_id",
        ),
        (
            "send_cloud_message",
            {
                "device": [van],
                "config_entry_id": meter_entry.entry_id,
                "port": 1,
                "data": "x",
            },
            "devices_of_several_entries",
        ),
        (
            "send_cloud_message",
            {"device": [van, meter], "port": 1, "data": "x"},
            "device_wrong_kind",
        ),
        ("publish_downlink", {"message": "x"}, "missing_field"),
        (
            "send_cloud_message",
            {"device": [], "port": 1, "data": "x"},
            "invalid_device_target",
        ),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(DOMAIN, action, data, blocking=True)
        assert err.value.translation_key == key, (action, data)


async def test_listener_entries_offer_no_devices(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"kind": "on_device", "protocol": "TCP", "port": 4010, "host": ""},
    )
    entry.add_to_hass(hass)
    assert entry.supported_subentry_types == {}


async def test_mqtt_uplink_reaches_the_sim_device(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto, fast_reconnect: None
) -> None:
    entry = _account(
        monoz_entry(broker_data(mosquitto)),
        device_subentry("Meter", iccid=ICCID, topic="", qos=0),
        device_subentry("Other", iccid="8981100005819480001", topic="", qos=0),
    )
    await setup_entry(hass, entry)
    state_changed = asyncio.Event()

    @callback
    def _changed(event: Any) -> None:
        # Only the message below counts (no other state of the sensor is awaited).
        new_state = event.data["new_state"]
        if (
            event.data["entity_id"] == "sensor.meter_last_message"
            and new_state is not None
            and new_state.state == "42 kWh"
        ):
            state_changed.set()

    hass.bus.async_listen("state_changed", _changed)
    runtime = entry.runtime_data
    async with asyncio.timeout(HANG_GUARD):
        while not runtime.mqtt.connected:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
    await publish(mosquitto, f"/mti/{ICCID}/pub/v", b"42 kWh")
    async with asyncio.timeout(HANG_GUARD):
        await state_changed.wait()
    assert hass.states.get("sensor.meter_last_message").state == "42 kWh"  # type: ignore[union-attr]
    assert hass.states.get("event.meter_message").attributes["data"] == "42 kWh"  # type: ignore[union-attr]
    assert hass.states.get("event.other_message").state == "unknown"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_device_info_uses_no_deprecated_via_device(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """The link to the account is made in the registry, not with ``via_device``.

    HA 2026.10+ reports ``DeviceInfo(via_device=...)`` as deprecated and raises when
    it cannot find our frame on the stack; ``via_device_id`` is absent in 2025.4.
    """
    from custom_components.cellular_iot.entity import DeviceEntity

    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"kind": "hologram", "api_key": "k", "webhook_id": "w"},
        subentries_data=[
            ConfigSubentryData(
                data={"device_id": "42", "send_as": "sms"},
                subentry_type="device",
                title="Gate",
                unique_id="42",
            )
        ],
    )
    subentry = next(iter(entry.subentries.values()))
    info = DeviceEntity(entry, subentry, "probe").device_info  # type: ignore[arg-type]
    assert info is not None
    fields = info.as_dict() if hasattr(info, "as_dict") else dict(info)
    assert "via_device" not in fields
    assert fields["serial_number"] == "42"


async def test_device_targets_use_no_deprecated_registry_api(
    hass: HomeAssistant,
    hologram: FakeHologram,
    fleet: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """HA 2026.8+ reports ``DeviceEntry.config_entries_subentries`` as deprecated."""
    boat = _device_id(hass, fleet, "Boat sensor")
    await hass.services.async_call(
        DOMAIN, "send_sms", {"device": boat, "message": "hi"}, blocking=True
    )
    assert hologram.sms[-1].get("deviceids", [hologram.sms[-1].get("deviceid")]) == [
        234567
    ]
    assert "deprecated" not in caplog.text

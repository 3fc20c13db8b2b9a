"""monoZ against what monoZ documents (tests/fixtures/recorded/monoz/), not our fake.

Row 12 of issue 24: the uplink topic shapes of monoZ's docs, published by a device to
a real Mosquitto, reach Home Assistant as events with the right ICCID, with the
default filters of a new entry and with those an entry of an earlier version is
migrated to. Row 13: the documented answers of ``Sim/Enable`` and the SIM detail,
replayed byte for byte through :class:`MonozClient` and up to the SIM entities.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest.mock import AsyncMock, patch

from aiohttp import ClientSession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers import monoz as monoz_module
from custom_components.cellular_iot.providers.monoz import MonozClient
from custom_components.cellular_iot.providers.sim import SIM_ACTIVE, SimStatus
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import STATE_ON
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from . import recorded
from .conftest import (
    broker_data,
    device_subentry,
    monoz_entry,
    record_events,
    with_webhook,
)
from .fakes.monoz import API_KEY, ICCID, ORG_ID, FakeMonoz
from .guards import HANG_GUARD
from .mosquitto import Mosquitto, publish

pytestmark = pytest.mark.usefixtures("fast_reconnect")
# (monoz_module.* is looked up when a test runs, so that this file also runs against
# the code before issue 24 and shows which assertion fails there.)

RECORDED_BASE = "https://link.monoz.io/api/v1"
# The ICCID and organization of the documented examples.
DOC_ICCID = "1234567777"
DOC_SIM = "1234567890"
SHAPES = recorded.load("monoz", "uplink_topic_shapes.yaml").interactions
RAW_DATA = recorded.load("monoz", "raw_data_topic.yaml").interactions
# The levels around <org>/<iccid> of each documented shape (the event's "topics").
LEVELS = {
    "Level1/mti/1234567777/Level4": ["Level1", "Level4"],
    "Level1/mti/1234567777": ["Level1"],
    "/mti/1234567777/Level4": ["Level4"],
    "/mti/1234567777": [],
    "mti/1234567777/Level4": ["Level4"],
    "mti/1234567777": [],
}


def test_the_recordings_hold_the_six_documented_shapes() -> None:
    assert ORG_ID == "mti"  # the organization of monoZ's examples
    assert [item.request.uri for item in SHAPES] == list(LEVELS)
    assert [item.request.uri for item in RAW_DATA] == ["/mti/1234567777"]


@pytest.mark.parametrize(
    "item", [*SHAPES, *RAW_DATA], ids=lambda item: item.request.uri or "empty"
)
def test_parse_every_documented_topic(item: recorded.Interaction) -> None:
    found = monoz_module.parse_uplink_topic(ORG_ID, item.request.uri)
    assert found is not None
    assert found.iccid == DOC_ICCID
    assert found.levels == LEVELS[item.request.uri]


def test_downlink_topics_and_other_organizations_are_not_uplinks() -> None:
    # monoZ: the device subscribes to /<orgid>/<iccid>/sub/level4.
    assert monoz_module.parse_uplink_topic(ORG_ID, f"/mti/{DOC_ICCID}/sub") is None
    assert monoz_module.parse_uplink_topic(ORG_ID, f"/mti/{DOC_ICCID}/sub/led") is None
    assert monoz_module.parse_uplink_topic(ORG_ID, f"/other/{DOC_ICCID}/x") is None
    assert monoz_module.parse_uplink_topic(ORG_ID, "/mti/notanid/x") is None
    # "sub" as Level4 of a shape that is not the downlink topic is an uplink.
    found = monoz_module.parse_uplink_topic(ORG_ID, f"mti/{DOC_ICCID}/sub")
    assert found is not None
    assert found.levels == ["sub"]
    # A Level1 equal to the organization id.
    found = monoz_module.parse_uplink_topic(ORG_ID, f"mti/mti/{DOC_ICCID}/x")
    assert found is not None
    assert (found.iccid, found.levels) == (DOC_ICCID, ["mti", "x"])


async def _publish_documented(broker: Mosquitto) -> None:
    """Publish every documented uplink as a device does, then a marker.

    The marker's topic (/mti/<ICCID>/pub/end) is one every version's default filter
    hears: once its event is in, every uplink published before it was delivered.
    """
    for item in (*SHAPES, *RAW_DATA):
        assert item.request.body is not None
        await publish(broker, item.request.uri, item.request.body)
    # Our own downlink topic, which "+/<org>/+/#" hears too: never an event.
    await publish(broker, f"/{ORG_ID}/{DOC_ICCID}/sub/led", b"on")
    await publish(broker, f"/{ORG_ID}/{ICCID}/pub/end", b"marker")


async def _wait_for_marker(events: list[Event]) -> list[dict[str, Any]]:
    async with asyncio.timeout(HANG_GUARD):
        while not any(e.data["data"] == "marker" for e in events):
            await asyncio.sleep(0.01)
    return [e.data for e in events if e.data["data"] != "marker"]


def _assert_documented_events(got: list[dict[str, Any]]) -> None:
    expected = [
        (item.request.uri, DOC_ICCID, LEVELS[item.request.uri], item.request.body)
        for item in (*SHAPES, *RAW_DATA)
    ]
    assert [
        (e.get("topic"), e["iccid"], e["topics"], str(e["data"]).encode()) for e in got
    ] == expected
    assert all(e["provider"] == "monoz" and e["source"] == "mqtt" for e in got)


async def test_documented_topics_are_heard_with_the_default_filters(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    """A new entry, its broker form left at its defaults."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "monoz"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": True}
    )
    assert result["step_id"] == "monoz_mqtt"
    # Only what the user must change for a local broker; the filter is the default.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": mosquitto.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    await _wait_subscribed(entry)
    await _publish_documented(mosquitto)
    _assert_documented_events(await _wait_for_marker(events))
    assert entry.data["mqtt"]["uplink_topic"] == [f"{ORG_ID}/+/#", f"+/{ORG_ID}/+/#"]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def _wait_subscribed(entry: MockConfigEntry | Any) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while entry.runtime_data.mqtt is None or not entry.runtime_data.mqtt.connected:
            await asyncio.sleep(0.01)


def _entry_of_version_1_2(mqtt: dict[str, Any]) -> MockConfigEntry:
    old = monoz_entry(mqtt)
    return MockConfigEntry(
        domain=DOMAIN,
        title=old.title,
        data=dict(old.data),
        unique_id=old.unique_id,
        version=1,
        minor_version=2,
    )


async def test_an_entry_with_the_old_default_is_migrated_and_hears_them(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    """Version 1.2 stored the old default "/<org>/+/pub/#" (one string)."""
    entry = _entry_of_version_1_2(
        broker_data(mosquitto, uplink_topic=f"/{ORG_ID}/+/pub/#")
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    await _wait_subscribed(entry)
    await _publish_documented(mosquitto)
    _assert_documented_events(await _wait_for_marker(events))
    assert (entry.version, entry.minor_version) == (1, 4)
    assert entry.data["mqtt"]["uplink_topic"] == [f"{ORG_ID}/+/#", f"+/{ORG_ID}/+/#"]
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("stored", "migrated"),
    [
        ("site/#", ["site/#"]),
        ("", []),
        (["a/#", " b/+ ", ""], ["a/#", "b/+"]),
    ],
)
async def test_filters_the_user_chose_stay(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    stored: Any,
    migrated: list[str],
) -> None:
    entry = _entry_of_version_1_2(broker_data(mosquitto, uplink_topic=stored))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.data["mqtt"]["uplink_topic"] == migrated
    assert entry.runtime_data.uplink_topics == migrated  # type: ignore[attr-defined]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_filter_the_user_chose_is_heard_as_before(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    entry = _entry_of_version_1_2(broker_data(mosquitto, uplink_topic="site/#"))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    events = record_events(hass, EVENT_MESSAGE_RECEIVED)
    await _wait_subscribed(entry)
    await publish(mosquitto, f"mti/{DOC_ICCID}", b"not subscribed")
    await publish(mosquitto, f"site/mti/{DOC_ICCID}/t", b"21.5")
    await publish(mosquitto, "site/elsewhere", b"marker")
    got = await _wait_for_marker(events)
    assert [(e["topic"], e["iccid"], e["topics"], e["data"]) for e in got] == [
        (f"site/mti/{DOC_ICCID}/t", DOC_ICCID, ["site", "t"], "21.5")
    ]
    marker = next(e.data for e in events if e.data["data"] == "marker")
    # A topic without <org>/<iccid>: no ICCID, all its levels.
    assert (marker["iccid"], marker["topics"]) == (None, ["site", "elsewhere"])
    assert await hass.config_entries.async_unload(entry.entry_id)


# --- row 13: SIM state from Sim/Enable, the raw Status kept --------------------------


def _sim_recordings() -> list[recorded.Interaction]:
    return [
        *recorded.load("monoz", "sim_enable_status.yaml").interactions,
        *recorded.load("monoz", "sim_detail.yaml").interactions,
    ]


async def test_documented_sim_answers_through_the_client(socket_enabled: None) -> None:
    async with (
        recorded.RecordedServer(_sim_recordings()) as server,
        ClientSession() as session,
    ):
        client = MonozClient(
            session, ORG_ID, "abcdefgh123456", base_url=server.base_url(RECORDED_BASE)
        )
        statuses = await client.sim_statuses([DOC_SIM])
    assert server.unmatched == []
    assert sorted(r.path for r in server.received) == [
        f"/api/v1/mti/Device/Sim/Detail/{DOC_SIM}",
        f"/api/v1/mti/Sim/Enable/{DOC_SIM}",
    ]
    assert all(r.headers["X-API-Key"] == "abcdefgh123456" for r in server.received)
    # Data.Enabled: true. The published detail example is not JSON: no raw status.
    assert statuses == {
        DOC_SIM: SimStatus(
            provider_id=DOC_SIM,
            state=SIM_ACTIVE,
            provider_state=None,
            iccid=DOC_SIM,
            can_pause=True,
        )
    }


async def test_documented_enable_request_and_answer(socket_enabled: None) -> None:
    rec = recorded.load("monoz", "sim_enable.yaml")
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        ClientSession() as session,
    ):
        client = MonozClient(
            session,
            ORG_ID,
            "exampleapikeyabcdefgh123456",
            base_url=server.base_url(RECORDED_BASE),
        )
        await client.set_sim_active(DOC_SIM, True)
    assert server.unmatched == []
    (sent,) = server.received
    recorded_request = rec.interactions[0].request
    assert recorded_request.body is not None
    assert json.loads(sent.body) == json.loads(recorded_request.body)
    assert sent.headers["Content-Type"].startswith("application/json")


async def test_documented_sim_answers_up_to_the_entities(
    hass: HomeAssistant, socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with recorded.RecordedServer(_sim_recordings()) as server:
        monkeypatch.setattr(
            monoz_module, "DEFAULT_BASE_URL", server.base_url(RECORDED_BASE)
        )
        entry = with_webhook(
            monoz_entry(api_key="abcdefgh123456"),
            "e" * 64,
            "monoz-recorded-secret-0123456789",
            device_subentry("Meter", iccid=DOC_SIM),
        )
        entry.add_to_hass(hass)
        # The key probe is not what is replayed here (no recording of it).
        with patch.object(MonozClient, "validate", AsyncMock(return_value=None)):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        assert server.unmatched == []
        status = hass.states.get("sensor.meter_sim_status")
        assert status is not None
        assert status.state == "active"
        switch = hass.states.get("switch.meter_sim_active")
        assert switch is not None
        # Pause is offered: the switch is there and on.
        assert switch.state == STATE_ON
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_documented_downlink_answer(socket_enabled: None) -> None:
    """The published answer of Publish/Message has no "Error" key."""
    rec = recorded.load("monoz", "publish_message.yaml")
    async with (
        recorded.RecordedServer(rec.interactions) as server,
        ClientSession() as session,
    ):
        client = MonozClient(
            session,
            ORG_ID,
            "3fa36b0e-c88b-45f4-95b9-d77c0e27c07a",
            base_url=server.base_url(RECORDED_BASE),
        )
        result = await client.publish_message("12345678", "XYZ", topic="/ABC", qos=0)
    assert result == "MessagePublished"
    (sent,) = server.received
    body = rec.interactions[0].request.body
    assert body is not None
    # What we send is the documented request but for RetainLastMessage (not sent:
    # retained downlinks are not offered).
    documented = json.loads(body)
    assert documented.pop("RetainLastMessage") is True
    assert json.loads(sent.body) == documented

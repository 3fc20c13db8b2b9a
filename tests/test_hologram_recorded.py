"""Hologram's published GET /devices examples replayed through our real client and HA.

The recordings (tests/fixtures/recorded/hologram/devices_*.yaml) are Hologram's own
examples: the docs.hologram.io "List devices" answer and apiary.apib's "Device" /
"Device Link". The usage, the billing period's end and the last connection sit on
each link (``links.cellular[i]``), not on the device; the link's ``state`` takes the
values the docs name (a system pause among them).
"""

from __future__ import annotations

from datetime import UTC, datetime
import json
from typing import Any

from aiohttp import ClientSession
from multidict import CIMultiDict
import pytest

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.providers.hologram import HologramClient
from custom_components.cellular_iot.providers.sim import (
    SIM_ACTIVE,
    SIM_INACTIVE,
    SIM_PENDING,
    SIM_SUSPENDED,
    SIM_UNKNOWN,
    SimStatus,
)
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from . import recorded
from .conftest import device_subentry, hologram_entry, setup_entry, with_webhook
from .fakes.hologram import FakeHologram

API = "https://dashboard.hologram.io/api/1"
DOCS = "devices_docs_example.yaml"
APIARY = "devices_apiary_device_link.yaml"
SOIL_SENSOR = device_subentry(
    "Soil sensor", device_id="1234567", send_as="cloud_message", port=4010
)


def _pages(name: str, **link: Any) -> list[recorded.Interaction]:
    """The recorded page, then the page after it.

    Both examples say ``"continues": true`` (they show the first page of more), so
    our client asks for the next page; no example shows one. It is answered as the
    docs say a last page is: the same envelope, no ``continues`` ("only returned if
    there are more values"), here with no devices. ``link`` replaces fields of the
    recorded device's link (a state the docs name, for the state tests).
    """
    (first,) = recorded.load("hologram", name).interactions
    if link:
        body = json.loads(first.response.body)
        body["data"][0]["links"]["cellular"][0].update(link)
        first = _with_body(first, json.dumps(body).encode())
    last = json.loads(first.response.body)
    last.pop("continues")
    last["size"] = 0
    last["data"] = []
    return [first, _with_body(first, json.dumps(last).encode())]


def _with_body(item: recorded.Interaction, body: bytes) -> recorded.Interaction:
    response = recorded.RecordedResponse(
        item.response.status,
        item.response.reason,
        CIMultiDict(item.response.headers),
        body,
    )
    return recorded.Interaction(item.request, response)


async def _statuses(pages: list[recorded.Interaction]) -> dict[str, SimStatus]:
    async with recorded.RecordedServer(pages) as server, ClientSession() as session:
        client = HologramClient(session, "key", base_url=server.base_url(API))
        statuses = await client.sim_statuses()
        assert server.unmatched == []
        assert [r.path for r in server.received] == ["/api/1/devices"] * 2
    return statuses


# --- row 1: usage, billing period and last connection come from the link -----------


async def test_docs_devices_example_reads_usage_from_the_link(
    socket_enabled: None,
) -> None:
    statuses = await _statuses(_pages(DOCS))
    assert statuses == {
        "1234567": SimStatus(
            provider_id="1234567",
            state=SIM_ACTIVE,
            provider_state="LIVE",
            online=False,
            # links.cellular[0].cur_billing_data_used (bytes).
            data_used=503_417_039,
            # whenexpires "2025-10-11 17:24:43" (UTC) less the 30-day period.
            period_start=datetime(2025, 9, 11, 17, 24, 43, tzinfo=UTC),
            # lastsession.session_end (= the link's last_connect_time here).
            last_session=datetime(2025, 9, 17, 4, 10, 28, tzinfo=UTC),
            iccid="89123400001234567890",
            imei="123456789012345",
            msisdn="123456789012345",
            can_pause=True,
        )
    }


async def test_apiary_device_link_reads_usage_from_the_link(
    socket_enabled: None,
) -> None:
    statuses = await _statuses(_pages(APIARY))
    sim = statuses["1234"]
    assert sim.data_used == 2_692_964
    # whenexpires `2019-02-05 01:00:00` less 30 days.
    assert sim.period_start == datetime(2019, 1, 6, 1, 0, tzinfo=UTC)
    # In a session (session_end all 0's): its begin is the last time seen.
    assert sim.online is True
    assert sim.last_session == datetime(2019, 10, 15, 17, 41, 38, tzinfo=UTC)
    assert (sim.iccid, sim.msisdn, sim.imei) == (
        "9990000000000001234",
        "999900001234",
        "957520074024080",
    )


async def test_last_connect_time_when_no_session_is_listed(
    socket_enabled: None,
) -> None:
    """Without ``lastsession`` the link's last_connect_time ("YYYY-MM-DD HH:MM:SS",
    UTC like every Hologram time) is when the SIM was last seen."""
    (first, last) = _pages(DOCS)
    body = json.loads(first.response.body)
    del body["data"][0]["lastsession"]
    statuses = await _statuses([_with_body(first, json.dumps(body).encode()), last])
    sim = statuses["1234567"]
    assert sim.last_session == datetime(2025, 9, 17, 4, 10, 28, tzinfo=UTC)
    assert sim.online is None


async def test_docs_devices_example_lists_the_links_iccid(
    socket_enabled: None,
) -> None:
    async with (
        recorded.RecordedServer(_pages(DOCS)) as server,
        ClientSession() as session,
    ):
        client = HologramClient(session, "key", base_url=server.base_url(API))
        (device,) = await client.list_devices()
    assert (device.device_id, device.name, device.iccid) == (
        1234567,
        "Soil Sensor (12345)",
        "89123400001234567890",
    )


async def test_several_links_the_enabled_profile_is_shown(
    socket_enabled: None,
) -> None:
    """A multi-profile SIM lists one link per profile: the ENABLED one is shown,
    its ICCID, state and usage together."""
    (first, last) = _pages(DOCS)
    body = json.loads(first.response.body)
    enabled = body["data"][0]["links"]["cellular"][0]
    disabled = {
        **enabled,
        "id": 5608543,
        "sim": "89123400001234567891",
        "profile_state": "DISABLED",
        "state": "PAUSED-USER",
        "cur_billing_data_used": 0,
    }
    body["data"][0]["links"]["cellular"] = [disabled, enabled]
    statuses = await _statuses([_with_body(first, json.dumps(body).encode()), last])
    sim = statuses["1234567"]
    assert (sim.iccid, sim.provider_state, sim.data_used) == (
        "89123400001234567890",
        "LIVE",
        503_417_039,
    )


async def test_docs_example_reaches_the_entities(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Through HA: the fake answers GET /devices with exactly the recorded bytes.

    503417039 bytes is 503.4 MB: the README's automation ("above: 400", in MB, on
    sensor.<device>_data_used_this_period) fires for this SIM.
    """
    (first,) = recorded.load("hologram", DOCS).interactions
    hologram.fail(
        "/devices",
        first.response.status,
        raw=first.response.body,
        headers=dict(first.response.headers),
    )
    await setup_entry(hass, with_webhook(hologram_entry(), "b" * 64, "s", SOIL_SENSOR))
    used = hass.states.get("sensor.soil_sensor_data_used_this_period")
    assert used is not None
    assert used.state == "503.417039"
    assert used.attributes["unit_of_measurement"] == "MB"
    assert float(used.state) > 400
    seen = hass.states.get("sensor.soil_sensor_last_seen_online")
    assert seen is not None
    assert seen.state == "2025-09-17T04:10:28+00:00"
    status = hass.states.get("sensor.soil_sensor_sim_status")
    assert status is not None
    assert (status.state, status.attributes["provider_state"]) == ("active", "LIVE")


# --- row 2: the link states the docs name -------------------------------------------


@pytest.mark.parametrize(
    ("provider_state", "state", "can_pause"),
    [
        # apiary.apib "Device Link": "State of the link. LIVE, PAUSED, DEAD".
        ("LIVE", SIM_ACTIVE, True),
        ("PAUSED", SIM_SUSPENDED, True),
        ("DEAD", SIM_INACTIVE, False),
        # apiary.apib: "newstate: PAUSED-PENDING-USER" after a pause.
        ("PAUSED-PENDING-USER", SIM_PENDING, False),
        # apiary.apib "Sim State History": INACTIVE -> LIVE-PENDING.
        ("INACTIVE", SIM_INACTIVE, False),
        ("LIVE-PENDING", SIM_PENDING, False),
        # The user's pause (shared/PROVIDERS.md; the state PAUSED-PENDING-USER ends in).
        ("PAUSED-USER", SIM_SUSPENDED, True),
        # docs.hologram.io "Pause and resume SIMs": "Paused by system status
        # (PAUSED-SYS state)"; "Paused by system SIM status": "(PAUSED-BY-SYS
        # state)". Only Hologram resumes them.
        ("PAUSED-SYS", SIM_SUSPENDED, False),
        ("PAUSED-BY-SYS", SIM_SUSPENDED, False),
        # A state no source names is kept as Hologram wrote it.
        ("SOMETHING-NEW", SIM_UNKNOWN, False),
    ],
)
async def test_documented_link_states(
    socket_enabled: None, provider_state: str, state: str, can_pause: bool
) -> None:
    statuses = await _statuses(_pages(DOCS, state=provider_state))
    sim = statuses["1234567"]
    assert (sim.state, sim.provider_state, sim.can_pause) == (
        state,
        provider_state,
        can_pause,
    )


@pytest.mark.parametrize("provider_state", ["PAUSED-SYS", "PAUSED-BY-SYS"])
@pytest.mark.parametrize("requested", ["active", "suspended"])
async def test_a_system_pause_offers_no_resume(
    hass: HomeAssistant, hologram: FakeHologram, provider_state: str, requested: str
) -> None:
    """The switch is unavailable and set_sim_state says why; nothing is sent."""
    hologram.add_devices(1, first_id=1234567)
    hologram.set_device(1234567, state=provider_state)
    await setup_entry(hass, with_webhook(hologram_entry(), "c" * 64, "s", SOIL_SENSOR))
    status = hass.states.get("sensor.soil_sensor_sim_status")
    assert status is not None
    assert (status.state, status.attributes["provider_state"]) == (
        "suspended",
        provider_state,
    )
    switch = hass.states.get("switch.soil_sensor_sim_active")
    assert switch is not None
    assert switch.state == STATE_UNAVAILABLE
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_sim_state",
            {"device_id": 1234567, "state": requested},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "sim_paused_by_provider"
    assert provider_state in str(err.value)
    assert "dashboard" in str(err.value)
    assert hologram.state_changes == []


async def test_a_user_pause_is_resumed(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Plain PAUSED (apiary's word) is offered a resume, which Hologram takes."""
    hologram.add_devices(1, first_id=1234567)
    hologram.set_device(1234567, state="PAUSED")
    await setup_entry(hass, with_webhook(hologram_entry(), "d" * 64, "s", SOIL_SENSOR))
    switch = hass.states.get("switch.soil_sensor_sim_active")
    assert switch is not None
    assert switch.state == "off"
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": "switch.soil_sensor_sim_active"},
        blocking=True,
    )
    assert hologram.state_changes == [(1234567, "live")]

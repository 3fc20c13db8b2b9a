"""Issue 26, A3/A4/A6: what a provider outage, a revoked key and Assist do to entities.

- A3: the inbound entities (Message events, Last message, Last heard) show what was
  received and stay available while the provider's API fails sends; the SIM entities
  (read from that API) do not go on saying "active"; an availability change writes no
  new state of an event entity (the logbook would read "detected an event").
- A4: a revoked key gives one repair: HA's re-authentication, no issue of ours.
- A6: the SIM switches are not exposed to Assist by default, so "turn off all
  switches" pauses no SIM; our intents never reach a switch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot import availability
from custom_components.cellular_iot.const import DOMAIN, signal_state
from custom_components.cellular_iot.outbox import policy as outbox_policy
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
)
from homeassistant.components.homeassistant.exposed_entities import (
    async_should_expose,
)
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, intent, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from .conftest import (
    GATE_TRACKER,
    ONENCE_PUMP,
    hologram_entry,
    onence_pump_account,
    setup_entry,
    with_webhook,
)
from .fakes.hologram import FakeHologram
from .fakes.onence import FakeOneNce
from .test_on_device import free_port, listener_entry
from .test_outbox import _outbox, _until
from .test_sim import Script, script  # noqa: F401 - the scripted SIM read fixture

SECRET = "issue26-secret-0123456789abcdef"
WEBHOOK_ID = "f" * 64
INBOUND = (
    "event.gate_tracker_message",
    "sensor.gate_tracker_last_message",
    "sensor.gate_tracker_last_heard",
    "event.hologram_fleet_ltd_message",
)
SIM = (
    "sensor.gate_tracker_sim_status",
    "binary_sensor.gate_tracker_online",
    "switch.gate_tracker_sim_active",
)
SWITCH = "switch.gate_tracker_sim_active"


@pytest.fixture
def hold_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued sends wait an hour: only the availability check reaches the provider."""
    monkeypatch.setattr(outbox_policy, "RETRY_MIN", 3600.0)


async def _gate(hass: HomeAssistant) -> MockConfigEntry:
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_ID, SECRET, GATE_TRACKER)
    )
    await hass.async_block_till_done()
    return entry


async def _deliver(hass: HomeAssistant, client: Any, text: str) -> None:
    response = await client.post(
        f"/api/webhook/{WEBHOOK_ID}?secret={SECRET}",
        json={
            "device_id": "123456",
            "received": "2026-11-23T10:00:00+00:00",
            "decdata": text,
        },
    )
    assert response.status == 200
    await hass.async_block_till_done()


async def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait for what the code reaches by itself (the check runs in the background)."""
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _changes(hass: HomeAssistant, entity_ids: tuple[str, ...]) -> list[Event]:
    """Collect the state changes of these entities from now on."""
    changes: list[Event] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            changes.append(event) if event.data["entity_id"] in entity_ids else None
        ),
    )
    return changes


# --- A3: inbound entities stay available; the SIM does not say "active" stale ------


@pytest.mark.parametrize("fault", ["500", "timeout"])
async def test_inbound_entities_stay_available_while_sends_fail(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
    script: Script,  # noqa: F811 - the fixture
    hold_retries: None,
    fault: str,
) -> None:
    """Sends fail (5xx, no answer): what arrived stays shown, the SIM goes unknown.

    The inbound entities keep their states (no state change at all, so no logbook
    line); the SIM entities, whose last word the provider can no longer confirm,
    are unavailable, and come back with the API.
    """
    entry = await _gate(hass)
    await _deliver(hass, await hass_client_no_auth(), "gate open")
    before = {entity_id: _state(hass, entity_id) for entity_id in INBOUND}
    assert before["sensor.gate_tracker_last_message"] == "gate open"
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert _state(hass, SWITCH) == STATE_ON
    changes = _changes(hass, INBOUND)

    if fault == "500":
        hologram.fail("/devices/messages", 500, times=100)
    else:
        hologram.fail("/devices/messages", reset=True)
    response = await hass.services.async_call(
        DOMAIN,
        "send_cloud_message",
        {"device_ids": [123456], "port": 4010, "data": "x"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["status"] == "queued"
    await hass.async_block_till_done()
    assert entry.runtime_data.reachability is not None
    assert not entry.runtime_data.reachability.available  # the outage is seen

    for entity_id in INBOUND:
        assert _state(hass, entity_id) == before[entity_id], entity_id
    for entity_id in SIM:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE, entity_id

    # The check gets an answer: the API is back, so is the SIM; the inbound
    # entities never changed (no "became unavailable", no "detected an event").
    reachability = entry.runtime_data.reachability
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: reachability.available)
    await hass.async_block_till_done()
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    assert _state(hass, SWITCH) == STATE_ON
    assert changes == []
    for entity_id in INBOUND:
        assert _state(hass, entity_id) == before[entity_id], entity_id


async def test_sim_status_after_failed_refreshes_is_not_active(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,  # noqa: F811
) -> None:
    """The SIM refresh fails (the SIM read gets no answer): no stale "active"."""
    await _gate(hass)
    assert _state(hass, "sensor.gate_tracker_sim_status") == "active"
    script.answers = [ProviderConnectionError("down")] * 2
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=15, seconds=1))
    await hass.async_block_till_done()
    for entity_id in SIM:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    for entity_id in INBOUND:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE, entity_id


async def test_a_stopped_listener_leaves_what_it_received(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """The on-device listener stops: its message entities keep what arrived."""
    port = free_port()
    entry = await setup_entry(hass, listener_entry(port))
    prefix = f"listener_tcp_{port}"
    inbound = (
        f"sensor.{prefix}_messages_received",
        f"sensor.{prefix}_last_message",
        f"event.{prefix}_message",
    )
    before = {entity_id: _state(hass, entity_id) for entity_id in inbound}
    changes = _changes(hass, inbound)
    await entry.runtime_data.listener.stop()
    async_dispatcher_send(hass, signal_state(entry.entry_id))
    await hass.async_block_till_done()
    assert _state(hass, f"binary_sensor.{prefix}_listening") == "off"
    assert {entity_id: _state(hass, entity_id) for entity_id in inbound} == before
    assert changes == []


# --- A4: one repair for a revoked key -----------------------------------------------


def _reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def _our_issues(hass: HomeAssistant) -> list[str]:
    return [
        issue_id
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.active
    ]


@pytest.mark.parametrize("path", ["action", "outbox", "sim refresh"])
async def test_a_revoked_key_gives_one_repair(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,  # noqa: F811
    path: str,
) -> None:
    """A 401, whoever meets it: one re-authentication flow, no issue of ours."""
    entry = await _gate(hass)
    refused = {"success": False, "error": "Invalid key"}
    data = {"device_ids": [123456], "port": 4010, "data": "x"}
    if path == "action":
        hologram.fail("/devices/messages", 401, refused)
        with pytest.raises(HomeAssistantError):
            await hass.services.async_call(
                DOMAIN, "send_cloud_message", data, blocking=True
            )
    elif path == "outbox":
        # A passing fault queues the send; its retry meets the revoked key.
        hologram.fail("/devices/messages", 503)
        hologram.fail("/devices/messages", 401, refused)
        await hass.services.async_call(
            DOMAIN, "send_cloud_message", data, blocking=True, return_response=True
        )
        outbox = _outbox(entry)
        await _until(
            hass, entry, lambda: bool(outbox.errors) and "401" in str(outbox.errors[-1])
        )
    else:
        script.answers = [ProviderAuthError("401", status=401)]
        hologram.fail("/users/me", 401, refused)
        await entry.runtime_data.sims.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass)) == 1
    assert _our_issues(hass) == []


# --- A3/A4 for a 1NCE account ---------------------------------------------------------

ONENCE_HOOK = "f" * 64  # (onence_pump_account's webhook id)
ONENCE_INBOUND = (
    "event.pump_message",
    "sensor.pump_last_message",
    "sensor.pump_last_heard",
    "event.1nce_fleet_message",
)
ONENCE_SIM = (
    "sensor.pump_sim_status",
    "sensor.pump_data_left",
    "sensor.pump_sms_left",
    "binary_sensor.pump_online",
    "switch.pump_sim_active",
)


async def _onence_pump(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    await hass.async_block_till_done()
    return entry


@pytest.mark.parametrize("fault", ["500", "timeout"])
async def test_onence_inbound_entities_stay_available_while_sends_fail(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence: FakeOneNce,
    hold_retries: None,
    fault: str,
) -> None:
    """1NCE's API fails a send: what arrived stays, the SIM entities go and come back."""
    entry = await _onence_pump(hass, onence)
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{ONENCE_HOOK}?secret={SECRET}",
        json={
            "id": 9001,
            "payload": "gate open",
            "submit_date": "2026-11-23 10:00:00",
            "dest_address": "1234",
            "source_address": "882285100001001",
            "dcs": 0,
            "pid": 0,
            "endpoint": {"id": 1, "name": ONENCE_PUMP},
            "organisation": {"id": 1},
        },
    )
    assert response.status == 200
    await hass.async_block_till_done()
    before = {entity_id: _state(hass, entity_id) for entity_id in ONENCE_INBOUND}
    assert before["sensor.pump_last_message"] == "gate open"
    assert _state(hass, "sensor.pump_sim_status") == "active"
    changes = _changes(hass, ONENCE_INBOUND)

    path = f"/v2/sims/{ONENCE_PUMP}/sms"
    if fault == "500":
        onence.fail(path, 500)
    else:
        onence.fail(path, 200, hang=True)
    response = await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"iccid": ONENCE_PUMP, "message": "x"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["status"] == "queued"
    await hass.async_block_till_done()
    reachability = entry.runtime_data.reachability
    assert reachability is not None
    assert not reachability.available

    for entity_id in ONENCE_INBOUND:
        assert _state(hass, entity_id) == before[entity_id], entity_id
    for entity_id in ONENCE_SIM:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE, entity_id

    onence.release.set()
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: reachability.available)
    await hass.async_block_till_done()
    assert _state(hass, "sensor.pump_sim_status") == "active"
    assert _state(hass, "switch.pump_sim_active") == STATE_ON
    assert changes == []
    for entity_id in ONENCE_INBOUND:
        assert _state(hass, entity_id) == before[entity_id], entity_id


@pytest.mark.parametrize("path", ["action", "outbox", "sim refresh"])
async def test_onence_a_revoked_secret_gives_one_repair(
    hass: HomeAssistant, onence: FakeOneNce, path: str
) -> None:
    """The secret revoked at 1NCE (the token renewal is refused, 400
    CognitoAuthenticationError as recorded), whoever meets it: one reauth flow."""
    entry = await _onence_pump(hass, onence)
    data = {"iccid": ONENCE_PUMP, "message": "x"}

    def revoke() -> None:
        onence.credentials.clear()
        onence.expire_all()

    if path == "action":
        revoke()
        with pytest.raises(HomeAssistantError):
            await hass.services.async_call(DOMAIN, "send_sms", data, blocking=True)
    elif path == "outbox":
        onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 503)
        await hass.services.async_call(
            DOMAIN, "send_sms", data, blocking=True, return_response=True
        )
        revoke()
        outbox = _outbox(entry)
        await _until(
            hass,
            entry,
            lambda: len(outbox.errors) > 1 and "400" in str(outbox.errors[-1]),
        )
    else:
        revoke()
        await entry.runtime_data.sims.async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass)) == 1
    assert _our_issues(hass) == []


# --- A6: Assist does not pause SIMs it was not told to ------------------------------


async def _assist(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()


async def test_sim_switches_are_not_exposed_by_default(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,  # noqa: F811
) -> None:
    await _assist(hass)
    await _gate(hass)
    entity = er.async_get(hass).async_get(SWITCH)
    assert entity is not None
    assert entity.entity_category is EntityCategory.CONFIG
    assert not async_should_expose(hass, "conversation", SWITCH)


async def test_turn_off_all_switches_pauses_no_sim(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,  # noqa: F811
) -> None:
    """HassTurnOff over the switch domain, no name (as "turn off all switches")."""
    await _assist(hass)
    await _gate(hass)
    hass.states.async_set("switch.kettle", "on")  # something Assist may turn off
    paused = len(hologram.requests)
    response = await intent.async_handle(
        hass,
        "test",
        intent.INTENT_TURN_OFF,
        {"domain": {"value": "switch"}},
        assistant="conversation",
    )
    await hass.async_block_till_done()
    targets = [target.id for target in response.success_results]
    assert SWITCH not in targets
    assert _state(hass, SWITCH) == STATE_ON
    assert [r.path for r in hologram.requests[paused:]] == []


async def test_our_intents_never_reach_the_sim_switch(
    hass: HomeAssistant,
    hologram: FakeHologram,
    script: Script,  # noqa: F811
) -> None:
    """Our intents match notify entities only: a SIM switch's name is no device."""
    await _assist(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await _gate(hass)
    before = len(hologram.requests)
    response = await intent.async_handle(
        hass,
        "test",
        "CellularIoTSendMessage",
        {"name": {"value": "Gate tracker SIM active"}, "message": {"value": "off"}},
        assistant="conversation",
    )
    assert response.response_type is intent.IntentResponseType.ERROR
    assert "Gate tracker SIM active" in response.speech["plain"]["speech"]
    assert hologram.requests[before:] == []
    assert _state(hass, SWITCH) == STATE_ON

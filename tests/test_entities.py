"""Entities: the last message across restarts, its text, units; availability."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from functools import partial
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_restore_state_shutdown_restart,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot import availability
from custom_components.cellular_iot.const import DOMAIN, signal_state
from custom_components.cellular_iot.outbox import policy as outbox_module
from custom_components.cellular_iot.providers.errors import ProviderError
from homeassistant.components.recorder.models import (
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_import_statistics,
    get_metadata,
)
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, recorder as recorder_helper
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from .conftest import (
    broker_data,
    device_subentry,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_pump_account,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .fakes.mqtt_broker import FakeBroker, MqttSession
from .fakes.onence import FakeOneNce
from .guards import HANG_GUARD
from .mosquitto import Mosquitto
from .restore import restore_cache, stored_state
from .test_devices import BOAT, SECRET, VAN, WEBHOOK_IDS
from .test_on_device import _nc, _next_event, free_port, listener_entry

LOST = "cannot reach"
BACK = "can be reached again"


@pytest.fixture
def hold_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox retries a queued send an hour later: only the check brings the
    entities back (a retry that succeeds would too, but not on the test's cue)."""
    monkeypatch.setattr(outbox_module, "RETRY_MIN", 3600.0)


async def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait for a state the code reaches by itself (sockets, a broker)."""
    async with asyncio.timeout(HANG_GUARD):
        while not condition():
            await asyncio.sleep(0.01)


async def _queued(hass: HomeAssistant, action: str, data: dict[str, Any]) -> None:
    """Run an action that meets an unreachable provider: the send is queued."""
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    assert response["status"] == "queued"
    await hass.async_block_till_done()


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("custom_components.cellular_iot")
        and text in record.getMessage()
    ]


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _by_key(hass: HomeAssistant, entry: MockConfigEntry, domain: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        domain, DOMAIN, f"{entry.entry_id}_{key}"
    )
    assert entity_id is not None
    return entity_id


# --- item 9: the last message ---------------------------------------------------------


async def test_last_message_survives_a_restart(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Text and attributes come back after a restart; the count did before."""
    port = free_port()
    entry = await setup_entry(hass, listener_entry(port))
    prefix = f"sensor.listener_tcp_{port}"
    waiting = await _next_event(hass)
    await _nc("-N", "127.0.0.1", str(port), data=b"hello\r\n")
    event = await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert event.data["data"] == "hello\r\n"  # the event keeps what came
    shown = hass.states.get(f"{prefix}_last_message")
    assert shown is not None
    assert shown.state == "hello"
    assert shown.attributes["remote"] == event.data["remote"]
    assert shown.attributes["received_at"] == event.data["received_at"]

    # Shut down (the states are written to storage) and start again from there.
    stored = await async_mock_restore_state_shutdown_restart(hass)
    extra = stored_state(hass, stored, f"{prefix}_last_message").extra_data
    assert extra is not None
    saved = extra.as_dict()
    assert saved["text"] == "hello"
    count = stored_state(hass, stored, f"{prefix}_messages_received")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    restore_cache(
        hass,
        [
            (State(f"{prefix}_last_message", "hello", shown.attributes), saved),
            (count.state, count.extra_data.as_dict() if count.extra_data else {}),
        ],
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    restored = hass.states.get(f"{prefix}_last_message")
    assert restored is not None
    assert restored.state == "hello"
    assert restored.attributes == shown.attributes
    assert _state(hass, f"{prefix}_messages_received") == "1"

    # The next message replaces it.
    waiting = await _next_event(hass)
    await _nc("-N", "127.0.0.1", str(port), data=b"second\n\n")
    await asyncio.wait_for(waiting, HANG_GUARD)
    await hass.async_block_till_done()
    assert _state(hass, f"{prefix}_last_message") == "second"
    assert _state(hass, f"{prefix}_messages_received") == "2"


async def test_restored_data_of_another_shape_is_ignored(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    port = free_port()
    entity_id = f"sensor.listener_tcp_{port}_last_message"
    restore_cache(
        hass, [(State(entity_id, "x"), {"native_value": 3, "attributes": None})]
    )
    await setup_entry(hass, listener_entry(port))
    assert _state(hass, entity_id) == "unknown"


async def test_device_last_message_without_line_breaks(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram: FakeHologram,
) -> None:
    await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_IDS["hologram"], SECRET, VAN, BOAT)
    )
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{WEBHOOK_IDS['hologram']}?secret={SECRET}",
        json={"device_id": "234567", "decdata": "water 12C\r\n"},
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert _state(hass, "sensor.boat_sensor_last_message") == "water 12C"
    event = hass.states.get("event.boat_sensor_message")
    assert event is not None
    assert event.attributes["data"] == "water 12C\r\n"


async def test_count_statistics_lose_the_old_unit(
    hass: HomeAssistant, socket_enabled: None, tmp_path: Path
) -> None:
    """The count had the unit "messages": its long-term statistics get none too, so
    the recorder keeps compiling them (it pauses on a changed unit otherwise)."""
    # The recorder set up as a user's HA does (the recorder_mock fixture wants to
    # come before the hass fixture, which this suite's autouse fixtures create).
    recorder_helper.async_initialize_recorder(hass)
    assert await async_setup_component(
        hass, "recorder", {"recorder": {"db_url": f"sqlite:///{tmp_path}/db.sqlite"}}
    )
    await hass.async_block_till_done()
    port = free_port()
    entity_id = f"sensor.listener_tcp_{port}_messages_received"
    metadata: dict[str, Any] = {
        "has_mean": False,
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": None,
        "source": "recorder",
        "statistic_id": entity_id,
        "unit_of_measurement": "messages",
    }
    if "unit_class" in StatisticMetaData.__annotations__:  # newer HA
        metadata["unit_class"] = None
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    async_import_statistics(
        hass,
        metadata,  # type: ignore[arg-type]
        [{"start": start - timedelta(hours=1), "state": 5.0, "sum": 5.0}],
    )
    await async_wait_recording_done(hass)
    restore_cache(
        hass,
        [
            (
                State(entity_id, "5", {"unit_of_measurement": "messages"}),
                {"native_value": 5, "native_unit_of_measurement": "messages"},
            )
        ],
    )
    await setup_entry(hass, listener_entry(port))
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "5"
    assert "unit_of_measurement" not in state.attributes
    await async_wait_recording_done(hass)
    stored = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_ids={entity_id})
    )
    assert stored[entity_id][1]["unit_of_measurement"] is None


# --- item 12: availability -------------------------------------------------------------


async def test_listener_entities_keep_what_arrived_when_it_stops(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    port = free_port()
    entry = await setup_entry(hass, listener_entry(port))
    prefix = f"listener_tcp_{port}"
    assert _state(hass, f"sensor.{prefix}_messages_received") == "0"
    await entry.runtime_data.listener.stop()
    # Whatever writes the states next shows it (here: the connection signal).
    async_dispatcher_send(hass, signal_state(entry.entry_id))
    await hass.async_block_till_done()
    # What arrived stays shown (issue 26: an inbound entity is available while its
    # entry is loaded); the connectivity sensor says the listener stopped.
    for entity_id in (
        f"sensor.{prefix}_messages_received",
        f"sensor.{prefix}_last_message",
        f"event.{prefix}_message",
    ):
        assert _state(hass, entity_id) != STATE_UNAVAILABLE, entity_id
    assert _state(hass, f"binary_sensor.{prefix}_listening") == STATE_OFF


# The SIM entities follow the API; what arrived (inbound) stays (issue 26).
HOLOGRAM_FOLLOWING = (
    "sensor.van_tracker_sim_status",
    "switch.van_tracker_sim_active",
    "sensor.boat_sensor_sim_status",
)
HOLOGRAM_STAYING = (
    "notify.van_tracker",
    "sensor.hologram_fleet_ltd_outbox",
    "event.van_tracker_message",
    "sensor.van_tracker_last_message",
    "sensor.van_tracker_last_heard",
    "event.boat_sensor_message",
    "event.hologram_fleet_ltd_message",
)


async def test_hologram_unreachable_and_back(
    hass: HomeAssistant,
    hologram: FakeHologram,
    caplog: pytest.LogCaptureFixture,
    hold_retries: None,
) -> None:
    """A lost connection, a 5xx: unavailable, logged once; a check brings them back."""
    caplog.set_level(logging.DEBUG, logger="custom_components.cellular_iot")
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_IDS["hologram"], SECRET, VAN, BOAT)
    )
    for entity_id in HOLOGRAM_FOLLOWING + HOLOGRAM_STAYING:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE, entity_id

    hologram.fail("/sms/incoming", reset=True)  # the connection drops unanswered
    await _queued(
        hass,
        "send_sms",
        {"config_entry_id": entry.entry_id, "device_id": 234567, "message": "hi"},
    )
    for entity_id in HOLOGRAM_FOLLOWING:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    # Sends are still accepted (queued), and the outbox shows them.
    assert _state(hass, "notify.van_tracker") != STATE_UNAVAILABLE
    assert _state(hass, "sensor.hologram_fleet_ltd_outbox") == "1"
    lost = _logged(caplog, LOST)
    assert len(lost) == 1
    assert lost[0].levelno == logging.INFO
    assert "Hologram Fleet Ltd: cannot reach the Hologram API" in lost[0].getMessage()

    # Another failure (HTTP 503, any caller) logs nothing more.
    hologram.fail("/users/me", 503)
    with pytest.raises(ProviderError):
        await entry.runtime_data.client.get_me()
    # The periodic check fails too: still down, still one line.
    hologram.fail("/users/me", 502)
    checks = len(hologram.calls("/users/me"))
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: len(hologram.calls("/users/me")) > checks)
    await hass.async_block_till_done()
    assert _state(hass, "sensor.van_tracker_sim_status") == STATE_UNAVAILABLE
    assert len(_logged(caplog, LOST)) == 1
    assert _logged(caplog, BACK) == []

    # The next check (a longer delay) gets an answer: back, logged once.
    checks = len(hologram.calls("/users/me"))
    async_fire_time_changed(
        hass,
        dt_util.utcnow()
        + timedelta(
            seconds=availability.PROBE_DELAYS[0] + availability.PROBE_DELAYS[1] + 2
        ),
    )
    await _wait_for(lambda: len(hologram.calls("/users/me")) > checks)
    await hass.async_block_till_done()
    for entity_id in HOLOGRAM_FOLLOWING + HOLOGRAM_STAYING:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE, entity_id
    back = _logged(caplog, BACK)
    assert len(back) == 1
    assert back[0].levelno == logging.INFO
    assert len(_logged(caplog, LOST)) == 1
    # No more checks once it answers.
    checks = len(hologram.calls("/users/me"))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(hours=1))
    await hass.async_block_till_done()
    assert len(hologram.calls("/users/me")) == checks


@pytest.mark.parametrize("status", [400, 401, 404, 429])
async def test_an_answer_below_500_is_not_an_outage(
    hass: HomeAssistant,
    hologram: FakeHologram,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """The provider answered: a refused request (a 401 starts reauth) is no outage."""
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_IDS["hologram"], SECRET, VAN)
    )
    # times: the client itself retries a 429 a few times.
    hologram.fail("/users/me", status, {"success": False, "error": "no"}, times=9)
    with pytest.raises(ProviderError):
        await entry.runtime_data.client.get_me()
    await hass.async_block_till_done()
    for entity_id in ("event.van_tracker_message", "sensor.van_tracker_sim_status"):
        assert _state(hass, entity_id) != STATE_UNAVAILABLE
    assert _logged(caplog, LOST) == []


async def test_emnify_timeout_and_back(
    hass: HomeAssistant,
    emnify: FakeEmnify,
    caplog: pytest.LogCaptureFixture,
    hold_retries: None,
) -> None:
    entry = await setup_entry(
        hass,
        with_webhook(
            emnify_entry(emnify.application_token),
            WEBHOOK_IDS["emnify"],
            SECRET,
            device_subentry("Meter", device_id="1001"),
        ),
    )
    entity_id = "sensor.meter_sim_status"
    assert _state(hass, entity_id) != STATE_UNAVAILABLE
    emnify.fail("/endpoint/1001/sms", 500, hang=True)
    await _queued(
        hass,
        "send_sms",
        {"config_entry_id": entry.entry_id, "device_id": 1001, "message": "hi"},
    )
    assert _state(hass, entity_id) == STATE_UNAVAILABLE
    assert _state(hass, "event.meter_message") != STATE_UNAVAILABLE
    lost = _logged(caplog, LOST)
    assert len(lost) == 1
    assert "the emnify API" in lost[0].getMessage()
    assert "did not answer in time" in lost[0].getMessage()

    # Any successful request brings it back (here the periodic check).
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: _state(hass, entity_id) != STATE_UNAVAILABLE)
    assert len(_logged(caplog, BACK)) == 1
    assert len(_logged(caplog, LOST)) == 1


async def test_onence_timeout_and_back(
    hass: HomeAssistant,
    onence: FakeOneNce,
    caplog: pytest.LogCaptureFixture,
    hold_retries: None,
) -> None:
    from .conftest import ONENCE_PUMP

    entry = await setup_entry(hass, onence_pump_account(onence, SECRET))
    entity_id = "sensor.pump_sim_status"
    assert _state(hass, entity_id) != STATE_UNAVAILABLE
    onence.fail(f"/v2/sims/{ONENCE_PUMP}/sms", 500, hang=True)
    await _queued(
        hass,
        "send_sms",
        {"config_entry_id": entry.entry_id, "iccid": ONENCE_PUMP, "message": "hi"},
    )
    assert _state(hass, entity_id) == STATE_UNAVAILABLE
    assert _state(hass, "sensor.pump_data_left") == STATE_UNAVAILABLE
    assert _state(hass, "event.pump_message") != STATE_UNAVAILABLE
    lost = _logged(caplog, LOST)
    assert len(lost) == 1
    assert "the 1NCE API" in lost[0].getMessage()
    assert "did not answer in time" in lost[0].getMessage()

    # Any successful request brings it back (here the periodic check: a token).
    tokens = onence.token_calls
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: _state(hass, entity_id) != STATE_UNAVAILABLE)
    assert onence.token_calls == tokens + 1
    assert len(_logged(caplog, BACK)) == 1
    assert len(_logged(caplog, LOST)) == 1


async def test_monoz_rest_unreachable_and_back(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    caplog: pytest.LogCaptureFixture,
    hold_retries: None,
) -> None:
    entry = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(),
            WEBHOOK_IDS["monoz"],
            SECRET,
            device_subentry("Tank", iccid=ICCID),
        ),
    )
    entity_id = "sensor.tank_sim_status"
    monoz.fail(
        "/Publish/Message", 502, {"Error": True, "StatusCode": 502, "Message": "down"}
    )
    await _queued(
        hass,
        "publish_downlink",
        {"config_entry_id": entry.entry_id, "iccid": ICCID, "message": "x"},
    )
    assert _state(hass, entity_id) == STATE_UNAVAILABLE
    assert _state(hass, "sensor.tank_last_message") != STATE_UNAVAILABLE
    assert len(_logged(caplog, LOST)) == 1
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=availability.PROBE_DELAYS[0] + 1)
    )
    await _wait_for(lambda: _state(hass, entity_id) != STATE_UNAVAILABLE)
    assert len(_logged(caplog, BACK)) == 1


async def test_broker_stopped_and_back(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    fast_reconnect: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real broker goes away and returns: the sensor says so, logged once each way.

    What arrived stays available (issue 26); the SIM entities follow the REST API,
    not the broker.
    """
    caplog.set_level(logging.DEBUG, logger="custom_components.cellular_iot")
    entry = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(broker_data(mosquitto)),
            WEBHOOK_IDS["monoz"],
            SECRET,
            device_subentry("Tank", iccid=ICCID),
        ),
    )
    connected = _by_key(hass, entry, "binary_sensor", "broker_connected")
    staying = ("sensor.tank_last_message", "event.tank_message")
    await _wait_for(lambda: _state(hass, connected) == STATE_ON)
    for entity_id in staying:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE

    mosquitto.stop()
    await _wait_for(lambda: _state(hass, connected) == STATE_OFF)
    for entity_id in staying:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE
    # The client keeps trying: several failed attempts, one line.
    await _wait_for(lambda: len(_logged(caplog, "Cannot reach the MQTT broker")) >= 3)
    lost = _logged(caplog, LOST)
    assert len(lost) == 1
    assert lost[0].levelno == logging.INFO
    assert f"the MQTT broker 127.0.0.1:{mosquitto.port}" in lost[0].getMessage()
    # No warning from the client on top of it.
    assert not [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and "MQTT broker" in r.getMessage()
    ]

    mosquitto.start()
    await _wait_for(lambda: _state(hass, connected) == STATE_ON)
    for entity_id in staying:
        assert _state(hass, entity_id) != STATE_UNAVAILABLE
    back = _logged(caplog, BACK)
    assert len(back) == 1
    assert back[0].levelno == logging.INFO
    assert len(_logged(caplog, LOST)) == 1
    # Unloading closes the connection: that is no outage to log.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(_logged(caplog, LOST)) == 1


async def test_broker_down_at_start(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    fast_reconnect: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that is down when HA starts: off from the start, logged."""
    mosquitto.stop()
    entry = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(broker_data(mosquitto)),
            WEBHOOK_IDS["monoz"],
            SECRET,
            device_subentry("Tank", iccid=ICCID),
        ),
    )
    await _wait_for(lambda: len(_logged(caplog, LOST)) == 1)
    await hass.async_block_till_done()
    connected = _by_key(hass, entry, "binary_sensor", "broker_connected")
    assert _state(hass, connected) == STATE_OFF
    assert _state(hass, "event.tank_message") != STATE_UNAVAILABLE
    mosquitto.start()
    await _wait_for(lambda: _state(hass, connected) == STATE_ON)
    assert len(_logged(caplog, BACK)) == 1
    assert len(_logged(caplog, LOST)) == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_broker_drops_the_connection(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    fast_reconnect: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that closes an accepted connection: the event entity never changes.

    (Issue 26: it went unavailable and back, and the logbook read "Message detected
    an event" although nothing arrived.)
    """
    drop = asyncio.Event()

    async def script(session: MqttSession) -> None:
        await session.accept()
        await session.grant_subscription()
        if broker.connections == 1:
            await drop.wait()
            session.writer.close()
            return
        while True:
            await session.read()

    broker = FakeBroker(script)
    await broker.start()
    try:
        entry = await setup_entry(
            hass,
            with_webhook(
                monoz_entry(
                    {
                        "host": "127.0.0.1",
                        "port": broker.port,
                        "tls": False,
                        "verify_tls": True,
                        "client_id": "ha-test",
                        "uplink_topic": "/org/+/pub/#",
                    }
                ),
                WEBHOOK_IDS["monoz"],
                SECRET,
                device_subentry("Tank", iccid=ICCID),
            ),
        )
        mqtt = entry.runtime_data.mqtt
        await _wait_for(lambda: mqtt.connected)
        await hass.async_block_till_done()
        assert _state(hass, "event.tank_message") != STATE_UNAVAILABLE
        changes: list[str] = []
        hass.bus.async_listen(
            "state_changed",
            lambda event: (
                changes.append(event.data["new_state"].state)
                if event.data["entity_id"] == "event.tank_message"
                else None
            ),
        )
        drop.set()
        await _wait_for(lambda: broker.connections == 2 and mqtt.connected)
        await hass.async_block_till_done()
        assert _state(hass, "event.tank_message") != STATE_UNAVAILABLE
        assert changes == []
        assert len(_logged(caplog, LOST)) == 1
        assert "connection lost" in _logged(caplog, LOST)[0].getMessage()
        assert len(_logged(caplog, BACK)) == 1
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await broker.stop()


async def test_no_checks_after_unload(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = await setup_entry(hass, hologram_entry())
    hologram.fail("/users/me", 503)
    with pytest.raises(ProviderError):
        await entry.runtime_data.client.get_me()
    assert await hass.config_entries.async_unload(entry.entry_id)
    checks = len(hologram.calls("/users/me"))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(hours=1))
    await hass.async_block_till_done()
    assert len(hologram.calls("/users/me")) == checks


async def test_a_refused_send_is_an_answer(
    hass: HomeAssistant,
    hologram: FakeHologram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 400 to a send: the action fails, the entities stay."""
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_IDS["hologram"], SECRET, VAN)
    )
    hologram.fail("/sms/incoming", 400, {"success": False, "error": "bad number"})
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN,
            "send_sms",
            {"config_entry_id": entry.entry_id, "device_id": 123456, "message": "x"},
            blocking=True,
            return_response=True,
        )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.van_tracker_sim_status") != STATE_UNAVAILABLE
    assert _logged(caplog, LOST) == []


async def test_an_answer_that_is_refused_is_still_an_answer(
    hass: HomeAssistant, hologram: FakeHologram, caplog: pytest.LogCaptureFixture
) -> None:
    """A redirect (never followed) is refused, yet the provider answered: back."""
    entry = await setup_entry(
        hass, with_webhook(hologram_entry(), WEBHOOK_IDS["hologram"], SECRET, VAN)
    )
    client = entry.runtime_data.client
    hologram.fail("/users/me", 503)
    with pytest.raises(ProviderError):
        await client.get_me()
    await hass.async_block_till_done()
    assert _state(hass, "sensor.van_tracker_sim_status") == STATE_UNAVAILABLE
    hologram.fail("/users/me", 302, headers={"Location": "http://127.0.0.1:9/"})
    with pytest.raises(ProviderError, match="redirect"):
        await client.get_me()
    await hass.async_block_till_done()
    assert _state(hass, "sensor.van_tracker_sim_status") != STATE_UNAVAILABLE
    assert len(_logged(caplog, BACK)) == 1

"""monoZ accounts: REST client, config flow, setup, publish_downlink and MQTT uplinks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.kinds import monoz as monoz_kind
from custom_components.cellular_iot.kinds.monoz import broker as monoz_glue
from custom_components.cellular_iot.kinds.monoz.flow import monoz_mqtt_schema
from custom_components.cellular_iot.providers import mqtt as mqtt_module
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderNotFoundError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.cellular_iot.providers.monoz import (
    MonozClient,
    iccid_from_topic,
)
from custom_components.cellular_iot.providers.mqtt import MqttClient, MqttSettings
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    entity_registry as er,
    instance_id,
    issue_registry as ir,
)

from .conftest import broker_data, monoz_entry, record_events
from .fakes.monoz import API_KEY, ICCID, ORG_ID, FakeMonoz
from .fakes.mqtt_broker import FakeBroker, MqttSession
from .guards import HANG_GUARD
from .mosquitto import (
    Mosquitto,
    Subscriber,
    free_port,
    make_certificate,
    publish,
    publish_many,
)

pytestmark = pytest.mark.usefixtures("fast_reconnect")


# --- REST client -------------------------------------------------------------------


async def test_client_validate_and_publish(monoz: FakeMonoz) -> None:
    async with aiohttp.ClientSession() as session:
        client = MonozClient(session, ORG_ID, API_KEY)
        await client.validate()
        assert monoz.detail_calls == ["8900000000000000000"]
        result = await client.publish_message(ICCID, "XYZ", topic="/ABC", qos=1)
        assert result == "MessagePublished"
        assert monoz.published == [
            {"ICCID": ICCID, "Topic": "/ABC", "Message": "XYZ", "QoS": 1, "Format": 1}
        ]
        with pytest.raises(ProviderAuthError):
            await MonozClient(session, ORG_ID, "wrong").validate()
        with pytest.raises(ProviderAuthError):
            await MonozClient(session, "other", API_KEY).validate()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {"Error": True, "StatusCode": 400, "Message": "Bad"},
            ProviderBadRequestError,
        ),
        (401, {"Error": True, "StatusCode": 401, "Message": "No"}, ProviderAuthError),
        (
            404,
            {"Error": True, "StatusCode": 404, "Message": "No ICCID"},
            ProviderNotFoundError,
        ),
        (
            500,
            {"Error": True, "StatusCode": 500, "Message": "DB down"},
            ProviderResponseError,
        ),
        (
            200,
            {"Error": True, "StatusCode": 404, "Message": "No ICCID"},
            ProviderNotFoundError,
        ),
        (200, {"Error": True, "Message": "odd"}, ProviderBadRequestError),
        (200, b"<html>", ProviderResponseError),
        (200, [1, 2], ProviderResponseError),
        (502, b"", ProviderResponseError),
    ],
)
async def test_client_errors(
    monoz: FakeMonoz, status: int, body: Any, error: type[Exception]
) -> None:
    monoz.fail("/Publish/Message", status, body)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(error) as err:
            await MonozClient(session, ORG_ID, API_KEY).publish_message(ICCID, "x")
    assert API_KEY not in str(err.value)


async def test_client_timeout(monoz: FakeMonoz) -> None:
    monoz.fail("/Publish/Message", 200, hang=True)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderTimeoutError):
            await MonozClient(session, ORG_ID, API_KEY).publish_message(ICCID, "x")


def test_iccid_from_topic() -> None:
    assert iccid_from_topic("mti", f"/mti/{ICCID}/pub/temp") == ICCID
    assert iccid_from_topic("mti", f"level1/mti/{ICCID}/x") == ICCID
    assert iccid_from_topic("mti", "/mti/notanid/pub") is None
    assert iccid_from_topic("mti", "/other/123456789012/pub") is None


# --- config flow ----------------------------------------------------------------------


async def _monoz_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "monoz"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "monoz"
    return result["flow_id"]


async def test_flow_rest_only(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    flow_id = await _monoz_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"org_id": f" {ORG_ID} ", "api_key": f" {API_KEY} ", "use_mqtt": False}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"monoZ {ORG_ID}"
    assert result["data"].pop("webhook_id")
    assert result["data"] == {"kind": "monoz", "org_id": ORG_ID, "api_key": API_KEY}
    assert result["result"].unique_id == f"monoz-org-{ORG_ID}"
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("user_input", "fault", "errors"),
    [
        ({"org_id": "m t!"}, None, {"org_id": "invalid_monoz_org_id"}),
        ({"api_key": "wrong"}, None, {"base": "invalid_auth"}),
        ({"api_key": "  "}, None, {"api_key": "invalid_auth"}),
        ({"org_id": "other"}, None, {"base": "invalid_auth"}),
        (
            {},
            (500, {"Error": True, "StatusCode": 500, "Message": "x"}),
            {"base": "cannot_connect"},
        ),
    ],
)
async def test_flow_errors_then_recover(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    user_input: dict[str, Any],
    fault: tuple[int, Any] | None,
    errors: dict[str, str],
) -> None:
    flow_id = await _monoz_form(hass)
    if fault:
        monoz.fail("/Detail/8900000000000000000", *fault)
    data = {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": False, **user_input}
    result = await hass.config_entries.flow.async_configure(flow_id, data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # What was typed stays, the key too (issue 26 A11: it was emptied).
    suggested = {
        str(k): (k.description or {}).get("suggested_value")
        for k in result["data_schema"].schema
    }
    assert suggested["api_key"] == data["api_key"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_flow_unknown_error(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    flow_id = await _monoz_form(hass)
    with patch.object(MonozClient, "validate", side_effect=RuntimeError("boom")):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": False}
        )
    assert result["errors"] == {"base": "unknown"}


async def test_flow_already_configured(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    monoz_entry().add_to_hass(hass)
    flow_id = await _monoz_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": False}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def _mqtt_form(hass: HomeAssistant) -> str:
    flow_id = await _monoz_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": True}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "monoz_mqtt"
    return flow_id


async def test_a_broker_form_left_open_does_not_hold_the_account(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    """Issue 26 A7: the account form set its unique id before the broker form, so
    one left at the broker form made every new try abort (raw
    ``already_in_progress``) until HA restarted."""
    left = await _mqtt_form(hass)
    flow_id = await _monoz_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"org_id": ORG_ID, "api_key": API_KEY, "use_mqtt": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # HA ends the form left open for the same account.
    assert left not in {
        flow["flow_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    }


async def test_flow_with_broker(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    flow_id = await _mqtt_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "tls": False,
            "verify_tls": True,
            "uplink_topic": [f"/{ORG_ID}/+/pub/#"],
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    broker = result["data"]["mqtt"]
    assert broker["host"] == "127.0.0.1"
    assert broker["port"] == mosquitto.port
    # No client ID entered: none stored; the entry derives its own when it loads.
    assert broker["client_id"] == ""
    assert broker["uplink_topic"] == [f"/{ORG_ID}/+/pub/#"]
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.mqtt.settings.client_id == monoz_glue.derived_client_id(
        await instance_id.async_get(hass), entry.entry_id
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_flow_broker_errors(
    hass: HomeAssistant, monoz: FakeMonoz, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path, users={"ha": "s3cret"})
    broker.start()
    try:
        flow_id = await _mqtt_form(hass)
        base = {
            "host": "127.0.0.1",
            "port": broker.port,
            "tls": False,
            "verify_tls": True,
        }
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "username": "ha", "password": "nope"}
        )
        assert result["errors"] == {"base": "mqtt_invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "port": free_port()}
        )
        assert result["errors"] == {"base": "mqtt_cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "host": "  "}
        )
        assert result["errors"] == {"host": "mqtt_cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "uplink_topic": ["mti/+/#", "/mti/#/pub"]}
        )
        assert result["errors"] == {"uplink_topic": "invalid_topic_filter"}
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {**base, "username": "ha", "password": "s3cret", "uplink_topic": []},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["mqtt"]["uplink_topic"] == []
        await hass.config_entries.async_unload(result["result"].entry_id)
    finally:
        broker.stop()


async def test_reauth(hass: HomeAssistant, monoz: FakeMonoz) -> None:
    entry = monoz_entry(api_key="old-key")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"api_key": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"api_key": API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data["api_key"] == API_KEY
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_adds_changes_and_removes_broker(
    hass: HomeAssistant, monoz: FakeMonoz, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path, users={"ha": "s3cret"})
    broker.start()
    try:
        entry = monoz_entry()
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        # Add a broker (the key stays: the field is left empty).
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "reconfigure_monoz"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"use_mqtt": True}
        )
        assert result["step_id"] == "monoz_mqtt"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "tls": False,
                "verify_tls": True,
                "username": "ha",
                "password": "s3cret",
                "client_id": "my-ha",
                "uplink_topic": [f"/{ORG_ID}/+/pub/#"],
            },
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["mqtt"]["password"] == "s3cret"
        assert entry.data["api_key"] == API_KEY
        assert entry.runtime_data.mqtt is not None  # type: ignore[attr-defined]
        # Change the topic; an empty password keeps the stored one.
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"use_mqtt": True, "api_key": ""}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "tls": False,
                "verify_tls": True,
                "username": "ha",
                "uplink_topic": ["#"],
            },
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["mqtt"]["password"] == "s3cret"
        # The form shows the stored client ID; a field left empty means "derive one".
        assert entry.data["mqtt"]["client_id"] == ""
        assert entry.data["mqtt"]["uplink_topic"] == ["#"]
        # A wrong key is refused; then remove the broker.
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"use_mqtt": False, "api_key": "bad"}
        )
        assert result["errors"] == {"base": "invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"use_mqtt": False}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert "mqtt" not in entry.data
        assert entry.runtime_data.mqtt is None  # type: ignore[attr-defined]
    finally:
        broker.stop()


# --- setup ------------------------------------------------------------------------------


async def test_setup_retries_when_monoz_fails(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    monoz.fail("/Detail/8900000000000000000", 503)
    entry = monoz_entry()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


@pytest.fixture
async def rest_account(hass: HomeAssistant, monoz: FakeMonoz) -> MockConfigEntry:
    entry = monoz_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def mqtt_account(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> AsyncGenerator[MockConfigEntry]:
    entry = monoz_entry(broker_data(mosquitto))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _wait_connected(hass, entry, True)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def _wait_connected(
    hass: HomeAssistant, entry: MockConfigEntry, connected: bool
) -> None:
    """Wait for the broker sensor to show the state (pushed by the client)."""
    entity_id = _entity(hass, entry, "binary_sensor", "broker_connected")
    expected = STATE_ON if connected else STATE_OFF
    changed = asyncio.Event()

    @callback
    def _check(*_: Any) -> None:
        state = hass.states.get(entity_id)
        if state is not None and state.state == expected:
            changed.set()

    unsub = hass.bus.async_listen("state_changed", _check)
    try:
        _check()
        async with asyncio.timeout(HANG_GUARD):
            await changed.wait()
    finally:
        unsub()


def _entity(hass: HomeAssistant, entry: MockConfigEntry, domain: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        domain, DOMAIN, f"{entry.entry_id}_{key}"
    )
    assert entity_id is not None
    return entity_id


async def test_rest_account_entities(
    hass: HomeAssistant, rest_account: MockConfigEntry
) -> None:
    entities = er.async_entries_for_config_entry(
        er.async_get(hass), rest_account.entry_id
    )
    entities.sort(key=lambda e: e.unique_id)
    assert [e.unique_id for e in entities] == [
        f"{rest_account.entry_id}_message",
        f"{rest_account.entry_id}_outbox",
    ]
    assert entities[0].entity_id == "event.monoz_mti_message"
    assert entities[1].entity_id == "sensor.monoz_mti_outbox"
    state = hass.states.get(entities[0].entity_id)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    assert await hass.config_entries.async_unload(rest_account.entry_id)


# --- publish_downlink -------------------------------------------------------------------


async def _downlink(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "publish_downlink", data, blocking=True, return_response=True
    )
    assert isinstance(response, dict)
    return response


async def test_downlink_rest_text(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    response = await _downlink(hass, iccid=ICCID, message="XYZ", topic="/ABC")
    assert monoz.published == [
        {"ICCID": ICCID, "Topic": "/ABC", "Message": "XYZ", "QoS": 0, "Format": 1}
    ]
    assert response == {
        "config_entry_id": rest_account.entry_id,
        "status": "sent",
        "via": "rest",
        "iccid": ICCID,
        "topic": f"/{ORG_ID}/{ICCID}/sub/ABC",
        "qos": 0,
        "format": "text",
        "message_id": None,
        "result": "MessagePublished",
    }


async def test_downlink_rest_mapping_is_json(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    await _downlink(hass, iccid=int(ICCID), message={"led": "on", "n": 2}, qos="1")
    await _downlink(hass, iccid=ICCID, message='{"a": [1]}', format="JSON")
    assert [
        (p["Message"], p["Format"], p["QoS"], p["Topic"]) for p in monoz.published
    ] == [
        ('{"led":"on","n":2}', 0, 1, ""),
        ('{"a": [1]}', 0, 0, ""),
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"iccid": "12ab"}, "invalid_iccid"),
        ({"iccid": True}, "invalid_iccid"),
        ({"message": ""}, "empty_text"),
        ({"message": "x" * 4097}, "too_large"),
        ({"message": None}, "invalid_text"),
        ({"message": {"a": {1, 2}}}, "invalid_json"),
        ({"message": "not json", "format": "json"}, "invalid_json"),
        ({"topic": "ABC"}, "invalid_topic"),
        ({"topic": "/a/+"}, "invalid_topic"),
        ({"topic": 5}, "invalid_topic"),
        ({"topic": "/" + "x" * 500}, "topic_too_long"),
        ({"qos": 2}, "invalid_choice"),
        ({"qos": True}, "invalid_choice"),
        ({"format": "xml"}, "invalid_choice"),
        ({"via": "carrier pigeon"}, "invalid_choice"),
        ({"via": "mqtt"}, "mqtt_not_configured"),
    ],
)
async def test_downlink_validation(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    rest_account: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _downlink(hass, **{"iccid": ICCID, "message": "x", **data})
    assert err.value.translation_key == key
    assert monoz.published == []


async def test_downlink_deep_json_is_refused_by_size_before_parsing(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    """Issue 25 item 3: 100,000 nested arrays are too large, not an HTTP 500.

    The size was checked after ``json.loads``, which raised ``RecursionError``.
    """
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ServiceValidationError) as err:
        await _downlink(hass, iccid=ICCID, message=deep, format="json")
    assert err.value.translation_key == "too_large"
    # Within the cap a deep nesting is parsed and sent as it is.
    within = "[" * 2048 + "]" * 2048
    await _downlink(hass, iccid=ICCID, message=within, format="json")
    assert [p["Message"] for p in monoz.published] == [within]


async def test_downlink_any_parse_failure_is_invalid_json(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    rest_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A parser that gives up (``RecursionError``) is the translated invalid_json."""

    def give_up(text: str) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(
        monoz_kind, "json", SimpleNamespace(loads=give_up, dumps=json.dumps)
    )
    with pytest.raises(ServiceValidationError) as err:
        await _downlink(hass, iccid=ICCID, message="[[1]]", format="json")
    assert err.value.translation_key == "invalid_json"
    assert monoz.published == []


@pytest.mark.parametrize(
    ("status", "key"),
    [
        (400, "provider_bad_request"),
        (404, "provider_not_found"),
    ],
)
async def test_downlink_provider_errors(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    rest_account: MockConfigEntry,
    status: int,
    key: str,
) -> None:
    monoz.fail(
        "/Publish/Message",
        status,
        {"Error": True, "StatusCode": status, "Message": "went wrong"},
    )
    with pytest.raises(HomeAssistantError) as err:
        await _downlink(hass, iccid=ICCID, message="x")
    assert err.value.translation_key == key


async def test_downlink_unknown_iccid(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError) as err:
        await _downlink(hass, iccid="8981100005819489999", message="x")
    assert err.value.translation_key == "provider_not_found"


async def test_downlink_refused_key_starts_reauth(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    monoz.api_key = "rotated"
    with pytest.raises(HomeAssistantError) as err:
        await _downlink(hass, iccid=ICCID, message="x")
    assert err.value.translation_key == "provider_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]


@pytest.mark.parametrize("qos", [0, 1])
async def test_downlink_mqtt_reaches_device_topic(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    mqtt_account: MockConfigEntry,
    qos: int,
) -> None:
    subscriber = Subscriber(mosquitto, f"/{ORG_ID}/+/sub/#")
    await subscriber.start()
    try:
        response = await _downlink(
            hass, iccid=ICCID, message={"led": "on"}, topic="/led", qos=qos
        )
        got = await subscriber.next()
    finally:
        await subscriber.stop()
    assert (got.topic, got.payload, got.qos) == (
        f"/{ORG_ID}/{ICCID}/sub/led",
        b'{"led":"on"}',
        qos,
    )
    assert response["via"] == "mqtt"
    assert response["message_id"] > 0
    assert monoz.published == []
    # via rest still uses the REST API.
    await _downlink(hass, iccid=ICCID, message="r", via="rest")
    assert len(monoz.published) == 1


async def test_downlink_passing_faults_are_queued(
    hass: HomeAssistant, monoz: FakeMonoz, rest_account: MockConfigEntry
) -> None:
    for status, iccid in ((500, ICCID), (429, "8981100005819480001")):
        monoz.fail(
            "/Publish/Message",
            status,
            {"Error": True, "StatusCode": status, "Message": "busy"},
        )
        response = await _downlink(hass, iccid=iccid, message="x")
        assert response["status"] == "queued"
        assert response["via"] == "rest"
        assert "busy" in response["error"]
    # A third send to the first ICCID waits behind the queued one (order kept).
    response = await _downlink(hass, iccid=ICCID, message="y")
    assert response["status"] == "queued"
    assert "error" not in response
    assert monoz.published == []


async def test_broker_restart_loses_nothing(
    hass: HomeAssistant, mosquitto: Mosquitto, mqtt_account: MockConfigEntry
) -> None:
    events = _record_events(hass)
    subscriber = Subscriber(mosquitto, f"/{ORG_ID}/+/sub/#")
    await subscriber.start()
    await subscriber.stop()  # its persistent session keeps what arrives meanwhile

    mosquitto.stop()
    await _wait_connected(hass, mqtt_account, False)
    # QoS 0 and 1 alike: kept in the outbox while the broker is away.
    first = await _downlink(hass, iccid=ICCID, message="sent during outage", qos=1)
    second = await _downlink(hass, iccid=ICCID, message="and another", qos=1)
    assert first["status"] == second["status"] == "queued"
    outbox = mqtt_account.runtime_data.outbox  # type: ignore[attr-defined]
    assert outbox.depth == 2
    mosquitto.start()
    await _wait_connected(hass, mqtt_account, True)
    await _wait_for(lambda: outbox.depth == 0)

    await subscriber.start()
    try:
        got = [await subscriber.next(), await subscriber.next()]
    finally:
        await subscriber.stop()
    assert [(g.topic, g.payload, g.qos) for g in got] == [
        (f"/{ORG_ID}/{ICCID}/sub", b"sent during outage", 1),
        (f"/{ORG_ID}/{ICCID}/sub", b"and another", 1),
    ]
    # Subscribed again: uplinks still arrive.
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"back")
    await _wait_for(lambda: len(events) == 1)
    assert events[0].data["data"] == "back"


def _record_events(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_MESSAGE_RECEIVED)


async def _wait_for(condition: Any) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while not condition():
            await asyncio.sleep(0.01)


async def test_uplink_becomes_event_and_entity_update(
    hass: HomeAssistant, mosquitto: Mosquitto, mqtt_account: MockConfigEntry
) -> None:
    events = _record_events(hass)
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub/temp", b'{"t": 21.5}')
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub/bin", b"\xff\x00", qos=0)
    # Another organisation's topic is not subscribed.
    await publish(mosquitto, f"/other/{ICCID}/pub", b"not ours")
    await _wait_for(lambda: len(events) == 2)
    first = events[0].data
    assert first["provider"] == "monoz"
    assert first["source"] == "mqtt"
    assert first["config_entry_id"] == mqtt_account.entry_id
    assert first["iccid"] == ICCID
    # The levels around /<org>/<iccid>, and the whole topic.
    assert first["topics"] == ["pub", "temp"]
    assert first["topic"] == f"/{ORG_ID}/{ICCID}/pub/temp"
    assert json.loads(first["data"]) == {"t": 21.5}
    assert "data_base64" not in first  # text: no base64 copy (issue 14)
    assert first["qos"] == 1
    second = events[1].data
    assert second["data"] is None
    assert second["data_base64"] == "/wA="
    state = hass.states.get(_entity(hass, mqtt_account, "event", "message"))
    assert state is not None
    assert state.attributes["event_type"] == "message_received"
    assert state.attributes["data_base64"] == "/wA="
    runtime = mqtt_account.runtime_data
    assert runtime.received == 2  # type: ignore[attr-defined]


async def test_retained_replay_is_ignored(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub/old", b"stale", retain=True)
    events = _record_events(hass)
    entry = monoz_entry(broker_data(mosquitto))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _wait_connected(hass, entry, True)
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub/new", b"fresh")
    await _wait_for(lambda: len(events) >= 1)
    assert [e.data["data"] for e in events] == ["fresh"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_disconnects(
    hass: HomeAssistant, mosquitto: Mosquitto, mqtt_account: MockConfigEntry
) -> None:
    client = mqtt_account.runtime_data.mqtt  # type: ignore[attr-defined]
    assert client.connected
    assert await hass.config_entries.async_unload(mqtt_account.entry_id)
    assert not client.connected


async def test_flow_broker_tls(
    hass: HomeAssistant, monoz: FakeMonoz, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path, tls=make_certificate(tmp_path))
    broker.start()
    try:
        flow_id = await _mqtt_form(hass)
        base = {"host": "127.0.0.1", "port": broker.port, "tls": True}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "verify_tls": True}
        )
        assert result["errors"] == {"base": "mqtt_tls_failed"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**base, "verify_tls": False}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await _wait_connected(hass, entry, True)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_uplinks_sent_while_home_assistant_is_away_arrive(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    """The entry's persistent session: the broker queues QoS 1 uplinks meanwhile."""
    entry = monoz_entry(broker_data(mosquitto))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _wait_connected(hass, entry, True)
    assert await hass.config_entries.async_unload(entry.entry_id)

    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"while away")
    mosquitto.stop()  # and the broker restarts too (it persists the queue)
    mosquitto.start()

    events = _record_events(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _wait_for(lambda: len(events) >= 1)
    assert [e.data["data"] for e in events] == ["while away"]
    await hass.config_entries.async_unload(entry.entry_id)


# --- client ID, flapping, credentials in clear, bad brokers ---------------------------


class _Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """Freeze the MQTT client's and the uplink limit's clocks."""
    fake = _Clock()
    monkeypatch.setattr(mqtt_module, "monotonic", fake)
    monkeypatch.setattr(mqtt_module, "MISC_INTERVAL", 0.01)
    monkeypatch.setattr(monoz_glue, "monotonic", fake)
    return fake


async def _setup_broker_entry(
    hass: HomeAssistant, broker: Mosquitto, **extra: Any
) -> MockConfigEntry:
    entry = monoz_entry(broker_data(broker, **extra))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _client_id(entry: MockConfigEntry) -> str:
    return str(entry.runtime_data.mqtt.settings.client_id)  # type: ignore[attr-defined]


async def test_client_id_is_derived_from_instance_and_entry(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto
) -> None:
    entry = await _setup_broker_entry(hass, mosquitto, client_id="")
    await _wait_connected(hass, entry, True)
    client_id = _client_id(entry)
    instance = await instance_id.async_get(hass)
    assert client_id == monoz_glue.derived_client_id(instance, entry.entry_id)
    # What MQTT 3.1.1 requires every broker to accept: 1-23 letters and digits.
    assert len(client_id) == 23
    assert client_id.isascii()
    assert client_id.isalnum()
    assert instance not in client_id
    assert entry.entry_id not in client_id
    # Stable across restarts: the persistent session keeps working.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await _wait_connected(hass, entry, True)
    assert _client_id(entry) == client_id
    # Another installation, or another entry, gets another one.
    assert monoz_glue.derived_client_id("0" * 32, entry.entry_id) != client_id
    assert monoz_glue.derived_client_id(instance, "another-entry") != client_id
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("stored", ["my-ha", ""])
async def test_client_id_typed_or_derived_stays(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto, stored: str
) -> None:
    entry = await _setup_broker_entry(hass, mosquitto, client_id=stored)
    await _wait_connected(hass, entry, True)
    assert entry.data["mqtt"]["client_id"] == stored
    derived = monoz_glue.derived_client_id(
        await instance_id.async_get(hass), entry.entry_id
    )
    assert _client_id(entry) == (stored or derived)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("uplinks", [f"/{ORG_ID}/+/pub/#", "#"])
async def test_generated_client_id_of_earlier_versions_is_retired_losing_nothing(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto, uplinks: str
) -> None:
    """An entry of an earlier version: its session is handed over, then ended.

    With the filter "#", the hand-over's own marker message is no uplink either.
    """
    legacy = "ha-cellular-iot-1a2b3c4d"
    before_upgrade = MqttClient(
        MqttSettings(
            host="127.0.0.1",
            port=mosquitto.port,
            client_id=legacy,
            persistent_session=True,
        ),
        subscriptions=[(uplinks, 1)],
    )
    await before_upgrade.start(wait=True, timeout=10)
    await before_upgrade.stop()
    # Sent while Home Assistant restarts for the upgrade: queued for the old ID.
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"during the upgrade")

    events = _record_events(hass)
    entry = await _setup_broker_entry(
        hass, mosquitto, client_id=legacy, uplink_topic=uplinks
    )
    await _wait_for(lambda: entry.data["mqtt"]["client_id"] == "")
    assert [e.data["data"] for e in events] == ["during the upgrade"]
    assert _client_id(entry) == monoz_glue.derived_client_id(
        await instance_id.async_get(hass), entry.entry_id
    )
    # The broker no longer keeps a session for the old ID.
    probe = MqttClient(
        MqttSettings(
            host="127.0.0.1",
            port=mosquitto.port,
            client_id=legacy,
            persistent_session=True,
        )
    )
    await probe.start(wait=True, timeout=10)
    assert probe.session_present is False
    await probe.stop()
    # One event per uplink from now on.
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"after")
    await _wait_for(lambda: len(events) == 2)
    assert [e.data["data"] for e in events] == ["during the upgrade", "after"]
    # Restarts keep the derived ID and its session.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await _wait_connected(hass, entry, True)
    assert entry.runtime_data.mqtt.session_present is True  # type: ignore[attr-defined]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_retiring_the_old_client_id_without_the_marker(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broker whose ACL drops the drain marker: the hand-over ends all the same."""
    monkeypatch.setattr(monoz_glue, "DRAIN_TIMEOUT", 0.1)
    broker = Mosquitto(tmp_path, acl=f"topic readwrite /{ORG_ID}/#\n")
    broker.start()
    try:
        entry = await _setup_broker_entry(
            hass, broker, client_id="ha-cellular-iot-0badc0de"
        )
        await _wait_for(lambda: entry.data["mqtt"]["client_id"] == "")
        await _wait_connected(hass, entry, True)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_old_client_id_refused_by_the_broker_stays_stored(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker refuses the old ID (here: only ids starting with "hacelliot")."""
    caplog.set_level(logging.DEBUG, logger="custom_components.cellular_iot")
    broker = Mosquitto(tmp_path, extra=("clientid_prefixes hacelliot",))
    broker.start()

    def attempts() -> int:
        return caplog.text.count("the old MQTT client ID stays for now")

    try:
        entry = await _setup_broker_entry(
            hass, broker, client_id="ha-cellular-iot-0badc0de"
        )
        await _wait_for(lambda: attempts() == 1)
        assert entry.data["mqtt"]["client_id"] == "ha-cellular-iot-0badc0de"
        # Each start tries again; meanwhile the entry works under the derived ID.
        assert await hass.config_entries.async_reload(entry.entry_id)
        await _wait_for(lambda: attempts() == 2)
        await _wait_connected(hass, entry, True)
        assert entry.data["mqtt"]["client_id"] == "ha-cellular-iot-0badc0de"
        assert _client_id(entry) == monoz_glue.derived_client_id(
            await instance_id.async_get(hass), entry.entry_id
        )
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_retiring_the_old_client_id_waits_for_the_broker(
    hass: HomeAssistant, monoz: FakeMonoz, tmp_path: Path
) -> None:
    """Broker down at start: the old ID stays stored until the hand-over worked."""
    broker = Mosquitto(tmp_path)
    entry = monoz_entry(broker_data(broker, client_id="ha-cellular-iot-0badc0de"))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.data["mqtt"]["client_id"] == "ha-cellular-iot-0badc0de"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.data["mqtt"]["client_id"] == "ha-cellular-iot-0badc0de"
    broker.start()
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await _wait_for(lambda: entry.data["mqtt"]["client_id"] == "")
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_same_client_id_elsewhere_raises_a_repair_issue(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    clock: _Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A second Home Assistant restored from a backup connects with the same ID."""
    entry = await _setup_broker_entry(hass, mosquitto, client_id="")
    await _wait_connected(hass, entry, True)
    issue_id = f"mqtt_flapping_{entry.entry_id}"
    registry = ir.async_get(hass)
    twin = MqttClient(
        MqttSettings(
            host="127.0.0.1",
            port=mosquitto.port,
            client_id=_client_id(entry),
            persistent_session=True,
        ),
        subscriptions=[(f"/{ORG_ID}/+/pub/#", 1)],
    )
    await twin.start()
    try:
        await _wait_for(lambda: registry.async_get_issue(DOMAIN, issue_id) is not None)
        issue = registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "mqtt_flapping"
        assert issue.translation_placeholders == {
            "title": entry.title,
            "broker": f"127.0.0.1:{mosquitto.port}",
            "client_id": _client_id(entry),
        }
        # Many more reconnects follow; the warning was logged once.
        client = entry.runtime_data.mqtt  # type: ignore[attr-defined]
        count = client.connect_count
        await _wait_for(lambda: client.connect_count >= count + 3)
        warnings = [
            r
            for r in caplog.records
            if r.levelname == "WARNING" and "keeps closing" in r.getMessage()
        ]
        assert len(warnings) == 1
    finally:
        await twin.stop()
    # The twin is gone: once the connection has stayed up, the issue goes away.
    await _wait_connected(hass, entry, True)
    clock.now += mqtt_module.STABLE_AFTER
    await _wait_for(lambda: registry.async_get_issue(DOMAIN, issue_id) is None)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_flapping_issue_goes_with_the_entry(
    hass: HomeAssistant, monoz: FakeMonoz, mosquitto: Mosquitto, clock: _Clock
) -> None:
    entry = await _setup_broker_entry(hass, mosquitto, client_id="")
    await _wait_connected(hass, entry, True)
    registry = ir.async_get(hass)
    twin = MqttClient(
        MqttSettings(host="127.0.0.1", port=mosquitto.port, client_id=_client_id(entry))
    )
    await twin.start()
    issue_id = f"mqtt_flapping_{entry.entry_id}"
    try:
        await _wait_for(lambda: registry.async_get_issue(DOMAIN, issue_id) is not None)
        await hass.config_entries.async_unload(entry.entry_id)
        assert registry.async_get_issue(DOMAIN, issue_id) is None
    finally:
        await twin.stop()


async def test_wrong_broker_password_raises_a_repair_issue(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The password changed on the broker: say so once, not a silent retry loop."""
    broker = Mosquitto(tmp_path, users={"ha": "new-password"})
    broker.start()
    try:
        entry = await _setup_broker_entry(
            hass, broker, username="ha", password="old-password"
        )
        assert entry.state is ConfigEntryState.LOADED  # REST downlinks still work
        issue_id = f"mqtt_auth_refused_{entry.entry_id}"
        registry = ir.async_get(hass)
        await _wait_for(lambda: registry.async_get_issue(DOMAIN, issue_id) is not None)
        issue = registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "mqtt_auth_refused"
        assert issue.severity is ir.IssueSeverity.ERROR
        client = entry.runtime_data.mqtt  # type: ignore[attr-defined]
        assert "refused the credentials" in client.last_error
        refused = [
            r for r in caplog.records if "refuses the username" in r.getMessage()
        ]
        assert len(refused) == 1
        assert "old-password" not in caplog.text
        # The user reconfigures the broker with the right password.
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"use_mqtt": True}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                **{k: v for k, v in entry.data["mqtt"].items() if k != "password"},
                "password": "new-password",
            },
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        await _wait_connected(hass, entry, True)
        assert registry.async_get_issue(DOMAIN, issue_id) is None
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


def _clear_text_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelname == "WARNING" and "without TLS" in r.getMessage()
    ]


async def test_password_without_tls_is_logged_once_per_setup(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = Mosquitto(tmp_path, users={"ha": "s3cret"})
    broker.start()
    try:
        entry = await _setup_broker_entry(
            hass, broker, username="ha", password="s3cret"
        )
        await _wait_connected(hass, entry, True)
        # Reconnects do not repeat it.
        broker.stop()
        await _wait_connected(hass, entry, False)
        broker.start()
        await _wait_connected(hass, entry, True)
        warnings = _clear_text_warnings(caplog)
        assert len(warnings) == 1
        assert entry.title in warnings[0]
        assert "s3cret" not in caplog.text
        # Each setup says it once more.
        assert await hass.config_entries.async_reload(entry.entry_id)
        assert len(_clear_text_warnings(caplog)) == 2
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        broker.stop()


async def test_password_with_tls_or_no_password_is_not_logged(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    tmp_path: Path,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "tls").mkdir()
    broker = Mosquitto(
        tmp_path / "tls",
        users={"ha": "s3cret"},
        tls=make_certificate(tmp_path / "tls"),
    )
    broker.start()
    try:
        entry = await _setup_broker_entry(
            hass, broker, username="ha", password="s3cret", tls=True, verify_tls=False
        )
        await _wait_connected(hass, entry, True)
        await hass.config_entries.async_unload(entry.entry_id)
        anonymous = await _setup_broker_entry(hass, mosquitto)
        await _wait_connected(hass, anonymous, True)
        await hass.config_entries.async_unload(anonymous.entry_id)
        assert _clear_text_warnings(caplog) == []
    finally:
        broker.stop()


async def test_oversized_uplinks_are_dropped_and_counted(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    mqtt_account: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = _record_events(hass)
    runtime = mqtt_account.runtime_data
    big = b"x" * (monoz_glue.MAX_UPLINK_BYTES + 1)
    for _ in range(3):
        await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", big)
    await publish(
        mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"x" * monoz_glue.MAX_UPLINK_BYTES
    )
    await _wait_for(lambda: len(events) == 1)
    assert runtime.uplinks_dropped == 3  # type: ignore[attr-defined]
    assert len(events[0].data["data"]) == monoz_glue.MAX_UPLINK_BYTES
    dropped = [r for r in caplog.records if "dropped an uplink" in r.getMessage()]
    assert [r.levelname for r in dropped] == ["WARNING", "DEBUG", "DEBUG"]


async def test_ten_megabyte_uplink_is_dropped(
    hass: HomeAssistant, mosquitto: Mosquitto, mqtt_account: MockConfigEntry
) -> None:
    events = _record_events(hass)
    # 1 MB, a hundred times the cap: Mosquitto 2.1's own client drops a 10 MB publish.
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"\0" * (1024 * 1024))
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"after")
    await _wait_for(lambda: len(events) == 1)
    assert events[0].data["data"] == "after"
    assert mqtt_account.runtime_data.uplinks_dropped == 1  # type: ignore[attr-defined]
    assert mqtt_account.runtime_data.mqtt.connected  # type: ignore[attr-defined]


async def test_uplink_flood_is_rate_limited(
    hass: HomeAssistant,
    monoz: FakeMonoz,
    mosquitto: Mosquitto,
    clock: _Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _setup_broker_entry(hass, mosquitto)
    await _wait_connected(hass, entry, True)
    runtime = entry.runtime_data
    events = _record_events(hass)
    extra = 50
    # The clock stands still: no tokens come back during the flood.
    await publish_many(
        mosquitto, f"/{ORG_ID}/{ICCID}/pub", monoz_glue.UPLINK_BURST + extra
    )
    total = monoz_glue.UPLINK_BURST + extra
    await _wait_for(
        lambda: runtime.received + runtime.uplinks_dropped == total  # type: ignore[attr-defined]
    )
    assert len(events) == monoz_glue.UPLINK_BURST
    assert runtime.uplinks_dropped == extra  # type: ignore[attr-defined]
    limiting = [r for r in caplog.records if "dropping uplinks" in r.getMessage()]
    assert len(limiting) == 1
    # A second later the rate allows UPLINK_RATE more.
    clock.now += 1
    await publish(mosquitto, f"/{ORG_ID}/{ICCID}/pub", b"later")
    await _wait_for(lambda: len(events) == monoz_glue.UPLINK_BURST + 1)
    assert events[-1].data["data"] == "later"
    assert "accepted again" in caplog.text
    await hass.config_entries.async_unload(entry.entry_id)


async def test_flow_tls_certificate_for_another_host(
    hass: HomeAssistant, monoz: FakeMonoz, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path, tls=make_certificate(tmp_path, ("broker.example",)))
    broker.start()
    try:
        flow_id = await _mqtt_form(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {"host": "127.0.0.1", "port": broker.port, "tls": True, "verify_tls": True},
        )
        assert result["errors"] == {"base": "mqtt_tls_failed"}
    finally:
        broker.stop()


async def test_flow_client_id_refused_by_the_broker(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    async def refuse_id(session: MqttSession) -> None:
        await session.accept(return_code=2)
        await session.read()

    broker = FakeBroker(refuse_id)
    await broker.start()
    try:
        flow_id = await _mqtt_form(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "tls": False,
                "verify_tls": True,
                "client_id": "a client id this broker does not like",
            },
        )
        assert result["errors"] == {"client_id": "mqtt_client_id_rejected"}
    finally:
        await broker.stop()


def test_form_puts_tls_first_and_says_what_travels_in_clear() -> None:
    schema = monoz_mqtt_schema(ORG_ID)
    assert [str(key) for key in schema.schema][:2] == ["tls", "verify_tls"]
    strings = json.loads(
        (
            Path(__file__).parents[1] / "custom_components/cellular_iot/strings.json"
        ).read_text()
    )
    step = strings["config"]["step"]["monoz_mqtt"]
    assert "clear text" in step["description"]
    assert "clear text" in step["data_description"]["password"]
    assert "8883" in step["data_description"]["tls"]

"""Bad action input over HA's REST API: 400 with the translated message, no ERROR log.

Posted through HA's real HTTP stack (``hass_client``: the aiohttp app with auth, the
``api`` component's ``/api/services/<domain>/<action>`` view). How that view answers
an exception depends on the release: up to 2026.10 only ``vol.Invalid`` is a 400 (a
``ServiceValidationError`` was a 500 with an ERROR traceback), from 2026.11 a
``ServiceValidationError`` is a 400 whose body is its message. The actions raise what
the running release answers with 400; these tests hold for every release.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
import voluptuous as vol

from custom_components.cellular_iot import services
from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Context, HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.script import Script
from homeassistant.setup import async_setup_component

from .conftest import hologram_entry, monoz_entry, setup_entry, with_webhook
from .fakes.hologram import FakeHologram
from .fakes.monoz import ICCID, FakeMonoz
from .mosquitto import free_port

SECRET = "rest-test-secret-0123456789"
WEBHOOK = "https://dashboard.hologram.io/api/1/devices/messages/123456/AbCdEf123"


def _device(hass: HomeAssistant, entry: MockConfigEntry, title: str | None) -> str:
    """The registry id of a subentry's device, or (title None) the entry's own."""
    identifier = entry.entry_id
    if title is not None:
        sub = next(s for s in entry.subentries.values() if s.title == title)
        identifier = f"{entry.entry_id}_{sub.subentry_id}"
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        if (DOMAIN, identifier) in device.identifiers:
            return device.id
    raise AssertionError(identifier)


@pytest.fixture
async def targets(
    hass: HomeAssistant,
    hologram: FakeHologram,
    monoz: FakeMonoz,
    socket_enabled: None,
) -> dict[str, str]:
    """A Hologram account with a device, a monoZ account with a SIM, a listener;
    the REST API; the registry ids of their devices by a short name."""
    fleet = await setup_entry(
        hass,
        with_webhook(
            hologram_entry(),
            "a" * 64,
            SECRET,
            ConfigSubentryData(
                data={"device_id": "123456", "send_as": "cloud_message"},
                subentry_type="device",
                title="Van tracker",
                unique_id="123456",
            ),
        ),
    )
    meters = await setup_entry(
        hass,
        with_webhook(
            monoz_entry(),
            "b" * 64,
            SECRET,
            ConfigSubentryData(
                data={"iccid": ICCID, "topic": "", "qos": 0},
                subentry_type="device",
                title="Meter",
                unique_id=ICCID,
            ),
        ),
    )
    listener = await setup_entry(
        hass,
        MockConfigEntry(
            domain=DOMAIN,
            title="Pi listener",
            data={
                "kind": "on_device",
                "protocol": "TCP",
                "port": free_port(),
                "host": "127.0.0.1",
                "device_key": "ABCDWXYZ",
            },
            unique_id="tcp-rest",
        ),
    )
    assert await async_setup_component(hass, "api", {})
    await hass.async_block_till_done()
    return {
        "@van": _device(hass, fleet, "Van tracker"),
        "@fleet": _device(hass, fleet, None),
        "@meter": _device(hass, meters, "Meter"),
        "@monoz": _device(hass, meters, None),
        "@listener": _device(hass, listener, None),
    }


def _resolve(value: Any, targets: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_resolve(item, targets) for item in value]
    return targets.get(value, value) if isinstance(value, str) else value


CLOUD = {"device_ids": [123456], "port": 4010, "data": "x"}
SMS = {"device_id": 123456, "message": "x"}
DOWNLINK = {"iccid": ICCID, "message": "x"}

# action, data, translation key, and what the message must show: the field's label (as
# the action form names it) or the device's name, never the field's key or a registry
# id (a field that is not the action's is shown as it was given).
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # send_cloud_message
    ("cloud-missing-port", "send_cloud_message", {"device_ids": [1], "data": "x"}, "missing_field", "Port"),
    ("cloud-port-type", "send_cloud_message", CLOUD | {"port": "http"}, "invalid_port", "Port"),
    ("cloud-port-list", "send_cloud_message", CLOUD | {"port": [1]}, "invalid_port", "Port"),
    ("cloud-ids-type", "send_cloud_message", CLOUD | {"device_ids": ["abc"]}, "invalid_device_ids", "Device IDs"),
    ("cloud-port-range", "send_cloud_message", CLOUD | {"port": 70000}, "invalid_port", "Port"),
    ("cloud-data-and-base64", "send_cloud_message", CLOUD | {"data_base64": "YQ=="}, "data_exclusive", "Base64 data"),
    ("cloud-no-data", "send_cloud_message", {"device_ids": [1], "port": 1}, "data_exclusive", "Base64 data"),
    ("cloud-device-and-ids", "send_cloud_message", CLOUD | {"device": "@van"}, "device_or_id", "Device IDs"),
    ("cloud-too-large", "send_cloud_message", CLOUD | {"data": "x" * 10241}, "too_large", "Data"),
    ("cloud-bool-type", "send_cloud_message", CLOUD | {"encrypted": "maybe"}, "invalid_boolean", "Encrypted"),
    ("cloud-unknown-device", "send_cloud_message", {"device": "nope", "port": 1, "data": "x"}, "invalid_device_target", "nope"),
    ("cloud-listener-device", "send_cloud_message", {"device": "@listener", "port": 1, "data": "x"}, "device_is_listener", "Pi listener"),
    ("cloud-account-device", "send_cloud_message", {"device": ["@fleet"], "port": 1, "data": "x"}, "device_is_account", "Hologram Fleet Ltd"),
    ("cloud-wrong-kind-device", "send_cloud_message", {"device": "@meter", "port": 1, "data": "x"}, "device_wrong_kind", "Meter"),
    ("cloud-unknown-entry", "send_cloud_message", CLOUD | {"config_entry_id": "nope"}, "entry_not_found", "nope"),
    ("cloud-unknown-field", "send_cloud_message", CLOUD | {"colour": "red"}, "unknown_field", "colour"),
    # send_sms
    ("sms-missing-message", "send_sms", {"device_id": 123456}, "missing_field", "Message"),
    ("sms-id-type", "send_sms", SMS | {"device_id": "abc"}, "invalid_device_id", "Device ID"),
    ("sms-message-type", "send_sms", SMS | {"message": {"a": 1}}, "invalid_text", "Message"),
    ("sms-device-and-id", "send_sms", SMS | {"device": "@van"}, "device_or_id", "Device ID"),
    ("sms-too-large", "send_sms", SMS | {"message": "x" * 10241}, "too_large", "Message"),
    ("sms-phone-number", "send_sms", {"phone_number": "12", "message": "x"}, "invalid_phone_number", "Phone number"),
    ("sms-listener-device", "send_sms", {"device": "@listener", "message": "x"}, "device_is_listener", "Pi listener"),
    ("sms-unknown-device", "send_sms", {"device": "nope", "message": "x"}, "invalid_device_target", "nope"),
    ("sms-wrong-kind-device", "send_sms", {"device": "@meter", "message": "x"}, "device_wrong_kind", "Meter"),
    # publish_downlink
    ("downlink-missing-message", "publish_downlink", {"iccid": ICCID}, "missing_field", "Message"),
    ("downlink-qos-type", "publish_downlink", DOWNLINK | {"qos": "high"}, "invalid_choice", "QoS"),
    ("downlink-qos-range", "publish_downlink", DOWNLINK | {"qos": 2}, "invalid_choice", "QoS"),
    ("downlink-iccid", "publish_downlink", DOWNLINK | {"iccid": "12"}, "invalid_iccid", "ICCID"),
    ("downlink-device-and-iccid", "publish_downlink", DOWNLINK | {"device": "@meter"}, "device_or_id", "ICCID"),
    ("downlink-wrong-kind-device", "publish_downlink", {"device": "@van", "message": "x"}, "device_wrong_kind", "Van tracker"),
    ("downlink-account-device", "publish_downlink", {"device": "@monoz", "message": "x"}, "device_is_account", "monoZ"),
    ("downlink-no-mqtt", "publish_downlink", DOWNLINK | {"via": "mqtt"}, "mqtt_not_configured", "Via"),
    # send_to_cloud
    ("cloud-socket-missing-data", "send_to_cloud", {"topics": ["T"]}, "missing_field", "Data"),
    ("cloud-socket-data-type", "send_to_cloud", {"data": [1]}, "invalid_text", "Data"),
    ("cloud-socket-topics-range", "send_to_cloud", {"data": "x", "topics": ["T"] * 101}, "too_many_items", "Topics"),
    # send_to_device_webhook
    ("webhook-missing-url", "send_to_device_webhook", {"data": "x"}, "missing_field", "Webhook URL"),
    ("webhook-url", "send_to_device_webhook", {"webhook_url": "http://x/", "data": "x"}, "invalid_webhook_url", "Webhook URL"),
    ("webhook-too-large", "send_to_device_webhook", {"webhook_url": WEBHOOK, "data": "x" * 10241}, "too_large", "Data"),
]  # fmt: skip

# Keys of fields as they would leak into a message (labels are shown instead).
_FIELD_KEYS = (
    "device_ids",
    "device_id",
    "data_base64",
    "phone_number",
    "config_entry_id",
    "webhook_url",
)


@pytest.mark.parametrize(
    ("action", "data", "key", "shown"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_is_400_over_rest(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    targets: dict[str, str],
    hologram: FakeHologram,
    monoz: FakeMonoz,
    caplog: pytest.LogCaptureFixture,
    action: str,
    data: dict[str, Any],
    key: str,
    shown: str,
) -> None:
    data = {name: _resolve(value, targets) for name, value in data.items()}
    sent = (len(hologram.requests), len(monoz.published))
    client = await hass_client()
    response = await client.post(f"/api/services/{DOMAIN}/{action}", json=data)
    body = await response.text()
    errors = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]
    assert (response.status, errors) == (400, []), body
    assert (len(hologram.requests), len(monoz.published)) == sent
    assert "Traceback" not in body

    # The same call made in HA: the error the UI, scripts and automations get.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, action, data, blocking=True)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    message = str(err.value)
    assert shown in message, message
    assert key not in message
    assert not any(name in message for name in _FIELD_KEYS), message
    assert not any(device_id in message for device_id in targets.values()), message
    if services.REST_ANSWERS_SERVICE_VALIDATION_ERRORS:
        assert json.loads(body) == {"message": message}


async def test_rest_status_assumption_matches_this_release(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """``REST_ANSWERS_SERVICE_VALIDATION_ERRORS`` says what this HA's REST API does
    with a plain ``ServiceValidationError``: a 400 with its message, or a 500."""

    async def refuse(call: ServiceCall) -> None:
        raise ServiceValidationError("plain refusal")

    hass.services.async_register("probe", "refuse", refuse)
    assert await async_setup_component(hass, "api", {})
    client = await hass_client()
    response = await client.post("/api/services/probe/refuse", json={})
    answered = response.status == 400 and "plain refusal" in await response.text()
    assert answered == services.REST_ANSWERS_SERVICE_VALIDATION_ERRORS
    assert response.status in (400, 500)


async def test_bad_input_over_websocket_is_the_translated_message(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    targets: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The frontend (Developer tools, dashboards) gets the message naming the field."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": DOMAIN,
            "service": "send_cloud_message",
            "service_data": CLOUD | {"port": 70000},
        }
    )
    reply = await client.receive_json()
    assert not reply["success"]
    assert "Port must be a whole number from 1 to 65535" in reply["error"]["message"]
    if not services.REST_ANSWERS_SERVICE_VALIDATION_ERRORS:
        # Sent as invalid input, which HA does not log as an error.
        assert reply["error"]["code"] == "invalid_format"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_continue_on_error_passes_an_account_that_cannot_send_now(
    hass: HomeAssistant, hologram: FakeHologram, targets: dict[str, str]
) -> None:
    """A script or automation step with ``continue_on_error`` goes on when the
    account is not loaded (say, retrying its setup): that is no bad input."""
    resting = hologram_entry(org_id=7002)
    resting.add_to_hass(hass)  # not set up
    after = async_capture_events(hass, "after_send")
    sequence = cv.SCRIPT_SCHEMA(
        [
            {
                "action": f"{DOMAIN}.send_cloud_message",
                "data": CLOUD | {"config_entry_id": resting.entry_id},
                "continue_on_error": True,
            },
            {"event": "after_send"},
        ]
    )
    await Script(hass, sequence, "test", DOMAIN).async_run(context=Context())
    await hass.async_block_till_done()
    assert len(after) == 1
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "send_cloud_message",
            CLOUD | {"config_entry_id": resting.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"
    assert not isinstance(err.value, vol.Invalid)


def test_messages_name_fields_by_label_not_key() -> None:
    """No action error message spells a field's key (``data_base64``): the user
    knows the field by the label the action's form shows (``Base64 data``)."""
    strings = json.loads(
        (
            Path(__file__).parent.parent / "custom_components" / DOMAIN / "strings.json"
        ).read_text(encoding="utf-8")
    )
    keys = {
        field
        for action in strings["services"].values()
        for field in action["fields"]
        if "_" in field
    }
    assert keys >= set(_FIELD_KEYS)
    leaks = {
        name: [key for key in sorted(keys) if key in exception["message"]]
        for name, exception in strings["exceptions"].items()
    }
    assert {name: found for name, found in leaks.items() if found} == {}

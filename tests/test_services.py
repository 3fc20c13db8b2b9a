"""The actions: requests as Hologram documents them, every validation and provider error."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot import action_fields as services
from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.providers.hologram import is_device_webhook_url
from custom_components.cellular_iot.providers.monoz import (
    iccid_from_topic,
    valid_iccid,
    valid_org_id,
)
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .conftest import hologram_entry
from .fakes.hologram import FakeHologram


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


async def _call(hass: HomeAssistant, action: str, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )


# --- send_cloud_message ----------------------------------------------------------


async def test_cloud_message_to_many_devices_is_one_request(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    response = await _call(
        hass,
        "send_cloud_message",
        {"device_ids": [123456, "234567", 123456], "port": 4010, "data": "unlock"},
    )
    assert len(hologram.calls("/devices/messages")) == 1
    assert hologram.cloud_messages == [
        {
            "deviceids": [123456, 234567],
            "port": 4010,
            "protocol": "TCP",
            "encrypted": True,
            "data": "unlock",
        }
    ]
    assert response["config_entry_id"] == hologram_account.entry_id
    assert response["status"] == "sent"
    assert [m["device_id"] for m in response["messages"]] == [123456, 234567]
    assert all(len(m["message_id"]) == 36 for m in response["messages"])


async def test_cloud_message_base64_udp_unencrypted(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    payload = base64.b64encode(bytes(range(256))).decode()
    await _call(
        hass,
        "send_cloud_message",
        {
            "config_entry_id": hologram_account.entry_id,
            "device_ids": 123456,
            "port": "65535",
            "protocol": "udp",
            "data_base64": payload,
            "encrypted": "off",
        },
    )
    assert hologram.cloud_messages == [
        {
            "deviceids": [123456],
            "port": 65535,
            "protocol": "UDP",
            "encrypted": False,
            "base64data": payload,
        }
    ]


async def test_cloud_message_exactly_10k_is_sent(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    await _call(
        hass,
        "send_cloud_message",
        {"device_ids": [123456], "port": 1, "data": "é" * 5120},
    )
    assert len(hologram.cloud_messages) == 1


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"port": 0}, "invalid_port"),
        ({"port": 70000}, "invalid_port"),
        ({"port": "http"}, "invalid_port"),
        ({"port": True}, "invalid_port"),
        ({"port": 1.5}, "invalid_port"),
        ({"protocol": "FTP"}, "invalid_protocol"),
        ({"protocol": 6}, "invalid_protocol"),
        ({"device_ids": []}, "invalid_device_ids"),
        ({"device_ids": ""}, "invalid_device_ids"),
        ({"device_ids": ["abc"]}, "invalid_device_ids"),
        ({"device_ids": [1.5]}, "invalid_device_ids"),
        ({"device_ids": [-3]}, "invalid_device_ids"),
        ({"device_ids": [True]}, "invalid_device_ids"),
        ({"device_ids": None}, "invalid_device_ids"),
        ({"data": "x" * 10241}, "too_large"),
        ({"data": "é" * 5121}, "too_large"),
        ({"data": ""}, "empty_text"),
        ({"data": ["a"]}, "invalid_text"),
        ({"data": None, "data_base64": "YQ=="}, "invalid_text"),
        ({"data": "a", "data_base64": "YQ=="}, "data_exclusive"),
        ({"data_base64": "not base64!"}, "invalid_base64"),
        ({"data_base64": ""}, "invalid_base64"),
        ({"data_base64": "QUJD" * 2561}, "too_large"),
        ({"encrypted": "maybe"}, "invalid_boolean"),
        ({"encrypted": 2}, "invalid_boolean"),
        ({"config_entry_id": "nope"}, "entry_not_found"),
        ({"config_entry_id": ""}, "entry_not_found"),
    ],
)
async def test_cloud_message_validation(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    call = {"device_ids": [123456], "port": 4010, "data": "x"} | data
    call = {
        k: v
        for k, v in call.items()
        if not (k == "data" and "data_base64" in data and "data" not in data)
    }
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_cloud_message", call)
    assert err.value.translation_key == key
    assert err.value.translation_domain == DOMAIN
    # A translated message, not the key.
    assert key not in str(err.value)
    assert hologram.calls("/devices/messages") == []


async def test_cloud_message_neither_data_nor_base64(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_cloud_message", {"device_ids": [1], "port": 4010})
    assert err.value.translation_key == "data_exclusive"


async def test_missing_required_field(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_cloud_message", {"port": 4010, "data": "x"})
    assert err.value.translation_key == "missing_field"
    # Named by its label in the action's form, not by its key.
    assert err.value.translation_placeholders == {"field": "Device IDs"}


async def test_unknown_field_is_rejected(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {"device_ids": [1], "device_id": 1, "port": 1, "data": "x"},
        )
    assert err.value.translation_key == "unknown_field"
    assert "device_id is not a field of this action" in str(err.value)
    assert hologram.cloud_messages == []


@pytest.mark.parametrize(
    ("status", "body", "key"),
    [
        (401, {"success": False, "error": "Invalid API key"}, "provider_auth"),
        (403, {"success": False, "error": "Forbidden"}, "provider_auth"),
        (404, {"success": False, "error": "Not found"}, "provider_not_found"),
        (400, {"success": False, "error": "Invalid Device ID"}, "provider_bad_request"),
        (200, {"success": False, "error": "Invalid Device ID"}, "provider_bad_request"),
    ],
)
async def test_cloud_message_provider_errors(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    status: int,
    body: dict[str, Any] | None,
    key: str,
) -> None:
    hologram.fail("/devices/messages", status, body, times=3)
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass, "send_cloud_message", {"device_ids": [123456], "port": 1, "data": "x"}
        )
    assert err.value.translation_key == key
    if body is not None:
        assert body["error"] in str(err.value)
    reauth = [
        f
        for f in hass.config_entries.flow.async_progress()
        if f["context"]["source"] == SOURCE_REAUTH
    ]
    assert bool(reauth) == (key == "provider_auth")


async def test_unknown_device_is_reported(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError, match="Invalid Device ID"):
        await _call(
            hass, "send_cloud_message", {"device_ids": [999], "port": 1, "data": "x"}
        )


async def test_cloud_message_garbage_and_timeout(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/devices/messages", 200, raw=b"\x00\xffnot json")
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass, "send_cloud_message", {"device_ids": [123456], "port": 1, "data": "x"}
        )
    assert err.value.translation_key == "provider_error"

    hologram.fail("/devices/messages", hang=True)
    response = await _call(
        hass, "send_cloud_message", {"device_ids": [123456], "port": 1, "data": "x"}
    )
    assert response["status"] == "queued"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"success": False, "error": "Internal error"}),
        (503, None),
        (429, {"success": False, "error": "API rate limit exceeded"}),
    ],
)
async def test_cloud_message_passing_faults_are_queued(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    status: int,
    body: dict[str, Any] | None,
) -> None:
    hologram.fail("/devices/messages", status, body, times=3)
    response = await _call(
        hass, "send_cloud_message", {"device_ids": [123456], "port": 1, "data": "x"}
    )
    assert response["status"] == "queued"
    assert str(status) in response["error"]


# (HTTP 429: answered queued at once, retried at the provider's time: test_rate_limit.py)


# --- entry selection --------------------------------------------------------------


async def test_no_entry(hass: HomeAssistant, hologram: FakeHologram) -> None:
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "send_cloud_message", {"device_ids": [1], "port": 1, "data": "x"}
        )
    assert err.value.translation_key == "no_entry"


async def test_two_entries_need_an_id(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    second = hologram_entry(org_id=None)
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "send_cloud_message", {"device_ids": [1], "port": 1, "data": "x"}
        )
    assert err.value.translation_key == "entry_required"
    response = await _call(
        hass,
        "send_cloud_message",
        {
            "config_entry_id": second.entry_id,
            "device_ids": [123456],
            "port": 1,
            "data": "x",
        },
    )
    assert response["config_entry_id"] == second.entry_id


async def test_entry_not_loaded(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    await hass.config_entries.async_unload(hologram_account.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {
                "config_entry_id": hologram_account.entry_id,
                "device_ids": [1],
                "port": 1,
                "data": "x",
            },
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_entry_of_other_integration_or_kind(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {
                "config_entry_id": other.entry_id,
                "device_ids": [1],
                "port": 1,
                "data": "x",
            },
        )
    assert err.value.translation_key == "entry_not_found"

    listener = MockConfigEntry(domain=DOMAIN, data={"kind": "on_device"}, title="Pi")
    listener.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {
                "config_entry_id": listener.entry_id,
                "device_ids": [1],
                "port": 1,
                "data": "x",
            },
        )
    assert err.value.translation_key == "entry_wrong_kind"
    # Hologram and 1NCE accounts send cloud messages (1NCE: a UDP downlink).
    assert err.value.translation_placeholders["kinds"] == "hologram, 1nce"


# --- send_sms -----------------------------------------------------------------------


async def test_sms_to_device(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    response = await _call(
        hass,
        "send_sms",
        {"device_id": 123456.0, "message": "Report position", "sender": "+13125550000"},
    )
    assert hologram.sms == [
        {"deviceid": 123456, "body": "Report position", "fromnumber": "+13125550000"}
    ]
    assert response == {
        "config_entry_id": hologram_account.entry_id,
        "status": "sent",
        "device_id": 123456,
        "message_count": 1,
    }


async def test_sms_legacy_null_data(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    hologram.fail("/sms/incoming", 200, {"success": True, "data": None})
    response = await _call(hass, "send_sms", {"device_id": 123456, "message": "hi"})
    assert response["message_count"] is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"message": ""}, "empty_text"),
        ({"message": "x" * 10241}, "too_large"),
        ({"device_id": "van"}, "invalid_device_id"),
        ({"device_id": 0}, "invalid_device_id"),
        ({"sender": "not a number"}, "invalid_sender"),
        ({"sender": ["+1"]}, "invalid_sender"),
        ({"phone_number": "12345"}, "invalid_phone_number"),
        ({"phone_number": "+13125551212"}, "phone_number_not_supported"),
    ],
)
async def test_sms_validation(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_sms", {"device_id": 123456, "message": "hi"} | data)
    assert err.value.translation_key == key
    assert hologram.sms == []


async def test_sms_needs_device_id(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_sms", {"message": "hi"})
    assert err.value.translation_key == "device_id_required"


async def test_sms_provider_error(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError, match="Invalid Device ID"):
        await _call(hass, "send_sms", {"device_id": 999, "message": "hi"})


# --- send_to_device_webhook ---------------------------------------------------------


async def test_device_webhook(
    hass: HomeAssistant, hologram: FakeHologram, hologram_webhook_origin: str
) -> None:
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    url = f"{hologram.base_url}/devices/messages/123456/AbCdEf123"  # type: ignore[attr-defined]
    response = await _call(
        hass, "send_to_device_webhook", {"webhook_url": url, "data": "ping"}
    )
    assert hologram.cloud_messages == [{"deviceids": [123456], "data": "ping"}]
    assert response["status"] == "sent"
    assert response["messages"][0]["device_id"] == 123456
    request = hologram.calls("/devices/messages/123456/AbCdEf123")[0]
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(
    "url",
    [
        "ftp://dashboard.hologram.io/api/1/devices/messages/1/abc",
        "https://dashboard.hologram.io/api/1/devices/messages/abc",
        "https:///api/1/devices/messages/1/abc",
        "not a url",
        "",
    ],
)
async def test_device_webhook_bad_url(
    hass: HomeAssistant, hologram: FakeHologram, hologram_webhook_origin: str, url: str
) -> None:
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_to_device_webhook", {"webhook_url": url, "data": "x"})
    assert err.value.translation_key == "invalid_webhook_url"


async def test_device_webhook_unknown_guid(
    hass: HomeAssistant, hologram: FakeHologram, hologram_webhook_origin: str
) -> None:
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    url = f"{hologram.base_url}/devices/messages/123456/WrongGuid"  # type: ignore[attr-defined]
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_to_device_webhook", {"webhook_url": url, "data": "x"})
    # A fixed message (finding 8): not the provider_* one that quoted the answer.
    assert err.value.translation_key == "webhook_not_found"
    assert "Hologram" in str(err.value)
    assert "Invalid webhook" not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "{fake}/devices/messages/123456/AbCdEf123",
        "http://169.254.169.254/api/1/devices/messages/1/latest",
        "http://localhost:8123/api/1/devices/messages/1/abc",
        "https://dashboard.hologram.io:8443/api/1/devices/messages/1/abc",
        "https://dashboard.hologram.io/api/1/devices/messages/1/abc?x=1",
        "https://x@dashboard.hologram.io/api/1/devices/messages/1/abc",
    ],
)
async def test_device_webhook_is_not_an_ssrf_tool(
    hass: HomeAssistant, hologram: FakeHologram, url: str
) -> None:
    """Only https://dashboard.hologram.io is called: here the local fake is refused."""
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    url = url.format(fake=hologram.base_url)  # type: ignore[attr-defined]
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_to_device_webhook", {"webhook_url": url, "data": "x"})
    assert err.value.translation_key == "invalid_webhook_url"
    assert hologram.requests == []


@pytest.mark.parametrize(
    ("fault", "key"),
    [
        ({"status": 400}, "webhook_failed"),
        ({"status": 200}, "webhook_failed"),
        ({"status": 500}, "webhook_failed"),
        ({"status": 403}, "webhook_failed"),
        ({"status": 404}, "webhook_not_found"),
        ({"status": 429}, "webhook_rate_limited"),
        ({"status": 307, "headers": {"Location": "/api/1/users/me"}}, "webhook_failed"),
        ({"reset": True}, "webhook_unreachable"),
    ],
)
async def test_device_webhook_error_is_fixed_text(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_webhook_origin: str,
    fault: dict[str, Any],
    key: str,
) -> None:
    """The caller learns the HTTP status at most, never the answer's text."""
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    hologram.fail(
        "/devices/messages/123456/AbCdEf123",
        body={"success": False, "error": "INTERNAL: db=10.0.0.5 user=admin"},
        **fault,
    )
    url = f"{hologram.base_url}/devices/messages/123456/AbCdEf123"  # type: ignore[attr-defined]
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "send_to_device_webhook", {"webhook_url": url, "data": "x"})
    assert err.value.translation_key == key
    for text in (str(err.value), str(err.value.__cause__)):
        assert "INTERNAL" not in text
        assert "10.0.0.5" not in text
    if key == "webhook_failed":
        assert str(fault["status"]) in str(err.value)
    # No redirect was followed.
    assert [r.path for r in hologram.requests] == [
        "/api/1/devices/messages/123456/AbCdEf123"
    ]


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("send_cloud_message", {"device_ids": [1], "port": "x", "data": "a"}, "Port"),
        ("send_cloud_message", {"device_ids": [1], "data": "a"}, "Port"),
        ("send_cloud_message", {"device_ids": [1], "port": 1, "data": ["a"]}, "Data"),
        ("send_sms", {"device_id": "abc", "message": "hi"}, "Device ID"),
        ("send_sms", {"device_id": 1}, "Message"),
        ("send_sms", {"phone_number": "12", "message": "hi"}, "Phone number"),
        ("send_sms", {"device_id": 1, "message": "hi", "expiry": "soon"}, "Expiry"),
        ("send_to_cloud", {"data": ""}, "Data"),
        ("send_to_cloud", {"data": "a", "topics": [""]}, "Topics"),
        ("publish_downlink", {"iccid": "12", "message": "a"}, "ICCID"),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": "a", "qos": 2},
            "QoS",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": "a", "via": "x"},
            "Via",
        ),
        (
            "send_to_device_webhook",
            {"webhook_url": "http://x/", "data": "a"},
            "Webhook URL",
        ),
        (
            "send_to_device_webhook",
            {"webhook_url": "https://dashboard.hologram.io/api/1/devices/messages/1/g"},
            "Data",
        ),
    ],
)
async def test_every_action_names_the_bad_field(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    action: str,
    data: dict[str, Any],
    field: str,
) -> None:
    """A bad field gives the translated message naming it by its label (as the
    action's form shows it), whichever validator runs.

    HA 2026.9+ aliases voluptuous to probatio, whose ``Invalid`` differs from
    voluptuous' (read-only ``translation_key``); the probatio leg of CI runs this with
    the alias in place (``CELLULAR_IOT_VALIDATOR=probatio scripts/test``).
    """
    before = len(hologram.requests)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, data)
    assert err.value.translation_domain == DOMAIN
    message = str(err.value)
    assert field in message, message
    assert err.value.translation_key not in message
    assert len(hologram.requests) == before


# --- input bounds (issue 14, finding 9) -------------------------------------------


async def test_40000_device_ids_are_refused_before_any_work(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The count is checked first: not one of the 40,000 ids is even parsed."""
    parsed: list[Any] = []
    real = services._positive_int

    def counting(value: Any, key: str) -> int:
        if key == "invalid_device_ids":
            parsed.append(value)
        return real(value, key)

    monkeypatch.setattr(services, "_positive_int", counting)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {"device_ids": list(range(1, 40_001)), "port": 1, "data": "x"},
        )
    assert err.value.translation_key == "too_many_items"
    assert err.value.translation_placeholders == {
        "field": "Device IDs",
        "count": "40000",
        "max": "1000",
    }
    assert "1000" in str(err.value)
    assert parsed == []
    assert hologram.requests[-1].path != "/api/1/devices/messages"


class _CountingInt(int):
    """An int that counts the comparisons made with it."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        _CountingInt.comparisons += 1
        return int(self) == other

    __hash__ = int.__hash__


def test_device_ids_deduplicated_in_linear_time() -> None:
    ids = [_CountingInt(i) for i in range(1, 991)]
    _CountingInt.comparisons = 0
    result = services._device_ids([*ids, *ids[:10]])
    # A list search per id made ~490,000 comparisons; a dict makes ~10 (the
    # duplicates), whatever the count.
    assert _CountingInt.comparisons <= 2 * 10
    assert result == list(range(1, 991))
    with pytest.raises(services.FieldInvalid) as err:
        services._device_ids(list(range(1, 1002)))
    assert err.value.field_error_key == "too_many_items"


async def test_1001_devices_are_refused(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "send_cloud_message",
            {"device": [f"d{i}" for i in range(1001)], "port": 1, "data": "x"},
        )
    assert err.value.translation_key == "too_many_items"
    assert err.value.translation_placeholders["field"] == "Device"


@pytest.mark.parametrize(
    ("topics", "key"),
    [
        (["T"] * 100_000, "too_many_items"),
        (["T"] * 101, "too_many_items"),
        (["TE\nMP"], "invalid_topics"),
        (["TEMP\x00"], "invalid_topics"),
        (["\u2028"], "invalid_topics"),
        ([" " * 5], "invalid_topics"),
        ([5], "invalid_topics"),
        (["x" * 101], "invalid_topics"),
    ],
)
async def test_send_to_cloud_topics_are_bounded(
    hass: HomeAssistant, topics: list[Any], key: str
) -> None:
    """Checked before the entry is looked up: no entry is needed to be refused."""
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "send_to_cloud", {"data": "x", "topics": topics})
    assert err.value.translation_key == key
    assert len(str(err.value)) < 400


def test_topics_are_trimmed_and_at_most_100_pass() -> None:
    assert services._topics([" TEMP\n", "KITCHEN"]) == ["TEMP", "KITCHEN"]
    assert len(services._topics(["T"] * 100)) == 100


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (valid_iccid, "8988000000000000001\n"),
        (valid_org_id, "mti1\n"),
        (
            lambda v: iccid_from_topic("ORG", v) is not None,
            "/ORG/8988000000000000001\n/pub",
        ),
        (lambda v: services._PHONE_NUMBER.fullmatch(v) is not None, "+13125551212\n"),
        (lambda v: services._E164.fullmatch(v) is not None, "+13125551212\n"),
        (
            lambda v: services._ALPHANUMERIC_SENDER.fullmatch(v) is not None,
            "FleetCo\n",
        ),
        (
            is_device_webhook_url,
            "https://dashboard.hologram.io/api/1/devices/messages/1/abc\n",
        ),
    ],
    ids=["iccid", "org-id", "iccid-in-topic", "sender", "e164", "alnum-sender", "url"],
)
def test_validators_refuse_a_trailing_newline(
    check: Callable[[str], bool], value: str
) -> None:
    """Every validation pattern is anchored at the very end (fullmatch, not "$")."""
    assert not check(value)
    assert check(value.replace("\n", ""))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"iccid": "89880000\n00000000001"}, "invalid_iccid"),
        ({"topic": "/led\nx"}, "invalid_topic"),
        ({"topic": "/led\x01"}, "invalid_topic"),
    ],
)
async def test_downlink_fields_refuse_control_characters(
    hass: HomeAssistant, data: dict[str, Any], key: str
) -> None:
    assert await __import__("homeassistant.setup").setup.async_setup_component(
        hass, DOMAIN, {}
    )
    call = {"iccid": "8988000000000000001", "message": "x"} | data
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "publish_downlink", call)
    assert err.value.translation_key == key


@pytest.mark.parametrize(
    ("action", "data", "key"),
    [
        (
            "send_cloud_message",
            {"device_ids": ["9" * 5000], "port": 1, "data": "x"},
            "invalid_device_ids",
        ),
        (
            "send_cloud_message",
            {"device_ids": [2**64], "port": 1, "data": "x"},
            "invalid_device_ids",
        ),
        (
            "send_cloud_message",
            {"device_ids": ["١٢٣"], "port": 1, "data": "x"},
            "invalid_device_ids",
        ),
        (
            "send_cloud_message",
            {"device_ids": [1], "port": -1, "data": "x"},
            "invalid_port",
        ),
        (
            "send_cloud_message",
            {"device_ids": [1], "port": 10**30, "data": "x"},
            "invalid_port",
        ),
        (
            "send_cloud_message",
            {"device_ids": [1], "port": 1, "data_base64": "QUJD" * 3_000_000},
            "too_large",
        ),
        ("send_sms", {"device_id": 2**63, "message": "x"}, "invalid_device_id"),
        (
            "send_sms",
            {"device_id": 1, "message": "x", "expiry": "9999-12-31T23:00:00-05:00"},
            "invalid_expiry",
        ),
        (
            "send_sms",
            {"device_id": 1, "message": "x", "expiry": "10000-01-01T00:00:00"},
            "invalid_expiry",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": _nested(100_000)},
            "invalid_json",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": {"v": float("nan")}},
            "invalid_json",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": [float("inf")]},
            "invalid_json",
        ),
        ("send_sms", {"device_id": 1, "message": "lone \ud800"}, "invalid_text"),
        (
            "send_cloud_message",
            {"device_ids": [1], "port": 1, "data": "\udfff"},
            "invalid_text",
        ),
        (
            "send_cloud_message",
            {"device_ids": [1], "port": 1, "data_base64": "QUJ\ud800"},
            "invalid_base64",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": "\ud800"},
            "invalid_text",
        ),
        (
            "publish_downlink",
            {"iccid": "8988000000000000001", "message": {"led": "\ud800"}},
            "invalid_text",
        ),
    ],
)
async def test_extreme_values_are_validation_errors(
    hass: HomeAssistant,
    hologram: FakeHologram,
    hologram_account: MockConfigEntry,
    action: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """Huge, negative, non-ASCII, far-future or not-UTF-8 values (a lone surrogate
    from JSON): a translated error, no crash."""
    before = len(hologram.requests)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, data)
    assert err.value.translation_key == key
    assert len(str(err.value)) < 400
    assert len(hologram.requests) == before


async def test_error_messages_quote_a_bad_value_briefly(
    hass: HomeAssistant, hologram: FakeHologram, hologram_account: MockConfigEntry
) -> None:
    """A bad 100 KB value, or 1,000 of them, is not copied into the message."""
    for data in (
        {"device_ids": ["x" * 100_000], "port": 1, "data": "x"},
        {"device_ids": ["x\n"] * 1000, "port": 1, "data": "x"},
        {"device": ["x" * 100_000], "port": 1, "data": "x"},
        {"config_entry_id": "x" * 100_000, "device_ids": [1], "port": 1, "data": "x"},
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, "send_cloud_message", data)
        assert len(str(err.value)) < 400, err.value.translation_key
        assert "\n" not in str(err.value)

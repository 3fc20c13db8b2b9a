"""Inbound webhooks through HA's real HTTP stack: each provider's delivery formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any
from unittest.mock import patch
from urllib.parse import urlencode

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.inbound import MAX_BODY_BYTES
from custom_components.cellular_iot.providers import inbound
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from .conftest import (
    emnify_entry,
    hologram_entry,
    monoz_entry,
    record_events,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import FakeMonoz

SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_ID = "a" * 64


def _with_webhook(entry: MockConfigEntry) -> MockConfigEntry:
    return with_webhook(entry, WEBHOOK_ID, SECRET)


def _record(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_MESSAGE_RECEIVED)


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def hologram_hook(hass: HomeAssistant, hologram: FakeHologram) -> MockConfigEntry:
    return await _setup(hass, _with_webhook(hologram_entry()))


@pytest.fixture
async def emnify_hook(hass: HomeAssistant, emnify: FakeEmnify) -> MockConfigEntry:
    return await _setup(hass, _with_webhook(emnify_entry(emnify.application_token)))


@pytest.fixture
async def monoz_hook(hass: HomeAssistant, monoz: FakeMonoz) -> MockConfigEntry:
    return await _setup(hass, _with_webhook(monoz_entry()))


URL = f"/api/webhook/{WEBHOOK_ID}"

# Hologram "Custom Webhook URL" route: form POST, "payload" = the message as JSON
# (example from Hologram's CSR Routes guide), "key" = the route's key.
HOLOGRAM_PAYLOAD = {
    "received": "2016-09-27T18:53:09.302915",
    "authtype": "psk",
    "tags": ["TOPIC1", "_DEVICE_12345_"],
    "device_name": "My Device",
    "errorcode": 0,
    "source": "abcd",
    "timestamp": "0",
    "data": "SGVsbG8sIHdvcmxkIQo=",
    "device_id": 12345,
}


async def test_hologram_custom_webhook_form(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    body = urlencode({"payload": json.dumps(HOLOGRAM_PAYLOAD), "key": SECRET})
    response = await client.post(
        URL, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 200
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    await hass.async_block_till_done()
    assert len(events) == 1
    data = events[0].data
    assert data["provider"] == "hologram"
    assert data["source"] == "webhook"
    assert data["config_entry_id"] == hologram_hook.entry_id
    assert data["device_id"] == "12345"
    assert data["device_name"] == "My Device"
    assert data["topics"] == ["TOPIC1"]
    assert data["data"] == "Hello, world!\n"
    assert "data_base64" not in data  # text: no base64 copy (issue 14)
    assert data["received_at"] == "2016-09-27T18:53:09.302915+00:00"
    entity_id = er.async_get(hass).async_get_entity_id(
        "event", DOMAIN, f"{hologram_hook.entry_id}_message"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["data"] == "Hello, world!\n"
    # The same delivery again (a retry): no second event.
    response = await client.post(
        URL, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert await response.json() == {"accepted": 0, "duplicates": 1}
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_hologram_advanced_builder_json(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    # The README's template: {"device_id": "<<device_id>>", "device_name":
    # "<<device_name>>", "received": "<<received>>", "data": "<<data>>"}
    body = {
        "device_id": "12345",
        "device_name": "Van tracker",
        "received": "2026-11-23T10:00:00.5+00:00",
        "data": base64.b64encode(b"\x00\xffbin").decode(),
    }
    response = await client.post(f"{URL}?secret={SECRET}", json=body)
    assert response.status == 200
    await hass.async_block_till_done()
    assert events[0].data["data"] is None
    assert base64.b64decode(events[0].data["data_base64"]) == b"\x00\xffbin"
    assert events[0].data["received_at"] == "2026-11-23T10:00:00.500000+00:00"
    # A template with <<decdata>> instead of <<data>>, sent as text/plain.
    response = await client.post(
        f"{URL}?secret={SECRET}",
        data=json.dumps({"device_id": 7, "decdata": "21.5C"}),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert events[1].data["data"] == "21.5C"
    assert events[1].data["device_id"] == "7"


async def test_hologram_stored_record_uses_record_id(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    inner = {
        "authtype": "deviceid",
        "source": 1827718,
        "tags": ["_DATALIMIT_", "_DEVICE_1827718_"],
        "data": base64.b64encode(b'{"t":1}').decode(),
        "received": "2022-11-03T00:09:23+00:00",
        "record_id": "c5e2e5a8-5b0b-11ed-90a8-0242ac110003",
        "device_id": 1827718,
        "device_name": "Unnamed Device (21680)",
    }
    record = {
        "id": 77430390,
        "deviceid": 1827718,
        "record_id": "c5e2e5a8-5b0b-11ed-90a8-0242ac110003",
        "data": json.dumps(inner),
        "tags": ["_DEVICE_1827718_", "_DATALIMIT_"],
    }
    for _ in range(2):
        response = await client.post(
            URL, json=record, headers={"X-Webhook-Secret": SECRET}
        )
        assert response.status == 200
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data["message_id"] == "c5e2e5a8-5b0b-11ed-90a8-0242ac110003"
    assert events[0].data["topics"] == []
    assert events[0].data["data"] == '{"t":1}'


def _jwt(secret: str, claims: dict[str, Any], alg: str = "HS256") -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    signing_input = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}"
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


# emnify SMS callback (MO SMS), from emnify's SMS callback documentation.
EMNIFY_SMS = {
    "id": 123,
    "endpoint": {"id": 1, "name": "Your Endpoint"},
    "organisation": {"id": 4, "name": "Your Organisation Name"},
    "source_address": 432311234,
    "dest_address": 12345678,
    "payload": "This is the message text",
    "dcs": 0,
    "pid": 0,
    "submit_date": "2019-10-09T11:19:37.000Z",
}
# emnify Data Streamer event, from emnify's event types documentation.
EMNIFY_EVENT = {
    "timestamp": "2021-10-27T11:59:29.000Z",
    "alert": True,
    "description": "Disconnecting data access for endpoint to apply throttling action.",
    "id": 543839962673704,
    "event_type": {"id": 0, "description": "Generic"},
    "event_source": {"id": 1, "description": "Policy Control"},
    "event_severity": {"id": 1, "description": "Warn"},
    "organisation": {"id": 891418, "name": "Sample Corp"},
    "endpoint": {"id": 55214676, "imei": "908525440918796", "name": "Test Sim 2"},
    "sim": {"iccid": "7772229804214642989", "id": 7053671},
    "imsi": {"id": 51595711, "imsi": "37807012732326"},
}


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_emnify_sms_callback_with_signed_jwt(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
    alg: str,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    token = _jwt(SECRET, {"iat": 1_700_000_000}, alg)
    response = await client.post(
        URL, json=EMNIFY_SMS, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200
    await hass.async_block_till_done()
    data = events[0].data
    assert data["provider"] == "emnify"
    assert data["device_id"] == "1"
    assert data["data"] == "This is the message text"
    assert data["kind"] == "sms"
    assert data["sender"] == "432311234"
    assert data["received_at"] == "2019-10-09T11:19:37+00:00"
    assert data["message_id"] == "sms-123"


@pytest.mark.parametrize(
    "token",
    [
        _jwt("another-secret", {}),
        _jwt(SECRET, {"exp": 1_000_000_000}),
        "not.a.jwt",
        _jwt(SECRET, {}).rsplit(".", 1)[0] + ".AAAA",
    ],
)
async def test_emnify_bad_jwt_is_refused(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
    token: str,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    response = await client.post(
        URL, json=EMNIFY_SMS, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 401
    await hass.async_block_till_done()
    assert events == []


async def test_emnify_data_streamer_batch(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    second = {**EMNIFY_EVENT, "id": 543839962673705, "alert": False}
    usage_record = {"id": 9, "traffic_type": {"id": 5}, "volume": {"total": 0.5}}
    batch = [EMNIFY_EVENT, second, usage_record]
    response = await client.post(URL, json=batch, headers={"Authorization": SECRET})
    assert await response.json() == {"accepted": 2, "duplicates": 0}
    response = await client.post(URL, json=batch, headers={"Authorization": SECRET})
    assert await response.json() == {"accepted": 0, "duplicates": 2}
    await hass.async_block_till_done()
    assert [e.data["message_id"] for e in events] == [
        "event-543839962673704",
        "event-543839962673705",
    ]
    first = events[0].data
    assert first["kind"] == "event"
    assert first["event_type"] == "Generic"
    assert first["alert"] is True
    assert first["iccid"] == "7772229804214642989"
    assert first["device_id"] == "55214676"
    assert first["data"].startswith("Disconnecting data access")


async def test_monoz_webhook_single_and_batch(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers = {"Authorization": f"Bearer {SECRET}"}
    # monoZ's documented example: the ICCID as a JSON number.
    single = '{"ICCID": 897612653856781234, "Timestamp": "2023-10-16T09:17:32.1233516Z", "Payload": "ABC"}'
    response = await client.post(
        URL,
        data=single,
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 200
    batch = [
        {
            "ICCID": "8981100005819480000",
            "Timestamp": "2023-10-16T09:17:32.1Z",
            "Payload": "1",
        },
        {
            "Topic": "/mti/8981100005819480001/pub/t",
            "Timestamp": "2023-10-16T09:17:32.8Z",
            "Payload": {"t": 2},
        },
    ]
    response = await client.post(URL, json=batch, headers=headers)
    assert await response.json() == {"accepted": 2, "duplicates": 0}
    await hass.async_block_till_done()
    assert [(e.data["iccid"], e.data["data"]) for e in events] == [
        ("897612653856781234", "ABC"),
        ("8981100005819480000", "1"),
        ("8981100005819480001", '{"t":2}'),
    ]
    assert events[0].data["received_at"] == "2023-10-16T09:17:32.123351+00:00"
    assert events[2].data["topics"] == ["/mti/8981100005819480001/pub/t"]


@pytest.mark.parametrize(
    "headers_or_query",
    [
        {"query": f"?secret={SECRET}"},
        {"X-Webhook-Secret": SECRET},
        {"X-API-Key": SECRET},
        {"Authorization": f"Bearer {SECRET}"},
        {"Authentication": f"Bearer {SECRET}"},
        {
            "Authorization": "Basic "
            + base64.b64encode(f"monoz:{SECRET}".encode()).decode()
        },
        {"Authorization": SECRET},
    ],
)
async def test_secret_accepted_in_every_documented_place(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    headers_or_query: dict[str, str],
) -> None:
    client = await hass_client_no_auth()
    query = headers_or_query.pop("query", "")
    response = await client.post(
        URL + query,
        json={"ICCID": "8981100005819480000", "Payload": "x"},
        headers=headers_or_query,
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "headers_or_query",
    [
        {},
        {"query": "?secret=wrong"},
        {"query": "?secret="},
        {"X-Webhook-Secret": SECRET[:-1]},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic !!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode()},
    ],
)
async def test_missing_or_wrong_secret_is_401_and_no_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    headers_or_query: dict[str, str],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    query = headers_or_query.pop("query", "")
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            URL + query,
            json={"ICCID": "8981100005819480000", "Payload": "x"},
            headers=headers_or_query,
        )
    assert response.status == 401
    assert await response.json() == {"error": "missing or wrong secret"}
    await hass.async_block_till_done()
    assert events == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert SECRET not in caplog.text


MALFORMED: list[tuple[str, bytes, str, int]] = [
    ("empty", b"", "application/json", 400),
    ("blank", b"   ", "application/json", 400),
    ("not json", b"{nope", "application/json", 400),
    ("not utf-8", b'{"a": "\xff"}', "application/json", 400),
    ("wrong type", b"<xml/>", "application/xml", 415),
    ("no type", b"{}", "", 400),  # aiohttp sends application/octet-stream
    ("number", b"42", "application/json", 400),
    ("list of numbers", b"[1, 2]", "application/json", 400),
    ("empty list", b"[]", "application/json", 400),
    ("no iccid", b'{"Payload": "x"}', "application/json", 400),
    ("no payload", b'{"ICCID": "8981100005819480000"}', "application/json", 400),
    ("iccid object", b'{"ICCID": {}, "Payload": "x"}', "application/json", 400),
    ("iccid bool", b'{"ICCID": true, "Payload": "x"}', "application/json", 400),
    (
        "iccid long",
        b'{"ICCID": "' + b"1" * 300 + b'", "Payload": "x"}',
        "application/json",
        400,
    ),
    (
        "too many",
        json.dumps([{"ICCID": "1", "Payload": "x"}] * 101).encode(),
        "application/json",
        400,
    ),
    ("huge", b'{"Payload": "' + b"x" * MAX_BODY_BYTES + b'"}', "application/json", 413),
    ("form", b"a=1&b=2", "application/x-www-form-urlencoded", 400),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
async def test_malformed_deliveries_get_4xx_and_no_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers = {"Authorization": f"Bearer {SECRET}"}
    if content_type:
        headers["Content-Type"] = content_type
    with caplog.at_level(logging.DEBUG):
        response = await client.post(URL, data=body, headers=headers)
    assert response.status == status
    reason = (await response.json())["error"]
    assert 0 < len(reason) < 80
    await hass.async_block_till_done()
    assert events == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "rejected a request" in caplog.text


HOLOGRAM_MALFORMED = [
    {"device_id": 1},
    {"device_id": 1, "data": "***"},
    {"device_id": 1, "data": 5},
    {"payload": "{bad json"},
]


@pytest.mark.parametrize("body", HOLOGRAM_MALFORMED)
async def test_hologram_malformed(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,
    body: dict[str, Any],
) -> None:
    client = await hass_client_no_auth()
    response = await client.post(f"{URL}?secret={SECRET}", json=body)
    assert response.status == 400


async def test_emnify_malformed(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
) -> None:
    client = await hass_client_no_auth()
    response = await client.post(
        f"{URL}?secret={SECRET}", json={**EMNIFY_SMS, "payload": 12}
    )
    assert response.status == 400


async def test_unexpected_error_is_a_500_not_an_exception(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    client = await hass_client_no_auth()
    with patch.dict(inbound.PARSERS, {}):
        runtime = monoz_hook.runtime_data
        assert runtime.webhook is not None  # type: ignore[attr-defined]
        with patch.object(
            runtime.webhook,  # type: ignore[attr-defined]
            "_parser",
            side_effect=RuntimeError("bug"),
        ):
            response = await client.post(
                f"{URL}?secret={SECRET}", json={"ICCID": "1", "Payload": "x"}
            )
    assert response.status == 500


async def test_unload_removes_the_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    assert await hass.config_entries.async_unload(monoz_hook.entry_id)
    client = await hass_client_no_auth()
    await client.post(f"{URL}?secret={SECRET}", json={"ICCID": "1", "Payload": "x"})
    await hass.async_block_till_done()
    assert events == []


async def test_options_show_url_and_rotate_secret(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    result = await hass.config_entries.options.async_init(monoz_hook.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert URL in result["description_placeholders"]["webhook_url"]
    assert SECRET not in str(result["description_placeholders"])
    # Without rotating, nothing changes.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rotate_secret": False, "outbox_max_age": 48}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert monoz_hook.options["webhook_secret"] == SECRET
    assert monoz_hook.options["outbox_max_age"] == 48

    result = await hass.config_entries.options.async_init(monoz_hook.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rotate_secret": True, "outbox_max_age": 12}
    )
    assert result["step_id"] == "new_secret"
    new_secret = result["description_placeholders"]["secret"]
    assert new_secret != SECRET
    assert (
        f"?secret={new_secret}" in result["description_placeholders"]["url_with_secret"]
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert monoz_hook.options["webhook_secret"] == new_secret
    assert monoz_hook.options["outbox_max_age"] == 12
    assert monoz_hook.state is ConfigEntryState.LOADED

    client = await hass_client_no_auth()
    body = {"ICCID": "8981100005819480000", "Payload": "x"}
    assert (await client.post(f"{URL}?secret={SECRET}", json=body)).status == 401
    assert (await client.post(f"{URL}?secret={new_secret}", json=body)).status == 200


async def test_listener_entries_have_listener_options(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"kind": "on_device", "protocol": "TCP", "port": 4010, "host": ""},
    )
    entry.add_to_hass(hass)
    assert entry.supports_options  # who may send (issue 14), no webhook


async def test_old_entries_get_a_webhook_by_migration(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    entry = monoz_entry()  # version 1.1, as created before webhooks existed
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.minor_version == 2
    assert len(entry.data["webhook_id"]) == 64
    assert len(entry.options["webhook_secret"]) >= 32
    assert entry.runtime_data.webhook is not None  # type: ignore[attr-defined]


async def test_newer_version_is_not_migrated(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={"kind": "monoz"}, version=2)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_diagnostics_show_webhook_counters_not_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client_no_auth()
    await client.post(f"{URL}?secret={SECRET}", json={"ICCID": "1", "Payload": "x"})
    await client.post(f"{URL}?secret=nope", json={"ICCID": "1", "Payload": "x"})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, monoz_hook)
    text = json.dumps(diagnostics)
    assert SECRET not in text
    assert WEBHOOK_ID not in text
    assert diagnostics["runtime"]["webhook"] == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 1,
        "last_rejection": "missing or wrong secret",
    }

"""Inbound webhooks through HA's real HTTP stack: each provider's delivery formats."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
import contextlib
import dataclasses
from datetime import timedelta
import gzip
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from unittest.mock import patch
from urllib.parse import urlencode
import zlib

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.inbound_webhook import BODY_TIMEOUT, MAX_BODY_BYTES
from custom_components.cellular_iot.providers import deliveries as inbound
from custom_components.cellular_iot.providers.onence_deliveries import (
    ONENCE_MAX_BODY_BYTES,
)
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest

from .conftest import (
    ONENCE_PUMP,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_entry,
    onence_sims,
    record_events,
    setup_entry,
    with_webhook,
)
from .fakes.emnify import FakeEmnify
from .fakes.hologram import FakeHologram
from .fakes.monoz import FakeMonoz
from .fakes.onence import FakeOneNce

SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_ID = "a" * 64


def _with_webhook(entry: MockConfigEntry) -> MockConfigEntry:
    return with_webhook(entry, WEBHOOK_ID, SECRET)


def _record(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_MESSAGE_RECEIVED)


@pytest.fixture
async def hologram_hook(hass: HomeAssistant, hologram: FakeHologram) -> MockConfigEntry:
    return await setup_entry(hass, _with_webhook(hologram_entry()))


@pytest.fixture
async def emnify_hook(hass: HomeAssistant, emnify: FakeEmnify) -> MockConfigEntry:
    return await setup_entry(
        hass, _with_webhook(emnify_entry(emnify.application_token))
    )


@pytest.fixture
async def monoz_hook(hass: HomeAssistant, monoz: FakeMonoz) -> MockConfigEntry:
    return await setup_entry(hass, _with_webhook(monoz_entry()))


# A 1NCE SMS Forwarder delivery (an MO SMS, as 1NCE's SMS Forwarder docs show it).
ONENCE_SMS = {
    "id": 4711,
    "payload": "x",
    "submit_date": "2026-11-23 10:00:00",
    "dest_address": "1234",
    "source_address": "882285100001001",
    "dcs": 0,
    "pid": 0,
    "endpoint": {"id": 1, "name": ONENCE_PUMP},
    "organisation": {"id": 1},
}


@dataclasses.dataclass
class JsonHook:
    """An account whose provider posts JSON: what it posts, how much it may post."""

    kind: str
    entry: MockConfigEntry
    body: bytes
    max_body: int


@pytest.fixture(params=["monoz", "1nce"])
async def json_hook(
    request: pytest.FixtureRequest,
    hass: HomeAssistant,
    monoz: FakeMonoz,
    onence: FakeOneNce,
) -> JsonHook:
    """The webhook of a monoZ account, then of a 1NCE account (the same limits)."""
    if request.param == "monoz":
        entry = await setup_entry(hass, _with_webhook(monoz_entry()))
        return JsonHook("monoz", entry, MONOZ_BODY, MAX_BODY_BYTES)
    onence_sims(onence)
    entry = await setup_entry(hass, _with_webhook(onence_entry()))
    return JsonHook("1nce", entry, ONENCE_BODY, ONENCE_MAX_BODY_BYTES)


URL = f"/api/webhook/{WEBHOOK_ID}"
FORM_TYPE = "application/x-www-form-urlencoded"

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
    # Every topic as Hologram sent it (issue 24 row 4: system topics were dropped).
    assert data["topics"] == ["TOPIC1", "_DEVICE_12345_"]
    assert data["kind"] == "message"
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
    # docs/webhooks.md's template: {"device_id": "<<device_id>>", "device_name":
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
    # A template with <<decdata>> instead of <<data>>, without "Send JSON Content
    # Type": Hologram then sends no Content-Type at all.
    response = await client.post(
        f"{URL}?secret={SECRET}",
        data=json.dumps({"device_id": 7, "decdata": "21.5C"}).encode(),
        skip_auto_headers=["Content-Type"],
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
    # A data-limit notice: Hologram's, not the device's data (issue 24 row 4).
    assert events[0].data["topics"] == ["_DATALIMIT_", "_DEVICE_1827718_"]
    assert events[0].data["kind"] == "system"
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
    now = int(time.time())
    token = _jwt(SECRET, {"iat": now, "exp": now + 300}, alg)
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
        _jwt("another-secret", {"exp": 4_000_000_000}),
        _jwt(SECRET, {"exp": 1_000_000_000}),
        "not.a.jwt",
        _jwt(SECRET, {"exp": 4_000_000_000}).rsplit(".", 1)[0] + ".AAAA",
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
    # The levels around <org>/<iccid>, and the whole topic, as an MQTT uplink has them.
    assert events[2].data["topics"] == ["pub", "t"]
    assert events[2].data["topic"] == "/mti/8981100005819480001/pub/t"
    assert "topic" not in events[0].data


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
    json_hook: JsonHook,
    headers_or_query: dict[str, str],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers_or_query = dict(headers_or_query)  # (shared by the parametrized runs)
    query = headers_or_query.pop("query", "")
    response = await client.post(
        URL + query,
        data=json_hook.body,
        headers={**headers_or_query, "Content-Type": "application/json"},
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert [event.data["provider"] for event in events] == [json_hook.kind]


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
    json_hook: JsonHook,
    caplog: pytest.LogCaptureFixture,
    headers_or_query: dict[str, str],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers_or_query = dict(headers_or_query)  # (shared by the parametrized runs)
    query = headers_or_query.pop("query", "")
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            URL + query,
            data=json_hook.body,
            headers={**headers_or_query, "Content-Type": "application/json"},
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
    ("no type", b"{}", "", 415),  # aiohttp sends application/octet-stream
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
    ("form", b"a=1&b=2", "application/x-www-form-urlencoded", 415),
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


@pytest.fixture
async def onence_hook(hass: HomeAssistant, onence: FakeOneNce) -> MockConfigEntry:
    onence_sims(onence)
    return await setup_entry(hass, _with_webhook(onence_entry()))


async def test_onence_refuses_what_1nce_does_not_send(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers = {"X-Webhook-Secret": SECRET}
    for body in (
        {"foo": "bar"},
        {**ONENCE_SMS, "payload": 12},
        {**ONENCE_SMS, "endpoint": {"id": 1}},
        [{"foo": "bar"}],
        42,
    ):
        response = await client.post(URL, json=body, headers=headers)
        assert response.status == 400, body
    # A form, even one shaped like an SMS: 1NCE posts JSON only.
    response = await client.post(
        URL, data={"payload": "open the gate", "iccid": ONENCE_PUMP}, headers=headers
    )
    assert response.status == 415
    await hass.async_block_till_done()
    assert events == []


async def test_onence_a_delivery_posted_again_fires_once(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    onence_hook: MockConfigEntry,
) -> None:
    """1NCE retries a delivery it got no answer for: the same SMS id, one event."""
    events = _record(hass)
    client = await hass_client_no_auth()
    answers = []
    for _ in range(2):
        response = await client.post(f"{URL}?secret={SECRET}", json=ONENCE_SMS)
        assert response.status == 200
        answers.append((await response.json())["accepted"])
    response = await client.post(
        f"{URL}?secret={SECRET}", json={**ONENCE_SMS, "id": 4712, "payload": "y"}
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert answers == [1, 0]
    assert [event.data["data"] for event in events] == ["x", "y"]


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
    assert (
        entry.minor_version == 4
    )  # 1.2 the webhook; 1.3 the broker filters; 1.4 no SIM interval
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


# --- the body as a real network delivers it ---------------------------------------------
# A raw client on 127.0.0.1 talks to HA's HTTP server: it writes the head and then the
# body in pieces. A probe around the registered handler tells when the handler has
# started (and so is reading), so that the rest is sent only then.

# Hang guards only, longer than the clock moves in test_slow_sender_gets_408.
HANG_GUARD = 3 * BODY_TIMEOUT
MONOZ_BODY = json.dumps(
    {
        "ICCID": "8981100005819480000",
        "Timestamp": "2026-11-23T10:00:00Z",
        "Payload": "x",
    }
).encode()
ONENCE_BODY = json.dumps(ONENCE_SMS).encode()


class Probe:
    """Calls of the registered webhook handler: one item as each starts and ends."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[None] = asyncio.Queue()
        self.finished: asyncio.Queue[int] = asyncio.Queue()


@pytest.fixture
def probe(hass: HomeAssistant) -> Probe:
    """Wrap the registered webhook handler in a :class:`Probe`."""
    calls = Probe()
    handlers = hass.data[webhook.DOMAIN]
    registration = handlers[WEBHOOK_ID]
    # A dict up to HA 2026.10, a dataclass (WebhookData) in 2026.11.
    original = (
        registration["handler"]
        if isinstance(registration, dict)
        else registration.handler
    )

    async def wrapper(hass: HomeAssistant, webhook_id: str, request: Any) -> Any:
        calls.started.put_nowait(None)
        # Runs the handler up to its first wait (the body) before the test resumes.
        response = await original(hass, webhook_id, request)
        calls.finished.put_nowait(response.status)
        return response

    if isinstance(registration, dict):
        registration["handler"] = wrapper
    else:
        handlers[WEBHOOK_ID] = dataclasses.replace(registration, handler=wrapper)
    return calls


@pytest.fixture
def handler_started(probe: Probe) -> asyncio.Queue[None]:
    """One item per call of the webhook handler, put as it starts."""
    return probe.started


def _head(*headers: bytes, length: int | None = None) -> bytes:
    lines = [
        b"POST " + URL.encode() + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
        *headers,
    ]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def _pace() -> None:
    """Let the server run a few loop turns (pacing only: nothing depends on it)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def _exchange(
    client: Any,
    first: bytes,
    rest: Sequence[bytes] = (),
    started: asyncio.Queue[None] | None = None,
    before_rest: Callable[[], None] | None = None,
) -> tuple[int, Any]:
    """Send ``first``, wait for the handler to start, send ``rest`` piece by piece."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(first)
        await writer.drain()
        async with asyncio.timeout(HANG_GUARD):
            if started is not None:
                await started.get()
            if before_rest is not None:
                before_rest()
            with contextlib.suppress(ConnectionError):
                for piece in rest:
                    await _pace()
                    writer.write(piece)
                    await writer.drain()
            return await _response(reader)
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, Any]:
    """Read one response (its declared length: the server may linger after it)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.partition(":")[2])
        for line in lines
        if line.lower().startswith("content-length:")
    )
    body = await reader.readexactly(length)
    status = int(lines[0].split(" ", 2)[1])
    return status, json.loads(body) if body.startswith((b"{", b"[")) else body


def _split(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[start : start + size])
        start += size
    return [*pieces, data[start:]] if start < len(data) else pieces


@pytest.mark.parametrize(
    "sizes",
    [[10], [1, 1, 1, 1], [len(MONOZ_BODY) - 1], [0]],
    ids=["two pieces", "byte by byte start", "last byte late", "head alone"],
)
async def test_body_in_pieces_is_read_to_its_end(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    handler_started: asyncio.Queue[None],
    sizes: list[int],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    first, *rest = _split(MONOZ_BODY, sizes)
    head = _head(
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        length=len(MONOZ_BODY),
    )
    status, answer = await _exchange(client, head + first, rest, handler_started)
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["x"]


async def test_chunked_body_is_read_to_its_end(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    handler_started: asyncio.Queue[None],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json",
        b"Authorization: Bearer " + SECRET.encode(),
        b"Transfer-Encoding: chunked",
    )
    body = _chunked(MONOZ_BODY[:7], MONOZ_BODY[7:30], MONOZ_BODY[30:])
    # The chunk framing itself is cut too: a size line, a chunk, its CRLF apart.
    status, answer = await _exchange(
        client, head + body[:5], _split(body[5:], [3, 9, 2, 20]), handler_started
    )
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_oversize_chunked_body_is_413(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    handler_started: asyncio.Queue[None],
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        b"Transfer-Encoding: chunked",
    )
    piece = b" " * (32 * 1024)
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_BODY_BYTES // len(piece))
    rest = [*chunks, _chunked(b" ", b"[]")]  # one byte more than the cap, then JSON
    status, answer = await _exchange(client, head, rest, handler_started)
    assert (status, answer) == (413, {"error": "body too large"})
    await hass.async_block_till_done()
    assert events == []


async def test_declared_oversize_is_413_before_the_body(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    json_hook: JsonHook,
) -> None:
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        length=json_hook.max_body + 1,
    )
    # Nothing of the body is sent: the answer comes from the declared length.
    status, answer = await _exchange(client, head)
    assert (status, answer) == (413, {"error": "body too large"})


async def test_slow_sender_gets_408(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    handler_started: asyncio.Queue[None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A body that stops half way is given up after BODY_TIMEOUT (clock moved)."""
    events = _record(hass)
    client = await hass_client_no_auth()
    head = _head(
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        length=len(MONOZ_BODY),
    )

    def time_passes() -> None:
        async_fire_time_changed(
            hass, dt_util.utcnow() + timedelta(seconds=BODY_TIMEOUT + 1)
        )

    with caplog.at_level(logging.DEBUG):
        status, answer = await _exchange(
            client, head + MONOZ_BODY[:10], [], handler_started, time_passes
        )
    assert (status, answer) == (408, {"error": "body not received in time"})
    await hass.async_block_till_done()
    assert events == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_expect_100_continue(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    client = await hass_client_no_auth()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(
            _head(
                b"Content-Type: application/json",
                b"X-Webhook-Secret: " + SECRET.encode(),
                b"Expect: 100-continue",
                length=len(MONOZ_BODY),
            )
        )
        async with asyncio.timeout(HANG_GUARD):
            assert (
                await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            )
            writer.write(MONOZ_BODY)
            answer = await _response(reader)
    finally:
        writer.close()
    assert answer == (200, {"accepted": 1, "duplicates": 0})


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_body_is_decoded_and_capped(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    coding: str,
) -> None:
    """aiohttp decodes a Content-Encoding; the 256 KB cap holds for the decoded body."""
    events = _record(hass)
    client = await hass_client_no_auth()
    compress = gzip.compress if coding == "gzip" else zlib.compress
    headers = (
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        b"Content-Encoding: " + coding.encode(),
    )
    packed = compress(MONOZ_BODY)
    status, answer = await _exchange(
        client, _head(*headers, length=len(packed)) + packed
    )
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    # 2 KB on the wire, 1 MB decoded: over the cap.
    bomb = compress(b"[" + b" " * (1024 * 1024) + b"]")
    status, answer = await _exchange(client, _head(*headers, length=len(bomb)) + bomb)
    assert (status, answer) == (413, {"error": "body too large"})
    # 40 KB on the wire, 40 MB decoded: over aiohttp's own limit (32 MB) where it has
    # one (aiohttp 3.13), over ours where it has none.
    bomb = compress(b"[" + b" " * (40 * 1024 * 1024) + b"]")
    status, answer = await _exchange(client, _head(*headers, length=len(bomb)) + bomb)
    assert (status, answer) == (413, {"error": "body too large"})
    # Not what it says it is.
    status, answer = await _exchange(
        client, _head(*headers, length=len(MONOZ_BODY)) + MONOZ_BODY
    )
    assert (status, answer) == (400, {"error": "body could not be read"})
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_concurrent_deliveries_of_one_message_fire_once(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    json_hook: JsonHook,
    handler_started: asyncio.Queue[None],
) -> None:
    """Retries that overlap (both bodies half read at once) give one event."""
    events = _record(hass)
    client = await hass_client_no_auth()
    body = json_hook.body
    head = _head(
        b"Content-Type: application/json",
        b"X-Webhook-Secret: " + SECRET.encode(),
        length=len(body),
    )
    connections = [
        await asyncio.open_connection(client.host, client.port) for _ in range(2)
    ]
    try:
        for _, writer in connections:
            writer.write(head + body[:10])
            await writer.drain()
        async with asyncio.timeout(HANG_GUARD):
            for _ in connections:  # both handlers are waiting for their body
                await handler_started.get()
            for _, writer in connections:
                writer.write(body[10:])
                await writer.drain()
            first, second = [await _response(reader) for reader, _ in connections]
    finally:
        for _, writer in connections:
            writer.close()
    assert first[0] == second[0] == 200
    assert sorted([first[1]["accepted"], second[1]["accepted"]]) == [0, 1]
    await hass.async_block_till_done()
    assert len(events) == 1


# --- Home Assistant Cloud relays --------------------------------------------------------
# The cloud component hands a relayed delivery to the webhook as HA's MockRequest: the
# body as text, the original headers and query, no content_length, no remote.


def _relayed(
    body: str, headers: dict[str, str], query: str = "", method: str = "POST"
) -> MockRequest:
    return MockRequest(
        content=body.encode("utf-8"),
        headers=headers,
        method=method,
        query_string=query,
        mock_source="cloud",
    )


async def test_cloud_relayed_json_delivery(
    hass: HomeAssistant, monoz_hook: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    events = _record(hass)
    request = _relayed(
        MONOZ_BODY.decode(),
        # The relay passes the original headers: the length is the original's.
        {
            "content-type": "application/json",
            "authorization": f"Bearer {SECRET}",
            "content-length": "9999",
        },
    )
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 200
    assert json.loads(response.body) == {"accepted": 1, "duplicates": 0}
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["x"]
    # Refusals work the same, and name the relay in the debug line.
    with caplog.at_level(logging.DEBUG):
        request = _relayed(MONOZ_BODY.decode(), {"content-type": "application/json"})
        response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 401
    assert "rejected a request from cloud (401)" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_cloud_relayed_hologram_form_and_query_secret(
    hass: HomeAssistant, hologram_hook: MockConfigEntry
) -> None:
    events = _record(hass)
    form = urlencode({"payload": json.dumps(HOLOGRAM_PAYLOAD), "key": SECRET})
    request = _relayed(form, {"Content-Type": "application/x-www-form-urlencoded"})
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 200
    body = json.dumps({"device_id": 7, "decdata": "21.5C"})
    request = _relayed(body, {"Content-Type": "application/json"}, f"secret={SECRET}")
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 200
    await hass.async_block_till_done()
    assert [e.data["data"] for e in events] == ["Hello, world!\n", "21.5C"]


async def test_cloud_relayed_oversize_is_413(
    hass: HomeAssistant, monoz_hook: MockConfigEntry
) -> None:
    request = _relayed(
        '{"Payload": "' + "x" * MAX_BODY_BYTES + '"}',
        {"Content-Type": "application/json", "X-API-Key": SECRET},
    )
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 413


# --- headers that are not UTF-8, or not sane ----------------------------------------------

BAD_VALUES = [b"\xff\xfe", b"s\xe9cret", b"Bearer \xff", b"Basic \xff", b"Bearer \xc3("]


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize(
    "name", ["X-Webhook-Secret", "X-API-Key", "Authorization", "Authentication"]
)
async def test_non_utf8_secret_headers_are_401(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    name: str,
    value: bytes,
) -> None:
    """Raw bytes on the wire (latin-1, broken UTF-8) are a wrong secret, not a crash.

    ``Authorization: Bearer <not UTF-8>`` is refused by HA's own auth middleware
    before any webhook runs (a 500 of Home Assistant's, not ours): that case goes
    through the handler directly below.
    """
    events = _record(hass)
    if name == "Authorization" and value.startswith(b"Bearer "):
        # The header as aiohttp decodes it (UTF-8, surrogateescape), to the webhook.
        request = _relayed(
            MONOZ_BODY.decode(),
            {
                "Content-Type": "application/json",
                name: value.decode("utf-8", "surrogateescape"),
            },
        )
        response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
        status, answer = response.status, json.loads(response.body)
    else:
        client = await hass_client_no_auth()
        head = _head(
            b"Content-Type: application/json",
            name.encode() + b": " + value,
            length=len(MONOZ_BODY),
        )
        with caplog.at_level(logging.DEBUG):
            status, answer = await _exchange(client, head + MONOZ_BODY)
    assert (status, answer) == (401, {"error": "missing or wrong secret"})
    await hass.async_block_till_done()
    assert events == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Webhook-Secret": "\ud800" + SECRET},
        {"X-API-Key": "\udcff"},
        {"Authorization": "Bearer \ud800.\ud800.\ud800"},
        {"Authorization": "Basic \ud800"},
        {"Authentication": "\ud83d"},
        {"X-Webhook-Secret": "x" * 1_000_000},
        {"Authorization": "Bearer " + "a" * 1_000_000},
    ],
    ids=[
        "lone high",
        "lone low",
        "jwt surrogates",
        "basic",
        "auth",
        "1 MB",
        "1 MB jwt",
    ],
)
async def test_relayed_odd_header_values_are_401(
    hass: HomeAssistant, monoz_hook: MockConfigEntry, headers: dict[str, str]
) -> None:
    """Cloud relays carry any text (lone surrogates, no size limit): 401, no error."""
    request = _relayed(
        MONOZ_BODY.decode(), {"Content-Type": "application/json", **headers}
    )
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 401


async def test_repeated_headers(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    """Each value of a repeated secret header counts; two Content-Types are refused."""
    client = await hass_client_no_auth()
    secret = b"X-Webhook-Secret: " + SECRET.encode()
    status, _ = await _exchange(
        client,
        _head(
            b"Content-Type: application/json",
            b"X-Webhook-Secret: wrong",
            secret,
            length=len(MONOZ_BODY),
        )
        + MONOZ_BODY,
    )
    assert status == 200
    status, answer = await _exchange(
        client,
        _head(
            b"Content-Type: application/json",
            b"Content-Type: application/x-www-form-urlencoded",
            secret,
            length=len(MONOZ_BODY),
        )
        + MONOZ_BODY,
    )
    # HA 2026.11's aiohttp refuses a repeated Content-Type itself, before the handler.
    assert (status, answer) in (
        (415, {"error": "one Content-Type"}),
        (400, b"Duplicate 'Content-Type' header found."),
    ), (status, answer)


# --- JWT strictness -----------------------------------------------------------------------


def _sign(signing_input: str, secret: str = SECRET) -> str:
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(signature.digest()).decode().rstrip("=")


def _part(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _signed(claims: Any, header: Any = None) -> str:
    signing_input = f"{_part(header or {'alg': 'HS256', 'typ': 'JWT'})}.{_part(claims)}"
    return f"{signing_input}.{_sign(signing_input)}"


FUTURE = 4_000_000_000
GOOD = _signed({"exp": FUTURE})
_HEAD, _CLAIMS, _SIG = GOOD.split(".")


def _flip_last_bits(part: str) -> str:
    """The same bytes, written with stray bits in the last base64url character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(part[-1])
    unused = {2: 0b1111, 3: 0b11}[len(part) % 4]
    return part[:-1] + alphabet[index | unused] if index & unused == 0 else part


@pytest.mark.parametrize(
    "token",
    [
        _signed({"iat": 1_700_000_000}),
        _signed({"iat": FUTURE}),
        _signed({"exp": str(FUTURE)}),
        _signed({"exp": True}),
        _signed({"exp": None}),
        _signed({"exp": [FUTURE]}),
        _signed({"exp": float("inf")}),
        _signed({"exp": FUTURE, "nbf": "soon"}),
        _signed({"exp": FUTURE, "nbf": FUTURE}),
        f"{_HEAD}.{_CLAIMS}.{_SIG}!!",
        f"{_HEAD}.{_CLAIMS}.{_SIG[:10]}*{_SIG[10:]}",
        f"{_HEAD}.{_CLAIMS}.{_SIG}==",
        f"{_HEAD}.{_CLAIMS}.{_SIG[:20]}+/{_SIG[22:]}",
        f"{_HEAD}.{_CLAIMS}.{_flip_last_bits(_SIG)}",
        _signed({"exp": FUTURE}, {"alg": "none"}),
        _signed({"exp": FUTURE}, {"alg": "HS256", "crit": ["x"]}),
        _signed([FUTURE]),
    ],
    ids=[
        "no exp, issued long ago",
        "no exp, issued in the future",
        "exp text",
        "exp bool",
        "exp null",
        "exp list",
        "exp infinite",
        "nbf text",
        "nbf future",
        "junk after signature",
        "junk inside signature",
        "padding",
        "standard alphabet",
        "stray bits",
        "alg none",
        "crit",
        "claims not an object",
    ],
)
async def test_jwt_time_claims_and_strict_base64url(
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
    # The same token with a good signature part and a due exp is taken.
    response = await client.post(
        URL, json=EMNIFY_SMS, headers={"Authorization": f"Bearer {GOOD}"}
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_jwt_expiry_has_a_leeway_for_clock_differences(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
    freezer: Any,
) -> None:
    freezer.move_to("2026-11-23T10:00:00+00:00")
    now = int(dt_util.utcnow().timestamp())
    client = await hass_client_no_auth()
    for claims, status in (
        ({"exp": now - 30}, 200),  # expired half a minute ago: clocks differ
        ({"exp": now - 120}, 401),
        ({"exp": now + 60, "nbf": now + 30}, 200),
        ({"exp": now + 600, "nbf": now + 120}, 401),
    ):
        body = {**EMNIFY_SMS, "id": claims["exp"] + claims.get("nbf", 0)}
        response = await client.post(
            URL, json=body, headers={"Authorization": f"Bearer {_signed(claims)}"}
        )
        assert response.status == status, claims


# --- what each provider posts, and nothing else ------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=UTF-8", 200),
        ("Application/JSON", 200),
        ("application/octet-stream", 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        (None, 415),
    ],
)
async def test_monoz_and_emnify_take_json_only(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    json_hook: JsonHook,
    content_type: str | None,
    status: int,
) -> None:
    if content_type is None and json_hook.kind == "1nce":
        # 1NCE OS does not say its webhook's Content-Type: a body without one is
        # read as JSON (refusing it would get the integration disabled by 1NCE).
        status = 200
    client = await hass_client_no_auth()
    headers = {"X-Webhook-Secret": SECRET}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(
        URL,
        data=json_hook.body,
        headers=headers,
        skip_auto_headers=["Content-Type"],
    )
    assert response.status == status
    if status == 415:
        assert await response.json() == {"error": "use application/json"}


async def test_emnify_refuses_what_emnify_does_not_send(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    emnify_hook: MockConfigEntry,
) -> None:
    events = _record(hass)
    client = await hass_client_no_auth()
    headers = {"X-Webhook-Secret": SECRET}
    for body in (
        {"foo": "bar"},
        [EMNIFY_EVENT, {"foo": "bar"}],
        {"payload": "an SMS from nowhere"},
        {**EMNIFY_EVENT, "event_type": "Generic"},
    ):
        response = await client.post(URL, json=body, headers=headers)
        assert response.status == 400, body
    # A form, even one shaped like an SMS: emnify posts JSON only.
    response = await client.post(
        URL,
        data={"payload": "open the gate", "endpoint": "1"},
        headers=headers,
    )
    assert response.status == 415
    assert await response.json() == {"error": "use application/json"}
    response = await client.post(
        URL, data=json.dumps(EMNIFY_SMS).encode(), headers=headers
    )
    assert response.status == 415  # application/octet-stream
    await hass.async_block_till_done()
    assert events == []
    # The parsers refuse a form themselves too (only Hologram's takes one).
    for kind in ("emnify", "monoz"):
        with pytest.raises(inbound.InboundFormatError, match="a form is not"):
            inbound.PARSERS[kind](inbound.Form(payload="open the gate"))


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b'{"device_id": 1, "decdata": "x"}', "text/plain", 415, None),
        (b'{"device_id": 1, "decdata": "x"}', "application/octet-stream", 415, None),
        (b"data=eA%3D%3D&device_id=1", FORM_TYPE, 400, "form has no payload field"),
        (b"payload=%7Bnope", FORM_TYPE, 400, "payload is not JSON"),
        (b"payload=%5B1%5D", FORM_TYPE, 400, "payload is not a JSON object"),
        (b"payload=%7B%7D&payload=%7B%7D", FORM_TYPE, 400, "form repeats a field"),
        (b"payload=%ff", FORM_TYPE, 400, "form is not valid"),
        (b"&".join([b"f%d=1" % i for i in range(40)]), FORM_TYPE, 400, None),
        (b'{"payload": "{\\"data\\": \\"eA==\\"}"}', "application/json", 400, None),
    ],
    ids=[
        "text",
        "octet-stream",
        "form without payload",
        "payload not json",
        "payload not object",
        "repeated field",
        "not utf-8",
        "many fields",
        "json wrapping a payload",
    ],
)
async def test_hologram_takes_what_its_routes_send(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hologram_hook: MockConfigEntry,
    body: bytes,
    content_type: str,
    status: int,
    reason: str | None,
) -> None:
    client = await hass_client_no_auth()
    response = await client.post(
        f"{URL}?secret={SECRET}", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == status
    answer = await response.json()
    if reason is not None:
        assert answer == {"error": reason}
    if status == 415:
        assert answer == {"error": "use application/json or a form"}


async def test_hologram_form_key_alone_authenticates_only_a_form(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    """A "key" field is Hologram's: elsewhere it is neither a secret nor a body."""
    client = await hass_client_no_auth()
    response = await client.post(
        URL, data={"key": SECRET, "ICCID": "8981100005819480000", "Payload": "x"}
    )
    assert response.status == 401


async def test_json_with_a_byte_order_mark(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    monoz_hook: MockConfigEntry,
) -> None:
    """A UTF-8 byte order mark before the JSON (some HTTP stacks write one) is dropped."""
    client = await hass_client_no_auth()
    response = await client.post(
        URL,
        data=b"\xef\xbb\xbf" + MONOZ_BODY,
        headers={"Content-Type": "application/json", "X-API-Key": SECRET},
    )
    assert response.status == 200


async def test_an_entry_without_a_secret_takes_nothing(
    hass: HomeAssistant, monoz: FakeMonoz
) -> None:
    """An empty secret (options edited by hand) matches no request, not even an empty
    one."""
    await setup_entry(hass, with_webhook(monoz_entry(), WEBHOOK_ID, ""))
    request = _relayed(
        MONOZ_BODY.decode(),
        {"Content-Type": "application/json", "X-Webhook-Secret": ""},
        "secret=",
    )
    response = await webhook.async_handle_webhook(hass, WEBHOOK_ID, request)
    assert response.status == 401

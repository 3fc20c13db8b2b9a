"""emnify's inbound deliveries as emnify documents them, replayed through HA's HTTP stack.

The bodies are the published examples kept in tests/fixtures/recorded/emnify/: every
event example of emnify/product-docs event-types.md (Data Streamer records), the
usage examples of stream-types.md (bulks), and the MO SMS body with its
``multi_part_info`` (1NCE's SMS forwarder, emnify's platform). They go to the real
webhook (HA's webhook component, our handler and parser) as the provider posts them.
"""

from __future__ import annotations

import base64
from datetime import timedelta
import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cellular_iot.const import EVENT_MESSAGE_RECEIVED
from custom_components.cellular_iot.providers.deliveries import (
    EMNIFY_MAX_MESSAGES,
    InboundMessage,
    parse_emnify,
)
from custom_components.cellular_iot.providers.sms_parts import (
    MAX_PENDING,
    PART_TIMEOUT,
    SmsAssembler,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util

from . import recorded
from .conftest import emnify_entry, record_events, setup_entry, with_webhook
from .fakes.emnify import FakeEmnify

SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_ID = "e" * 64
URL = f"/api/webhook/{WEBHOOK_ID}"
HEADERS = {"Content-Type": "application/json", "X-Webhook-Secret": SECRET}


@pytest.fixture
async def hook(hass: HomeAssistant, emnify: FakeEmnify) -> MockConfigEntry:
    entry = with_webhook(emnify_entry(emnify.application_token), WEBHOOK_ID, SECRET)
    return await setup_entry(hass, entry)


def _events(hass: HomeAssistant) -> list[Event]:
    return record_events(hass, EVENT_MESSAGE_RECEIVED)


# --- every event example of event-types.md ------------------------------------------------

EVENT_FILES = sorted(
    p.name for p in recorded.all_files() if p.name.startswith("event_")
)
EXAMPLES = [
    (name, index, item.request.body or b"")
    for name in EVENT_FILES
    for index, item in enumerate(recorded.load("emnify", name).interactions)
]
# Published with what no sender sends: // comments (Create PDP Context) and a string
# wrapped over two lines (Update location). The records emnify posts are JSON.
NOT_JSON_AS_PUBLISHED = {
    ("event_create_pdp_context.yaml", 0),
    ("event_update_location.yaml", 0),
}


def _as_sent(text: str) -> str:
    """The example as JSON: // comments out, a wrapped string joined with a space."""
    text = re.sub(r"\s*// [^\n]*", "", text)
    return re.sub(r"\n(?=[^\n]*\",?\n)(?![ \t]*\")", " ", text)


def _example(name: str, index: int, raw: bytes) -> str:
    text = raw.decode()
    try:
        json.loads(text)
    except ValueError:
        assert (name, index) in NOT_JSON_AS_PUBLISHED
        text = _as_sent(text)
        json.loads(text)
    else:
        assert (name, index) not in NOT_JSON_AS_PUBLISHED
    return text


def test_event_types_md_holds_51_examples_of_42_types() -> None:
    # The issue counted 50; the page (at the recorded commit) has 51 json blocks.
    assert len(EXAMPLES) == 51
    assert len(EVENT_FILES) == 42


@pytest.mark.parametrize(
    ("name", "index", "raw"), EXAMPLES, ids=[f"{n[6:-5]}-{i}" for n, i, _ in EXAMPLES]
)
async def test_every_documented_event_example_is_one_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    name: str,
    index: int,
    raw: bytes,
) -> None:
    text = _example(name, index, raw)
    record = json.loads(text)
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(URL, data=text.encode(), headers=HEADERS)
    assert response.status == 200, await response.text()
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    await hass.async_block_till_done()
    assert len(events) == 1
    data = events[0].data
    endpoint, sim = record.get("endpoint"), record.get("sim")
    assert data["provider"] == "emnify"
    assert data["source"] == "webhook"
    assert data["kind"] == "event"
    assert data["message_id"] == f"event-{record['id']}"
    assert data["event_type"] == record["event_type"]["description"]
    assert data["severity"] == record["event_severity"]["description"]
    # true/false in most examples, 1 in "Organisation blocked".
    assert data["alert"] is (record["alert"] in (True, 1))
    assert data["data"] == record["description"]
    assert data["device_id"] == (str(endpoint["id"]) if endpoint else None)
    assert data["device_name"] == (endpoint["name"] if endpoint else None)
    assert data["iccid"] == (sim["iccid"] if sim else None)
    expected = dt_util.parse_datetime(record["timestamp"])
    assert expected is not None
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=dt_util.UTC)
    assert data["received_at"] == dt_util.as_utc(expected).isoformat()


def test_organisation_blocked_says_alert_1() -> None:
    """The row the parser read wrong: "alert": 1 is an alert."""
    raw = recorded.load("emnify", "event_organisation_blocked.yaml").interactions[0]
    record = json.loads(raw.request.body or b"")
    assert record["alert"] == 1
    assert parse_emnify(record)[0].extra["alert"] is True


# --- Data Streamer bulks -------------------------------------------------------------------


def _generic_event() -> dict[str, Any]:
    item = recorded.load("emnify", "event_generic.yaml").interactions[0]
    event: dict[str, Any] = json.loads(item.request.body or b"")
    return event


async def test_a_bulk_of_1000_records_is_taken_whole(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    """A bulk of 1,000 records (the documented Generic event, each its own id)."""
    event = _generic_event()
    bulk = [{**event, "id": event["id"] + n} for n in range(1000)]
    # As emnify pretty-prints its examples: 0.9 MB, over the 256 KB of other bodies.
    body = json.dumps(bulk, indent=2).encode()
    assert len(body) > 256 * 1024
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(URL, data=body, headers=HEADERS)
    assert response.status == 200, await response.text()
    assert await response.json() == {"accepted": 1000, "duplicates": 0}
    await hass.async_block_till_done()
    assert [e.data["message_id"] for e in events] == [
        f"event-{event['id'] + n}" for n in range(1000)
    ]
    # The stream sends the bulk again (it saw no answer): nothing fires twice.
    response = await client.post(URL, data=body, headers=HEADERS)
    assert await response.json() == {"accepted": 0, "duplicates": 1000}
    await hass.async_block_till_done()
    assert len(events) == 1000


async def test_a_small_bulk_of_more_than_100_records_is_taken(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    """150 records, compact: under 256 KB, over the old bound of 100 records."""
    event = _generic_event()
    body = json.dumps([{**event, "id": event["id"] + n} for n in range(150)]).encode()
    assert len(body) < 256 * 1024
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(URL, data=body, headers=HEADERS)
    assert await response.json() == {"accepted": 150, "duplicates": 0}
    await hass.async_block_till_done()
    assert len(events) == 150


@pytest.mark.parametrize("name", ["stream_usage_data.yaml", "stream_usage_sms.yaml"])
async def test_documented_usage_bulks_are_accepted_without_events(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    name: str,
) -> None:
    raw = recorded.load("emnify", name).interactions[0].request.body or b""
    text = _as_sent(raw.decode())  # published with // comments
    assert isinstance(json.loads(text), list)
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(URL, data=text.encode(), headers=HEADERS)
    assert response.status == 200
    assert await response.json() == {"accepted": 0, "duplicates": 0}
    await hass.async_block_till_done()
    assert events == []


async def test_a_bulk_over_the_record_bound_is_400(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    usage = {"id": 1, "traffic_type": {"id": 5, "description": "Data"}}
    body = json.dumps([usage] * (EMNIFY_MAX_MESSAGES + 1)).encode()
    client = await hass_client_no_auth()
    response = await client.post(URL, data=body, headers=HEADERS)
    assert response.status == 400
    assert await response.json() == {
        "error": f"more than {EMNIFY_MAX_MESSAGES} messages"
    }


# --- long MO SMS: multi_part_info ---------------------------------------------------------

TEXTS = ["The first part of a long SMS, ", "the second part, ", "and the third."]


def _documented_sms() -> dict[str, Any]:
    item = recorded.load("emnify", "sms_mo_multipart_info.yaml").interactions[0]
    sms: dict[str, Any] = json.loads(item.request.body or b"")
    return sms


def _part(number: int, *, identifier: int = 6202, total: int = 3) -> dict[str, Any]:
    """Part ``number`` of a long SMS: the documented body, with its part's fields."""
    return {
        **_documented_sms(),
        "id": identifier + number - 1,
        "payload": TEXTS[number - 1] if total == 3 else f"part {number}",
        "multi_part_info": {
            "partno": number,
            "total": total,
            "identifier": identifier,
        },
    }


async def _post(client: Any, body: Any) -> dict[str, Any]:
    response = await client.post(URL, json=body, headers={"X-Webhook-Secret": SECRET})
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def test_documented_single_part_sms_is_one_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    """The example as published: part 1 of 1 is an SMS of its own."""
    item = recorded.load("emnify", "sms_mo_multipart_info.yaml").interactions[0]
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(
        URL,
        data=item.request.body,
        headers={**dict(item.request.headers), "X-Webhook-Secret": SECRET},
    )
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["kind"] == "sms"
    assert event.data["data"] == "message text"
    assert event.data["sender"] == "1234567890123456"
    assert event.data["device_id"] == "1234567"
    assert event.data["message_id"] == "sms-6202"
    assert event.data["received_at"] == "2018-08-17T16:31:51+00:00"
    assert "parts" not in event.data


@pytest.mark.parametrize(
    "order",
    [(1, 2, 3), (3, 1, 2), (2, 3, 1)],
    ids=["in order", "last first", "first last"],
)
async def test_long_sms_is_one_event_in_part_order(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    order: tuple[int, ...],
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    for number in order[:-1]:
        assert await _post(client, _part(number)) == {"accepted": 1, "duplicates": 0}
    await hass.async_block_till_done()
    assert events == []  # waiting for the last part
    await _post(client, _part(order[-1]))
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["data"] == "".join(TEXTS)
    assert event.data["parts"] == 3
    assert event.data["incomplete"] is False
    assert "missing_parts" not in event.data
    assert event.data["kind"] == "sms"
    assert event.data["sender"] == "1234567890123456"
    assert event.data["device_id"] == "1234567"
    assert event.data["message_id"] == "sms-6202"  # part 1's id
    # Nothing is left waiting, so no timer fires a second event later.
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=PART_TIMEOUT + 1)
    )
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_a_part_sent_again_is_taken_once(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    await _post(client, _part(1))
    await _post(client, _part(2))
    # emnify retries the delivery of part 2: the same body, the same id.
    assert await _post(client, _part(2)) == {"accepted": 0, "duplicates": 1}
    # And part 1 once more, under another id.
    assert await _post(client, {**_part(1), "id": 9999}) == {
        "accepted": 0,
        "duplicates": 1,
    }
    await _post(client, _part(3))
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["data"] == "".join(TEXTS)
    assert event.data["incomplete"] is False


async def test_a_missing_part_is_flushed_incomplete_after_the_bound(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    await _post(client, _part(3))
    await _post(client, _part(1))
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=PART_TIMEOUT - 10)
    )
    await hass.async_block_till_done()
    assert events == []
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=PART_TIMEOUT + 1)
    )
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["data"] == TEXTS[0] + TEXTS[2]
    assert event.data["parts"] == 3
    assert event.data["incomplete"] is True
    assert event.data["missing_parts"] == [2]
    assert event.data["message_id"] == "sms-6202"


async def test_too_many_waiting_long_sms_flush_the_oldest(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    firsts = [_part(1, identifier=10_000 + 10 * n, total=2) for n in range(MAX_PENDING)]
    await _post(client, firsts)
    await hass.async_block_till_done()
    assert events == []
    await _post(client, _part(1, identifier=90_000, total=2))
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["message_id"] == "sms-10000"
    assert event.data["incomplete"] is True
    assert event.data["missing_parts"] == [2]


async def test_unloading_fires_what_waits(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    await _post(client, _part(2))
    assert await hass.config_entries.async_unload(hook.entry_id)
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["data"] == TEXTS[1]
    assert event.data["missing_parts"] == [1, 3]


async def test_stopping_home_assistant_fires_what_waits(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    await _post(client, _part(3))
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["missing_parts"] == [1, 2]
    # Unloading afterwards fires nothing more.
    assert await hass.config_entries.async_unload(hook.entry_id)
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_parts_of_two_senders_stay_apart(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
) -> None:
    """The same identifier from another endpoint is another SMS."""
    events = _events(hass)
    client = await hass_client_no_auth()
    other = {"id": 7654321, "name": "other"}
    await _post(client, _part(1))
    await _post(client, {**_part(2), "endpoint": other, "id": 5})
    await _post(client, _part(2))
    await _post(client, _part(3))
    await hass.async_block_till_done()
    assert [e.data["device_id"] for e in events] == ["1234567"]
    assert events[0].data["incomplete"] is False


@pytest.mark.parametrize(
    "info",
    [
        {"partno": 4, "total": 3, "identifier": 1},
        {"partno": 0, "total": 3, "identifier": 1},
        {"partno": 1, "total": 3},
        {"partno": "x", "total": 3, "identifier": 1},
        {"partno": True, "total": 3, "identifier": 1},
        {"partno": 1, "total": 999, "identifier": 1},
        {"partno": 1, "total": 2, "identifier": {"a": 1}},
        [1, 3],
        None,
    ],
)
async def test_unusable_multi_part_info_fires_the_part_as_it_is(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    info: Any,
) -> None:
    events = _events(hass)
    client = await hass_client_no_auth()
    assert await _post(client, {**_part(1), "multi_part_info": info}) == {
        "accepted": 1,
        "duplicates": 0,
    }
    await hass.async_block_till_done()
    (event,) = events
    assert event.data["data"] == TEXTS[0]
    assert "parts" not in event.data


# --- the callback JWT, as emnify documents it ---------------------------------------------
# docs.emnify.com "SMS callbacks" / cdn.emnify.net/api/doc/sms-callback.html: "callbacks
# using this URL contain an Authorization header with a JSON Web Token (JWT) included.
# The api_secret is used as the signing key of the JWT in this header", shown as
# {"Authorization": "Bearer <JWT-signed-with-api-secret>"}. No claim is documented.


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jwt(claims: dict[str, Any], secret: str = SECRET) -> str:
    """An HS256 JWT signed with the secret, carrying only ``claims``."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64url(signature.digest())}"


@pytest.mark.parametrize(
    "claims",
    [{}, {"iat": "now"}, {"iat": "now", "esc.org": 4242}],
    ids=["no claims", "iat only", "iat and other claims"],
)
async def test_callback_jwt_without_exp_is_taken(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    claims: dict[str, Any],
) -> None:
    claims = {k: int(time.time()) if v == "now" else v for k, v in claims.items()}
    events = _events(hass)
    client = await hass_client_no_auth()
    response = await client.post(
        URL,
        json=_documented_sms(),
        headers={"Authorization": f"Bearer {_jwt(claims)}"},
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert [e.data["message_id"] for e in events] == ["sms-6202"]
    # Signed with another secret: refused.
    response = await client.post(
        URL,
        json={**_documented_sms(), "id": 1},
        headers={"Authorization": f"Bearer {_jwt(claims, 'another-secret')}"},
    )
    assert response.status == 401


async def test_callback_jwt_iat_without_exp_is_bounded(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hook: MockConfigEntry,
    freezer: Any,
) -> None:
    freezer.move_to("2026-11-23T10:00:00+00:00")
    now = int(dt_util.utcnow().timestamp())
    client = await hass_client_no_auth()
    for number, (iat, status) in enumerate(
        (
            (now - 23 * 3600, 200),
            (now - 25 * 3600, 401),
            (now + 30, 200),  # clocks differ
            (now + 600, 401),
        )
    ):
        response = await client.post(
            URL,
            json={**_documented_sms(), "id": number},
            headers={"Authorization": f"Bearer {_jwt({'iat': iat})}"},
        )
        assert response.status == status, iat


# --- the assembler alone (no HA) ----------------------------------------------------------


def _assembler(**bounds: Any) -> tuple[SmsAssembler, list[InboundMessage], list[Any]]:
    emitted: list[InboundMessage] = []
    timers: list[Any] = []

    def schedule(delay: float, action: Any) -> Any:
        timer = [delay, action, False]  # the delay, the action, cancelled
        timers.append(timer)
        return lambda: timer.__setitem__(2, True)

    return SmsAssembler(emitted.append, schedule, **bounds), emitted, timers


def _parsed(body: dict[str, Any]) -> InboundMessage:
    (message,) = parse_emnify(body)
    return message


def test_a_new_total_under_the_same_identifier_sends_the_waiting_sms_out() -> None:
    assembler, emitted, _ = _assembler()
    assert assembler.add(_parsed(_part(1)))
    assert assembler.add(_parsed({**_part(1, total=2), "id": 1}))
    assert [m.extra["missing_parts"] for m in emitted] == [[2, 3]]
    assert assembler.pending == 1


def test_the_text_waiting_is_bounded() -> None:
    assembler, emitted, _ = _assembler(max_bytes=40)
    assembler.add(_parsed(_part(1)))  # 30 bytes
    assert emitted == []
    assembler.add(_parsed(_part(1, identifier=1)))  # 60 bytes waiting: the oldest goes
    assert [m.message_id for m in emitted] == ["sms-6202"]
    assert assembler.pending == 1


def test_a_timer_that_has_run_is_not_cancelled() -> None:
    assembler, emitted, timers = _assembler()
    assembler.add(_parsed(_part(1)))
    delay, action, _ = timers[0]
    assert delay == PART_TIMEOUT
    action()
    assert [m.extra["incomplete"] for m in emitted] == [True]
    assert timers[0][2] is False
    action()  # once more: nothing waits under that key
    assert len(emitted) == 1

"""1NCE's webhook deliveries, as 1NCE publishes them, through the parsers.

The bodies are tests/fixtures/recorded/1nce/webhook_*.yaml: every example of the SMS
Forwarder pages, of the Data Streamer's event and usage record pages (Platform 1.0 and
the 2.0 dev hub, SMS Events included) and of 1NCE OS's Cloud Integrator output format,
transcribed verbatim. Each goes through :func:`parse_onence` (POST) or
:func:`parse_onence_receipts` (PATCH) as 1NCE sends it: a Data Streamer record in a
list, the rest as the single object it is. Malformed bodies, and arbitrary ones
(hypothesis, fixed seed), raise InboundFormatError and nothing else.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
import inspect
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings, strategies as st
import pytest

from custom_components.cellular_iot.events import message_event
from custom_components.cellular_iot.inbound_webhook import _decode
from custom_components.cellular_iot.providers.deliveries import (
    JSON,
    Form,
    InboundFormatError,
    InboundMessage,
    SimUsage,
    SmsPart,
    SmsReceipt,
)
from custom_components.cellular_iot.providers.onence_deliveries import (
    BYTES_PER_MB,
    CONTENT_TYPES_1NCE,
    ONENCE_MAX_BODY_BYTES,
    ONENCE_MAX_PAYLOAD_BYTES,
    ONENCE_MAX_RECORDS,
    ONENCE_MAX_SMS_CHARS,
    parse_onence,
    parse_onence_receipts,
    sms_status,
)
from custom_components.cellular_iot.providers.sim import SMS_STATES
from custom_components.cellular_iot.providers.sms_parts import SmsAssembler

from . import recorded

# The webhook deliveries (the API recordings beside them: test_onence_recorded.py).
FILES = sorted(
    p.name
    for p in recorded.all_files()
    if p.parent.name == "1nce" and p.name.startswith("webhook_")
)
# Records the Data Streamer POSTs (in a list); the others are single objects.
STREAM_PREFIXES = ("webhook_event_", "webhook_usage_", "webhook_v2_")


def _bodies(name: str) -> list[tuple[str, Any]]:
    """Each interaction's method and body, as 1NCE sends it (a record in a list)."""
    out = []
    for item in recorded.load("1nce", name).interactions:
        body = json.loads(item.request.body or b"")
        if name.startswith(STREAM_PREFIXES):
            body = [body]
        out.append((item.request.method, body))
    return out


def _one(name: str) -> Any:
    """The first record of a fixture, as the object the page prints."""
    body = json.loads(recorded.load("1nce", name).interactions[0].request.body or b"")
    return body[0] if isinstance(body, list) else body


def _parsed(name: str) -> list[Any]:
    out: list[Any] = []
    for method, body in _bodies(name):
        out += parse_onence_receipts(body) if method == "PATCH" else parse_onence(body)
    return out


# The keys of the event itself (events.message_event, the webhook's _fire): a
# provider's extra must not name them (a repeated keyword is a TypeError there).
EVENT_KEYS = set(inspect.signature(message_event).parameters) | {
    "message_id",
    "config_entry_id",
    "data",
    "data_base64",
}


def _check(delivered: list[Any]) -> None:
    """What the webhook relies on, whatever the body."""
    for item in delivered:
        assert isinstance(item, (InboundMessage, SmsReceipt, SimUsage))
        if isinstance(item, InboundMessage):
            assert isinstance(item.payload, bytes)
            assert item.message_id
            assert item.device_id == item.iccid
            assert all(isinstance(t, str) for t in item.topics)
            json.dumps(item.extra)
            assert not EVENT_KEYS & set(item.extra), item.extra
        elif isinstance(item, SmsReceipt):
            assert item.sms_id
            assert item.status in SMS_STATES
        else:
            assert item.record_id
            assert item.device_id == item.iccid
            assert min(item.data_bytes, item.sms_sent, item.sms_received) >= 0


# --- every published example ---------------------------------------------------------------


def test_the_examples_are_all_here() -> None:
    assert len(FILES) == 44
    for name in FILES:
        assert recorded.load("1nce", name).source.startswith("HDGoldi/docusaurus-poc@")


@pytest.mark.parametrize("name", FILES)
def test_every_example_parses(name: str) -> None:
    delivered = _parsed(name)
    assert len(delivered) == len(recorded.load("1nce", name).interactions)
    _check(delivered)
    for message in delivered:
        if isinstance(message, InboundMessage):  # the event the webhook fires
            event = message_event(
                provider="1nce",
                source="webhook",
                entry_id="entry",
                payload=message.payload,
                device_id=message.device_id,
                iccid=message.iccid,
                topics=message.topics,
                received_at=message.received_at,
                message_id=message.message_id,
                **message.extra,
            )
            assert event["source"] == "webhook"
            assert event["data"] is not None  # every documented payload is text
            json.dumps(event)


EVENT_EXAMPLES = [n for n in FILES if "_event_" in n or "update_location" in n]


@pytest.mark.parametrize("name", EVENT_EXAMPLES)
def test_event_records_are_events(name: str) -> None:
    record = _one(name)
    (message,) = _parsed(name)
    assert isinstance(message, InboundMessage)
    assert message.message_id == f"event-{record['id']}"
    assert message.payload == record["description"].encode()
    assert message.extra["kind"] == "event"
    assert message.extra["event_type"] == record["event_type"]["description"]
    assert message.extra["event_type_id"] == record["event_type"]["id"]
    assert message.extra["severity"] == record["event_severity"]["description"]
    assert message.extra["event_source"] == record["event_source"]["description"]
    assert message.extra["alert"] is record["alert"]
    sim = record.get("sim") or {}
    assert message.iccid == message.device_id == sim.get("iccid")
    assert message.received_at is not None
    assert message.received_at.isoformat().startswith(record["timestamp"][:19])


@pytest.mark.parametrize(
    ("name", "quota"),
    [
        ("webhook_event_18_data_quota_threshold_reached.yaml", "data_threshold"),
        ("webhook_event_19_data_quota_used_up.yaml", "data_used_up"),
        ("webhook_event_20_sms_threshold_reached.yaml", "sms_threshold"),
        ("webhook_event_21_sms_quota_used_up.yaml", "sms_used_up"),
        ("webhook_v2_event_quota.yaml", "data_used_up"),
        ("webhook_event_56_data_quota_assigned.yaml", None),
        ("webhook_event_52_data_quota_enabled.yaml", None),
        ("webhook_event_01_update_location.yaml", None),
    ],
)
def test_quota_events_say_which_quota(name: str, quota: str | None) -> None:
    (message,) = _parsed(name)
    assert message.extra["quota"] == quota
    if quota is not None:
        assert message.extra["alert"] is True


def test_an_organisation_event_has_no_device() -> None:
    """52-55 are about a service profile: no sim, no endpoint."""
    (message,) = _parsed("webhook_event_52_data_quota_enabled.yaml")
    assert message.device_id is None
    assert message.iccid is None
    (message,) = _parsed("webhook_event_00_sms_forwarder.yaml")  # "sim": null
    assert message.device_id is None
    assert message.extra["event_type_id"] == 0


def test_v2_event_the_sim_names_the_device() -> None:
    (message,) = _parsed("webhook_v2_event_network.yaml")
    assert message.device_id == "8988228066605682328"
    assert message.message_id == "event-12345678"
    assert message.received_at == datetime(2024, 12, 13, 12, 49, 57, tzinfo=UTC)


# --- SMS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "iccid", "sender", "message_id"),
    [
        ("webhook_sms_forwarder_events.yaml", "<iccid>", "<msisdn>", "sms-6202"),
        (
            "webhook_sms_forwarder_testing.yaml",
            "1234567890123456",
            "1234567890123456",
            "sms-6202",
        ),
        (
            "webhook_v2_sms_mo.yaml",
            "8988228530100000216",
            "882285301000216",
            "sms-8901947",
        ),
    ],
)
def test_mo_sms(name: str, iccid: str, sender: str, message_id: str) -> None:
    message = _parsed(name)[0]
    assert isinstance(message, InboundMessage)
    assert message.extra == {"kind": "sms", "sender": sender, "dcs": 0}
    assert message.device_id == message.iccid == iccid
    assert message.message_id == message_id
    assert message.part is None  # part 1 of 1 stands alone
    assert message.received_at is not None
    assert message.received_at.tzinfo is UTC
    assert message.payload == _one(name)["payload"].encode()


def test_forwarder_delivery_reports_are_receipts() -> None:
    for name, iccid in (
        ("webhook_sms_forwarder_events.yaml", "<iccid>"),
        ("webhook_sms_forwarder_testing.yaml", "1234567890123456"),
    ):
        receipt = _parsed(name)[1]
        assert receipt == SmsReceipt(
            sms_id="2819195",
            status="delivered",
            device_id=iccid,
            final=datetime(2020, 6, 9, 15, 6, 38, tzinfo=UTC),
        )


def test_v2_delivery_report_names_the_sms_sent_not_the_event() -> None:
    (receipt,) = _parsed("webhook_v2_sms_mt_dlr.yaml")
    assert receipt == SmsReceipt(
        sms_id="551734281731175386",  # detail.sms.id, not the event's 8891889
        status="delivered",
        device_id="8988228530100000216",
        final=datetime(2024, 12, 15, 16, 55, 35, tzinfo=UTC),
    )
    # The same report by PATCH reads the same.
    assert parse_onence_receipts(_one("webhook_v2_sms_mt_dlr.yaml")) == [receipt]


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({"id": 4, "status": "DELIVERED"}, "delivered"),
        ({"id": 5, "status": "FAILED"}, "failed"),
        ({"id": 6, "status": "EXPIRED"}, "expired"),
        ({"id": 5}, "failed"),
        ({"id": "6"}, "expired"),
        ({"id": 2}, "pending"),
        ({"id": 3}, "buffered"),
        ({"status": "delivered"}, "delivered"),
        ({"description": "FAILED"}, "failed"),
        ({"id": 99, "status": "SOMETHING"}, "unknown"),
        ({"id": True}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_delivery_states(status: dict[str, Any], state: str) -> None:
    patch = recorded.load("1nce", "webhook_sms_forwarder_testing.yaml").interactions[1]
    report = json.loads(patch.request.body or b"")
    (receipt,) = parse_onence_receipts({**report, "status": status})
    assert receipt.status == state
    assert sms_status(status) == state


def _part(number: int, total: int = 3, identifier: Any = 7000) -> dict[str, Any]:
    """The documented MO-SMS as part ``number`` of a long SMS."""
    return {
        **_one("webhook_sms_forwarder_testing.yaml"),
        "id": 7000 + number,
        "payload": f"part {number};",
        "multi_part_info": {"partno": number, "total": total, "identifier": identifier},
    }


def test_a_part_of_a_long_sms_says_where_it_belongs() -> None:
    (message,) = parse_onence(_part(2))
    assert message.part == SmsPart(("1nce", "1234567890123456", "7000"), 2, 3)
    assert message.message_id == "sms-7002"


def test_the_parts_are_put_together() -> None:
    emitted: list[InboundMessage] = []
    assembler = SmsAssembler(emitted.append, lambda delay, action: lambda: None)
    for number in (3, 1, 2):
        (message,) = parse_onence(_part(number))
        assert isinstance(message, InboundMessage)
        assembler.add(message)
    (whole,) = emitted
    assert whole.payload == b"part 1;part 2;part 3;"
    assert whole.extra["parts"] == 3
    assert whole.extra["incomplete"] is False
    assert whole.device_id == "1234567890123456"


@pytest.mark.parametrize(
    "info",
    [
        {"partno": 4, "total": 3, "identifier": 1},
        {"partno": 0, "total": 3, "identifier": 1},
        {"partno": 1, "total": 3},
        {"partno": 1, "total": 3, "identifier": ""},
        {"partno": "x", "total": 3, "identifier": 1},
        {"partno": True, "total": 3, "identifier": 1},
        {"partno": 1, "total": 999, "identifier": 1},
        {"partno": 1, "total": 2, "identifier": {"a": 1}},
        [1, 3],
        None,
    ],
)
def test_unusable_multi_part_info_leaves_the_sms_whole(info: Any) -> None:
    (message,) = parse_onence({**_part(1), "multi_part_info": info})
    assert message.part is None
    assert message.payload == b"part 1;"


# --- usage records ---------------------------------------------------------------------------


def test_data_usage_is_counted_in_bytes_of_mib() -> None:
    (usage,) = _parsed("webhook_usage_05_data_usage_record.yaml")
    assert usage == SimUsage(
        record_id="usage-1234567890",
        iccid="<icc>",
        device_id="<icc>",
        data_bytes=round(0.001176 * BYTES_PER_MB),
        start=datetime(2021, 8, 9, 12, 59, 5, tzinfo=UTC),
        # As published: the record ends before it starts.
        end=datetime(2021, 8, 9, 12, 51, 20, tzinfo=UTC),
    )
    (usage,) = _parsed("webhook_v2_usage_data.yaml")
    assert usage.data_bytes == round(1.0049019 * 1024 * 1024) == 1053716
    assert (usage.sms_sent, usage.sms_received) == (0, 0)
    assert usage.device_id == "8988228066605682521"


def test_sms_usage_tx_is_what_the_device_sent() -> None:
    """tx = "Number of sent MO-SMS", rx = MT (the API's usage says the reverse)."""
    (usage,) = _parsed("webhook_usage_06_sms_usage_record.yaml")  # tx 0.0, rx 1.0
    assert (usage.sms_sent, usage.sms_received, usage.data_bytes) == (0, 1, 0)
    (usage,) = _parsed("webhook_v2_usage_sms.yaml")  # tx 1, rx 0
    assert (usage.sms_sent, usage.sms_received) == (1, 0)
    assert usage.record_id == "usage-8884551"


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ({"total": "2.5", "tx": "1", "rx": "1.5"}, round(2.5 * BYTES_PER_MB)),
        ({"tx": 1, "rx": 1}, 2 * BYTES_PER_MB),  # no total: tx + rx
        ({"total": 0}, 0),
        ({"total": None, "tx": None, "rx": None}, 0),
    ],
)
def test_volumes_as_numbers_or_text(volume: dict[str, Any], expected: int) -> None:
    record = {**_one("webhook_v2_usage_data.yaml"), "volume": volume}
    (usage,) = parse_onence([record])
    assert usage.data_bytes == expected


def test_a_traffic_type_not_known_is_accepted_and_left_out() -> None:
    usage = _one("webhook_v2_usage_data.yaml")
    voice = {**usage, "traffic_type": {"id": 7, "description": "Voice"}}
    by_name = {**usage, "traffic_type": {"description": "SMS"}, "volume": {"tx": 2}}
    delivered = parse_onence([voice, by_name])
    assert [(u.sms_sent, u.record_id) for u in delivered] == [(2, "usage-819948096")]


# --- a Data Streamer POST: a list of records -----------------------------------------------


def test_a_bulk_of_every_documented_record() -> None:
    records = [_one(n) for n in FILES if n.startswith(STREAM_PREFIXES)]
    delivered = parse_onence(records)
    assert len(delivered) == len(records) == 33
    assert sum(isinstance(d, SimUsage) for d in delivered) == 4
    assert sum(isinstance(d, SmsReceipt) for d in delivered) == 1
    messages = [d for d in delivered if isinstance(d, InboundMessage)]
    assert {m.extra["kind"] for m in messages} == {"event", "sms"}
    _check(delivered)


def test_a_retransmitted_record_keeps_its_id() -> None:
    record = _one("webhook_event_19_data_quota_used_up.yaml")
    first, again = parse_onence([record, dict(record)])
    assert first.message_id == again.message_id == "event-1234567890"


def test_the_record_bound_is_checked_before_any_record() -> None:
    usage = _one("webhook_v2_usage_sms.yaml")
    assert len(parse_onence([usage] * ONENCE_MAX_RECORDS)) == ONENCE_MAX_RECORDS
    with pytest.raises(InboundFormatError, match=f"more than {ONENCE_MAX_RECORDS}"):
        parse_onence([usage] * (ONENCE_MAX_RECORDS + 1))
    with pytest.raises(InboundFormatError, match=f"more than {ONENCE_MAX_RECORDS}"):
        parse_onence(["not a record"] * (ONENCE_MAX_RECORDS + 1))


def test_the_body_bound_holds_3000_of_the_largest_documented_record() -> None:
    largest = max(
        len(item.request.body or b"")
        for name in FILES
        for item in recorded.load("1nce", name).interactions
    )
    assert largest > 1500  # Create PDP Context, tab-indented
    # A list of 3,000 of them, as printed (commas and brackets aside) fits, twice.
    assert ONENCE_MAX_RECORDS * (largest + 2) * 2 <= ONENCE_MAX_BODY_BYTES
    assert ONENCE_MAX_BODY_BYTES <= 16 * 1024 * 1024


def test_1nce_posts_json_only() -> None:
    assert frozenset({JSON}) == CONTENT_TYPES_1NCE
    for name in FILES:
        for item in recorded.load("1nce", name).interactions:
            assert item.request.headers["Content-Type"] == JSON


@pytest.mark.parametrize("name", FILES)
def test_the_webhook_decodes_every_example_as_published(name: str) -> None:
    """Tabs, a leading space (the Forwarder's cURL), UTF-8 (the usage records' €)."""
    for item in recorded.load("1nce", name).interactions:
        raw = item.request.body or b""
        assert _decode(raw, JSON) == json.loads(raw)
        assert len(raw) < ONENCE_MAX_BODY_BYTES


# --- 1NCE OS ---------------------------------------------------------------------------------


def test_os_telemetry_json_payload() -> None:
    (message,) = _parsed("webhook_os_telemetry_data.yaml")
    assert message.payload == (
        b'{"latitude":7.490929188596135e+247,"longitude":2.586343401687847e+161}'
    )
    assert message.message_id == "os-1-6393505d-67fa8489fb9c791fcddd43f0"
    assert message.device_id == message.iccid == "8988280666000002864"
    assert message.topics == []
    assert message.received_at == datetime.fromtimestamp(1670598749.915, UTC)
    assert message.extra == {
        "kind": "message",
        "protocol": "UDP",
        "imsi": "901405100002864",
        "payload_type": "JSON",
        "encoding": None,
    }


def _telemetry(**payload: Any) -> dict[str, Any]:
    return {**_one("webhook_os_telemetry_data.yaml"), "payload": payload}


def test_os_telemetry_base64_payload_with_a_coap_topic() -> None:
    raw = bytes(range(256)) * 4  # 1024 bytes, the CoAP safe size
    body = {
        **_telemetry(
            type="STRING",
            encoding="base64",
            value=base64.b64encode(raw).decode(),
            topic="sensors/temp",
        ),
        "source": "COAP",
    }
    (message,) = parse_onence(body)
    assert message.payload == raw
    assert message.topics == ["sensors/temp"]
    assert message.extra["protocol"] == "COAP"
    assert message.extra["topic"] == "sensors/temp"
    assert message.extra["encoding"] == "base64"


def test_os_telemetry_string_payload() -> None:
    (message,) = parse_onence(_telemetry(type="STRING", value="Hello World"))
    assert message.payload == b"Hello World"


def test_os_telemetry_without_an_id_gets_a_fingerprint() -> None:
    body = _telemetry(type="STRING", value="x")
    del body["id"]
    (first,) = parse_onence(body)
    (again,) = parse_onence(dict(body))
    assert first.message_id.startswith("sha256:")
    assert first.message_id == again.message_id
    (other,) = parse_onence({**body, "received": "1670598749916"})
    assert other.message_id != first.message_id


@pytest.mark.parametrize(
    ("name", "event_type", "device_id"),
    [
        ("webhook_os_lifecycle.yaml", "LIFECYCLE", "8988280666000002864"),
        ("webhook_os_error.yaml", "ERROR", "1234567890123456789"),
        ("webhook_os_error_integration_disabled.yaml", "ERROR", None),
        ("webhook_os_geofence.yaml", "GEOFENCE", "1234567890123456789"),
        ("webhook_os_location.yaml", "LOCATION", "1234567890123456789"),
        ("webhook_os_test_message.yaml", "TEST_MESSAGE", None),
    ],
)
def test_other_os_types_are_events(
    name: str, event_type: str, device_id: str | None
) -> None:
    (message,) = _parsed(name)
    body = _one(name)
    assert message.extra["kind"] == "event"
    assert message.extra["event_type"] == event_type
    assert message.extra["event_source"] == "1NCE OS"
    assert message.device_id == device_id
    assert message.message_id == f"os-{body['id']}"
    carried = {"TEST_MESSAGE": "integration"}.get(event_type, event_type.lower())
    assert json.loads(message.payload) == body[carried]


def test_an_os_position_gives_its_coordinates() -> None:
    (message,) = _parsed("webhook_os_location.yaml")
    # [longitude, latitude], as text
    assert message.extra["longitude"] == pytest.approx(24.166234790073986)
    assert message.extra["latitude"] == pytest.approx(56.977086867785)
    assert message.extra["detail_source"] == "CellTower"
    (message,) = _parsed("webhook_os_error_integration_disabled.yaml")
    assert message.extra["detail_message"] == "CloudIntegrator[IntegrationDisabled]"


def test_os_event_edges() -> None:
    body = _one("webhook_os_location.yaml")
    (bare,) = parse_onence({k: v for k, v in body.items() if k != "location"})
    assert bare.payload == b"{}"
    assert "latitude" not in bare.extra
    odd = {**body, "location": {"coordinates": ["east", "north"]}}
    (message,) = parse_onence(odd)
    assert "latitude" not in message.extra
    far = {**body, "location": {"coordinates": ["200", "95"]}}
    (message,) = parse_onence(far)
    assert "longitude" not in message.extra
    with pytest.raises(InboundFormatError, match="location is not JSON"):
        parse_onence({**body, "location": {"x": math.inf}})
    with pytest.raises(InboundFormatError, match="too long"):
        parse_onence({**body, "location": {"x": "y" * 9000}})


def test_numbers_as_1nce_may_write_them() -> None:
    (message,) = parse_onence({**_part(1), "dcs": 8.0, "multi_part_info": None})
    assert message.extra["dcs"] == 8
    (message,) = parse_onence({**_part(1), "dcs": "4", "multi_part_info": None})
    assert message.extra["dcs"] == 4
    (message,) = parse_onence({**_part(1), "dcs": 1e20, "multi_part_info": None})
    assert message.extra["dcs"] is None
    assert sms_status("DELIVERED") == "unknown"  # not a status object


# --- refused -------------------------------------------------------------------------------


def _sms() -> dict[str, Any]:
    return _one("webhook_sms_forwarder_testing.yaml")


def _event() -> dict[str, Any]:
    return _one("webhook_event_19_data_quota_used_up.yaml")


def _usage() -> dict[str, Any]:
    return _one("webhook_v2_usage_data.yaml")


def _dlr() -> dict[str, Any]:
    return _one("webhook_v2_sms_mt_dlr.yaml")


MALFORMED: list[tuple[str, Callable[[], Any]]] = [
    ("null", lambda: None),
    ("a number", lambda: 1),
    ("a text", lambda: "x"),
    ("an empty list", list),
    ("a list of texts", lambda: ["x"]),
    ("a list of lists", lambda: [[]]),
    ("a form", lambda: Form({"payload": "x"})),
    ("an empty object", dict),
    ("an unknown object", lambda: [{"id": 1, "foo": "bar"}]),
    ("an SMS whose payload is a number", lambda: {**_sms(), "payload": 12}),
    ("an SMS without endpoint", lambda: {**_sms(), "endpoint": None}),
    ("an SMS without ICCID", lambda: {**_sms(), "endpoint": {"id": 1}}),
    ("an SMS ICCID as an object", lambda: {**_sms(), "endpoint": {"name": {}}}),
    ("an SMS too long", lambda: {**_sms(), "payload": "x" * (ONENCE_MAX_SMS_CHARS + 1)}),
    ("an SMS id too long", lambda: {**_sms(), "id": "9" * 300}),
    ("an SMS id as a float", lambda: {**_sms(), "id": 1.5}),
    ("an SMS sender as a list", lambda: {**_sms(), "source_address": [1]}),
    ("an event description as a number", lambda: [{**_event(), "description": 5}]),
    ("an event description too long", lambda: [{**_event(), "description": "x" * 1025}]),
    ("an event sim as a text", lambda: [{**_event(), "sim": "89"}]),
    ("an event ICCID as a list", lambda: [{**_event(), "sim": {"iccid": []}}]),
    ("a negative volume", lambda: [{**_usage(), "volume": {"total": -1}}]),
    ("a NaN volume", lambda: [{**_usage(), "volume": {"total": math.nan}}]),
    ("an infinite volume", lambda: [{**_usage(), "volume": {"rx": math.inf}}]),
    ("a huge volume", lambda: [{**_usage(), "volume": {"total": 1e300}}]),
    ("a volume as words", lambda: [{**_usage(), "volume": {"total": "lots"}}]),
    ("a volume as a bool", lambda: [{**_usage(), "volume": {"tx": True}}]),
    ("a volume as a list", lambda: [{**_usage(), "volume": [1]}]),
    ("a DLR without SMS id", lambda: [{**_dlr(), "id": None, "detail": None}]),
    ("a DLR SMS id with spaces", lambda: [{**_dlr(), "detail": {"sms": {"id": "a b"}}}]),
    ("one bad record in a bulk", lambda: [_event(), _usage(), {"x": 1}]),
    ("OS telemetry without payload", lambda: {**_telemetry(), "payload": None}),
    ("OS telemetry without value", lambda: _telemetry(type="STRING")),
    ("OS payload not base64", lambda: _telemetry(encoding="base64", value="%%%")),
    ("OS payload in hex", lambda: _telemetry(encoding="hex", value="00ff")),
    (
        "OS payload over 1024 bytes",
        lambda: _telemetry(
            encoding="base64",
            value=base64.b64encode(b"x" * (ONENCE_MAX_PAYLOAD_BYTES + 1)).decode(),
        ),
    ),
    ("OS string over 1024 bytes", lambda: _telemetry(value="x" * 1025)),
    ("OS base64 text far too long", lambda: _telemetry(encoding="base64", value="A" * 5000)),
    ("OS JSON payload too long", lambda: _telemetry(type="JSON", value=["x" * 100] * 100)),
    ("OS JSON payload with NaN", lambda: _telemetry(type="JSON", value={"t": math.nan})),
    ("OS device as a list", lambda: {**_telemetry(value="x"), "device": []}),
    ("OS type too long", lambda: {**_telemetry(value="x"), "type": "T" * 300}),
    ("OS topic as a number", lambda: _telemetry(value="x", topic=1.5)),
]  # fmt: skip


@pytest.mark.parametrize(
    "make", [m for _, m in MALFORMED], ids=[name for name, _ in MALFORMED]
)
def test_malformed_posts_are_refused(make: Callable[[], Any]) -> None:
    with pytest.raises(InboundFormatError) as caught:
        parse_onence(make())
    assert str(caught.value)


MALFORMED_PATCHES: list[tuple[str, Callable[[], Any]]] = [
    ("null", lambda: None),
    ("an empty list", list),
    ("a text", lambda: "DELIVERED"),
    ("no status", lambda: {**_dlr(), "status": None}),
    ("status as a text", lambda: {**_dlr(), "status": "DELIVERED"}),
    ("no id", lambda: {"status": {"id": 4}}),
    ("an id with a slash", lambda: {"id": "1/2", "status": {"id": 4}}),
    ("an id as an object", lambda: {"id": {}, "status": {"id": 4}}),
    ("an ICCID as a list", lambda: {"id": 1, "status": {}, "endpoint": {"name": []}}),
    ("too many", lambda: [{"id": 1, "status": {"id": 4}}] * 101),
]


@pytest.mark.parametrize(
    "make", [m for _, m in MALFORMED_PATCHES], ids=[n for n, _ in MALFORMED_PATCHES]
)
def test_malformed_patches_are_refused(make: Callable[[], Any]) -> None:
    with pytest.raises(InboundFormatError):
        parse_onence_receipts(make())


# --- fuzz ------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "id", "payload", "endpoint", "name", "source_address", "submit_date", "dcs",
    "multi_part_info", "partno", "total", "identifier", "status", "final_date",
    "detail", "sms", "event_type", "event_severity", "event_source", "description",
    "alert", "timestamp", "sim", "iccid", "traffic_type", "volume", "tx", "rx",
    "start_timestamp", "end_timestamp", "type", "encoding", "value", "topic",
    "received", "source", "device", "imsi", "location", "coordinates",
]  # fmt: skip
objects = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), json_leaf, max_size=6),
    lambda children: st.dictionaries(
        st.sampled_from(KEYS), children | json_leaf, max_size=6
    ),
    max_leaves=16,
)
DOCUMENTED = [_one(n) for n in FILES]


def _mutate(base: Any, path: list[str], value: Any) -> Any:
    """The documented body with the value at ``path`` (a key or nested keys) replaced."""
    if not path or not isinstance(base, dict):
        return value
    return {**base, path[0]: _mutate(base.get(path[0]), path[1:], value)}


mutated = st.builds(
    _mutate,
    st.sampled_from(DOCUMENTED),
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
    json_values | objects,
)
bodies = objects | st.lists(objects | mutated, max_size=4) | mutated | json_values


def _either(parse: Callable[[Any], list[Any]], body: Any) -> None:
    try:
        delivered = parse(body)
    except InboundFormatError as err:
        reason = str(err)
        assert reason
    else:
        _check(delivered)


@seed(20261207)
@FUZZ
@given(body=bodies)
def test_posts_never_crash(body: Any) -> None:
    _either(parse_onence, body)


@seed(20261207)
@FUZZ
@given(body=bodies)
def test_patches_never_crash(body: Any) -> None:
    _either(parse_onence_receipts, body)


def test_fixtures_are_where_the_tests_look() -> None:
    here = Path(__file__).parent / "fixtures" / "recorded" / "1nce"
    assert sorted(p.name for p in here.glob("webhook_*.yaml")) == FILES

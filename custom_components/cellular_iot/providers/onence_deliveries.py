"""Parsers of what 1NCE posts to an account's webhook (no Home Assistant imports).

1NCE delivers to one URL in four shapes, told apart by their keys (the fixtures in
``tests/fixtures/recorded/1nce/webhook_*.yaml`` are 1NCE's published examples):

- **SMS Forwarder** (Platform 1.0; docs sms-forwarder-events, examples-sms-forwarder-
  testing): an MO-SMS is a POST of one JSON object ``{"id", "payload", "submit_date"
  ("2018-08-17 16:31:51"), "dest_address", "source_address" (the SIM's MSISDN), "dcs",
  "endpoint": {"id", "name" (the ICCID)}, "organisation", "multi_part_info": {"partno",
  "total", "identifier"}, "pid"}``; the Delivery Report of an MT-SMS is a PATCH of
  ``{"id", "final_date", "submit_date", "organisation", "endpoint": {"name", "id"},
  "status": {"id": 4, "status": "DELIVERED" | "FAILED"}}`` (:func:`parse_onence_receipts`).
- **Data Streamer**, REST API integration (data-streamer-*, examples-data-streamer-http,
  and the Platform 2.0 dev hub): a POST of a JSON list of up to 3,000 records, with the
  Basic auth header the user set in the Portal. A record is one of
  - an event ``{"id", "timestamp", "event_type": {"id", "description"},
    "event_severity", "event_source", "alert", "description", "sim": {"iccid", ...}?,
    "endpoint"?, "detail"?}``;
  - a usage record ``{"id", "traffic_type": {"id": 5 Data | 6 SMS}, "volume": {"total",
    "tx", "rx"}, "start_timestamp", "end_timestamp", "sim": {"iccid"}, ...}``: data in MB
    (the v2 docs: "MiB - Binary unit based"), SMS as counts with tx = MO (sent by the
    device) and rx = MT ("Number of sent MT-SMS"), the reverse of the API's usage;
  - Platform 2.0 "SMS Events": an MO-SMS as the Forwarder's (no multi_part_info), or an
    MT delivery report ``{"id" (the event's), "final_date", "endpoint", "status":
    {"status": "DELIVERED" | "FAILED" | "EXPIRED", "id": 4 | 5 | 6}, "detail": {"sms":
    {"id": "<the send's id>"}}}``.
- **1NCE OS Cloud Integrator webhook** (cloud-integrator-output-format): a POST of one
  object ``{"id", "type", "received" (ms, as text), "version", "device": {"iccid",
  "imsi", "ip"}, ...}``. ``TELEMETRY_DATA`` carries ``"source": "UDP" | "COAP" |
  "LWM2M"`` (our ``protocol``) and ``"payload": {"type": "JSON" | "STRING", "encoding"?: "base64",
  "value", "topic"? (CoAP's ?t=)}``; the other types (LIFECYCLE, ERROR, GEOFENCE,
  LOCATION, TEST_MESSAGE) carry an object named after their type.

A 1NCE device is known by its SIM's ICCID: a message's ``device_id`` and ``iccid`` are
both the ICCID.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import math
from typing import Any, Final

from .deliveries import (
    JSON,
    MAX_SMS_PARTS,
    Delivered,
    InboundFormatError,
    InboundMessage,
    SimUsage,
    SmsPart,
    SmsReceipt,
    _b64,
    _fingerprint,
    _items,
    _text,
    _time,
)
from .sim import (
    SMS_BUFFERED,
    SMS_CANCELED,
    SMS_DELIVERED,
    SMS_EXPIRED,
    SMS_FAILED,
    SMS_PENDING,
    SMS_UNKNOWN,
)

# A Data Streamer POST holds at most this many records ("A maximum of 3.000 JSON
# object records per sent HTTP Post request", examples-data-streamer-http).
ONENCE_MAX_RECORDS: Final = 3000
# The largest record 1NCE documents, the event "Create PDP Context", is 1,792 bytes as
# printed (tab-indented) and 1,468 compact. 4 KiB a record leaves over twice that for
# fields the examples do not show: 3,000 records of 4 KiB = 12,288,000 bytes.
ONENCE_MAX_BODY_BYTES: Final = ONENCE_MAX_RECORDS * 4096
# 1NCE posts JSON only: the Forwarder's and the Streamer's documented requests carry
# "Content-Type: application/json"; 1NCE OS: "Data is sent in JSON-Format".
CONTENT_TYPES_1NCE: Final = frozenset({JSON})

# An SMS's text: one part holds at most 160 characters (140 bytes, 280 as hex); 2,048
# characters is more than any part, far less than a flood.
ONENCE_MAX_SMS_CHARS: Final = 2048
# A device's message to 1NCE OS: CoAP's "safe payload size of up to 1024 bytes" (UDP's
# is 508); as base64 text at most 1,368 characters.
ONENCE_MAX_PAYLOAD_BYTES: Final = 1024
_MAX_PAYLOAD_B64: Final = 4 * math.ceil(ONENCE_MAX_PAYLOAD_BYTES / 3)
# A payload 1NCE OS already turned into JSON (LwM2M, the Energy Saver's translation):
# its compact text may be longer than the bytes the device sent.
ONENCE_MAX_JSON_PAYLOAD_BYTES: Final = 8 * ONENCE_MAX_PAYLOAD_BYTES
# An event's description, a free text (the longest documented is 210 characters).
_MAX_DESCRIPTION: Final = 1024
# A volume (MB or SMS) beyond this is not a usage record (10 TB).
_MAX_VOLUME: Final = 10_000_000

KIND_SMS: Final = "sms"
KIND_EVENT: Final = "event"
KIND_MESSAGE: Final = "message"

# Data Streamer event types (data-streamer-event-records, v2 network events) that a user
# automates on: the event's "quota" key.
QUOTA_EVENTS: Final[Mapping[int, str]] = {
    18: "data_threshold",
    19: "data_used_up",
    20: "sms_threshold",
    21: "sms_used_up",
    60: "data_expired",
    61: "sms_expired",
}
TRAFFIC_DATA: Final = 5
TRAFFIC_SMS: Final = 6
# 1NCE's data volumes are MiB ("MiB - Binary unit based", v2 data-streamer-usage-events;
# the 1.0 pages say "MegaBytes").
BYTES_PER_MB: Final = 1024 * 1024

# An SMS's status: 2 PENDING, 3 BUFFERED, 4 DELIVERED, 5 FAILED, 6 EXPIRED (the API's
# SMS status; the v2 SMS Events list 4/5/6). The text is read first: it is what the
# pages describe, the ids are the table's.
_SMS_STATUS_IDS: Final[Mapping[int, str]] = {
    2: SMS_PENDING,
    3: SMS_BUFFERED,
    4: SMS_DELIVERED,
    5: SMS_FAILED,
    6: SMS_EXPIRED,
}
_SMS_STATUS_TEXTS: Final[Mapping[str, str]] = {
    "PENDING": SMS_PENDING,
    "BUFFERED": SMS_BUFFERED,
    "DELIVERED": SMS_DELIVERED,
    "FAILED": SMS_FAILED,
    "EXPIRED": SMS_EXPIRED,
    "CANCELED": SMS_CANCELED,
    "CANCELLED": SMS_CANCELED,
}
OS_TELEMETRY: Final = "TELEMETRY_DATA"
# The object each other OS event type carries (cloud-integrator-output-format).
_OS_EVENT_OBJECTS: Final[Mapping[str, str]] = {
    "LIFECYCLE": "lifecycle",
    "ERROR": "error",
    "GEOFENCE": "geofence",
    "LOCATION": "location",
    "TEST_MESSAGE": "integration",
}


def _int(value: Any) -> int | None:
    """Read a small whole number (a number, or digits as text); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value) if len(value) < 10 else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e9:
        return int(value)
    return value if isinstance(value, int) and abs(value) < 10**9 else None


def _name(value: Any) -> str | None:
    """Return the text of an ``{"id", "description"}`` object (or a plain text)."""
    if isinstance(value, Mapping):
        value = value.get("description")
    if isinstance(value, str) and 0 < len(value) <= 256:
        return value
    return None


def _object(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Return the nested object ``key`` (empty when absent or null, as 1NCE writes)."""
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InboundFormatError(f"{key} must be an object")
    return value


def _record_id(item: Mapping[str, Any], prefix: str, *parts: Any) -> str:
    """``<prefix>-<id>``, or a fingerprint of ``parts`` for a record without an id."""
    record_id = _text(item.get("id"), "id")
    if record_id is not None:
        return f"{prefix}-{record_id}"
    return _fingerprint(f"1nce-{prefix}", *parts)


def _sms_id(value: Any, name: str) -> str:
    """Read an SMS's id as the API knows it: digits (number or text), or a token."""
    text = _text(value, name, required=True)
    assert text is not None
    if len(text) > 64 or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in text
    ):
        raise InboundFormatError(f"{name} is not an SMS id")
    return str(int(text)) if text.isdecimal() else text


def sms_status(status: Any) -> str:
    """Return the delivery state (``providers.sim.SMS_STATES``) of a ``status``."""
    if not isinstance(status, Mapping):
        return SMS_UNKNOWN
    for key in ("status", "description"):
        text = status.get(key)
        if isinstance(text, str) and text.strip().upper() in _SMS_STATUS_TEXTS:
            return _SMS_STATUS_TEXTS[text.strip().upper()]
    return _SMS_STATUS_IDS.get(_int(status.get("id")) or 0, SMS_UNKNOWN)


# --- SMS ----------------------------------------------------------------------------------


def _iccid_of_endpoint(item: Mapping[str, Any]) -> str:
    endpoint = item.get("endpoint")
    if not isinstance(endpoint, Mapping):
        raise InboundFormatError("an SMS without its endpoint")
    iccid = _text(endpoint.get("name"), "endpoint.name", required=True)
    assert iccid is not None
    return iccid


def _part(info: Any, iccid: str) -> SmsPart | None:
    """Where a part of a long SMS belongs; None for an SMS of one part.

    "multi_part_info" that is not a sane part (no identifier, a part number outside
    1 … total) makes the SMS stand alone: it is fired as it is, nothing is dropped.
    """
    if not isinstance(info, Mapping):
        return None
    number, total = _int(info.get("partno")), _int(info.get("total"))
    identifier = info.get("identifier")
    if (
        number is None
        or total is None
        or not 1 <= number <= total <= MAX_SMS_PARTS
        or total == 1
        or isinstance(identifier, bool)
        or not isinstance(identifier, (str, int))
        or not 0 < len(str(identifier)) <= 64
    ):
        return None
    return SmsPart(("1nce", iccid, str(identifier)), number, total)


def _sms(item: Mapping[str, Any]) -> InboundMessage:
    """Read an MO-SMS: the Forwarder's POST, or a Platform 2.0 SMS Event."""
    text = item["payload"]
    if not isinstance(text, str):
        raise InboundFormatError("payload must be text")
    if len(text) > ONENCE_MAX_SMS_CHARS:
        raise InboundFormatError("payload is too long for an SMS")
    iccid = _iccid_of_endpoint(item)
    sender = _text(item.get("source_address"), "source_address")
    dcs = _int(item.get("dcs"))
    submitted = item.get("submit_date")
    return InboundMessage(
        payload=text.encode(),
        message_id=_record_id(item, "sms", iccid, sender, submitted, text),
        device_id=iccid,
        iccid=iccid,
        received_at=_time(submitted),
        extra={"kind": KIND_SMS, "sender": sender, "dcs": dcs},
        part=_part(item.get("multi_part_info"), iccid),
    )


def _receipt(item: Mapping[str, Any]) -> SmsReceipt:
    """Read an MT-SMS's delivery report: the Forwarder's PATCH, or a v2 SMS Event.

    The v2 report's own ``id`` is the event's; the SMS's is ``detail.sms.id``.
    """
    status = item.get("status")
    if not isinstance(status, Mapping):
        raise InboundFormatError("missing status")
    detail = item.get("detail")
    sms = detail.get("sms") if isinstance(detail, Mapping) else None
    if isinstance(sms, Mapping) and sms.get("id") not in (None, ""):
        sms_id = _sms_id(sms.get("id"), "detail.sms.id")
    else:
        sms_id = _sms_id(item.get("id"), "id")
    endpoint = item.get("endpoint")
    iccid = (
        _text(endpoint.get("name"), "endpoint.name")
        if isinstance(endpoint, Mapping)
        else None
    )
    return SmsReceipt(
        sms_id=sms_id,
        status=sms_status(status),
        device_id=iccid,
        final=_time(item.get("final_date")),
    )


# --- Data Streamer -------------------------------------------------------------------------


def _sim_iccid(item: Mapping[str, Any]) -> str | None:
    return _text(_object(item, "sim").get("iccid"), "sim.iccid")


def _event(item: Mapping[str, Any]) -> InboundMessage:
    """Read a Data Streamer event record: a message of kind "event"."""
    event_type = item["event_type"]
    description = item.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise InboundFormatError("description must be text")
    if len(description) > _MAX_DESCRIPTION:
        raise InboundFormatError("description is too long")
    iccid = _sim_iccid(item)
    type_id = _int(event_type.get("id"))
    alert = item.get("alert")
    return InboundMessage(
        payload=description.encode(),
        message_id=_record_id(
            item, "event", iccid, item.get("timestamp"), type_id, description
        ),
        device_id=iccid,
        iccid=iccid,
        received_at=_time(item.get("timestamp")),
        extra={
            "kind": KIND_EVENT,
            "event_type": _name(event_type),
            "event_type_id": type_id,
            "severity": _name(item.get("event_severity")),
            "event_source": _name(item.get("event_source")),
            "alert": alert is True or (type(alert) is int and alert == 1),
            "quota": QUOTA_EVENTS.get(type_id) if type_id is not None else None,
        },
    )


def _volume(value: Any, name: str) -> float:
    """Read a volume as 1NCE writes it: a number, or a decimal as text; absent is 0."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, str) and len(value) <= 32:
        try:
            value = float(value)
        except ValueError:
            raise InboundFormatError(f"{name} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InboundFormatError(f"{name} is not a number")
    if not (math.isfinite(value) and 0 <= value <= _MAX_VOLUME):
        raise InboundFormatError(f"{name} is out of range")
    return float(value)


def _usage(item: Mapping[str, Any]) -> SimUsage | None:
    """Read a usage record: what a SIM used; None for a traffic type not known."""
    traffic = _int(item["traffic_type"].get("id"))
    if traffic not in (TRAFFIC_DATA, TRAFFIC_SMS):
        traffic = {"DATA": TRAFFIC_DATA, "SMS": TRAFFIC_SMS}.get(
            (_name(item["traffic_type"]) or "").upper()
        )
    volume = _object(item, "volume")
    tx = _volume(volume.get("tx"), "volume.tx")
    rx = _volume(volume.get("rx"), "volume.rx")
    total = (
        _volume(volume.get("total"), "volume.total") if "total" in volume else tx + rx
    )
    iccid = _sim_iccid(item)
    start, end = item.get("start_timestamp"), item.get("end_timestamp")
    record_id = _record_id(item, "usage", iccid, start, end, traffic, tx, rx)
    if traffic == TRAFFIC_DATA:
        return SimUsage(
            record_id=record_id,
            iccid=iccid,
            device_id=iccid,
            data_bytes=round(total * BYTES_PER_MB),
            start=_time(start),
            end=_time(end),
        )
    if traffic == TRAFFIC_SMS:
        return SimUsage(
            record_id=record_id,
            iccid=iccid,
            device_id=iccid,
            sms_sent=round(tx),  # MO: "Number of sent MO-SMS"
            sms_received=round(rx),  # MT
            start=_time(start),
            end=_time(end),
        )
    return None


def _record(item: Mapping[str, Any]) -> Delivered | None:
    """Read one Data Streamer record (or an SMS object), told apart by its keys."""
    if isinstance(item.get("event_type"), Mapping):
        return _event(item)
    if isinstance(item.get("traffic_type"), Mapping):
        return _usage(item)
    if "payload" in item:
        return _sms(item)
    if isinstance(item.get("status"), Mapping):
        return _receipt(item)
    raise InboundFormatError("not a 1NCE SMS, event or usage record")


# --- 1NCE OS -------------------------------------------------------------------------------


def _os_payload(payload: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """Return the bytes a device sent, and how 1NCE OS gave them."""
    value = payload.get("value")
    kind = _text(payload.get("type"), "payload.type")
    encoding = _text(payload.get("encoding"), "payload.encoding")
    if isinstance(value, str):
        if encoding is not None and encoding.lower() == "base64":
            if len(value) > _MAX_PAYLOAD_B64 + 64:  # whitespace aside
                raise InboundFormatError("payload is too long")
            raw = _b64(value, "payload.value")
        elif encoding is None:
            raw = value.encode()
        else:
            raise InboundFormatError("payload.encoding is not base64")
        if len(raw) > ONENCE_MAX_PAYLOAD_BYTES:
            raise InboundFormatError("payload is too long")
    elif value is None:
        raise InboundFormatError("missing payload.value")
    else:  # JSON, as 1NCE OS parsed or translated it
        try:
            raw = json.dumps(
                value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode()
        except (ValueError, RecursionError) as err:
            raise InboundFormatError("payload.value is not JSON") from err
        if len(raw) > ONENCE_MAX_JSON_PAYLOAD_BYTES:
            raise InboundFormatError("payload is too long")
    return raw, {"payload_type": kind, "encoding": encoding}


def _os_message(item: Mapping[str, Any]) -> InboundMessage:
    """Read a 1NCE OS webhook delivery: telemetry, or another OS event."""
    event_type = _text(item.get("type"), "type", required=True)
    assert event_type is not None
    device = _object(item, "device")
    iccid = _text(device.get("iccid"), "device.iccid")
    imsi = _text(device.get("imsi"), "device.imsi")
    received = item.get("received")
    topics: list[str] = []
    if event_type == OS_TELEMETRY:
        payload_obj = item.get("payload")
        if not isinstance(payload_obj, Mapping):
            raise InboundFormatError("missing payload")
        payload, how = _os_payload(payload_obj)
        source = _text(item.get("source"), "source")
        topic = _text(payload_obj.get("topic"), "payload.topic")
        if topic is not None:
            topics.append(topic)
        extra: dict[str, Any] = {
            "kind": KIND_MESSAGE,
            # "source" is the event's own key (webhook, listener…): the protocol the
            # device used is "protocol", as the on-device listener's UDP/TCP.
            "protocol": source.upper() if source is not None else None,
            "imsi": imsi,
            **how,
        }
        if topic is not None:
            extra["topic"] = topic
    else:
        # LIFECYCLE, ERROR, GEOFENCE, LOCATION, TEST_MESSAGE…: an event; its payload is
        # the object the type carries (lifecycle, error, geofence, location,
        # integration; for a type not documented, the one named after it), as JSON.
        key = _OS_EVENT_OBJECTS.get(event_type, event_type.lower())
        detail = item.get(key)
        if not isinstance(detail, Mapping):
            detail = {}
        try:
            payload = json.dumps(
                detail, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode()
        except (ValueError, RecursionError) as err:
            raise InboundFormatError(f"{key} is not JSON") from err
        if len(payload) > ONENCE_MAX_JSON_PAYLOAD_BYTES:
            raise InboundFormatError("event is too long")
        extra = {
            "kind": KIND_EVENT,
            "event_type": event_type,
            "event_source": "1NCE OS",  # a Data Streamer event's: Network, API…
            "imsi": imsi,
            **_os_detail(detail),
        }
    return InboundMessage(
        payload=payload,
        message_id=_record_id(item, "os", event_type, iccid, received, payload),
        device_id=iccid,
        iccid=iccid,
        topics=topics,
        received_at=_time(received),
        extra=extra,
    )


def _os_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a user automates on in an OS event: its texts, its position."""
    out: dict[str, Any] = {}
    for key in ("type", "message", "description", "name", "source"):
        value = detail.get(key)
        if isinstance(value, str) and 0 < len(value) <= _MAX_DESCRIPTION:
            out[f"detail_{key}"] = value
    coordinates = detail.get("coordinates")  # [longitude, latitude], as text
    if isinstance(coordinates, list) and len(coordinates) == 2:
        try:
            longitude, latitude = (float(c) for c in coordinates)
        except (TypeError, ValueError):
            return out
        if -180 <= longitude <= 180 and -90 <= latitude <= 90:
            out["longitude"], out["latitude"] = longitude, latitude
    return out


# --- the webhook's entry points --------------------------------------------------------------


def parse_onence(body: Any) -> list[Delivered]:
    """Parse a 1NCE POST: an MO-SMS, a Data Streamer list, or a 1NCE OS delivery.

    Usage records become :class:`SimUsage`, v2 delivery reports :class:`SmsReceipt`,
    everything else :class:`InboundMessage`. Raises :class:`InboundFormatError` (only).
    """
    if isinstance(body, list):
        items = _items(body, ONENCE_MAX_RECORDS)  # counted before any record is read
    else:
        items = _items(body, 1)
        item = items[0]
        if isinstance(item.get("type"), str) and not isinstance(
            item.get("event_type"), Mapping
        ):
            return [_os_message(item)]
    out: list[Delivered] = []
    for item in items:
        delivered = _record(item)
        if delivered is not None:
            out.append(delivered)
    return out


def parse_onence_receipts(body: Any) -> list[SmsReceipt]:
    """Parse the SMS Forwarder's PATCH: the delivery report(s) of MT-SMS."""
    return [_receipt(item) for item in _items(body)]

"""Parsers of the providers' webhook deliveries (no Home Assistant imports).

Each parser takes the decoded body (a JSON value, or a :class:`Form`) and returns the
messages it holds as :class:`InboundMessage`, or raises :class:`InboundFormatError`
with a short reason. Parsers never raise anything else, whatever the input: the
webhook answers 400 with the reason. :data:`CONTENT_TYPES` says which media types each
provider posts; the webhook answers any other with 415 before a parser sees the body.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import json
from typing import Any, Final

# One delivery holds at most this many messages (monoZ batches up to 10).
MAX_MESSAGES: Final = 100
# emnify's Data Streamer bulk size is not documented ("each HTTP POST includes a JSON
# collection", sent "at intervals"): a bulk is bounded by its body size,
# EMNIFY_MAX_BODY_BYTES, and, for bodies of tiny records, by this many records.
EMNIFY_MAX_MESSAGES: Final = 20_000
# The largest event example emnify documents (Delete PDP Context) is 1.9 KB as the docs
# print it, 1.4 KB compact; the smallest 0.4 KB compact. 8 MB holds over 4,000 of the
# largest, 20,000 of the smallest: a busy interval's bulk, not a flood.
EMNIFY_MAX_BODY_BYTES: Final = 8 * 1024 * 1024
# A long SMS has at most 255 parts (the 8-bit part count of 3GPP TS 23.040).
MAX_SMS_PARTS: Final = 255

JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"
NO_CONTENT_TYPE: Final = ""  # the request carries no Content-Type header


class InboundFormatError(ValueError):
    """The body is not the provider's delivery format; the text says why."""


class Form(dict[str, str]):
    """A form body (``application/x-www-form-urlencoded``): each field and its value.

    A type of its own so that a parser tells a form from a JSON object.
    """


@dataclass(frozen=True, slots=True)
class SmsPart:
    """Where one part of a long (concatenated) SMS belongs."""

    key: tuple[str, ...]  # the long SMS: who sent it, and its identifier
    number: int  # 1 … total
    total: int  # 2 … MAX_SMS_PARTS


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One device message taken out of a delivery."""

    payload: bytes
    message_id: str
    device_id: str | None = None
    iccid: str | None = None
    topics: list[str] = field(default_factory=list)
    received_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # A part of a long SMS, to be put together with the others before it is fired.
    part: SmsPart | None = None
    # Other ids the same message has when it arrives by another path (a Hologram
    # record polled from the API and the same message from a route): deduplicated
    # under each of them too.
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every id the message is deduplicated under."""
        return (self.message_id, *self.aliases)


def _fingerprint(*parts: Any) -> str:
    """Return a message id for deliveries that carry none (equal retries hash equally)."""
    text = repr(parts)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InboundFormatError(f"missing {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InboundFormatError(f"{name} must be text")
    text = str(value)
    if len(text) > 256:
        raise InboundFormatError(f"{name} is too long")
    return text


def _time(value: Any) -> datetime | None:
    """Read an ISO 8601 text or a UNIX time (seconds or milliseconds)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            seconds = value / 1000 if value > 1e11 else value
            # 0 is what Hologram sends when the device gave no time.
            return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None
        if isinstance(value, str):
            text = value.strip()
            if text.replace(".", "", 1).isdigit():
                return _time(float(text))
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InboundFormatError(f"{name} is not base64") from err


def _items(body: Any, limit: int = MAX_MESSAGES) -> list[Any]:
    """Return the objects of a delivery: a single object, or a batch (list)."""
    if isinstance(body, Form):
        raise InboundFormatError("a form is not this provider's format")
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InboundFormatError("empty batch")
    if len(items) > limit:
        raise InboundFormatError(f"more than {limit} messages")
    for item in items:
        if not isinstance(item, Mapping):
            raise InboundFormatError("expected a JSON object")
    return items


PARSERS: dict[str, Callable[[Any], list[InboundMessage]]] = {}
# The media types each provider posts (parameters such as charset aside).
CONTENT_TYPES: dict[str, frozenset[str]] = {}


# --- monoZ:Link ------------------------------------------------------------------------
# Webhook data format (docs.monoz.io, monoZ:Link > Protocol configuration > Webhook):
# POST application/json, one object {"ICCID", "Timestamp", "Payload"} or, when several
# packets arrive within a second, an array of up to 10. With a topic configured, the
# "ICCID" key is named "Topic". "Payload" is the device's raw data as text. No message
# id: the fingerprint of (ICCID/Topic, Timestamp, Payload) stands in for it, and of its
# place among the equal packets of the batch: a device may send the same reading twice
# within the second the Timestamp names (two packets, both delivered), while a retried
# batch repeats every fingerprint (dropped).


def parse_monoz(body: Any) -> list[InboundMessage]:
    """Parse a monoZ:Link webhook delivery."""
    messages: list[InboundMessage] = []
    seen: dict[str, int] = {}  # fingerprint -> equal packets before it in this batch
    for item in _items(body):
        iccid = _text(item.get("ICCID"), "ICCID")
        topic = _text(item.get("Topic"), "Topic")
        if iccid is None and topic is None:
            raise InboundFormatError("missing ICCID or Topic")
        if "Payload" not in item:
            raise InboundFormatError("missing Payload")
        raw = item["Payload"]
        if isinstance(raw, str):
            payload = raw.encode()
        elif raw is None:
            payload = b""
        else:
            payload = json.dumps(
                raw, separators=(",", ":"), ensure_ascii=False
            ).encode()
        timestamp = item.get("Timestamp")
        message_id = _fingerprint("monoz", iccid, topic, timestamp, raw)
        repeat = seen.get(message_id, 0)
        seen[message_id] = repeat + 1
        if repeat:  # the second equal packet of the batch (the first keeps its id)
            message_id = _fingerprint("monoz", iccid, topic, timestamp, raw, repeat)
        messages.append(
            InboundMessage(
                payload=payload,
                message_id=message_id,
                iccid=iccid,
                topics=[topic] if topic else [],
                received_at=_time(timestamp),
                extra={"topic": topic} if topic else {},
            )
        )
    return messages


PARSERS["monoz"] = parse_monoz
CONTENT_TYPES["monoz"] = frozenset({JSON})


# --- Hologram ---------------------------------------------------------------------------
# Cloud Services Router routes (Hologram's CSR reference, "Webhook Formats"):
# - "Custom Webhook URL": POST application/x-www-form-urlencoded with the fields
#   "userid", "payload" (the message as JSON: {"received", "authtype", "tags",
#   "device_name", "errorcode", "source", "timestamp", "data" (base64), "device_id"}),
#   "key" (the route's key) and "properties" (the route's settings as JSON).
# - "Advanced Webhook Builder": POST of the user's template, as application/json when
#   "Send JSON Content Type" is checked, with no Content-Type otherwise. With the
#   README's template it is a JSON object with the same names: "device_id",
#   "device_name", "received", "data" (base64 of <<data>>), or "decdata" (the text).
# - A stored message as the API returns it ({"deviceid", "record_id", "data": "<JSON of
#   the message>"}) is accepted too, as JSON. "record_id" is the message id if present.


def _hologram_form(form: Form) -> Mapping[str, Any]:
    """Return the message of a Custom Webhook URL form: its "payload" field, as JSON."""
    text = form.get("payload")
    if text is None:
        raise InboundFormatError("form has no payload field")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InboundFormatError("payload is not JSON") from err
    if not isinstance(message, Mapping):
        raise InboundFormatError("payload is not a JSON object")
    return message


def _hologram_record(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """Unwrap a stored record, whose "data" is the message as JSON text."""
    value = item.get("data")
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError) as err:
            raise InboundFormatError("data is not JSON") from err
        if isinstance(inner, Mapping) and ("data" in inner or "decdata" in inner):
            merged = {**item, **inner}
            merged.setdefault("record_id", item.get("record_id"))
            return merged
    return item


# Hologram's system topics (they begin and end with "_"; users cannot set them).
# docs.hologram.io "Data router messages and topics" lists _API_RESP_, _DEVICE_<id>_,
# _IMEI_FIRST_, _IMEI_CHANGE_, _IMEI_TAC_CHANGE_, _JSONSTRING_, _RESTAPI_,
# _SOCKETAPI_, _SIMPLESTRING_; the /csr/data example adds _DATALIMIT_ (a device
# paused at its data limit); help.hologram.io "How to send and receive SMS via the
# API" shows a device's SMS reply as a record tagged _SMS_DO_ (and _TAG_<id>_, the
# device's tag). A record with one of these notice topics is Hologram's notice about
# the device, not data the device sent.
HOLOGRAM_NOTICE_TOPICS: Final = frozenset(
    {"_DATALIMIT_", "_IMEI_FIRST_", "_IMEI_CHANGE_", "_IMEI_TAC_CHANGE_"}
)
HOLOGRAM_SMS_TOPIC: Final = "_SMS_DO_"
KIND_MESSAGE: Final = "message"
KIND_SMS: Final = "sms"
KIND_SYSTEM: Final = "system"
_MAX_TOPICS: Final = 64


def hologram_kind(topics: list[str]) -> str:
    """Tell a device's data from its SMS (``_SMS_DO_``) and from Hologram's notices."""
    if HOLOGRAM_SMS_TOPIC in topics:
        return KIND_SMS
    if not HOLOGRAM_NOTICE_TOPICS.isdisjoint(topics):
        return KIND_SYSTEM
    return KIND_MESSAGE


def _hologram_topics(tags: Any) -> list[str]:
    """Every topic as Hologram sent it (system topics too), in its order."""
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    if not isinstance(tags, list):
        return []
    topics = [t for t in tags if isinstance(t, str) and 0 < len(t) <= 256]
    return list(dict.fromkeys(topics))[:_MAX_TOPICS]


def hologram_alias(device_id: str | None, received: Any, payload: bytes) -> str:
    """Return the id a Hologram message has whichever way it arrives (route, API).

    A route's delivery carries no record id; the device, the time the router received
    it and the payload's bytes name it on both paths.
    """
    when = _time(received)
    return _fingerprint(
        "hologram-message",
        device_id,
        when.isoformat() if when is not None else None,
        base64.b64encode(payload).decode(),
    )


def parse_hologram(body: Any) -> list[InboundMessage]:
    """Parse a Hologram route webhook delivery (or a stored record of the API)."""
    if isinstance(body, Form):
        items = [_hologram_form(body)]
    else:
        items = [_hologram_record(outer) for outer in _items(body)]
    return [hologram_message(item) for item in items]


def hologram_message(item: Mapping[str, Any]) -> InboundMessage:
    """One Hologram message (a route's payload, or an unwrapped stored record).

    ``topics`` keeps every topic Hologram sent, its system topics (``_DEVICE_<id>_``,
    ``_SMS_DO_``, ``_DATALIMIT_``...) too; ``kind`` says what the message is.
    """
    device = item.get("device")
    device_id = _text(
        item.get("device_id")
        or item.get("deviceid")
        or (device.get("id") if isinstance(device, Mapping) else None),
        "device_id",
    )
    data = item.get("data")
    if isinstance(data, str):
        payload = _b64(data, "data")
    elif isinstance(item.get("decdata"), str):
        payload = item["decdata"].encode()
    else:
        raise InboundFormatError("missing data (base64) or decdata")
    topics = _hologram_topics(item.get("tags"))
    received = item.get("received") or item.get("timestamp")
    record_id = _text(item.get("record_id"), "record_id")
    name = item.get("device_name") or (
        device.get("name") if isinstance(device, Mapping) else None
    )
    alias = hologram_alias(device_id, received, payload)
    return InboundMessage(
        payload=payload,
        message_id=record_id
        or _fingerprint("hologram", device_id, received, data, item.get("decdata")),
        device_id=device_id,
        topics=topics,
        received_at=_time(received),
        extra={
            "kind": hologram_kind(topics),
            "device_name": name if isinstance(name, str) else None,
        },
        aliases=(alias,),
    )


PARSERS["hologram"] = parse_hologram
CONTENT_TYPES["hologram"] = frozenset({JSON, NO_CONTENT_TYPE, FORM})


# --- emnify -----------------------------------------------------------------------------
# Everything emnify posts is JSON (application/json); it posts no forms.
# - SMS callback (service profile "api_callback"): a POST with one JSON object per
#   mobile-originated SMS: {"id", "endpoint": {"id", "name"}, "organisation",
#   "source_address", "dest_address", "payload" (text), "dcs", "pid", "submit_date",
#   "multi_part_info": {"partno", "total", "identifier"}}. Each part of a long SMS
#   comes as its own POST with the same "identifier" (the SMS Forwarder of 1NCE, which
#   runs on emnify's platform, documents the same body with "multi_part_info"). With
#   an "api_secret", the request carries "Authorization: Bearer <JWT signed with the
#   secret>". Delivery receipts come as PATCH and are not accepted here.
# - Data Streamer webhook: POST of a record, or a JSON array of them in bulk mode (of
#   undocumented size). An event record: {"id", "timestamp", "alert" (true/false, or
#   1/0 in some examples), "description", "event_type": {"id", "description"},
#   "event_severity", "event_source", "endpoint": {"id", "name", ...} or null, "sim":
#   {"iccid", ...} or null, ...}; a usage record: {"id", "traffic_type": {"id",
#   "description"}, "start_timestamp", "end_timestamp", "volume", "cost", "endpoint",
#   "sim", ...}. Usage records are accepted and ignored, so that a stream that mixes
#   them is not put into its error state. An object that is none of the three is
#   refused.


def _emnify_endpoint(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    endpoint = item.get("endpoint")
    device_id = name = None
    if isinstance(endpoint, Mapping):
        device_id = _text(endpoint.get("id"), "endpoint.id")
        raw_name = endpoint.get("name")
        name = raw_name if isinstance(raw_name, str) else None
    return device_id, name


def _emnify_iccid(item: Mapping[str, Any]) -> str | None:
    sim = item.get("sim")
    return _text(sim.get("iccid"), "sim.iccid") if isinstance(sim, Mapping) else None


def _small_int(value: Any) -> int | None:
    """Return a count as emnify writes it (a number, or digits as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value) if len(value) < 6 else None
    return value if isinstance(value, int) else None


def _emnify_part(
    info: Any, device_id: str | None, sender: str | None
) -> SmsPart | None:
    """Return where a part of a long SMS belongs; None for an SMS of one part.

    "multi_part_info" that is not a sane part (no identifier, a part number outside
    1 … total) makes the SMS stand alone: it is fired as it is, nothing is dropped.
    """
    if not isinstance(info, Mapping):
        return None
    number, total = _small_int(info.get("partno")), _small_int(info.get("total"))
    identifier = info.get("identifier")
    if (
        number is None
        or total is None
        or not 1 <= number <= total <= MAX_SMS_PARTS
        or total == 1
        or isinstance(identifier, bool)
        or not isinstance(identifier, (str, int))
        or len(str(identifier)) > 64
    ):
        return None
    return SmsPart(
        ("emnify", device_id or "", sender or "", str(identifier)), number, total
    )


def _emnify_alert(value: Any) -> bool:
    # Most examples say true/false; "Organisation blocked" says 1.
    return value is True or (type(value) is int and value == 1)


def parse_emnify(body: Any) -> list[InboundMessage]:
    """Parse an emnify SMS callback or Data Streamer delivery."""
    messages: list[InboundMessage] = []
    for item in _items(body, EMNIFY_MAX_MESSAGES):
        message_id = _text(item.get("id"), "id")
        device_id, name = _emnify_endpoint(item)
        part = None
        if "payload" in item:
            text = item["payload"]
            if not isinstance(text, str):
                raise InboundFormatError("payload must be text")
            if not isinstance(item.get("endpoint"), Mapping):
                raise InboundFormatError("an SMS without its endpoint")
            kind, time_key = "sms", "submit_date"
            raw_sender, dcs = item.get("source_address"), item.get("dcs")
            sender = str(raw_sender) if isinstance(raw_sender, (str, int)) else None
            extra: dict[str, Any] = {
                "sender": sender,
                "dcs": dcs if isinstance(dcs, int) else None,
            }
            part = _emnify_part(item.get("multi_part_info"), device_id, sender)
        elif isinstance(item.get("event_type"), Mapping):
            description = item.get("description")
            text = description if isinstance(description, str) else ""
            kind, time_key = "event", "timestamp"
            type_name = item["event_type"].get("description")
            severity = item.get("event_severity")
            severity_name = (
                severity.get("description") if isinstance(severity, Mapping) else None
            )
            extra = {
                "event_type": type_name if isinstance(type_name, str) else None,
                "alert": _emnify_alert(item.get("alert")),
                "severity": severity_name if isinstance(severity_name, str) else None,
            }
        elif isinstance(item.get("traffic_type"), Mapping):
            continue  # a usage record: accepted, not a message
        else:
            raise InboundFormatError("not an emnify SMS, event or usage record")
        messages.append(
            InboundMessage(
                payload=text.encode(),
                message_id=f"{kind}-{message_id}"
                if message_id
                else _fingerprint(
                    f"emnify-{kind}", device_id, item.get(time_key), text
                ),
                device_id=device_id,
                iccid=_emnify_iccid(item),
                received_at=_time(item.get(time_key)),
                extra={"kind": kind, "device_name": name, **extra},
                part=part,
            )
        )
    return messages


PARSERS["emnify"] = parse_emnify
CONTENT_TYPES["emnify"] = frozenset({JSON})


# --- emnify SMS delivery receipts (PATCH) ----------------------------------------------
# "The callback URL may also be used to receive SMS delivery receipts in the form of a
# PATCH request" (docs.emnify.com, SMS callbacks): for an SMS sent through the API to an
# endpoint whose service profile has the callback, emnify PATCHes one JSON object to
# the SMS callback URL, as published (emnify/product-docs, the delivery notification
# figure of "Configure the SMS interface"): {"status": {"status": "DELIVERED", "id": 4},
# "endpoint": {"id", "name"}, "id" (the SMS's id, as in the Location of its send),
# "submit_date", "organisation": {"id"}, "final_date"}. Parsed by
# :func:`parse_emnify_receipts` (a list of them is taken too).


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    """One SMS delivery receipt: which SMS, and the state it reached."""

    sms_id: str
    status: str
    """One of ``providers.sim.SMS_STATES`` (``unknown`` for a state not known)."""
    device_id: str | None = None
    final: datetime | None = None


@dataclass(frozen=True, slots=True)
class SimUsage:
    """What a SIM used in a period, as a provider streams it (1NCE's Data Streamer).

    A parser returns these beside its messages; the webhook hands them to the
    account's SIMs (:meth:`~..coordinator.SimCoordinator.async_apply_usage`), which
    count them until the next refresh reads the totals again.
    """

    record_id: str
    """The record's id (a retransmitted record has the same one)."""
    iccid: str | None = None
    device_id: str | None = None
    data_bytes: int = 0
    """Data used (upload and download), in bytes."""
    sms_sent: int = 0
    """SMS the device sent (mobile originated)."""
    sms_received: int = 0
    """SMS the device received (mobile terminated)."""
    start: datetime | None = None
    end: datetime | None = None


# What a parser may take out of one delivery: messages (events), delivery receipts of
# SMS sent, and SIM usage; the webhook routes each to its place.
type Delivered = InboundMessage | SmsReceipt | SimUsage


def parse_emnify_receipts(body: Any) -> list[SmsReceipt]:
    """Parse an emnify SMS delivery receipt (the body of its PATCH)."""
    from .emnify import sms_state  # noqa: PLC0415 - emnify's own state table

    receipts: list[SmsReceipt] = []
    for item in _items(body):
        sms_id = _text(item.get("id"), "id", required=True)
        assert sms_id is not None
        if not (sms_id.isascii() and sms_id.isdecimal()):
            raise InboundFormatError("id must be the SMS's number")
        status = item.get("status")
        if not isinstance(status, Mapping):
            raise InboundFormatError("missing status")
        device_id, _ = _emnify_endpoint(item)
        receipts.append(
            SmsReceipt(
                sms_id=str(int(sms_id)),
                status=sms_state(status),
                device_id=device_id,
                final=_time(item.get("final_date")),
            )
        )
    return receipts

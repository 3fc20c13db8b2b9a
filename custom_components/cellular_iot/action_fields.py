"""The validators of the actions' fields: each bad value a translated error.

Every validator raises :class:`~.action_errors.FieldInvalid` with a translation key,
which ``services.py`` turns into a ``ServiceValidationError`` naming the field by
its label. Counts and sizes are capped before any item is looked at.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
import json
from typing import Any, Final

from homeassistant.util import dt as dt_util

from .action_errors import FieldInvalid
from .const import (
    ATTR_DATA_BASE64,
    ATTR_DEVICE,
    ATTR_DEVICE_IDS,
    ATTR_MESSAGE,
    ATTR_TOPICS,
)
from .providers.hologram import MAX_CLOUD_MESSAGE_BYTES, is_device_webhook_url
from .providers.monoz import valid_downlink_topic, valid_iccid
from .providers.sms import (
    ALPHANUMERIC_SENDER as _ALPHANUMERIC_SENDER,
    E164 as _E164,
    PHONE_NUMBER as _PHONE_NUMBER,
)

__all__ = ["_ALPHANUMERIC_SENDER", "_E164", "_PHONE_NUMBER", "FieldInvalid"]

MAX_SMS_BYTES: Final = 10 * 1024
# Most device IDs (or devices) one send_cloud_message call takes; Hologram publishes
# no limit for deviceids, this keeps one call's validation and request bounded.
MAX_DEVICE_IDS: Final = 1000
# Most topics one send_to_cloud call takes, and the longest topic.
MAX_TOPICS: Final = 100
MAX_TOPIC_CHARS: Final = 100
# The largest provider ID accepted (a signed 64-bit integer).
MAX_PROVIDER_ID: Final = 2**63 - 1


def _utf8_size(text: str, field: str) -> int:
    """Return the UTF-8 size of a text; a lone surrogate makes it invalid text."""
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise FieldInvalid("invalid_text", field=field) from None


# --- field validators -------------------------------------------------------------


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise FieldInvalid(key, value=value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif (
        isinstance(value, str)
        and (text := value.strip()).isascii()
        and text.isdecimal()
        and len(text) <= len(str(MAX_PROVIDER_ID))
    ):
        number = int(text)
    else:
        raise FieldInvalid(key, value=value)
    if not 0 < number <= MAX_PROVIDER_ID:
        raise FieldInvalid(key, value=value)
    return number


def _check_count(items: Collection[Any], field: str, most: int) -> None:
    """Refuse a list longer than ``most`` before looking at any of its items."""
    if len(items) > most:
        raise FieldInvalid("too_many_items", field=field, count=len(items), max=most)


def _device_ids(value: Any) -> list[int]:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or value is None or value == "":
        raise FieldInvalid("invalid_device_ids", value=value)
    _check_count(items, ATTR_DEVICE_IDS, MAX_DEVICE_IDS)
    # In order, without duplicates, in linear time.
    return list(
        dict.fromkeys(_positive_int(item, "invalid_device_ids") for item in items)
    )


def _device_id(value: Any) -> int:
    return _positive_int(value, "invalid_device_id")


def _port(value: Any) -> int:
    port = _positive_int(value, "invalid_port")
    if port > 65535:
        raise FieldInvalid("invalid_port", value=value)
    return port


def _protocol(value: Any) -> str:
    if not isinstance(value, str) or value.strip().upper() not in ("TCP", "UDP"):
        raise FieldInvalid("invalid_protocol", value=value)
    return value.strip().upper()


def _boolean(field: str) -> Callable[[Any], bool]:
    def validate(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in (
            "true",
            "false",
            "on",
            "off",
            "yes",
            "no",
            "1",
            "0",
        ):
            return value.strip().lower() in ("true", "on", "yes", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise FieldInvalid("invalid_boolean", field=field, value=value)

    return validate


def _text(field: str, max_bytes: int) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldInvalid("invalid_text", field=field)
        text = str(value)
        if not text:
            raise FieldInvalid("empty_text", field=field)
        size = _utf8_size(text, field)
        if size > max_bytes:
            raise FieldInvalid("too_large", field=field, size=size, max=max_bytes)
        return text

    return validate


def _base64(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isascii():
        raise FieldInvalid("invalid_base64")
    text = "".join(value.split())
    # Checked before decoding: a huge value is refused without the work.
    size = len(text.encode())
    if size > MAX_CLOUD_MESSAGE_BYTES:
        raise FieldInvalid(
            "too_large", field=ATTR_DATA_BASE64, size=size, max=MAX_CLOUD_MESSAGE_BYTES
        )
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise FieldInvalid("invalid_base64") from err
    return text


def _sender(value: Any) -> str:
    """Accept a phone number, or an alphanumeric sender of up to 11 characters."""
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if not (_PHONE_NUMBER.fullmatch(text) or _ALPHANUMERIC_SENDER.fullmatch(text)):
        raise FieldInvalid("invalid_sender", value=value)
    return text


def _expiry(value: Any) -> str:
    parsed = dt_util.parse_datetime(value) if isinstance(value, str) else None
    if isinstance(value, datetime):
        parsed = value
    if parsed is None:
        raise FieldInvalid("invalid_expiry", value=value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt_util.get_default_time_zone())
    try:
        return dt_util.as_utc(parsed).isoformat(timespec="seconds")
    except OverflowError:  # such as 9999-12-31T23:00:00-05:00: after year 9999 in UTC
        raise FieldInvalid("invalid_expiry", value=value) from None


def _phone_number(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _E164.fullmatch(text):
        raise FieldInvalid("invalid_phone_number", value=value)
    return text


def _entry_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldInvalid("entry_not_found", entry_id=value)
    return value.strip()


def _webhook_url(value: Any) -> str:
    if not isinstance(value, str) or not is_device_webhook_url(value.strip()):
        raise FieldInvalid("invalid_webhook_url")
    return value.strip()


def _topics(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    _check_count(items, ATTR_TOPICS, MAX_TOPICS)
    topics: list[str] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else ""
        if not text or len(text) > MAX_TOPIC_CHARS or not text.isprintable():
            raise FieldInvalid("invalid_topics", value=value)
        topics.append(text)
    return topics


def _iccid(value: Any) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if isinstance(value, bool) or not valid_iccid(text):
        raise FieldInvalid("invalid_iccid", value=value)
    return text


def _downlink_message(value: Any) -> str | dict[str, Any] | list[Any]:
    """Text, or a mapping / list that is sent as JSON."""
    if isinstance(value, (dict, list)):
        try:
            # NaN and Infinity are not JSON: refused rather than sent as such.
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
            _utf8_size(text, ATTR_MESSAGE)
        except (TypeError, ValueError, RecursionError) as err:
            raise FieldInvalid("invalid_json") from err
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldInvalid("invalid_text", field=ATTR_MESSAGE)
    _utf8_size(str(value), ATTR_MESSAGE)
    return str(value)


def _downlink_topic(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text is None or not valid_downlink_topic(text) or not text.isprintable():
        raise FieldInvalid("invalid_topic", value=value)
    return text


def _choice(field: str, choices: Mapping[Any, Any]) -> Callable[[Any], Any]:
    shown = ", ".join(sorted({str(value) for value in choices.values()}))

    def validate(value: Any) -> Any:
        key = value.strip().lower() if isinstance(value, str) else value
        try:
            found = key in choices and not isinstance(key, bool)
        except TypeError:  # a list or a mapping is no choice (it cannot be hashed)
            found = False
        if not found:
            raise FieldInvalid(
                "invalid_choice", field=field, value=value, choices=shown
            )
        return choices[key]

    return validate


def _device_refs(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    _check_count(items, ATTR_DEVICE, MAX_DEVICE_IDS)
    if not items or not all(isinstance(item, str) and item for item in items):
        raise FieldInvalid("invalid_device_target", value=value)
    return list(items)


# --- an action's fields -----------------------------------------------------------

_NO_DEFAULT: Final = object()


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an action: its validator, required or not, and its default."""

    name: str
    validate: Callable[[Any], Any]
    required: bool = False
    default: Any = _NO_DEFAULT


@dataclass(frozen=True, slots=True)
class Fields:
    """An action's fields by name, and (worked out once) its required and defaults."""

    by_name: Mapping[str, Field]
    required: tuple[str, ...]
    defaults: tuple[tuple[str, Any], ...]


def fields(*items: Field) -> Fields:
    """Return an action's fields."""
    return Fields(
        by_name={item.name: item for item in items},
        required=tuple(item.name for item in items if item.required),
        defaults=tuple(
            (item.name, item.default)
            for item in items
            if item.default is not _NO_DEFAULT
        ),
    )


def validate_fields(spec: Fields, data: Any) -> dict[str, Any]:
    """Return the action's data with each value validated, and the defaults added.

    One pass over what was given, then over the required fields and the defaults;
    the first fault is raised as :class:`FieldInvalid` (a field not of the action is
    ``unknown_field``, a required one left out ``missing_field``). A validator's
    ``ValueError`` or ``TypeError`` is ``invalid_field`` too: no input raises
    anything else. This replaces a voluptuous schema: the same checks, in a tenth
    of the time (a schema walks its markers for every key of every call).
    """
    if not isinstance(data, Mapping):
        raise FieldInvalid("invalid_field", field="data")
    by_name = spec.by_name
    result: dict[str, Any] = {}
    for key, value in data.items():
        field = by_name.get(key)
        if field is None:
            raise FieldInvalid("unknown_field", field=key)
        try:
            result[key] = field.validate(value)
        except FieldInvalid:
            raise
        except (ValueError, TypeError):
            raise FieldInvalid("invalid_field", field=key) from None
    for name in spec.required:
        if name not in result:
            raise FieldInvalid("missing_field", field=name)
    for name, default in spec.defaults:
        if name not in result:
            result[name] = default
    return result

"""Actions of the cellular_iot integration, registered once in ``async_setup``.

Every action validates its fields itself so that a bad value becomes a translated
``ServiceValidationError`` naming the field by its label, and maps provider failures
to translated ``HomeAssistantError``s. The response lists what the provider accepted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
import json
import re
from typing import Any, Final

import voluptuous as vol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.translation import async_get_cached_translations
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DATA,
    ATTR_DATA_BASE64,
    ATTR_DEVICE,
    ATTR_DEVICE_ID,
    ATTR_DEVICE_IDS,
    ATTR_ENCRYPTED,
    ATTR_EXPIRY,
    ATTR_FORMAT,
    ATTR_ICCID,
    ATTR_MESSAGE,
    ATTR_PHONE_NUMBER,
    ATTR_PORT,
    ATTR_PROTOCOL,
    ATTR_QOS,
    ATTR_SENDER,
    ATTR_TOPIC,
    ATTR_TOPICS,
    ATTR_VIA,
    ATTR_WEBHOOK_URL,
    CONF_KIND,
    DEVICE_KEYS,
    DOMAIN,
    SERVICE_PUBLISH_DOWNLINK,
    SERVICE_SEND_CLOUD_MESSAGE,
    SERVICE_SEND_SMS,
    SERVICE_SEND_TO_CLOUD,
    SERVICE_SEND_TO_DEVICE_WEBHOOK,
    EntryKind,
)
from .models import (
    CellularIoTConfigEntry,
    EmnifyData,
    HologramData,
    MonozData,
    OnDeviceData,
)
from .operations import (
    EMNIFY_SMS,
    HOLOGRAM_CLOUD_MESSAGE,
    HOLOGRAM_SMS,
    MONOZ_MQTT,
    MONOZ_REST,
    cloud_message_ids,
)
from .outbox import raise_auth_issue
from .providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
)
from .providers.hologram import (
    MAX_CLOUD_MESSAGE_BYTES,
    is_device_webhook_url,
    send_to_device_webhook,
)
from .providers.hologram_socket import HologramSocketClient
from .providers.monoz import (
    MAX_MESSAGE_BYTES,
    MAX_TOPIC_BYTES,
    downlink_topic,
    valid_downlink_topic,
    valid_iccid,
)
from .providers.sms import SmsTooLongError, encode_sms, sms_length

MAX_SMS_BYTES: Final = 10 * 1024
# Validation patterns are always applied with fullmatch (a trailing newline fails).
_PHONE_NUMBER = re.compile(r"\+?[1-9]\d{1,14}")
_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_E164 = re.compile(r"\+[1-9]\d{1,14}")
MAX_SMS_PARTS: Final = 32
# Most device IDs (or devices) one send_cloud_message call takes; Hologram publishes
# no limit for deviceids, this keeps one call's validation and request bounded.
MAX_DEVICE_IDS: Final = 1000
# Most topics one send_to_cloud call takes, and the longest topic.
MAX_TOPICS: Final = 100
MAX_TOPIC_CHARS: Final = 100
# The largest provider ID accepted (a signed 64-bit integer).
MAX_PROVIDER_ID: Final = 2**63 - 1
# What an error message quotes of a bad value.
MAX_SHOWN_CHARS: Final = 100


def _is_control(char: str) -> bool:
    """Tell whether a character is a C0 or C1 control character (newline, NUL …)."""
    return char < " " or "\x7f" <= char <= "\x9f"


def _utf8_size(text: str, field: str) -> int:
    """Return the UTF-8 size of a text; a lone surrogate makes it invalid text."""
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise FieldInvalid("invalid_text", field=field) from None


def _shown(value: object) -> str:
    """Return a value as an error message may quote it: printable, cut short."""
    text = str(value)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + "…"
    return "".join(char if char.isprintable() else "?" for char in text)


class FieldInvalid(vol.Invalid):
    """A field failed validation; the message is a translation key.

    The key and placeholders live in attributes of our own: voluptuous' ``Invalid``
    has none of these names, but probatio's (HA 2026.9+ aliases ``voluptuous`` to
    it) has read-only ``translation_key`` and ``placeholders`` properties, and
    its ``__init__`` takes keywords voluptuous' does not. Only the message is
    passed up, which both accept.
    """

    def __init__(self, translation_key: str, **placeholders: object) -> None:
        """Keep the translation key and its placeholders."""
        super().__init__(translation_key)
        self.field_error_key = translation_key
        self.field_error_placeholders = {
            key: _shown(value) for key, value in placeholders.items()
        }


# HA's REST API (``POST /api/services/<domain>/<action>``) answers a
# ``ServiceValidationError`` with 400 and its message from 2026.11; up to 2026.8 (and
# perhaps 2026.10) only ``vol.Invalid`` is a 400, anything else a 500 with an ERROR
# traceback. tests/test_action_errors_rest.py checks this against the running HA.
REST_ANSWERS_SERVICE_VALIDATION_ERRORS: Final = (MAJOR_VERSION, MINOR_VERSION) >= (
    2026,
    11,
)


class ActionValidationError(ServiceValidationError, vol.Invalid):
    """A ``ServiceValidationError`` that is also a ``vol.Invalid``, for older HA.

    Raised instead of a plain ``ServiceValidationError`` where the REST API answers
    only ``vol.Invalid`` with 400. Callers that catch ``ServiceValidationError`` or
    ``HomeAssistantError`` still do, with its translation and message (``str``).
    Where HA checks ``vol.Invalid`` first it is invalid input: the websocket API
    sends it as an invalid-format error with that message (not logged as an
    error), and a script stops even with ``continue_on_error``, as for any
    invalid action data.

    HA 2026.9+ aliases voluptuous to probatio, whose ``Invalid`` has read-only
    ``translation_key`` (and more) properties; these class attributes come first in
    the MRO, so ``HomeAssistantError.__init__`` can set them.
    """

    translation_domain: str | None = None
    translation_key: str | None = None
    translation_placeholders: dict[str, str] | None = None


def _invalid(key: str, **placeholders: object) -> ServiceValidationError:
    """Return the translated error to raise for bad action input.

    Bad input is a 400 over REST on every release. Like HA's own schema errors
    (``vol.Invalid``) it stops a script even with ``continue_on_error`` up to
    2026.10: the script is wrong, not the moment.
    """
    error_type = (
        ServiceValidationError
        if REST_ANSWERS_SERVICE_VALIDATION_ERRORS
        else ActionValidationError
    )
    return error_type(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            name: _shown(value) for name, value in placeholders.items()
        },
    )


def _not_ready(key: str, **placeholders: object) -> ServiceValidationError:
    """Return the translated error for right input the entry cannot send now.

    Not loaded, none set up, no credentials. A plain ``ServiceValidationError`` on
    every release, so ``continue_on_error`` passes it (an account that is retrying
    its setup does not stop a script).
    """
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            name: _shown(value) for name, value in placeholders.items()
        },
    )


def _service_text(hass: HomeAssistant, key: str, default: str) -> str:
    """Return a text of the actions' translations (services.yaml's labels)."""
    full_key = f"component.{DOMAIN}.services.{key}"
    for language in (hass.config.language, "en"):
        text = async_get_cached_translations(hass, language, "services", DOMAIN).get(
            full_key
        )
        if text:
            return text
    return default


def _label(hass: HomeAssistant, action: str, field: str) -> str:
    """Return a field's label, as the action's form shows it (``Port``)."""
    return _service_text(hass, f"{action}.fields.{field}.name", field)


def _action_name(hass: HomeAssistant, action: str) -> str:
    """Return an action's name, as the actions list shows it."""
    return _service_text(hass, f"{action}.name", action)


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
        if isinstance(key, bool) or key not in choices:
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


SEND_CLOUD_MESSAGE_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_DEVICE): _device_refs,
    vol.Optional(ATTR_CONFIG_ENTRY_ID): _entry_id,
    vol.Optional(ATTR_DEVICE_IDS): _device_ids,
    vol.Required(ATTR_PORT): _port,
    vol.Optional(ATTR_PROTOCOL, default="TCP"): _protocol,
    vol.Optional(ATTR_DATA): _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES),
    vol.Optional(ATTR_DATA_BASE64): _base64,
    vol.Optional(ATTR_ENCRYPTED, default=True): _boolean(ATTR_ENCRYPTED),
}
SEND_SMS_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_DEVICE): _device_refs,
    vol.Optional(ATTR_CONFIG_ENTRY_ID): _entry_id,
    vol.Required(ATTR_MESSAGE): _text(ATTR_MESSAGE, MAX_SMS_BYTES),
    vol.Optional(ATTR_DEVICE_ID): _device_id,
    vol.Optional(ATTR_PHONE_NUMBER): _phone_number,
    vol.Optional(ATTR_SENDER): _sender,
    vol.Optional(ATTR_EXPIRY): _expiry,
}
SEND_TO_CLOUD_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_CONFIG_ENTRY_ID): _entry_id,
    vol.Required(ATTR_DATA): _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES),
    vol.Optional(ATTR_TOPICS): _topics,
}
PUBLISH_DOWNLINK_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_DEVICE): _device_refs,
    vol.Optional(ATTR_CONFIG_ENTRY_ID): _entry_id,
    vol.Optional(ATTR_ICCID): _iccid,
    vol.Required(ATTR_MESSAGE): _downlink_message,
    vol.Optional(ATTR_TOPIC, default=""): _downlink_topic,
    vol.Optional(ATTR_QOS, default=0): _choice(ATTR_QOS, {0: 0, 1: 1, "0": 0, "1": 1}),
    vol.Optional(ATTR_FORMAT): _choice(ATTR_FORMAT, {"json": "json", "text": "text"}),
    vol.Optional(ATTR_VIA): _choice(ATTR_VIA, {"rest": "rest", "mqtt": "mqtt"}),
}
SEND_TO_DEVICE_WEBHOOK_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Required(ATTR_WEBHOOK_URL): _webhook_url,
    vol.Required(ATTR_DATA): _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES),
}


_SCHEMAS: dict[int, vol.Schema] = {}


def _registration_schema(fields: Mapping[vol.Marker, Any]) -> vol.Schema:
    """Only the field names: values are checked in the handler, with translations."""
    return vol.Schema({vol.Optional(str(key)): object for key in fields})


def _validate(
    hass: HomeAssistant,
    action: str,
    fields: Mapping[vol.Marker, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    schema = _SCHEMAS.get(id(fields))
    if schema is None:
        # Compiling a schema costs more than a provider round trip: once per action.
        schema = _SCHEMAS[id(fields)] = vol.Schema(dict(fields))
    try:
        result: dict[str, Any] = schema(dict(data))
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        if isinstance(first, FieldInvalid):
            placeholders = dict(first.field_error_placeholders)
            if "field" in placeholders:
                placeholders["field"] = _label(hass, action, placeholders["field"])
            raise _invalid(first.field_error_key, **placeholders) from None
        field = str(first.path[0]) if first.path else "?"
        raise _invalid(
            "missing_field"
            if isinstance(first, vol.RequiredFieldInvalid)
            else "invalid_field",
            field=_label(hass, action, field),
        ) from None
    return result


# --- entry lookup ---------------------------------------------------------------------


_PROVIDER_NAMES: Final = {
    EntryKind.HOLOGRAM: "Hologram",
    EntryKind.EMNIFY: "emnify",
    EntryKind.MONOZ: "monoZ",
}


def _resolve_devices(
    hass: HomeAssistant,
    action: str,
    data: dict[str, Any],
    id_field: str,
    kinds: Collection[EntryKind],
    *,
    many: bool,
) -> dict[str, Any]:
    """Turn ``device`` (HA device ids of account subentries) into the provider ids.

    The devices give ``config_entry_id`` too; they must all belong to one account.
    A device that cannot receive (an account, the listener, another integration's,
    another provider's) is refused by its name.
    """
    refs: list[str] | None = data.pop(ATTR_DEVICE, None)
    if refs is None:
        if id_field not in data:
            raise _invalid("missing_field", field=_label(hass, action, id_field))
        return data
    if id_field in data:
        raise _invalid("device_or_id", field=_label(hass, action, id_field))
    if not many and len(refs) > 1:
        raise _invalid("one_device")
    entry_ids: set[str] = set()
    ids: list[str] = []
    for ref in refs:
        entry_id, provider_id = _device_target(hass, action, ref, kinds)
        entry_ids.add(entry_id)
        ids.append(provider_id)
    if len(entry_ids) > 1 or (data.get(ATTR_CONFIG_ENTRY_ID) not in (None, *entry_ids)):
        raise _invalid("devices_of_several_entries")
    data[ATTR_CONFIG_ENTRY_ID] = entry_ids.pop()
    if id_field == ATTR_ICCID:
        data[id_field] = ids[0]
    elif many:
        data[id_field] = list(dict.fromkeys(int(i) for i in ids))
    else:
        data[id_field] = int(ids[0])
    return data


def _device_target(
    hass: HomeAssistant, action: str, ref: str, kinds: Collection[EntryKind]
) -> tuple[str, str]:
    """Return the account entry and the provider id of one device (a subentry's)."""
    device = dr.async_get(hass).async_get(ref)
    if device is None:
        raise _invalid("invalid_device_target", value=ref)
    name = device.name_by_user or device.name or ref
    account: CellularIoTConfigEntry | None = None
    for entry_id, subentry_ids in _device_subentries(device).items():
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            continue
        account = entry
        kind = EntryKind(entry.data[CONF_KIND])
        for subentry_id in subentry_ids:
            if subentry_id and (sub := entry.subentries.get(subentry_id)):
                if kind not in kinds:
                    raise _invalid(
                        "device_wrong_kind",
                        name=name,
                        provider=_PROVIDER_NAMES[kind],
                        action=_action_name(hass, action),
                        providers=", ".join(_PROVIDER_NAMES[k] for k in kinds),
                    )
                return entry_id, str(sub.data[DEVICE_KEYS[kind]])
    if account is None:
        raise _invalid("device_not_ours", name=name)
    if account.data.get(CONF_KIND) == EntryKind.ON_DEVICE:
        raise _invalid("device_is_listener", name=name)
    raise _invalid("device_is_account", name=name)


def _device_subentries(device: dr.DeviceEntry | None) -> dict[str, set[str | None]]:
    """Return the config entries and subentries a device belongs to.

    HA 2026.8+ gives a device one entry and subentry (``config_entry_id``,
    ``config_subentry_id``) and reports ``config_entries_subentries`` as deprecated;
    older releases have only the latter.
    """
    if device is None:
        return {}
    entry_id = getattr(device, "config_entry_id", None)
    if isinstance(entry_id, str):
        return {entry_id: {getattr(device, "config_subentry_id", None)}}
    return device.config_entries_subentries


def _get_entry(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    kinds: Collection[EntryKind],
    action: str,
) -> CellularIoTConfigEntry:
    """Return the loaded entry the action is for (or the only one of those kinds)."""
    kind_names = ", ".join(kind.value for kind in kinds)
    entry_id = data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is not None:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise _invalid("entry_not_found", entry_id=entry_id)
        if entry.data.get(CONF_KIND) not in kinds:
            raise _invalid(
                "entry_wrong_kind", title=entry.title, action=action, kinds=kind_names
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise _not_ready("entry_not_loaded", title=entry.title)
        return entry
    candidates = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_KIND) in kinds and entry.state is ConfigEntryState.LOADED
    ]
    if not candidates:
        raise _not_ready("no_entry", action=action, kinds=kind_names)
    if len(candidates) > 1:
        raise _invalid(
            "entry_required",
            action=action,
            field=_label(hass, action, ATTR_CONFIG_ENTRY_ID),
        )
    return candidates[0]


def provider_error(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry | None,
    err: ProviderError,
    *,
    title: str | None = None,
) -> HomeAssistantError:
    """Translate a provider client error; start re-authentication on auth errors."""
    title = title or (entry.title if entry is not None else "Hologram device webhook")
    placeholders = {"title": title, "error": str(err)}
    if isinstance(err, ProviderAuthError):
        if entry is not None:
            entry.async_start_reauth(hass)
            raise_auth_issue(hass, entry)
        key = "provider_auth"
    elif isinstance(err, ProviderNotFoundError):
        key = "provider_not_found"
    elif isinstance(err, ProviderBadRequestError):
        key = "provider_bad_request"
    elif isinstance(err, ProviderRateLimitedError):
        key = "provider_rate_limited"
    elif isinstance(err, ProviderConnectionError):
        key = "provider_unreachable"
    else:
        key = "provider_error"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


# --- handlers -----------------------------------------------------------------------


async def _async_send_cloud_message(call: ServiceCall) -> ServiceResponse:
    data = _validate(
        call.hass, SERVICE_SEND_CLOUD_MESSAGE, SEND_CLOUD_MESSAGE_FIELDS, call.data
    )
    data = _resolve_devices(
        call.hass,
        SERVICE_SEND_CLOUD_MESSAGE,
        data,
        ATTR_DEVICE_IDS,
        (EntryKind.HOLOGRAM,),
        many=True,
    )
    if (ATTR_DATA in data) == (ATTR_DATA_BASE64 in data):
        raise _invalid("data_exclusive")
    entry = _get_entry(
        call.hass, data, (EntryKind.HOLOGRAM,), SERVICE_SEND_CLOUD_MESSAGE
    )
    params = {
        "device_ids": data[ATTR_DEVICE_IDS],
        "port": data[ATTR_PORT],
        "protocol": data[ATTR_PROTOCOL],
        "data": data.get(ATTR_DATA),
        "data_base64": data.get(ATTR_DATA_BASE64),
        "encrypted": data[ATTR_ENCRYPTED],
    }
    targets = [f"device:{device_id}" for device_id in data[ATTR_DEVICE_IDS]]
    result = await _submit(
        call.hass,
        entry,
        HOLOGRAM_CLOUD_MESSAGE,
        SERVICE_SEND_CLOUD_MESSAGE,
        targets,
        params,
    )
    return {"config_entry_id": entry.entry_id, **result}


async def _async_send_sms(call: ServiceCall) -> ServiceResponse:
    data = _validate(call.hass, SERVICE_SEND_SMS, SEND_SMS_FIELDS, call.data)
    if ATTR_DEVICE in data:
        data = _resolve_devices(
            call.hass,
            SERVICE_SEND_SMS,
            data,
            ATTR_DEVICE_ID,
            (EntryKind.HOLOGRAM, EntryKind.EMNIFY),
            many=False,
        )
    entry = _get_entry(
        call.hass,
        data,
        (EntryKind.HOLOGRAM, EntryKind.EMNIFY, EntryKind.ON_DEVICE),
        SERVICE_SEND_SMS,
    )
    runtime = entry.runtime_data
    if isinstance(runtime, OnDeviceData):
        return await _async_send_sms_over_ip(call.hass, entry, runtime, data)
    if ATTR_PHONE_NUMBER in data:
        raise _invalid("phone_number_not_supported", title=entry.title)
    if ATTR_DEVICE_ID not in data:
        raise _invalid("device_id_required")
    if isinstance(runtime, EmnifyData):
        return await _async_send_emnify_sms(call.hass, entry, runtime, data)
    assert isinstance(runtime, HologramData)
    sender = data.get(ATTR_SENDER)
    if sender is not None and not _PHONE_NUMBER.fullmatch(sender):
        raise _invalid("invalid_sender", value=sender)
    if ATTR_EXPIRY in data:
        raise _invalid("expiry_not_supported", title=entry.title)
    result = await _submit(
        call.hass,
        entry,
        HOLOGRAM_SMS,
        SERVICE_SEND_SMS,
        [f"device:{data[ATTR_DEVICE_ID]}"],
        {
            "device_id": data[ATTR_DEVICE_ID],
            "message": data[ATTR_MESSAGE],
            "sender": sender,
        },
    )
    return {
        "config_entry_id": entry.entry_id,
        "device_id": data[ATTR_DEVICE_ID],
        **result,
    }


async def _async_send_emnify_sms(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    runtime: EmnifyData,
    data: dict[str, Any],
) -> ServiceResponse:
    message: str = data[ATTR_MESSAGE]
    try:
        parts = encode_sms(message, max_parts=MAX_SMS_PARTS)
    except SmsTooLongError as err:
        raise _invalid("sms_too_long", parts=err.parts, max=err.max_parts) from None
    sender: str | None = data.get(ATTR_SENDER)
    alphanumeric = sender is not None and not _PHONE_NUMBER.fullmatch(sender)
    encoding = sms_length(message)[0]
    result = await _submit(
        hass,
        entry,
        EMNIFY_SMS,
        SERVICE_SEND_SMS,
        [f"endpoint:{data[ATTR_DEVICE_ID]}"],
        {
            "device_id": data[ATTR_DEVICE_ID],
            "parts": [
                {"payload": part.payload, "dcs": part.dcs, "udh": part.udh}
                for part in parts
            ],
            "source_address": sender.lstrip("+")
            if sender and not alphanumeric
            else sender,
            "alphanumeric": alphanumeric,
            "expiry_date": data.get(ATTR_EXPIRY),
            "encoding": encoding,
        },
    )
    return {
        "config_entry_id": entry.entry_id,
        "device_id": data[ATTR_DEVICE_ID],
        "encoding": encoding,
        "parts": len(parts),
        **result,
    }


def _socket_client(
    entry: CellularIoTConfigEntry, runtime: OnDeviceData
) -> HologramSocketClient:
    if runtime.socket is None:
        raise _not_ready("socket_credentials_missing", title=entry.title)
    return runtime.socket


async def _async_send_sms_over_ip(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    runtime: OnDeviceData,
    data: dict[str, Any],
) -> ServiceResponse:
    if ATTR_PHONE_NUMBER not in data:
        raise _invalid("phone_number_required", title=entry.title)
    if any(_is_control(char) for char in data[ATTR_MESSAGE]):
        raise _invalid("sms_newline")
    for field in (ATTR_DEVICE_ID, ATTR_SENDER, ATTR_EXPIRY):
        if field in data:
            raise _invalid(
                "field_not_supported",
                field=_label(hass, SERVICE_SEND_SMS, field),
                title=entry.title,
            )
    client = _socket_client(entry, runtime)
    try:
        await client.send_sms(data[ATTR_PHONE_NUMBER], data[ATTR_MESSAGE])
    except ProviderError as err:
        raise provider_error(hass, None, err, title=entry.title) from err
    response: dict[str, Any] = {
        "config_entry_id": entry.entry_id,
        "status": "sent",
        "phone_number": data[ATTR_PHONE_NUMBER],
    }
    return response


async def _async_send_to_cloud(call: ServiceCall) -> ServiceResponse:
    data = _validate(call.hass, SERVICE_SEND_TO_CLOUD, SEND_TO_CLOUD_FIELDS, call.data)
    entry = _get_entry(call.hass, data, (EntryKind.ON_DEVICE,), SERVICE_SEND_TO_CLOUD)
    runtime = entry.runtime_data
    assert isinstance(runtime, OnDeviceData)
    client = _socket_client(entry, runtime)
    try:
        await client.send_to_cloud(data[ATTR_DATA], data.get(ATTR_TOPICS))
    except ProviderError as err:
        raise provider_error(call.hass, None, err, title=entry.title) from err
    response: dict[str, Any] = {"config_entry_id": entry.entry_id, "status": "sent"}
    return response


def _webhook_error(err: ProviderError) -> HomeAssistantError:
    """Return a fixed, translated error: nothing the answering server wrote."""
    placeholders: dict[str, str] = {}
    if isinstance(err, ProviderNotFoundError):
        key = "webhook_not_found"
    elif isinstance(err, ProviderRateLimitedError):
        key = "webhook_rate_limited"
    elif isinstance(err, ProviderConnectionError):
        key = "webhook_unreachable"
    else:
        key = "webhook_failed"
        placeholders["status"] = str(err.status) if err.status else "-"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


async def _async_send_to_device_webhook(call: ServiceCall) -> ServiceResponse:
    data = _validate(
        call.hass,
        SERVICE_SEND_TO_DEVICE_WEBHOOK,
        SEND_TO_DEVICE_WEBHOOK_FIELDS,
        call.data,
    )
    try:
        results = await send_to_device_webhook(
            async_get_clientsession(call.hass),
            data[ATTR_WEBHOOK_URL],
            data[ATTR_DATA],
        )
    except ProviderError as err:
        raise _webhook_error(err) from err
    response: dict[str, Any] = {
        "status": "sent",
        "messages": cloud_message_ids(results),
    }
    return response


def _downlink_payload(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[str, str]:
    """Return the message as sent and its format (``json`` or ``text``)."""
    message = data[ATTR_MESSAGE]
    if isinstance(message, (dict, list)):
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        message_format = data.get(ATTR_FORMAT, "json")
    else:
        text = message
        message_format = data.get(ATTR_FORMAT, "text")
        if message_format == "json":
            try:
                json.loads(text)
            except ValueError:
                raise _invalid("invalid_json") from None
    size = len(text.encode())
    if not 1 <= size <= MAX_MESSAGE_BYTES:
        raise _invalid(
            "too_large" if size else "empty_text",
            field=_label(hass, SERVICE_PUBLISH_DOWNLINK, ATTR_MESSAGE),
            size=size,
            max=MAX_MESSAGE_BYTES,
        )
    return text, message_format


async def _async_publish_downlink(call: ServiceCall) -> ServiceResponse:
    data = _validate(
        call.hass, SERVICE_PUBLISH_DOWNLINK, PUBLISH_DOWNLINK_FIELDS, call.data
    )
    data = _resolve_devices(
        call.hass,
        SERVICE_PUBLISH_DOWNLINK,
        data,
        ATTR_ICCID,
        (EntryKind.MONOZ,),
        many=False,
    )
    entry = _get_entry(call.hass, data, (EntryKind.MONOZ,), SERVICE_PUBLISH_DOWNLINK)
    runtime = entry.runtime_data
    assert isinstance(runtime, MonozData)
    text, message_format = _downlink_payload(call.hass, data)
    topic = downlink_topic(runtime.client.org_id, data[ATTR_ICCID], data[ATTR_TOPIC])
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise _invalid("topic_too_long", max=MAX_TOPIC_BYTES)
    via = data.get(ATTR_VIA) or ("mqtt" if runtime.mqtt is not None else "rest")
    if via == "mqtt" and runtime.mqtt is None:
        raise _invalid("mqtt_not_configured", title=entry.title)
    result = await _submit(
        call.hass,
        entry,
        MONOZ_MQTT if via == "mqtt" else MONOZ_REST,
        SERVICE_PUBLISH_DOWNLINK,
        [f"iccid:{data[ATTR_ICCID]}"],
        {
            "iccid": data[ATTR_ICCID],
            "message": text,
            "topic": data[ATTR_TOPIC],
            "mqtt_topic": topic,
            "qos": data[ATTR_QOS],
            "format": message_format,
        },
    )
    response: dict[str, Any] = {
        "config_entry_id": entry.entry_id,
        "via": via,
        "iccid": data[ATTR_ICCID],
        "topic": topic,
        "qos": data[ATTR_QOS],
        "format": message_format,
        "message_id": None,
        "result": None,
    }
    response.update(result)
    return response


async def _submit(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    operation: str,
    action: str,
    targets: list[str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Send through the entry's outbox: sent now, queued, or refused (raised)."""
    runtime = entry.runtime_data
    assert isinstance(runtime, (HologramData, EmnifyData, MonozData))
    assert runtime.outbox is not None
    try:
        return await runtime.outbox.async_submit(operation, action, targets, params)
    except ProviderError as err:
        raise provider_error(hass, entry, err) from err


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    for name, handler, fields in (
        (
            SERVICE_SEND_CLOUD_MESSAGE,
            _async_send_cloud_message,
            SEND_CLOUD_MESSAGE_FIELDS,
        ),
        (SERVICE_SEND_SMS, _async_send_sms, SEND_SMS_FIELDS),
        (SERVICE_PUBLISH_DOWNLINK, _async_publish_downlink, PUBLISH_DOWNLINK_FIELDS),
        (SERVICE_SEND_TO_CLOUD, _async_send_to_cloud, SEND_TO_CLOUD_FIELDS),
        (
            SERVICE_SEND_TO_DEVICE_WEBHOOK,
            _async_send_to_device_webhook,
            SEND_TO_DEVICE_WEBHOOK_FIELDS,
        ),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            handler,
            schema=_registration_schema(fields),
            supports_response=SupportsResponse.OPTIONAL,
        )

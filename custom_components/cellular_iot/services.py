"""Actions of the cellular_iot integration, registered once in ``async_setup``.

Every action validates its fields itself so that a bad value becomes a translated
``ServiceValidationError`` naming the field by its label, and maps provider failures
to translated ``HomeAssistantError``s. The response lists what the provider accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
import functools
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)

from .action_errors import (
    REST_ANSWERS_SERVICE_VALIDATION_ERRORS,
    FieldInvalid,
    invalid as _invalid,
    label as _label,
)
from .action_fields import (
    MAX_SMS_BYTES,
    Field,
    Fields,
    _base64,
    _boolean,
    _choice,
    _device_id,
    _device_ids,
    _device_refs,
    _downlink_message,
    _downlink_topic,
    _entry_id,
    _expiry,
    _iccid,
    _phone_number,
    _port,
    _protocol,
    _sender,
    _text,
    _topics,
    _webhook_url,
    fields,
    validate_fields,
)
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
    ATTR_PROVIDER_ID,
    ATTR_QOS,
    ATTR_SEND_WHEN_ACTIVE,
    ATTR_SENDER,
    ATTR_STATE,
    ATTR_TOPIC,
    ATTR_TOPICS,
    ATTR_VIA,
    ATTR_WEBHOOK_URL,
    CONF_KIND,
    DOMAIN,
    SERVICE_PUBLISH_DOWNLINK,
    SERVICE_SEND_CLOUD_MESSAGE,
    SERVICE_SEND_SMS,
    SERVICE_SEND_TO_CLOUD,
    SERVICE_SEND_TO_DEVICE_WEBHOOK,
    SERVICE_SET_SIM_STATE,
)
from .kinds import Kind, kind_of, serving, standalone
from .providers.hologram import MAX_CLOUD_MESSAGE_BYTES
from .targets import get_entry, resolve_devices, resolve_one_device

__all__ = [
    "REST_ANSWERS_SERVICE_VALIDATION_ERRORS",
    "FieldInvalid",
    "async_setup_services",
]

# The fields that name devices by their provider ids.
_ID_FIELDS: Final = frozenset({ATTR_DEVICE_ID, ATTR_DEVICE_IDS, ATTR_ICCID})

SEND_CLOUD_MESSAGE_FIELDS: Final = fields(
    Field(ATTR_DEVICE, _device_refs),
    Field(ATTR_CONFIG_ENTRY_ID, _entry_id),
    Field(ATTR_DEVICE_IDS, _device_ids),
    Field(ATTR_ICCID, _iccid),
    Field(ATTR_PORT, _port, required=True),
    # No default here: Hologram's is TCP, 1NCE's UDP (each kind's own).
    Field(ATTR_PROTOCOL, _protocol),
    Field(ATTR_DATA, _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES)),
    Field(ATTR_DATA_BASE64, _base64),
    Field(ATTR_ENCRYPTED, _boolean(ATTR_ENCRYPTED), default=True),
    Field(ATTR_SEND_WHEN_ACTIVE, _boolean(ATTR_SEND_WHEN_ACTIVE)),
)
SEND_SMS_FIELDS: Final = fields(
    Field(ATTR_DEVICE, _device_refs),
    Field(ATTR_CONFIG_ENTRY_ID, _entry_id),
    Field(ATTR_MESSAGE, _text(ATTR_MESSAGE, MAX_SMS_BYTES), required=True),
    Field(ATTR_DEVICE_ID, _device_id),
    Field(ATTR_ICCID, _iccid),
    Field(ATTR_PHONE_NUMBER, _phone_number),
    Field(ATTR_SENDER, _sender),
    Field(ATTR_EXPIRY, _expiry),
)
SEND_TO_CLOUD_FIELDS: Final = fields(
    Field(ATTR_CONFIG_ENTRY_ID, _entry_id),
    Field(ATTR_DATA, _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES), required=True),
    Field(ATTR_TOPICS, _topics),
)
PUBLISH_DOWNLINK_FIELDS: Final = fields(
    Field(ATTR_DEVICE, _device_refs),
    Field(ATTR_CONFIG_ENTRY_ID, _entry_id),
    Field(ATTR_ICCID, _iccid),
    Field(ATTR_MESSAGE, _downlink_message, required=True),
    Field(ATTR_TOPIC, _downlink_topic, default=""),
    Field(ATTR_QOS, _choice(ATTR_QOS, {0: 0, 1: 1, "0": 0, "1": 1}), default=0),
    Field(ATTR_FORMAT, _choice(ATTR_FORMAT, {"json": "json", "text": "text"})),
    Field(ATTR_VIA, _choice(ATTR_VIA, {"rest": "rest", "mqtt": "mqtt"})),
)
SEND_TO_DEVICE_WEBHOOK_FIELDS: Final = fields(
    Field(ATTR_WEBHOOK_URL, _webhook_url, required=True),
    Field(ATTR_DATA, _text(ATTR_DATA, MAX_CLOUD_MESSAGE_BYTES), required=True),
)
SET_SIM_STATE_FIELDS: Final = fields(
    Field(ATTR_DEVICE, _device_refs),
    Field(ATTR_CONFIG_ENTRY_ID, _entry_id),
    Field(ATTR_DEVICE_ID, _device_id),
    Field(ATTR_ICCID, _iccid),
    Field(
        ATTR_STATE,
        _choice(ATTR_STATE, {"active": "active", "suspended": "suspended"}),
        required=True,
    ),
)


def _validate(
    hass: HomeAssistant, action: str, spec: Fields, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate an action's data; a fault is raised translated, with the label.

    The error names the field by its label, as the action's form shows it. The actions are registered without a schema: this is their one validation
    (a voluptuous registration schema would only check the names, again).
    """
    try:
        return validate_fields(spec, data)
    except FieldInvalid as err:
        placeholders = dict(err.field_error_placeholders)
        if "field" in placeholders:
            placeholders["field"] = _label(hass, action, placeholders["field"])
        raise _invalid(err.field_error_key, **placeholders) from None


# --- handlers: validate, find the devices and the entry, ask its kind ----------------


@functools.cache
def _device_kinds(action: str) -> tuple[Kind, ...]:
    """Return the kinds whose devices the action can be sent to."""
    return tuple(kind for kind in serving(action) if kind.device_key is not None)


@functools.cache
def _kinds_taking(action: str, named: frozenset[str]) -> tuple[Kind, ...]:
    """Return the kinds serving the action that take all the id fields given."""
    return tuple(kind for kind in serving(action) if named <= kind.id_fields)


def _candidate_kinds(
    hass: HomeAssistant, action: str, data: dict[str, Any]
) -> tuple[Kind, ...]:
    """Return the kinds whose entries the action may be for.

    Without ``config_entry_id``, the id fields given settle which accounts are
    meant: ``send_cloud_message`` with ``device_ids`` is for a Hologram account,
    with ``iccid`` for a 1NCE one, so an account of the other kind does not make
    the call ambiguous. When no loaded account takes them, every kind serving the
    action stays a candidate (the entry's kind then says what is wrong).
    """
    kinds = serving(action)
    named = frozenset(_ID_FIELDS.intersection(data))
    if not named or ATTR_CONFIG_ENTRY_ID in data:
        return kinds
    taking = _kinds_taking(action, named)
    keys = {kind.key for kind in taking}
    if taking != kinds and any(
        entry.data.get(CONF_KIND) in keys and entry.state is ConfigEntryState.LOADED
        for entry in hass.config_entries.async_entries(DOMAIN)
    ):
        return taking
    return kinds


async def _async_dispatch(
    hass: HomeAssistant, action: str, data: dict[str, Any]
) -> ServiceResponse:
    """Send through the kind of the entry the action is for."""
    entry = get_entry(hass, data, _candidate_kinds(hass, action, data), action)
    response: dict[str, Any] = await kind_of(entry).actions[action](hass, entry, data)
    return response


async def _async_send_cloud_message(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_CLOUD_MESSAGE
    data = _validate(call.hass, action, SEND_CLOUD_MESSAGE_FIELDS, call.data)
    data = resolve_devices(
        call.hass, action, data, (ATTR_DEVICE_IDS, ATTR_ICCID), _device_kinds(action)
    )
    if (ATTR_DATA in data) == (ATTR_DATA_BASE64 in data):
        raise _invalid("data_exclusive")
    return await _async_dispatch(call.hass, action, data)


async def _async_send_sms(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_SMS
    data = _validate(call.hass, action, SEND_SMS_FIELDS, call.data)
    if ATTR_DEVICE in data:
        data = resolve_one_device(
            call.hass, action, data, (ATTR_DEVICE_ID, ATTR_ICCID), _device_kinds(action)
        )
    return await _async_dispatch(call.hass, action, data)


async def _async_send_to_cloud(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_TO_CLOUD
    data = _validate(call.hass, action, SEND_TO_CLOUD_FIELDS, call.data)
    return await _async_dispatch(call.hass, action, data)


async def _async_publish_downlink(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_PUBLISH_DOWNLINK
    data = _validate(call.hass, action, PUBLISH_DOWNLINK_FIELDS, call.data)
    data = resolve_devices(
        call.hass, action, data, (ATTR_ICCID,), _device_kinds(action)
    )
    return await _async_dispatch(call.hass, action, data)


async def _async_send_to_device_webhook(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_TO_DEVICE_WEBHOOK
    data = _validate(call.hass, action, SEND_TO_DEVICE_WEBHOOK_FIELDS, call.data)
    response: dict[str, Any] = await standalone(action)(call.hass, data)
    return response


async def _async_set_sim_state(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SET_SIM_STATE
    data = _validate(call.hass, action, SET_SIM_STATE_FIELDS, call.data)
    data = resolve_one_device(
        call.hass, action, data, (ATTR_DEVICE_ID, ATTR_ICCID), _device_kinds(action)
    )
    data[ATTR_PROVIDER_ID] = data.get(ATTR_DEVICE_ID, data.get(ATTR_ICCID))
    return await _async_dispatch(call.hass, action, data)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    for name, handler in (
        (SERVICE_SEND_CLOUD_MESSAGE, _async_send_cloud_message),
        (SERVICE_SEND_SMS, _async_send_sms),
        (SERVICE_PUBLISH_DOWNLINK, _async_publish_downlink),
        (SERVICE_SEND_TO_CLOUD, _async_send_to_cloud),
        (SERVICE_SEND_TO_DEVICE_WEBHOOK, _async_send_to_device_webhook),
        (SERVICE_SET_SIM_STATE, _async_set_sim_state),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            handler,
            schema=None,  # validated by the handler (_validate), translated
            supports_response=SupportsResponse.OPTIONAL,
        )

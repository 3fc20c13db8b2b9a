"""Actions of the cellular_iot integration, registered once in ``async_setup``.

Every action validates its fields itself so that a bad value becomes a translated
``ServiceValidationError`` naming the field by its label, and maps provider failures
to translated ``HomeAssistantError``s. The response lists what the provider accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol

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
    ATTR_SENDER,
    ATTR_STATE,
    ATTR_TOPIC,
    ATTR_TOPICS,
    ATTR_VIA,
    ATTR_WEBHOOK_URL,
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


SET_SIM_STATE_FIELDS: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_DEVICE): _device_refs,
    vol.Optional(ATTR_CONFIG_ENTRY_ID): _entry_id,
    vol.Optional(ATTR_DEVICE_ID): _device_id,
    vol.Optional(ATTR_ICCID): _iccid,
    vol.Required(ATTR_STATE): _choice(
        ATTR_STATE, {"active": "active", "suspended": "suspended"}
    ),
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


# --- handlers: validate, find the devices and the entry, ask its kind ----------------


def _device_kinds(action: str) -> list[Kind]:
    """Return the kinds whose devices the action can be sent to."""
    return [kind for kind in serving(action) if kind.device_key is not None]


async def _async_dispatch(
    hass: HomeAssistant, action: str, data: dict[str, Any]
) -> ServiceResponse:
    """Send through the kind of the entry the action is for."""
    entry = get_entry(hass, data, serving(action), action)
    response: dict[str, Any] = await kind_of(entry).actions[action](hass, entry, data)
    return response


async def _async_send_cloud_message(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_CLOUD_MESSAGE
    data = _validate(call.hass, action, SEND_CLOUD_MESSAGE_FIELDS, call.data)
    data = resolve_devices(
        call.hass, action, data, ATTR_DEVICE_IDS, _device_kinds(action), many=True
    )
    if (ATTR_DATA in data) == (ATTR_DATA_BASE64 in data):
        raise _invalid("data_exclusive")
    return await _async_dispatch(call.hass, action, data)


async def _async_send_sms(call: ServiceCall) -> ServiceResponse:
    action = SERVICE_SEND_SMS
    data = _validate(call.hass, action, SEND_SMS_FIELDS, call.data)
    if ATTR_DEVICE in data:
        data = resolve_devices(
            call.hass, action, data, ATTR_DEVICE_ID, _device_kinds(action), many=False
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
        call.hass, action, data, ATTR_ICCID, _device_kinds(action), many=False
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
        (SERVICE_SET_SIM_STATE, _async_set_sim_state, SET_SIM_STATE_FIELDS),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            handler,
            schema=_registration_schema(fields),
            supports_response=SupportsResponse.OPTIONAL,
        )

"""The on-device listener ("This device"): what devices send, and the Socket API.

Not a provider account: no devices, no webhook, no outbox. Its entry listens on one
TCP or UDP port (``wiring.py``); with Socket API credentials it also sends to
Hologram's cloud and SMS over IP, at once (nothing is queued).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from ...action_errors import invalid, label, not_ready, provider_error
from ...const import (
    ATTR_DATA,
    ATTR_DEVICE_ID,
    ATTR_EXPIRY,
    ATTR_ICCID,
    ATTR_MESSAGE,
    ATTR_PHONE_NUMBER,
    ATTR_SENDER,
    ATTR_TOPICS,
    CONF_PORT,
    CONF_PROTOCOL,
    DOMAIN,
    SERVICE_SEND_SMS,
    SERVICE_SEND_TO_CLOUD,
    EntryKind,
)
from ...models import CellularIoTConfigEntry, CellularIoTData
from ...providers.errors import ProviderAuthError, ProviderError
from ...providers.hologram_socket import MAX_SMS_CHARS, HologramSocketClient
from ..base import (
    ActionHandler,
    DeviceFields,
    Kind,
)
from .flow import FLOW
from .wiring import OnDeviceData, async_setup_on_device


def is_control(char: str) -> bool:
    """Tell whether a character is a C0 or C1 control character (newline, NUL …)."""
    return char < " " or "\x7f" <= char <= "\x9f"


def listener_runtime(entry: CellularIoTConfigEntry) -> OnDeviceData:
    """Return the listener's state of a loaded on_device entry."""
    runtime = entry.runtime_data
    assert isinstance(runtime, OnDeviceData)
    return runtime


def _socket_client(entry: CellularIoTConfigEntry) -> HologramSocketClient:
    runtime = listener_runtime(entry)
    if runtime.socket is None:
        raise not_ready("socket_credentials_missing", title=entry.title)
    return runtime.socket


def _socket_error(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, err: ProviderError
) -> HomeAssistantError:
    """Translate a Socket API error; a refused device key says where to enter it."""
    if isinstance(err, ProviderAuthError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="socket_key_refused",
            translation_placeholders={"title": entry.title, "error": err.reason},
        )
    return provider_error(hass, None, err, title=entry.title)


async def _async_send_sms_over_ip(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    if ATTR_PHONE_NUMBER not in data:
        raise invalid("phone_number_required", title=entry.title)
    if any(is_control(char) for char in data[ATTR_MESSAGE]):
        raise invalid("sms_newline")
    if len(data[ATTR_MESSAGE]) > MAX_SMS_CHARS:
        raise invalid(
            "sms_over_ip_too_long",
            max=MAX_SMS_CHARS,
            length=len(data[ATTR_MESSAGE]),
        )
    for field in (ATTR_DEVICE_ID, ATTR_ICCID, ATTR_SENDER, ATTR_EXPIRY):
        if field in data:
            raise invalid(
                "field_not_supported",
                field=label(hass, SERVICE_SEND_SMS, field),
                title=entry.title,
            )
    client = _socket_client(entry)
    try:
        await client.send_sms(data[ATTR_PHONE_NUMBER], data[ATTR_MESSAGE])
    except ProviderError as err:
        raise _socket_error(hass, entry, err) from err
    return {
        "config_entry_id": entry.entry_id,
        "status": "sent",
        "phone_number": data[ATTR_PHONE_NUMBER],
    }


async def _async_send_to_cloud(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, data: dict[str, Any]
) -> dict[str, Any]:
    client = _socket_client(entry)
    try:
        await client.send_to_cloud(data[ATTR_DATA], data.get(ATTR_TOPICS))
    except ProviderError as err:
        raise _socket_error(hass, entry, err) from err
    return {"config_entry_id": entry.entry_id, "status": "sent"}


class OnDeviceKind(Kind):
    """The listener for Hologram's on-device API."""

    key = EntryKind.ON_DEVICE.value
    provider = "Hologram"
    platforms = (Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR)
    flow = FLOW
    actions: ClassVar[Mapping[str, ActionHandler]] = {
        SERVICE_SEND_SMS: _async_send_sms_over_ip,
        SERVICE_SEND_TO_CLOUD: _async_send_to_cloud,
    }

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> OnDeviceData:
        """Start the listener; a port that cannot be bound retries later."""
        return await async_setup_on_device(hass, entry)

    async def async_unload_entry(
        self, hass: HomeAssistant, entry: CellularIoTConfigEntry
    ) -> None:
        """Close the listener."""
        await listener_runtime(entry).listener.stop()

    def diagnostics(self, runtime: CellularIoTData) -> dict[str, Any]:
        """Return the listener's counters."""
        assert isinstance(runtime, OnDeviceData)
        listener = runtime.listener
        return {
            "kind": self.key,
            "listening": listener.listening,
            "port": listener.port,
            "active_connections": listener.active_connections,
            "rejected_connections": listener.rejected,
            "refused_not_allowed": listener.refused,
            "refused_without_secret": listener.unauthenticated,
            "secret_required": listener.has_secret,
            "evicted_connections": listener.evicted,
            "closed_idle": listener.timed_out,
            "closed_at_deadline": listener.cut_at_deadline,
            "dropped_rate_limited": listener.rate_limited,
            "messages_received": runtime.received,
            "socket_api": runtime.socket is not None,
        }

    def device_info_fields(self, entry: CellularIoTConfigEntry) -> DeviceFields:
        """Return the listener's own device."""
        return {
            "identifiers": {(DOMAIN, entry.entry_id)},
            "name": entry.title,
            "manufacturer": "Hologram",
            "model": f"Cloud message listener ({entry.data[CONF_PROTOCOL]} {entry.data[CONF_PORT]})",
        }


ON_DEVICE: Final = OnDeviceKind()

__all__ = ["ON_DEVICE", "OnDeviceData", "is_control", "listener_runtime"]

"""Notify entities: one per device of an account, for notify.send_message.

What is sent is what is natural for the provider: Hologram, a cloud message on the
device's port and protocol (or an SMS, as the device is configured); emnify, an SMS;
monoZ, a downlink on the device's topic and QoS. It goes through the same action, so
validation, the outbox and the errors are the same.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.notify import NotifyEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    ATTR_PORT,
    ATTR_PROTOCOL,
    ATTR_QOS,
    ATTR_TOPIC,
    CONF_SEND_AS,
    DOMAIN,
    SEND_AS_SMS,
    SERVICE_PUBLISH_DOWNLINK,
    SERVICE_SEND_CLOUD_MESSAGE,
    SERVICE_SEND_SMS,
    SUBENTRY_DEVICE,
    EntryKind,
)
from .entity import DeviceEntity
from .models import CellularIoTConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a notify entity for every device of the account."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_DEVICE:
            async_add_entities(
                [DeviceNotifyEntity(entry, subentry, "send")],
                config_subentry_id=subentry.subentry_id,
            )


class DeviceNotifyEntity(DeviceEntity, NotifyEntity):
    """Send a message to the device (the title, if any, is not sent).

    Stays available while the provider cannot be reached: HA skips unavailable
    entities in ``notify.send_message`` without a word, whereas the action queues the
    message in the outbox and sends it once the provider answers.
    """

    _attr_name = None
    _follows_connection = False

    def service_call(self, message: str) -> tuple[str, dict[str, Any]]:
        """Return the action and its data that deliver ``message``."""
        data: dict[str, Any] = {"config_entry_id": self._entry.entry_id}
        defaults = self._subentry.data
        if self._kind is EntryKind.MONOZ:
            return SERVICE_PUBLISH_DOWNLINK, {
                **data,
                "iccid": self.provider_id,
                "message": message,
                "topic": defaults.get(ATTR_TOPIC, ""),
                "qos": defaults.get(ATTR_QOS, 0),
            }
        if self._kind is EntryKind.EMNIFY or defaults.get(CONF_SEND_AS) == SEND_AS_SMS:
            return SERVICE_SEND_SMS, {
                **data,
                "device_id": int(self.provider_id),
                "message": message,
            }
        return SERVICE_SEND_CLOUD_MESSAGE, {
            **data,
            "device_ids": [int(self.provider_id)],
            "port": defaults.get(ATTR_PORT, 4010),
            "protocol": defaults.get(ATTR_PROTOCOL, "TCP"),
            "data": message,
        }

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send through the provider's action (errors are the action's)."""
        action, data = self.service_call(message)
        await self.hass.services.async_call(DOMAIN, action, data, blocking=True)

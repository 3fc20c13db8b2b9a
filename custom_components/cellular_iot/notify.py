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

from .const import DOMAIN
from .entity import DeviceEntity, async_add_device_entities
from .models import CellularIoTConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a notify entity for every device of the account."""
    async_add_device_entities(
        entry,
        async_add_entities,
        lambda subentry: [DeviceNotifyEntity(entry, subentry, "send")],
    )


class DeviceNotifyEntity(DeviceEntity, NotifyEntity):
    """Send a message to the device (the title, if any, is not sent).

    Stays available while the provider cannot be reached: HA skips unavailable
    entities in ``notify.send_message`` without a word, whereas the action queues the
    message in the outbox and sends it once the provider answers.
    """

    _attr_name = None

    def service_call(self, message: str) -> tuple[str, dict[str, Any]]:
        """Return the action and its data that deliver ``message``."""
        return self._kind.notify_call(self._entry, self._subentry, message)

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send through the provider's action (errors are the action's)."""
        action, data = self.service_call(message)
        await self.hass.services.async_call(DOMAIN, action, data, blocking=True)

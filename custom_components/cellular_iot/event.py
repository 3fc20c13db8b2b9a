"""Event entity: one event per message the entry receives (listener or MQTT uplink).

Its attributes are a preview of the event (texts cut to 255 characters): the whole
message is in the ``cellular_iot_message_received`` event.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import (
    AccountEntity,
    CellularIoTEntity,
    DeviceEntity,
    ListenerEntity,
    async_add_device_entities,
)
from .events import preview
from .kinds import kind_of
from .models import CellularIoTConfigEntry

PARALLEL_UPDATES = 0
EVENT_TYPE = "message_received"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's event entity."""
    if not kind_of(entry).account:
        async_add_entities([ListenerEventEntity(entry, "message")])
        return
    async_add_entities([AccountEventEntity(entry, "message")])
    async_add_device_entities(
        entry,
        async_add_entities,
        lambda subentry: [DeviceEventEntity(entry, subentry, "message")],
    )


class _MessageEventEntity(CellularIoTEntity, EventEntity):
    """Fires ``message_received`` with the message's event data."""

    _attr_event_types = [EVENT_TYPE]  # noqa: RUF012 - HA entity attribute

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        self._trigger_event(EVENT_TYPE, preview(event))
        self.async_write_ha_state()


class ListenerEventEntity(_MessageEventEntity, ListenerEntity):
    """The on-device listener's messages."""


class AccountEventEntity(_MessageEventEntity, AccountEntity):
    """An account's inbound messages (webhook deliveries, monoZ MQTT uplinks)."""


class DeviceEventEntity(DeviceEntity, EventEntity):
    """Fires ``message_received`` for the messages of one device only."""

    _attr_event_types = [EVENT_TYPE]  # noqa: RUF012 - HA entity attribute

    @callback
    def _on_device_message(self, event: dict[str, Any]) -> None:
        self._trigger_event(EVENT_TYPE, preview(event))
        self.async_write_ha_state()

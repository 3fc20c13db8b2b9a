"""Event entity: one event per message the listener receives."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import ListenerEntity
from .models import CellularIoTConfigEntry

PARALLEL_UPDATES = 0
EVENT_TYPE = "message_received"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the listener's event entity."""
    async_add_entities([ListenerEventEntity(entry, "message")])


class ListenerEventEntity(ListenerEntity, EventEntity):
    """Fires ``message_received`` with the message's event data."""

    _attr_event_types = [EVENT_TYPE]  # noqa: RUF012 - HA entity attribute

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        self._trigger_event(EVENT_TYPE, event)
        self.async_write_ha_state()

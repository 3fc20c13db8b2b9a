"""Base entity of the on-device listener entry."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity

from .const import CONF_PORT, CONF_PROTOCOL, DOMAIN, signal_message
from .models import CellularIoTConfigEntry, OnDeviceData


class ListenerEntity(Entity):
    """An entity of the on-device listener: one HA device per entry, pushed updates."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: CellularIoTConfigEntry, key: str) -> None:
        """Name the entity by its translation key; tie it to the entry's device."""
        self._entry = entry
        self._attr_translation_key = key
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Hologram",
            model=f"Cloud message listener ({entry.data[CONF_PROTOCOL]} {entry.data[CONF_PORT]})",
        )

    @property
    def runtime(self) -> OnDeviceData:
        """The entry's listener state."""
        data = self._entry.runtime_data
        assert isinstance(data, OnDeviceData)
        return data

    async def async_added_to_hass(self) -> None:
        """Follow the entry's messages."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_message(self._entry.entry_id), self._on_message
            )
        )

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        self.async_write_ha_state()

"""Binary sensors: the listener is serving; an account's broker connection is up."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import AccountEntity, ListenerEntity, async_add_device_entities
from .kinds import AccountKind, kind_of
from .models import CellularIoTConfigEntry
from .sim_entities import SimOnlineBinarySensor, sim_coordinator

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensor of the entry."""
    kind = kind_of(entry)
    if isinstance(kind, AccountKind):
        if entry.runtime_data.broker is not None:
            async_add_entities([BrokerConnectedBinarySensor(entry, "broker_connected")])
        if kind.sim_interval is not None and "online" in kind.sim_entities:
            # The coordinator of the SIM polling: made with the account's first device.
            async_add_device_entities(
                entry,
                async_add_entities,
                lambda subentry: [
                    SimOnlineBinarySensor(coordinator, entry, subentry, "online")
                    for coordinator in (sim_coordinator(entry),)
                    if coordinator is not None
                ],
            )
        return
    async_add_entities([ListeningBinarySensor(entry, "listening")])


class ListeningBinarySensor(ListenerEntity, BinarySensorEntity):
    """On while the listener accepts messages (available while it does not)."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    @property
    def is_on(self) -> bool:
        """Return whether the listener is serving."""
        return self.runtime.listener.listening


class BrokerConnectedBinarySensor(AccountEntity, BinarySensorEntity):
    """On while the MQTT broker connection is up (available while it is not)."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _follows_messages = False

    @property
    def is_on(self) -> bool:
        """Return whether the broker accepted the connection and it is up."""
        broker = self._entry.runtime_data.broker
        return broker is not None and broker.connected

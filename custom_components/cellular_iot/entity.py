"""Base entities: one HA device per entry, updated by pushes (no polling)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SUBENTRY_DEVICE, signal_message, signal_state
from .kinds import AccountKind, kind_of
from .kinds.base import DeviceFields
from .kinds.on_device import OnDeviceData, listener_runtime
from .models import AccountData, CellularIoTConfigEntry, CellularIoTData


class CellularIoTEntity(Entity):
    """An entity of one entry: named by translation key, updated by the dispatcher."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Entities whose state does not depend on inbound messages skip their signal.
    _follows_messages = True
    # Entities whose state comes from the provider's API (the SIM entities): they are
    # unavailable while it cannot be reached. Every other entity shows what arrived
    # (messages, when a device was last heard) or what the integration itself knows
    # (the outbox, a connection), and is available as long as its entry is loaded:
    # an outage of the API (or of a broker, or a stopped listener) does not change
    # what was received, and an event entity that went unavailable and came back
    # would read "detected an event" in the logbook although nothing arrived.
    _follows_api = False

    def __init__(self, entry: CellularIoTConfigEntry, key: str) -> None:
        """Name the entity by its translation key; tie it to the entry's device."""
        self._entry = entry
        self._attr_translation_key = key
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = self._device_info(entry)

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        raise NotImplementedError

    @property
    def available(self) -> bool:
        """Return True, or for an entity of the API whether the API can be reached."""
        if not self._follows_api:
            return True
        return api_reachable(self._entry)

    async def async_added_to_hass(self) -> None:
        """Follow the entry's messages and connection state."""
        await super().async_added_to_hass()
        if self._follows_messages:
            self.async_on_remove(
                async_dispatcher_connect(
                    self.hass, signal_message(self._entry.entry_id), self._on_message
                )
            )
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_state(self._entry.entry_id), self._on_state
            )
        )

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        self.async_write_ha_state()

    @callback
    def _on_state(self) -> None:
        self.async_write_ha_state()


class ListenerEntity(CellularIoTEntity):
    """An entity of the on-device listener."""

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        return _as_device_info(kind_of(entry).device_info_fields(entry))

    @property
    def runtime(self) -> OnDeviceData:
        """The entry's listener state."""
        return listener_runtime(self._entry)


class AccountEntity(CellularIoTEntity):
    """An entity of a provider account (the account is a service device)."""

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        return _as_device_info(kind_of(entry).device_info_fields(entry))


class DeviceEntity(CellularIoTEntity):
    """An entity of one device (a subentry) of an account."""

    def __init__(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, key: str
    ) -> None:
        """Tie the entity to the subentry's own HA device, under the account."""
        self._subentry = subentry
        kind = kind_of(entry)
        assert isinstance(kind, AccountKind)
        self._kind = kind
        self.provider_id = kind.provider_id(subentry)
        super().__init__(entry, key)
        self._attr_unique_id = f"{entry.entry_id}_{subentry.subentry_id}_{key}"

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        # No ``via_device`` here: HA 2026.10+ reports it as deprecated (an error
        # when the caller's frame is lost), and its replacement ``via_device_id``
        # does not exist in HA 2025.4. The kind's ``async_register_devices`` links
        # the device to its account in the registry instead.
        return _as_device_info(self._kind.subentry_device_fields(entry, self._subentry))

    def matches(self, event: dict[str, Any]) -> bool:
        """Return whether an inbound message came from this device."""
        return self._kind.matches(event, self.provider_id)

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        if self.matches(event):
            self._on_device_message(event)

    @callback
    def _on_device_message(self, event: dict[str, Any]) -> None:
        self.async_write_ha_state()


def api_reachable(entry: CellularIoTConfigEntry) -> bool:
    """Return whether the entry's provider API can be reached (``availability``)."""
    runtime: CellularIoTData | None = getattr(entry, "runtime_data", None)
    return runtime is None or runtime.api_reachable


@callback
def async_add_device_entities(
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_of: Callable[[ConfigSubentry], Sequence[Entity]],
) -> None:
    """Add the entities of each device of the account, now and when one is added.

    A device added later gets its entities from the kind (``AccountKind``), through
    this platform, without the account reloading.
    """

    @callback
    def add(subentry: ConfigSubentry) -> None:
        if subentry.subentry_type != SUBENTRY_DEVICE:
            return
        if entities := entities_of(subentry):
            async_add_entities(entities, config_subentry_id=subentry.subentry_id)

    for subentry in entry.subentries.values():
        add(subentry)
    if isinstance(entry.runtime_data, AccountData):
        entry.runtime_data.device_adders.append(add)


def _as_device_info(fields: DeviceFields) -> DeviceInfo:
    return DeviceInfo(
        identifiers=fields["identifiers"],
        name=fields["name"],
        manufacturer=fields["manufacturer"],
        model=fields["model"],
        entry_type=fields.get("entry_type"),
        serial_number=fields.get("serial_number"),
    )

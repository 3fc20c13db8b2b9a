"""Base entities: one HA device per entry, updated by pushes (no polling)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity

from .const import (
    CONF_KIND,
    CONF_ORG_ID,
    CONF_PORT,
    CONF_PROTOCOL,
    DEVICE_KEYS,
    DOMAIN,
    EntryKind,
    signal_message,
    signal_state,
)
from .models import CellularIoTConfigEntry, CellularIoTData, MonozData, OnDeviceData


class CellularIoTEntity(Entity):
    """An entity of one entry: named by translation key, updated by the dispatcher."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Entities whose state does not depend on inbound messages skip their signal.
    _follows_messages = True
    # Entities that stay available while the provider, broker or listener is down:
    # those that report that state themselves, or keep working without it.
    _follows_connection = True

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
        """Return whether the entry's provider, broker or listener is up.

        Accounts: every link of the entry's reachability is up (``availability``).
        The on-device listener: it is serving.
        """
        if not self._follows_connection:
            return True
        runtime = getattr(self._entry, "runtime_data", None)
        if isinstance(runtime, OnDeviceData):
            return runtime.listener.listening
        if isinstance(runtime, CellularIoTData) and runtime.reachability is not None:
            return runtime.reachability.available
        return True

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
        return DeviceInfo(
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


_MANUFACTURERS = {
    EntryKind.HOLOGRAM: ("Hologram", "Hologram account"),
    EntryKind.EMNIFY: ("emnify", "emnify organisation"),
    EntryKind.MONOZ: ("monoZ", "monoZ:Link organisation"),
}


class AccountEntity(CellularIoTEntity):
    """An entity of a provider account (the account is a service device)."""

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        return _as_device_info(_account_device(entry))


class MonozEntity(AccountEntity):
    """An entity of a monoZ account."""

    @property
    def runtime(self) -> MonozData:
        """The account's clients."""
        data = self._entry.runtime_data
        assert isinstance(data, MonozData)
        return data


class DeviceEntity(CellularIoTEntity):
    """An entity of one device (a subentry) of an account."""

    def __init__(
        self, entry: CellularIoTConfigEntry, subentry: ConfigSubentry, key: str
    ) -> None:
        """Tie the entity to the subentry's own HA device, under the account."""
        self._subentry = subentry
        self._kind = EntryKind(entry.data[CONF_KIND])
        self.provider_id = str(subentry.data[DEVICE_KEYS[self._kind]])
        super().__init__(entry, key)
        self._attr_unique_id = f"{entry.entry_id}_{subentry.subentry_id}_{key}"

    def _device_info(self, entry: CellularIoTConfigEntry) -> DeviceInfo:
        # No ``via_device`` here: HA 2026.10+ reports it as deprecated (an error
        # when the caller's frame is lost), and its replacement ``via_device_id``
        # does not exist in HA 2025.4. ``async_register_devices`` links the device
        # to its account in the registry instead.
        return _as_device_info(_subentry_device(entry, self._subentry))

    def matches(self, event: dict[str, Any]) -> bool:
        """Return whether an inbound message came from this device."""
        if self._kind is EntryKind.MONOZ:
            return event.get("iccid") == self.provider_id
        return str(event.get("device_id")) == self.provider_id

    @callback
    def _on_message(self, event: dict[str, Any]) -> None:
        if self.matches(event):
            self._on_device_message(event)

    @callback
    def _on_device_message(self, event: dict[str, Any]) -> None:
        self.async_write_ha_state()


_DEVICE_MODELS = {
    EntryKind.HOLOGRAM: "Hologram device",
    EntryKind.EMNIFY: "emnify endpoint",
    EntryKind.MONOZ: "monoZ SIM",
}


class _DeviceFields(TypedDict):
    """The fields our devices have: for ``DeviceInfo`` and for the registry alike."""

    identifiers: set[tuple[str, str]]
    name: str
    manufacturer: str
    model: str
    entry_type: NotRequired[DeviceEntryType]
    serial_number: NotRequired[str]


def _as_device_info(fields: _DeviceFields) -> DeviceInfo:
    return DeviceInfo(
        identifiers=fields["identifiers"],
        name=fields["name"],
        manufacturer=fields["manufacturer"],
        model=fields["model"],
        entry_type=fields.get("entry_type"),
        serial_number=fields.get("serial_number"),
    )


def _account_device(entry: CellularIoTConfigEntry) -> _DeviceFields:
    manufacturer, model = _MANUFACTURERS[EntryKind(entry.data[CONF_KIND])]
    if org_id := entry.data.get(CONF_ORG_ID):
        model = f"{model} {org_id}"
    return {
        "identifiers": {(DOMAIN, entry.entry_id)},
        "name": entry.title,
        "manufacturer": manufacturer,
        "model": model,
        "entry_type": DeviceEntryType.SERVICE,
    }


def _subentry_device(
    entry: CellularIoTConfigEntry, subentry: ConfigSubentry
) -> _DeviceFields:
    kind = EntryKind(entry.data[CONF_KIND])
    return {
        "identifiers": {(DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}")},
        "name": subentry.title,
        "manufacturer": _MANUFACTURERS[kind][0],
        "model": _DEVICE_MODELS[kind],
        "serial_number": str(subentry.data[DEVICE_KEYS[kind]]),
    }


@callback
def async_register_devices(hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
    """Register the account's device and its devices, each linked to the account.

    Done here, before the platforms add entities, so the link is made with
    ``async_update_device(via_device_id=...)``, which every supported HA has.
    """
    registry = dr.async_get(hass)
    account = registry.async_get_or_create(
        config_entry_id=entry.entry_id, **_account_device(entry)
    )
    for subentry in entry.subentries.values():
        device = registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            config_subentry_id=subentry.subentry_id,
            **_subentry_device(entry, subentry),
        )
        if device.via_device_id != account.id:
            registry.async_update_device(device.id, via_device_id=account.id)

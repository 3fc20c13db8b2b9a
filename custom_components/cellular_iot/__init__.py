"""The cellular_iot integration: cellular IoT devices through Hologram, emnify, monoZ, 1NCE.

Each entry's kind (``kinds/``) sets it up and tears it down; this module only runs
the steps every entry goes through, in order.
"""

from __future__ import annotations

from homeassistant.components import webhook
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_CLOUDHOOK_URL,
    CONF_KIND,
    CONF_MQTT,
    CONF_ORG_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    LEGACY_CONF_SIM_INTERVAL,
    EntryKind,
)
from .discovery import async_remove_device, async_remove_discovery
from .inbound_webhook import async_delete_cloudhook, new_webhook_secret
from .kinds import KINDS
from .kinds.monoz.settings import migrate_broker
from .kinds.on_device.flow import migrate_socket_credentials
from .models import CellularIoTConfigEntry
from .outbox import async_remove_outbox, clear_auth_issue
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: CellularIoTConfigEntry) -> bool:
    """Set up one account or on-device entry."""
    kind = KINDS.get(str(entry.data.get(CONF_KIND)))
    if kind is None:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unsupported_kind",
            translation_placeholders={"kind": str(entry.data.get(CONF_KIND))},
        )
    entry.runtime_data = await kind.async_setup_entry(hass, entry)
    await kind.async_prepare(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, kind.platforms)
    kind.async_start(hass, entry)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> bool:
    """Unload an entry; its kind closes what it opened."""
    kind = KINDS[entry.data[CONF_KIND]]
    unloaded = await hass.config_entries.async_unload_platforms(entry, kind.platforms)
    if unloaded:
        runtime = entry.runtime_data
        if runtime.reachability is not None:
            # First: closing a connection is no outage to report.
            runtime.reachability.stop()
        await kind.async_unload_entry(hass, entry)
    return unloaded


async def async_remove_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> None:
    """Delete what the entry stored: outbox, message cursor, discovery; its issues.

    And its webhook's Home Assistant Cloud URL, when it had one.
    """
    if entry.data.get(CONF_CLOUDHOOK_URL):
        await async_delete_cloudhook(hass, entry.data[CONF_WEBHOOK_ID])
    await async_remove_outbox(hass, entry.entry_id)
    if (kind := KINDS.get(str(entry.data.get(CONF_KIND)))) is not None:
        await kind.async_remove_entry(hass, entry)
    clear_auth_issue(hass, entry)
    await async_remove_discovery(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Delete a device of an account from its device page (with its subentry)."""
    return await async_remove_device(hass, entry, device)


async def async_migrate_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> bool:
    """Bring an entry of an earlier version up to date, step by step.

    1.1 -> 1.2: account entries get an inbound webhook and its secret.
    1.2 -> 1.3: a monoZ broker's uplink filter becomes a list, the old default
    ``/<org>/+/pub/#`` the filters of every documented topic shape; an on_device
    entry's legacy Socket API source ID and key become its device key (marked legacy:
    it keeps sending the legacy frame).
    1.3 -> 1.4: the SIM refresh interval the user chose (options) is dropped: the
    integration chooses it per provider.
    """
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        options = dict(entry.options)
        kind = KINDS.get(str(data.get(CONF_KIND)))
        if kind is not None and kind.account:
            data.setdefault(CONF_WEBHOOK_ID, webhook.async_generate_id())
            options.setdefault(CONF_WEBHOOK_SECRET, new_webhook_secret())
        hass.config_entries.async_update_entry(
            entry, data=data, options=options, minor_version=2
        )
    if entry.minor_version < 3:
        data = dict(entry.data)
        if data.get(CONF_KIND) == EntryKind.MONOZ.value and data.get(CONF_MQTT):
            data[CONF_MQTT] = migrate_broker(str(data[CONF_ORG_ID]), data[CONF_MQTT])
        if data.get(CONF_KIND) == EntryKind.ON_DEVICE.value:
            data = migrate_socket_credentials(data)
        hass.config_entries.async_update_entry(entry, data=data, minor_version=3)
    if entry.minor_version < 4:
        options = {
            key: value
            for key, value in entry.options.items()
            if key != LEGACY_CONF_SIM_INTERVAL
        }
        hass.config_entries.async_update_entry(entry, options=options, minor_version=4)
    return True

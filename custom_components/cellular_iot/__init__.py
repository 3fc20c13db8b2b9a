"""The cellular_iot integration: cellular IoT devices through Hologram, emnify, monoZ."""

from __future__ import annotations

from functools import partial
from typing import NoReturn

from homeassistant.components import webhook
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from . import operations  # noqa: F401 - registers the outbox operations
from .availability import LINK_API, Reachability
from .const import (
    ACCOUNT_KINDS,
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_KIND,
    CONF_ORG_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    EntryKind,
)
from .entity import async_register_devices
from .inbound import InboundWebhook, new_webhook_secret
from .models import (
    CellularIoTConfigEntry,
    EmnifyData,
    HologramData,
    MonozData,
    OnDeviceData,
)
from .monoz import async_setup_monoz
from .on_device import async_setup_on_device
from .outbox import Outbox, async_remove_outbox, clear_auth_issue
from .providers.emnify import EmnifyClient
from .providers.errors import ProviderAuthError, ProviderError
from .providers.hologram import HologramClient
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS: dict[str, list[Platform]] = {
    EntryKind.ON_DEVICE: [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR],
    EntryKind.MONOZ: [
        Platform.BINARY_SENSOR,
        Platform.EVENT,
        Platform.NOTIFY,
        Platform.SENSOR,
    ],
    EntryKind.HOLOGRAM: [Platform.EVENT, Platform.NOTIFY, Platform.SENSOR],
    EntryKind.EMNIFY: [Platform.EVENT, Platform.NOTIFY, Platform.SENSOR],
}


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: CellularIoTConfigEntry) -> bool:
    """Set up one account or on-device entry."""
    kind = entry.data.get(CONF_KIND)
    if kind == EntryKind.HOLOGRAM:
        entry.runtime_data = await _async_setup_hologram(hass, entry)
    elif kind == EntryKind.EMNIFY:
        entry.runtime_data = await _async_setup_emnify(hass, entry)
    elif kind == EntryKind.MONOZ:
        try:
            entry.runtime_data = await async_setup_monoz(hass, entry)
        except ProviderError as err:
            _raise_setup_error(err)
    elif kind == EntryKind.ON_DEVICE:
        entry.runtime_data = await async_setup_on_device(hass, entry)
    else:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unsupported_kind",
            translation_placeholders={"kind": str(kind)},
        )
    runtime = entry.runtime_data
    if isinstance(runtime, (HologramData, EmnifyData)):
        _track_reachability(hass, entry, runtime)
    if isinstance(runtime, (HologramData, EmnifyData, MonozData)):
        clear_auth_issue(hass, entry)
        runtime.outbox = Outbox(hass, entry)
        await runtime.outbox.async_load()
        if CONF_WEBHOOK_ID in entry.data:
            runtime.webhook = InboundWebhook(hass, entry)
            runtime.webhook.register()
        async_register_devices(hass, entry)
    await hass.config_entries.async_forward_entry_setups(
        entry, PLATFORMS.get(entry.data[CONF_KIND], [])
    )
    if isinstance(runtime, (HologramData, EmnifyData, MonozData)) and runtime.outbox:
        # Last: a setup that fails before this leaves no worker behind to write the
        # files the next attempt loads.
        runtime.outbox.start()
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> bool:
    """Unload an entry; close its listener or disconnect from its broker."""
    unloaded = await hass.config_entries.async_unload_platforms(
        entry, PLATFORMS.get(entry.data[CONF_KIND], [])
    )
    runtime = entry.runtime_data
    if unloaded and runtime.reachability is not None:
        # First: closing the broker connection is no outage to report.
        runtime.reachability.stop()
    if unloaded and isinstance(runtime, (HologramData, EmnifyData, MonozData)):
        if runtime.webhook is not None:
            runtime.webhook.unregister()
        if runtime.outbox is not None:
            await runtime.outbox.stop()
    if unloaded and isinstance(runtime, OnDeviceData):
        await runtime.listener.stop()
    if (
        unloaded
        and isinstance(entry.runtime_data, MonozData)
        and entry.runtime_data.mqtt
    ):
        await entry.runtime_data.mqtt.stop()
    return unloaded


async def async_remove_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> None:
    """Delete what the entry stored: its outbox; and its repair issue."""
    await async_remove_outbox(hass, entry.entry_id)
    clear_auth_issue(hass, entry)


async def async_migrate_entry(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> bool:
    """1.1 -> 1.2: account entries get an inbound webhook and its secret."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        options = dict(entry.options)
        if data.get(CONF_KIND) in ACCOUNT_KINDS:
            data.setdefault(CONF_WEBHOOK_ID, webhook.async_generate_id())
            options.setdefault(CONF_WEBHOOK_SECRET, new_webhook_secret())
        hass.config_entries.async_update_entry(
            entry, data=data, options=options, minor_version=2
        )
    return True


async def _async_setup_hologram(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> HologramData:
    client = HologramClient(
        async_get_clientsession(hass),
        entry.data[CONF_API_KEY],
        org_id=entry.data.get(CONF_ORG_ID),
    )
    try:
        user = await client.get_me()
    except ProviderError as err:
        _raise_setup_error(err)
    return HologramData(kind=EntryKind.HOLOGRAM, client=client, user=user)


async def _async_setup_emnify(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> EmnifyData:
    client = EmnifyClient(
        async_get_clientsession(hass), entry.data[CONF_APPLICATION_TOKEN]
    )
    try:
        await client.authenticate()
    except ProviderError as err:
        _raise_setup_error(err)
    return EmnifyData(kind=EntryKind.EMNIFY, client=client)


def _track_reachability(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    runtime: HologramData | EmnifyData,
) -> None:
    """Follow whether the provider answers; check it cheaply while it does not."""
    reachability = Reachability(hass, entry.entry_id, entry.title)
    if isinstance(runtime, HologramData):
        reachability.add_link(LINK_API, "the Hologram API", probe=runtime.client.get_me)
    else:
        reachability.add_link(
            LINK_API, "the emnify API", probe=runtime.client.reauthenticate
        )
    runtime.client.observer = partial(reachability.report, LINK_API)
    runtime.reachability = reachability
    entry.async_on_unload(reachability.stop)


def _raise_setup_error(err: ProviderError) -> NoReturn:
    """Refused credentials start re-authentication; anything else retries later."""
    if isinstance(err, ProviderAuthError):
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    raise ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="cannot_connect",
        translation_placeholders={"error": str(err)},
    ) from err

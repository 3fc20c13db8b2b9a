"""The devices of an account at its provider: new ones offered, gone ones reported.

An account whose provider lists its devices (Hologram's device list, emnify's
endpoint list; monoZ lists no SIMs) is listed when it is set up and then every
:data:`DISCOVERY_INTERVAL`: a few requests per listing (one page per 100 Hologram
devices, per 1,000 emnify endpoints), next to which the SIM refresh is many.

- A listed device that is not a device of the account yet, and that the user has not
  turned down, is **offered**: one repair issue per account names them, and its fix
  flow adds the ticked ones with one click (as the add-device form would, with its
  defaults). Nothing is ever added without the user.
- A device of the account that a complete listing no longer names is **gone** at
  the provider: a repair issue per device offers to remove it (its subentry, and with
  it its HA device and entities). It goes away by itself if the device comes back.

Turned down, and never offered again (the ids are kept in a Store per account):
the devices left unticked in the fix flow, those of an offer the user ignored in
Repairs, and devices the user removed from the account (from the device page, a
removal repair, or the subentry's delete). They can still be added with the
account's "Add device".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER, SUBENTRY_DEVICE
from .models import CellularIoTConfigEntry
from .providers.errors import ProviderError
from .providers.listing import AccountDevices
from .subentry_flow import DeviceForm, DeviceSubentryFlow
from .targets import device_subentries

if TYPE_CHECKING:
    from .kinds.base import AccountKind

# How often an account's devices are listed (and once when it is set up).
DISCOVERY_INTERVAL: Final = timedelta(hours=6)
# The repair issue offering an account's new devices; the one per gone device.
ISSUE_NEW_DEVICES: Final = "new_devices"
ISSUE_STALE_DEVICE: Final = "stale_device"
# The most devices an issue's title names (the fix flow lists them all).
MAX_NAMED: Final = 10
STORAGE_VERSION: Final = 1

# The discoveries of the loaded accounts; and of every account since HA started
# (kept over a reload: what it turned down may not be written to its Store yet).
_DISCOVERIES: HassKey[dict[str, DeviceDiscovery]] = HassKey(f"{DOMAIN}_discovery")
_KEPT: HassKey[dict[str, DeviceDiscovery]] = HassKey(f"{DOMAIN}_discovery_kept")


def new_devices_issue_id(entry_id: str) -> str:
    """Return the id of the repair issue offering an account's new devices."""
    return f"{ISSUE_NEW_DEVICES}_{entry_id}"


def stale_device_issue_id(entry_id: str, subentry_id: str) -> str:
    """Return the id of the repair issue about one device gone at the provider."""
    return f"{ISSUE_STALE_DEVICE}_{entry_id}_{subentry_id}"


def device_label(provider_id: str, name: str) -> str:
    """Name a listed device as the issue and the fix flow do."""
    return f"{name} ({provider_id})"


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.discovery.{entry_id}")


def device_form(kind: AccountKind) -> DeviceForm | None:
    """Return the add-device form of an account kind (its id key and defaults)."""
    flow = kind.flow.subentries.get(SUBENTRY_DEVICE) if kind.flow else None
    if flow is None or not issubclass(flow, DeviceSubentryFlow):
        return None
    return flow.form


class DeviceDiscovery:
    """List one account's devices; offer the new ones, report the gone ones."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CellularIoTConfigEntry,
        kind: AccountKind,
        lister: Callable[[], Awaitable[AccountDevices]],
    ) -> None:
        """Discover with ``lister``, the kind's listing of the account's devices."""
        self.hass = hass
        self.entry = entry
        self.kind = kind
        self.lister = lister
        self._store = _store(hass, entry.entry_id)
        self._loaded = False
        self._running = False
        # Turned down (never offered again), offered now (id -> name), and the
        # account's devices at the last listing (one gone since was removed).
        self.dismissed: set[str] = set()
        self.offered: dict[str, str] = {}
        self.known: set[str] | None = None
        self.listed: AccountDevices | None = None

    # --- state ------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Read what was turned down and offered before (once)."""
        if self._loaded:
            return
        self._loaded = True
        data = await self._store.async_load() or {}
        self.dismissed = {str(i) for i in data.get("dismissed", [])}
        self.offered = {str(k): str(v) for k, v in data.get("offered", {}).items()}
        known = data.get("known")
        self.known = {str(i) for i in known} if known is not None else None

    @callback
    def _async_save(self) -> None:
        self._store.async_delay_save(
            lambda: {
                "dismissed": sorted(self.dismissed),
                "offered": self.offered,
                "known": sorted(self.known) if self.known is not None else None,
            },
            1,
        )

    def added(self) -> dict[str, ConfigSubentry]:
        """Return the account's devices by provider id."""
        key = self.kind.device_key
        return {
            self.kind.provider_id(subentry): subentry
            for subentry in self.entry.subentries.values()
            if key is not None and key in subentry.data
        }

    # --- listing ------------------------------------------------------------------------

    async def async_refresh(self, _now: datetime | None = None) -> None:
        """List the account's devices and update the issues (a failure waits)."""
        if self._running:
            return
        self._running = True
        try:
            await self.async_load()
            try:
                listing = await self.lister()
            except ProviderError as err:
                LOGGER.debug(
                    "%s: the devices could not be listed: %s", self.entry.title, err
                )
                return
            self.async_apply(listing)
        finally:
            self._running = False

    @callback
    def async_apply(self, listing: AccountDevices) -> None:
        """Offer the new devices, report the gone ones, from one listing."""
        self.listed = listing
        added = self.added()
        if self.known is not None:
            # Removed by the user since the last listing: not offered again.
            self.dismissed |= self.known - added.keys()
        self.known = set(added)
        self._async_update_offer(listing, added)
        self._async_update_stale(listing, added)
        self._async_save()

    @callback
    def _async_update_offer(
        self, listing: AccountDevices, added: dict[str, ConfigSubentry]
    ) -> None:
        registry = ir.async_get(self.hass)
        issue_id = new_devices_issue_id(self.entry.entry_id)
        issue = registry.async_get_issue(DOMAIN, issue_id)
        if issue is not None and issue.dismissed_version is not None:
            # Ignored in Repairs: the devices it offered are turned down.
            self.dismissed |= self.offered.keys()
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            self.offered = {}
            issue = None
        form = device_form(self.kind)
        new = {
            provider_id: name
            for provider_id, name in sorted(listing.devices.items())
            if provider_id not in added
            and provider_id not in self.dismissed
            and (form is None or form.clean_id(provider_id) == provider_id)
        }
        # (An issue restored after a restart is inactive until raised again.)
        shown = issue is not None and issue.active
        if new == self.offered and shown == bool(new):
            return
        self.offered = new
        if not new:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        labels = [device_label(i, n) for i, n in new.items()]
        named = ", ".join(labels[:MAX_NAMED]) + (
            ", …" if len(labels) > MAX_NAMED else ""
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_NEW_DEVICES,
            translation_placeholders={
                "title": self.entry.title,
                "provider": self.kind.provider,
                "devices": named,
            },
            data={"entry_id": self.entry.entry_id},
        )

    @callback
    def _async_update_stale(
        self, listing: AccountDevices, added: dict[str, ConfigSubentry]
    ) -> None:
        gone = {
            subentry.subentry_id: (provider_id, subentry)
            for provider_id, subentry in added.items()
            if listing.complete and provider_id not in listing.devices
        }
        prefix = stale_device_issue_id(self.entry.entry_id, "")
        for domain, issue_id in list(ir.async_get(self.hass).issues):
            if (
                domain == DOMAIN
                and issue_id.startswith(prefix)
                and issue_id.removeprefix(prefix) not in gone
            ):
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for subentry_id, (provider_id, subentry) in gone.items():
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                stale_device_issue_id(self.entry.entry_id, subentry_id),
                is_fixable=True,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_STALE_DEVICE,
                translation_placeholders=stale_placeholders(
                    self.entry, self.kind, provider_id, subentry
                ),
                data={"entry_id": self.entry.entry_id, "subentry_id": subentry_id},
            )

    # --- the user's answers ---------------------------------------------------------------

    @callback
    def async_add(self, provider_ids: Iterable[str]) -> list[str]:
        """Add these offered devices as the add-device form would; the ids added.

        Each gets the form's defaults (how notify reaches it) and the name the
        provider lists; the account sets each one up as it is added, without a
        reload (as the add-device form does).
        """
        form = device_form(self.kind)
        assert form is not None
        errors: dict[str, str] = {}
        defaults = form.clean_defaults(vol.Schema(form.defaults({}))({}), errors)
        added = self.added()
        done: list[str] = []
        for provider_id in provider_ids:
            if provider_id in added or provider_id not in self.offered:
                continue
            self.hass.config_entries.async_add_subentry(
                self.entry,
                ConfigSubentry(
                    data=MappingProxyType({form.key: provider_id, **defaults}),
                    subentry_type=SUBENTRY_DEVICE,
                    title=self.offered[provider_id],
                    unique_id=f"{self.kind.key}-{provider_id}",
                ),
            )
            done.append(provider_id)
        return done

    @callback
    def async_answered(self, provider_ids: Iterable[str]) -> None:
        """Close the offer: ``provider_ids`` were added, the others are turned down."""
        chosen = set(provider_ids)
        self.dismissed |= self.offered.keys() - chosen
        self.known = (self.known or set()) | chosen
        self.offered = {}
        self._async_save()

    @callback
    def async_dismiss(self, provider_id: str) -> None:
        """Turn one device down (the user removed it)."""
        self.dismissed.add(provider_id)
        self.offered.pop(provider_id, None)
        self._async_save()


def stale_placeholders(
    entry: CellularIoTConfigEntry,
    kind: AccountKind,
    provider_id: str,
    subentry: ConfigSubentry,
) -> dict[str, str]:
    """Return the placeholders of a gone device's issue and its fix flow."""
    return {
        "title": entry.title,
        "provider": kind.provider,
        "device": subentry.title,
        "provider_id": provider_id,
    }


def get_discovery(hass: HomeAssistant, entry_id: str) -> DeviceDiscovery | None:
    """Return the discovery of a loaded account, if it has one."""
    return hass.data.get(_DISCOVERIES, {}).get(entry_id)


@callback
def async_start_discovery(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, kind: AccountKind
) -> None:
    """List the account's devices now and every few hours, until it unloads."""
    lister = kind.device_lister(entry.runtime_data)
    if lister is None or device_form(kind) is None:
        return
    kept = hass.data.setdefault(_KEPT, {})
    discovery = kept.get(entry.entry_id)
    if discovery is None:
        discovery = kept[entry.entry_id] = DeviceDiscovery(hass, entry, kind, lister)
    else:
        discovery.entry, discovery.kind, discovery.lister = entry, kind, lister
    discoveries = hass.data.setdefault(_DISCOVERIES, {})
    discoveries[entry.entry_id] = discovery

    @callback
    def _stop() -> None:
        if discoveries.get(entry.entry_id) is discovery:
            del discoveries[entry.entry_id]

    entry.async_on_unload(_stop)
    entry.async_on_unload(
        async_track_time_interval(
            hass,
            discovery.async_refresh,
            DISCOVERY_INTERVAL,
            name=f"{entry.title} device discovery",
            cancel_on_shutdown=True,
        )
    )
    entry.async_create_task(
        hass, discovery.async_refresh(), f"{entry.title} device discovery"
    )


async def async_remove_device(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device of an account from its device page.

    A device of the account goes with its subentry (and is not offered again); the
    account's own device (and an on-device entry's) is not deleted this way: that
    is the entry's removal. A device of ours that no subentry has any more goes.
    """
    if (DOMAIN, entry.entry_id) in device.identifiers:
        return False
    subentry_ids = device_subentries(device).get(entry.entry_id, set())
    for subentry_id in subentry_ids:
        subentry = entry.subentries.get(subentry_id) if subentry_id else None
        if subentry_id is None or subentry is None:
            continue
        discovery = get_discovery(hass, entry.entry_id)
        if discovery is not None and discovery.kind.device_key in subentry.data:
            discovery.async_dismiss(discovery.kind.provider_id(subentry))
        ir.async_delete_issue(
            hass, DOMAIN, stale_device_issue_id(entry.entry_id, subentry_id)
        )
        hass.config_entries.async_remove_subentry(entry, subentry_id)
    return True


async def async_remove_discovery(hass: HomeAssistant, entry_id: str) -> None:
    """Forget what an account's discovery kept, and its issues (the entry is removed)."""
    hass.data.get(_KEPT, {}).pop(entry_id, None)
    await _store(hass, entry_id).async_remove()
    ir.async_delete_issue(hass, DOMAIN, new_devices_issue_id(entry_id))
    prefix = stale_device_issue_id(entry_id, "")
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)

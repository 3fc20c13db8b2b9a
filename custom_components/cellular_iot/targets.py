"""Which entry and which provider ids an action is for.

An action names its devices (HA device ids of account subentries) or the provider's
ids with an optional ``config_entry_id``. The kinds that serve the action are asked
for the id a device stands for; a device that cannot receive (an account, the
listener, another integration's, another provider's) is refused by its name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
import functools
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .action_errors import action_name, invalid, label, not_ready
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE,
    ATTR_DEVICE_ID,
    CONF_KIND,
    DOMAIN,
)
from .kinds import KINDS, AccountKind, Kind
from .models import CellularIoTConfigEntry


def resolve_devices(
    hass: HomeAssistant,
    action: str,
    data: dict[str, Any],
    id_fields: tuple[str, ...],
    kinds: Collection[Kind],
) -> dict[str, Any]:
    """Turn ``device`` (HA device ids of account subentries) into the provider ids.

    For an action that takes several devices at once by their numeric ids
    (``device_ids``, the first of ``id_fields``). The devices give
    ``config_entry_id`` too; they must all belong to one account. Devices whose
    kind names them by another field (an ICCID) are sent one at a time: one such
    device, its id under that field. Without ``device``, one of ``id_fields`` is
    needed.
    """
    refs: list[str] | None = data.pop(ATTR_DEVICE, None)
    given = [name for name in id_fields if name in data]
    if refs is None:
        if not given:
            raise invalid("missing_field", field=label(hass, action, id_fields[0]))
        return data
    if given:
        raise invalid("device_or_id", field=label(hass, action, given[0]))
    entry_ids: set[str] = set()
    ids: list[str] = []
    for ref in refs:
        entry_id, provider_id = _device_target(hass, action, ref, kinds)
        entry_ids.add(entry_id)
        ids.append(provider_id)
    if len(entry_ids) > 1 or (data.get(ATTR_CONFIG_ENTRY_ID) not in (None, *entry_ids)):
        raise invalid("devices_of_several_entries")
    entry_id = entry_ids.pop()
    data[ATTR_CONFIG_ENTRY_ID] = entry_id
    field = _kind_field(hass, entry_id, kinds)
    if field == ATTR_DEVICE_ID:
        data[id_fields[0]] = list(dict.fromkeys(int(i) for i in ids))
        return data
    if len(refs) > 1:
        raise invalid("one_device")
    data[field] = ids[0]
    return data


def resolve_one_device(
    hass: HomeAssistant,
    action: str,
    data: dict[str, Any],
    id_fields: tuple[str, ...],
    kinds: Collection[Kind],
) -> dict[str, Any]:
    """Resolve one ``device`` into its account and its provider id's own field.

    For actions that take any kind's device: the id goes to the field the device's
    kind names it by (``device_id``, or ``iccid`` for monoZ and 1NCE). Without
    ``device``, exactly one of ``id_fields`` is needed.
    """
    refs: list[str] | None = data.pop(ATTR_DEVICE, None)
    given = [name for name in id_fields if name in data]
    if refs is None:
        if not given:
            raise invalid("missing_field", field=label(hass, action, ATTR_DEVICE))
        if len(given) > 1:
            raise invalid("device_or_id", field=label(hass, action, given[1]))
        return data
    if given:
        raise invalid("device_or_id", field=label(hass, action, given[0]))
    if len(refs) != 1:
        raise invalid("one_device")
    entry_id, provider_id = _device_target(hass, action, refs[0], kinds)
    if data.get(ATTR_CONFIG_ENTRY_ID) not in (None, entry_id):
        raise invalid("devices_of_several_entries")
    data[ATTR_CONFIG_ENTRY_ID] = entry_id
    field = _kind_field(hass, entry_id, kinds)
    data[field] = int(provider_id) if field == ATTR_DEVICE_ID else provider_id
    return data


def _kind_field(hass: HomeAssistant, entry_id: str, kinds: Collection[Kind]) -> str:
    """Return the field an entry's kind names its devices by (numbers: device_id)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    kind = next(k for k in kinds if k.key == entry.data.get(CONF_KIND))
    return kind.device_key or ATTR_DEVICE_ID


def _device_target(
    hass: HomeAssistant, action: str, ref: str, kinds: Collection[Kind]
) -> tuple[str, str]:
    """Return the account entry and the provider id of one device (a subentry's)."""
    device = dr.async_get(hass).async_get(ref)
    if device is None:
        raise invalid("invalid_device_target", value=ref)
    name = device.name_by_user or device.name or ref
    account: CellularIoTConfigEntry | None = None
    for entry_id, subentry_ids in device_subentries(device).items():
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            continue
        account = entry
        kind = KINDS[entry.data[CONF_KIND]]
        for subentry_id in subentry_ids:
            if subentry_id and (sub := entry.subentries.get(subentry_id)):
                if kind not in kinds or not isinstance(kind, AccountKind):
                    raise invalid(
                        "device_wrong_kind",
                        name=name,
                        provider=kind.provider,
                        action=action_name(hass, action),
                        providers=", ".join(k.provider for k in kinds),
                    )
                return entry_id, kind.provider_id(sub)
    if account is None:
        raise invalid("device_not_ours", name=name)
    if not KINDS[account.data[CONF_KIND]].account:
        raise invalid("device_is_listener", name=name)
    raise invalid("device_is_account", name=name)


def device_subentries(device: dr.DeviceEntry | None) -> dict[str, set[str | None]]:
    """Return the config entries and subentries a device belongs to.

    HA 2026.8+ gives a device one entry and subentry (``config_entry_id``,
    ``config_subentry_id``) and reports ``config_entries_subentries`` as deprecated;
    older releases have only the latter.
    """
    if device is None:
        return {}
    entry_id = getattr(device, "config_entry_id", None)
    if isinstance(entry_id, str):
        return {entry_id: {getattr(device, "config_subentry_id", None)}}
    return device.config_entries_subentries


@functools.cache
def _kind_keys(kinds: tuple[Kind, ...]) -> tuple[str, ...]:
    return tuple(kind.key for kind in kinds)


def get_entry(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    kinds: Collection[Kind],
    action: str,
) -> CellularIoTConfigEntry:
    """Return the loaded entry the action is for (or the only one of those kinds)."""
    keys = _kind_keys(tuple(kinds))
    entry_id = data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is not None:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise invalid("entry_not_found", entry_id=entry_id)
        if entry.data.get(CONF_KIND) not in keys:
            raise invalid(
                "entry_wrong_kind",
                title=entry.title,
                action=action,
                kinds=", ".join(keys),
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise not_ready("entry_not_loaded", title=entry.title)
        return entry
    candidates = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_KIND) in keys and entry.state is ConfigEntryState.LOADED
    ]
    if not candidates:
        raise not_ready("no_entry", action=action, kinds=", ".join(keys))
    if len(candidates) > 1:
        raise invalid(
            "entry_required",
            action=action,
            field=label(hass, action, ATTR_CONFIG_ENTRY_ID),
        )
    return candidates[0]

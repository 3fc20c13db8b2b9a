"""The fix flows of the repair issues discovery.py raises.

- ``new_devices_<entry>``: tick the devices to add (all are ticked) and submit; the
  unticked ones are not offered again.
- ``stale_device_<entry>_<subentry>``: confirm, and the device's subentry goes (HA
  removes its device and entities with it).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .const import CONF_KIND, DOMAIN
from .discovery import (
    ISSUE_NEW_DEVICES,
    ISSUE_STALE_DEVICE,
    device_label,
    get_discovery,
    stale_placeholders,
)
from .kinds import KINDS
from .kinds.base import AccountKind

CONF_DEVICES = "devices"


class NewDevicesFlow(RepairsFlow):
    """Add the devices an account's provider lists that are not added yet."""

    def __init__(self, entry_id: str) -> None:
        """Offer the devices of this account."""
        self._entry_id = entry_id

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Go to the form."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Tick the devices to add; submit adds them."""
        discovery = get_discovery(self.hass, self._entry_id)
        if discovery is None:
            return self.async_abort(reason="account_not_loaded")
        offered = dict(discovery.offered)
        if not offered:
            return self.async_abort(reason="nothing_to_add")
        if user_input is not None:
            chosen = [i for i in user_input.get(CONF_DEVICES, []) if i in offered]
            discovery.async_add(chosen)
            discovery.async_answered(chosen)
            return self.async_create_entry(data={})
        options = [
            SelectOptionDict(value=provider_id, label=device_label(provider_id, name))
            for provider_id, name in offered.items()
        ]
        schema = vol.Schema(
            {
                vol.Optional(CONF_DEVICES, default=list(offered)): SelectSelector(
                    SelectSelectorConfig(
                        options=options, multiple=True, mode=SelectSelectorMode.LIST
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="confirm",
            data_schema=schema,
            description_placeholders={
                "title": discovery.entry.title,
                "provider": discovery.kind.provider,
            },
        )


class StaleDeviceFlow(RepairsFlow):
    """Remove a device its provider no longer lists."""

    def __init__(self, entry_id: str, subentry_id: str) -> None:
        """Remove this subentry of this account."""
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Go to the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Confirm, and the device goes with its entities."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        subentry = (
            entry.subentries.get(self._subentry_id) if entry is not None else None
        )
        kind = KINDS.get(str(entry.data.get(CONF_KIND))) if entry is not None else None
        if entry is None or subentry is None or not isinstance(kind, AccountKind):
            return self.async_abort(reason="device_already_removed")
        if user_input is not None:
            self.hass.config_entries.async_remove_subentry(entry, self._subentry_id)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders=stale_placeholders(
                entry, kind, kind.provider_id(subentry), subentry
            ),
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the fix flow of one of our fixable issues."""
    values = data or {}
    entry_id = str(values.get("entry_id", ""))
    if issue_id.startswith(f"{ISSUE_NEW_DEVICES}_"):
        return NewDevicesFlow(entry_id)
    if issue_id.startswith(f"{ISSUE_STALE_DEVICE}_"):
        return StaleDeviceFlow(entry_id, str(values.get("subentry_id", "")))
    # (Every fixable issue of ours is one of the above.)
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    return ConfirmRepairFlow()

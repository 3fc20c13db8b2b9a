"""Switches: the SIM of each device, on while active (turn off to pause it)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import async_add_device_entities
from .kinds import AccountKind, kind_of
from .models import CellularIoTConfigEntry
from .sim_entities import SimSwitch, sim_coordinator

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a SIM switch for every device, where the provider can pause SIMs."""
    kind = kind_of(entry)
    if (
        not isinstance(kind, AccountKind)
        or kind.sim_interval is None
        or not kind.sim_can_pause
    ):
        return
    # The coordinator of the SIM polling: made with the account's first device.
    async_add_device_entities(
        entry,
        async_add_entities,
        lambda subentry: [
            SimSwitch(coordinator, entry, subentry)
            for coordinator in (sim_coordinator(entry),)
            if coordinator is not None
        ],
    )

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
    coordinator = sim_coordinator(entry)
    if (
        not isinstance(kind, AccountKind)
        or coordinator is None
        or not kind.sim_can_pause
    ):
        return
    async_add_device_entities(
        entry,
        async_add_entities,
        lambda subentry: [SimSwitch(coordinator, entry, subentry)],
    )

"""Runtime data kept on each config entry (``entry.runtime_data``)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .const import EntryKind
from .providers.emnify import EmnifyClient
from .providers.hologram import HologramClient, HologramUser


@dataclass(slots=True)
class CellularIoTData:
    """What every loaded entry carries, whatever its kind."""

    kind: EntryKind


@dataclass(slots=True)
class HologramData(CellularIoTData):
    """A loaded Hologram account: its client and the user the key belongs to."""

    client: HologramClient
    user: HologramUser


@dataclass(slots=True)
class EmnifyData(CellularIoTData):
    """A loaded emnify account: its client (which caches the auth token)."""

    client: EmnifyClient


type CellularIoTConfigEntry = ConfigEntry[CellularIoTData]

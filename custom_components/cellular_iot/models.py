"""Runtime data kept on each config entry (``entry.runtime_data``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry

from .availability import Reachability
from .const import EntryKind
from .providers.emnify import EmnifyClient
from .providers.hologram import HologramClient, HologramUser
from .providers.hologram_socket import HologramSocketClient
from .providers.listener import Listener
from .providers.monoz import MonozClient
from .providers.mqtt import MqttClient

if TYPE_CHECKING:
    from .inbound import InboundWebhook
    from .outbox import Outbox


@dataclass(slots=True)
class CellularIoTData:
    """What every loaded entry carries, whatever its kind."""

    kind: EntryKind
    # Accounts: whether the provider (and broker) can be reached; None: always.
    reachability: Reachability | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class HologramData(CellularIoTData):
    """A loaded Hologram account: its client and the user the key belongs to."""

    client: HologramClient
    user: HologramUser
    webhook: InboundWebhook | None = None
    outbox: Outbox | None = None


@dataclass(slots=True)
class EmnifyData(CellularIoTData):
    """A loaded emnify account: its client (which caches the auth token)."""

    client: EmnifyClient
    webhook: InboundWebhook | None = None
    outbox: Outbox | None = None


@dataclass(slots=True)
class OnDeviceData(CellularIoTData):
    """The listener of an on_device entry and its optional Socket API client."""

    listener: Listener
    socket: HologramSocketClient | None
    last_message: dict[str, Any] | None = None
    received: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MonozData(CellularIoTData):
    """A loaded monoZ account: its REST client and, with a broker, its MQTT client."""

    client: MonozClient
    mqtt: MqttClient | None
    uplink_topic: str | None = None
    last_message: dict[str, Any] | None = None
    received: int = 0
    # Uplinks dropped: over the size limit or the rate limit.
    uplinks_dropped: int = 0
    webhook: InboundWebhook | None = None
    outbox: Outbox | None = None


type CellularIoTConfigEntry = ConfigEntry[CellularIoTData]

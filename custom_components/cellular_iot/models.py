"""Runtime data kept on each config entry (``entry.runtime_data``).

What every loaded entry carries, and what every account carries. Each kind's own
runtime data (its clients, counters) subclasses these in its module under ``kinds/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry, ConfigSubentry

from .availability import LINK_API, Reachability
from .providers.mqtt import MqttClient

if TYPE_CHECKING:
    from .coordinator import SimCoordinator
    from .inbound_webhook import InboundWebhook
    from .outbox import Outbox


@dataclass(slots=True)
class CellularIoTData:
    """What every loaded entry carries, whatever its kind."""

    # The entry's kind (its key in ``kinds.KINDS``).
    kind: str
    # Accounts: whether the provider (and broker) can be reached; None: always.
    reachability: Reachability | None = field(default=None, kw_only=True)

    @property
    def api_reachable(self) -> bool:
        """Whether the provider's API can be reached (an entry without one: yes)."""
        return self.reachability is None or self.reachability.link_up(LINK_API)

    @property
    def broker(self) -> MqttClient | None:
        """The entry's MQTT broker connection, if it has one."""
        return None


@dataclass(slots=True)
class AccountData(CellularIoTData):
    """A provider account: its inbound webhook and its outbox, set up by the kind."""

    webhook: InboundWebhook | None = field(default=None, kw_only=True)
    outbox: Outbox | None = field(default=None, kw_only=True)
    # The SIMs' coordinator (None: the provider has no SIM API, or no devices).
    sims: SimCoordinator | None = field(default=None, kw_only=True)
    # The devices (subentry ids) whose entities are set up, and how each platform
    # adds the entities of a device added later (without reloading the account).
    devices_set_up: set[str] = field(default_factory=set, kw_only=True)
    device_adders: list[Callable[[ConfigSubentry], None]] = field(
        default_factory=list, kw_only=True
    )


type CellularIoTConfigEntry = ConfigEntry[CellularIoTData]

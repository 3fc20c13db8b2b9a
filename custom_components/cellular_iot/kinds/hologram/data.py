"""The runtime data of a loaded Hologram account."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...models import AccountData
from ...providers.hologram import HologramClient, HologramUser
from .poller import HologramPoller


@dataclass(slots=True)
class HologramData(AccountData):
    """A loaded Hologram account: its client and the user the key belongs to."""

    client: HologramClient
    user: HologramUser
    # Reads the account's messages from the REST API (inbound mode polling or both).
    poller: HologramPoller | None = field(default=None, kw_only=True)
    # The inbound mode the entry was loaded with (a change reloads it).
    inbound_mode: str | None = field(default=None, kw_only=True)

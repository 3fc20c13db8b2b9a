"""The runtime data of a loaded Hologram account."""

from __future__ import annotations

from dataclasses import dataclass

from ...models import AccountData
from ...providers.hologram import HologramClient, HologramUser


@dataclass(slots=True)
class HologramData(AccountData):
    """A loaded Hologram account: its client and the user the key belongs to."""

    client: HologramClient
    user: HologramUser

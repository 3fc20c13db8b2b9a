"""The devices an account has at its provider, as one listing reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountDevices:
    """Every device of an account the provider lists: provider id -> name.

    ``complete`` is False when the listing stopped at its page limit: a device it
    does not name may still be there, so it proves no device gone.
    """

    devices: Mapping[str, str]
    complete: bool

"""The ids of the messages an account delivered lately, to deliver each only once.

A message may come again (a provider retrying a delivery) or by another path (a
Hologram message both from a route and read from the API): it is fired once, under
whichever of its ids was seen first. Bounded: the oldest ids are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Final

DEFAULT_SIZE: Final = 4096


class RecentIds:
    """A bounded set of message ids, oldest forgotten first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        """Remember at most ``size`` ids."""
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        # Told when ids were added (the owner may store them).
        self.on_change: Callable[[], None] | None = None

    def __contains__(self, key: object) -> bool:
        """Whether the id was seen."""
        return key in self._ids

    def __len__(self) -> int:
        """How many ids are remembered."""
        return len(self._ids)

    def claim(self, keys: Iterable[str]) -> bool:
        """Remember the ids of one message; False when any of them was seen already."""
        keys = tuple(keys)
        if any(key in self._ids for key in keys):
            return False
        self.add(keys)
        return True

    def add(self, keys: Iterable[str]) -> None:
        """Remember ids (moved to the newest end if known)."""
        for key in keys:
            self._ids[key] = None
            self._ids.move_to_end(key)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        if self.on_change is not None:
            self.on_change()

    def ids(self) -> list[str]:
        """Every id remembered, oldest first (to store)."""
        return list(self._ids)

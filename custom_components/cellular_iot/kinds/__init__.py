"""The entry kinds: one module each, in one registry.

:data:`KINDS` maps an entry's ``kind`` to the :class:`~.base.Kind` that owns it. A
new provider is one more module here (its kind and its flow steps) and one more line
in :data:`KINDS`; the rest of the integration asks the registry.
"""

from __future__ import annotations

import functools
from typing import Final

from ..const import CONF_KIND
from ..models import CellularIoTConfigEntry
from ..outbox import OPERATIONS
from .base import (
    AccountKind,
    ActionHandler,
    Kind,
    StandaloneHandler,
)
from .emnify import EMNIFY
from .hologram import HOLOGRAM
from .monoz import MONOZ
from .on_device import ON_DEVICE
from .onence import ONENCE

# In the order the config flow's menu offers them.
KINDS: Final[dict[str, Kind]] = {
    kind.key: kind for kind in (HOLOGRAM, EMNIFY, MONOZ, ONENCE, ON_DEVICE)
}
for _kind in KINDS.values():
    OPERATIONS.update(_kind.operations)


def kind_of(entry: CellularIoTConfigEntry) -> Kind:
    """Return the kind of a (loaded) entry."""
    return KINDS[entry.data[CONF_KIND]]


@functools.cache
def serving(action: str) -> tuple[Kind, ...]:
    """Return the kinds that serve an action for their entries, in registry order.

    (``KINDS`` is fixed at import: the answer is worked out once per action.)
    """
    return tuple(kind for kind in KINDS.values() if action in kind.actions)


def standalone(action: str) -> StandaloneHandler:
    """Return the handler of an action that needs no entry."""
    for kind in KINDS.values():
        if action in kind.standalone_actions:
            return kind.standalone_actions[action]
    raise KeyError(action)


__all__ = [
    "KINDS",
    "AccountKind",
    "ActionHandler",
    "Kind",
    "StandaloneHandler",
    "kind_of",
    "serving",
    "standalone",
]

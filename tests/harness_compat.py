"""Loaded by ``scripts/test`` with ``-p`` before the HA test harness (pytest plugin).

The newest harness (pytest-homeassistant-custom-component 0.13.375) targets HA
2026.10.4; we run it on HA 2026.11.0, the release people run today, which needs two
things to be in place before the harness module is imported:

- HA 2026.11 aliases ``httpx`` to ``httpx2`` in ``homeassistant/__init__.py`` and
  refuses to start if ``httpx`` was imported first; the harness imports ``respx``
  (and with it ``httpx``) before it imports HA. Importing HA here first fixes the order.
- ``_clear_logger_overwrites`` moved from ``homeassistant.components.logger`` to its
  ``helpers`` module; the harness imports it from the old place.

On the older releases both are no-ops. Drop this module when a harness release pins
HA 2026.11 or later.
"""

from __future__ import annotations

import homeassistant  # noqa: F401  (first: HA 2026.11 must alias httpx before respx)
from homeassistant.components import logger
from homeassistant.components.logger import helpers

_MOVED = "_clear_logger_overwrites"
if not hasattr(logger, _MOVED) and hasattr(helpers, _MOVED):
    setattr(logger, _MOVED, getattr(helpers, _MOVED))

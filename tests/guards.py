"""The one hang guard of the suite.

A test that waits for something (a message, a state, a subprocess) waits under this
guard, so a broken build fails instead of hanging. It is no budget: it is far beyond
what the slowest, busiest machine needs (the suite passes with stress-ng on every
core), so only a real hang reaches it. A test that is *about* a timeout sets its own.
"""

from __future__ import annotations

from typing import Final

HANG_GUARD: Final = 120.0

"""Placeholder: the kinds' config-flow contract (replaced by the flow split)."""

from __future__ import annotations

from typing import Any


class KindFlow:
    """Placeholder."""

    def __init__(self, **kwargs: Any) -> None:
        """Keep nothing."""

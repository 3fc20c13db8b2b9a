"""Placeholder (the flow split replaces it)."""

from ..flow import KindFlow

FLOW = KindFlow()

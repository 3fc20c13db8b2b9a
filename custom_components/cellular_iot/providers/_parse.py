"""Defensive readers for fields of provider answers: garbage becomes None."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
import math
from typing import Any, Final

_MAX_TIME_CHARS: Final = 64
_MAX_INT_DIGITS: Final = 19
# The largest count (of bytes, SMS, pages) a provider's answer is taken to mean:
# what a signed 64-bit integer holds (9.2 EB as bytes). Beyond it, a value is
# garbage, not a count: it is unknown (None), never a number too large to show.
MAX_COUNT: Final = 2**63 - 1


def as_time(value: Any) -> datetime | None:
    """Return a UTC-aware datetime from "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601.

    A time without an offset is taken as UTC; anything else is None.
    """
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TIME_CHARS:
        return None
    text = value.strip()
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    try:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def month_before(when: datetime) -> datetime | None:
    """Return the same day and time one calendar month earlier (day clamped)."""
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    if year < 1:
        return None
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def month_start(timestamp: float) -> datetime | None:
    """Return the first instant of the calendar month (UTC) of a POSIX time."""
    try:
        now = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def as_count(value: Any) -> int | None:
    """Return a whole number 0..MAX_COUNT sent as int, integral float or digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= MAX_COUNT else None
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        number = int(value) if len(value) <= _MAX_INT_DIGITS else None
        return number if number is not None and number <= MAX_COUNT else None
    return None


def as_number(value: Any) -> float | None:
    """Return a finite non-negative number (int or float, not bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def as_short_text(value: Any, limit: int = 64) -> str | None:
    """Return a short printable text (or a number as text), else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    if isinstance(value, int) and abs(value) >= 10**limit:
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= limit and text.isprintable() else None


def as_digits(value: Any, limit: int) -> str | None:
    """Return an identifier of at most ``limit`` ASCII digits (IMEI, ICCID), else None."""
    text = as_short_text(value, limit)
    return text if text is not None and text.isascii() and text.isdecimal() else None

"""The outbox's rules and the shape of what it holds; the other modules build on it.

Here are the constants (option keys and limits, storage versions, timings), the
clocks, the retry policy (which errors a retry can fix, how long to wait), the send
(``OutboxItem``) and its stored form, the stored files (their keys, the manifest's
list of segments) and the registry of operations that perform a send. It imports no
other module of the outbox.

Read at call time, through this module: the values tests tune,
``RETRY_MIN``, ``RETRY_MAX``, ``RATE_LIMIT_DELAY``, ``STOP_TIMEOUT``, ``SEGMENT_SIZE``,
``SAVE_DELAY``, and the clocks ``time`` (the wall clock) and ``_since_boot``. Every
other module reads them as ``policy.RETRY_MIN`` (never ``from .policy import
RETRY_MIN``), so one ``monkeypatch.setattr(policy, ...)`` reaches every reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
import math
import random
import time as time  # noqa: PLC0414 - exported: the other modules read policy.time
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_dumps
from homeassistant.helpers.storage import Store
from homeassistant.util.json import json_loads_object

from ..const import DOMAIN
from ..providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
)

STORAGE_VERSION: Final = 1
# 1.1: one file with every send ("items"); 1.2: a manifest of segment files.
STORAGE_MINOR_VERSION: Final = 2
EVENT_SEND_FAILED: Final = "cellular_iot_send_failed"
CONF_OUTBOX_MAX_AGE: Final = "outbox_max_age"
DEFAULT_MAX_AGE_HOURS: Final = 24
CONF_OUTBOX_MAX_DEPTH: Final = "outbox_max_depth"
DEFAULT_MAX_DEPTH: Final = 10_000
MAX_DEPTH_RANGE: Final = (10, 1_000_000)
# Backoff: RETRY_MIN * 2^(attempt-1), at most RETRY_MAX, times a jitter factor.
# Read at call time, so tests can shorten them.
RETRY_MIN: float = 10.0
RETRY_MAX: float = 900.0
RETRY_JITTER: Final = (0.75, 1.25)
# Hologram: "refrain from making requests for 5-10 seconds and then retry".
RATE_LIMIT_DELAY: tuple[float, float] = (5.0, 10.0)
MAX_ERRORS_KEPT: Final = 10
# How long unloading waits for sends in progress (longer than the clients' timeouts).
STOP_TIMEOUT: float = 35.0
# Sends per stored segment, and how soon a change that no caller waits for is written.
SEGMENT_SIZE: int = 500
SAVE_DELAY: float = 1.0
# How soon a write that failed (disk full, I/O error) is tried again.
WRITE_RETRY: float = 30.0
# Sends given up for age in one pass of the worker before it yields to the loop.
EXPIRE_BATCH: Final = 500


# The age limit counts time since boot: system clock changes do not move it, and
# (on Linux) time spent suspended does count, so a host that slept past the age
# limit does not deliver stale sends. Bound here: tests replace the module's ``time``.
_since_boot: Callable[[], float] = (
    partial(time.clock_gettime, time.CLOCK_BOOTTIME)
    if hasattr(time, "CLOCK_BOOTTIME")
    else time.monotonic
)


def is_transient(err: ProviderError) -> bool:
    """Return whether a retry can succeed: 429, 5xx, timeouts, lost connections."""
    if isinstance(err, (ProviderRateLimitedError, ProviderConnectionError)):
        return True
    return (
        isinstance(err, ProviderResponseError)
        and err.status is not None
        and err.status >= 500
    )


def retry_delay(attempt: int, err: ProviderError) -> float:
    """Return the seconds to wait before the next attempt (``attempt`` failures)."""
    if isinstance(err, ProviderRateLimitedError):
        if err.retry_after is not None:
            return min(max(err.retry_after, RETRY_MIN / 10), RETRY_MAX)
        low, high = RATE_LIMIT_DELAY
        return min(random.uniform(low, high) * 2.0 ** (attempt - 1), RETRY_MAX)
    delay = min(RETRY_MIN * 2.0 ** (attempt - 1), RETRY_MAX)
    return delay * random.uniform(*RETRY_JITTER)


class SendState(StrEnum):
    """Where a send is: being sent by its action, waiting, or being retried."""

    DIRECT = "direct"
    QUEUED = "queued"
    BUSY = "busy"


@dataclass(slots=True, eq=False)
class OutboxItem:
    """One send in the outbox (the stored fields are JSON-serialisable).

    A waiting send holds no container the garbage collector tracks but itself: its
    targets are a tuple of strings and its params their JSON text (``params_data``),
    decoded each time they are read. A deep queue (100,000 sends loaded at start)
    then adds one tracked object per send, not six, and does not set off Python's
    full collection passes, which stall the event loop for hundreds of ms.
    """

    id: str
    operation: str
    action: str
    targets: tuple[str, ...]
    # The params as given (a send being made now) or their JSON text (waiting).
    params_data: dict[str, Any] | str
    created: float
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    # What an operation recorded of a send made in parts (None: nothing; an empty
    # dict per send would be one more tracked object, as Python 3.14 tracks them).
    progress: dict[str, Any] | None = None
    seq: int = 0
    # Not stored: state, times on the loop's clock, segment, heap entry version.
    state: SendState = SendState.QUEUED
    due: float = 0.0
    born: float = 0.0
    segment: _Segment | None = None
    version: int = 0

    @property
    def params(self) -> dict[str, Any]:
        """Return the send's params (decoded afresh while the send waits)."""
        data = self.params_data
        if isinstance(data, str):
            decoded: dict[str, Any] = json_loads_object(data)
            return decoded
        return data

    def progress_record(self) -> dict[str, Any]:
        """Return the send's progress record, made on first use."""
        if self.progress is None:
            self.progress = {}
        return self.progress

    def pack(self) -> None:
        """Keep the params as JSON text while the send waits (not a tracked dict)."""
        if not isinstance(self.params_data, str):
            with contextlib.suppress(TypeError, ValueError):
                self.params_data = json_dumps(self.params_data)

    def row(self) -> dict[str, Any]:
        """Return the stored form (a copy: a writer thread may serialise it)."""
        row: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "operation": self.operation,
            "action": self.action,
            "targets": list(self.targets),
            "params": self.params,
            "created": self.created,
        }
        if self.attempts:
            row["attempts"] = self.attempts
            row["next_attempt"] = self.next_attempt
        if self.last_error is not None:
            row["last_error"] = self.last_error
        if self.progress:
            row["progress"] = {
                key: list(value) if isinstance(value, list) else value
                for key, value in self.progress.items()
            }
        return row


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_item(raw: Any) -> OutboxItem | None:
    """Return a stored send, or None when the record is not one we can retry."""
    if not isinstance(raw, dict):
        return None
    ident, operation, action = raw.get("id"), raw.get("operation"), raw.get("action")
    targets, params = raw.get("targets"), raw.get("params")
    created = _number(raw.get("created"))
    attempts, seq = raw.get("attempts", 0), raw.get("seq", 0)
    next_attempt = _number(raw.get("next_attempt", 0.0))
    last_error, progress = raw.get("last_error"), raw.get("progress") or None
    if not (
        isinstance(ident, str)
        and ident
        and isinstance(operation, str)
        and isinstance(action, str)
        and isinstance(targets, list)
        and all(isinstance(target, str) for target in targets)
        and isinstance(params, dict)
        and created is not None
        and next_attempt is not None
        and isinstance(attempts, int)
        and not isinstance(attempts, bool)
        and attempts >= 0
        and isinstance(seq, int)
        and not isinstance(seq, bool)
        and (last_error is None or isinstance(last_error, str))
        and (progress is None or isinstance(progress, dict))
    ):
        return None
    try:
        packed = json_dumps(params)  # (read from JSON: it is JSON again)
    except (TypeError, ValueError):
        return None
    return OutboxItem(
        id=ident,
        operation=operation,
        action=action,
        targets=tuple(dict.fromkeys(targets)),
        params_data=packed,
        created=created,
        attempts=attempts,
        next_attempt=next_attempt,
        last_error=last_error,
        progress=progress,
        seq=seq,
    )


# An operation performs one send for a loaded entry; it may record progress on the
# item (emnify's multi-part SMS) and returns the response fields of a sent result.
type Operation = Callable[[ConfigEntry[Any], OutboxItem], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Operation] = {}


class _OutboxStore(Store[dict[str, Any]]):
    """A ``Store`` whose failed write is known to the outbox.

    HA's ``Store.async_save`` logs a failed write (disk full, an I/O error) and
    returns as if it had written; the write itself (``_async_write_data``, the step
    that raises) is where the failure is seen, so it is kept here for ``_save``.
    """

    failure: BaseException | None = None

    async def _async_write_data(self, *args: Any) -> None:
        # (path, data) up to HA 2025.x, (data) since: passed on as they come.
        try:
            await super()._async_write_data(*args)
        except Exception as err:
            self.failure = err
            raise


class WriteFailedError(Exception):
    """The outbox could not write one of its files (the change is kept, retried)."""


async def _save(store: Store[dict[str, Any]], data: dict[str, Any]) -> None:
    """Write ``data`` through ``store``; raise ``WriteFailedError`` when it failed."""
    if isinstance(store, _OutboxStore):
        store.failure = None
    await store.async_save(data)
    failure = getattr(store, "failure", None)
    if failure is not None:
        raise WriteFailedError(str(failure) or type(failure).__name__) from failure


@dataclass(slots=True, eq=False)
class _Segment:
    """One stored file: a segment of the queue, or (number -1) the manifest."""

    number: int
    store: Store[dict[str, Any]]
    items: dict[str, OutboxItem] = field(default_factory=dict)
    assigned: int = 0  # sends ever placed here; a full segment takes no more
    listed: bool = False  # the manifest on disk names it
    retired: bool = False  # empty and closed: its file is to be removed
    changes: int = 0  # bumped by every change
    wanted: int = 0  # the change a caller waits to see on disk
    saved: int = 0  # the change that is on disk
    failed: int = 0  # the change whose write failed last (0: the last write worked)
    error: str = ""  # why it failed
    writer: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None


def _store_key(entry_id: str) -> str:
    return f"{DOMAIN}.outbox.{entry_id}"


def _manifest_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return _OutboxStore(
        hass,
        STORAGE_VERSION,
        _store_key(entry_id),
        minor_version=STORAGE_MINOR_VERSION,
        atomic_writes=True,
    )


def _segment_store(
    hass: HomeAssistant, entry_id: str, number: int
) -> Store[dict[str, Any]]:
    return _OutboxStore(
        hass, STORAGE_VERSION, f"{_store_key(entry_id)}.{number}", atomic_writes=True
    )


def _segment_numbers(stored: Any) -> list[int]:
    numbers = stored.get("segments") if isinstance(stored, dict) else None
    if not isinstance(numbers, list):
        return []
    return sorted(
        {n for n in numbers if isinstance(n, int) and not isinstance(n, bool)} - {-1}
    )

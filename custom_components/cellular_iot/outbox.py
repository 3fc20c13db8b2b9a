"""The outbox: sends that failed on a passing fault are kept and retried.

An action first tries its send at once. When the provider fails in a way that a retry
can fix (HTTP 429, 5xx, a timeout, a lost connection, an MQTT broker that is down),
the send is kept in a persistent queue (HA's ``Store``, written before the action
answers ``queued``) and retried with exponential backoff and jitter, honouring
``Retry-After``, until it succeeds or the entry's age limit passes; then
``cellular_iot_send_failed`` is fired. Refused sends (400, 404, validation) are not
retried. A refused credential pauses the queue, starts re-authentication and raises a
repair issue: the sends wait for the new credentials (the entry reloads).

Order: sends to the same target (device, endpoint, ICCID) leave in the order the
actions were called. A send holds its place from the moment the action is called: a
send whose target has something queued *or being sent right now* is queued behind it.

Cost: each target has a lane (its sends in order) and the sends at the head of their
lanes sit in a heap by due time, so choosing the next send is O(log n). The queue is
stored in segments of ``SEGMENT_SIZE`` sends (one ``Store`` file each, listed by a
small manifest), so a change rewrites one segment, not the whole queue. Writes are
coalesced: a send the action answers ``queued`` for is on disk before the answer;
what the retries change (a delivery, an attempt count) is written within
``SAVE_DELAY`` seconds, when the entry unloads and when Home Assistant stops. The depth
is capped (entry option, ``DEFAULT_MAX_DEPTH``): when full, a send that would be queued
is refused with an error and a repair issue, never dropped silently.

Time: while running, retry times follow the event loop's monotonic clock and the age
limit the time since boot, so a wall-clock jump neither expires the queue nor stalls
it; the wall-clock times are stored for the next start.

Semantics are at least once: a send the provider accepted but whose answer was lost
(a timeout after acceptance) can arrive twice, and so can a delivery made in the last
``SAVE_DELAY`` seconds before a crash. A refused send is never retried.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
import heapq
import math
import random
import time
from typing import Any, Final
import uuid

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store

from .const import DOMAIN, LOGGER, signal_state
from .models import CellularIoTConfigEntry
from .providers.errors import (
    ProviderAuthError,
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
    """One send in the outbox (the stored fields are JSON-serialisable)."""

    id: str
    operation: str
    action: str
    targets: list[str]
    params: dict[str, Any]
    created: float
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    # Not stored: state, times on the loop's clock, segment, heap entry version.
    state: SendState = SendState.QUEUED
    due: float = 0.0
    born: float = 0.0
    segment: _Segment | None = None
    version: int = 0

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
    last_error, progress = raw.get("last_error"), raw.get("progress") or {}
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
        and isinstance(progress, dict)
    ):
        return None
    return OutboxItem(
        id=ident,
        operation=operation,
        action=action,
        targets=list(dict.fromkeys(targets)),
        params=params,
        created=created,
        attempts=attempts,
        next_attempt=next_attempt,
        last_error=last_error,
        progress=progress,
        seq=seq,
    )


# An operation performs one send for a loaded entry; it may record progress on the
# item (emnify's multi-part SMS) and returns the response fields of a sent result.
type Operation = Callable[
    [CellularIoTConfigEntry, OutboxItem], Awaitable[dict[str, Any]]
]
OPERATIONS: dict[str, Operation] = {}


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
    writer: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None


def _head(lane: OutboxItem | deque[OutboxItem]) -> OutboxItem:
    return lane[0] if isinstance(lane, deque) else lane


def _store_key(entry_id: str) -> str:
    return f"{DOMAIN}.outbox.{entry_id}"


def _manifest_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(
        hass,
        STORAGE_VERSION,
        _store_key(entry_id),
        minor_version=STORAGE_MINOR_VERSION,
        atomic_writes=True,
    )


def _segment_store(
    hass: HomeAssistant, entry_id: str, number: int
) -> Store[dict[str, Any]]:
    return Store(
        hass, STORAGE_VERSION, f"{_store_key(entry_id)}.{number}", atomic_writes=True
    )


def _segment_numbers(stored: Any) -> list[int]:
    numbers = stored.get("segments") if isinstance(stored, dict) else None
    if not isinstance(numbers, list):
        return []
    return sorted(
        {n for n in numbers if isinstance(n, int) and not isinstance(n, bool)} - {-1}
    )


class Outbox:
    """The persistent send queue of one account entry and its retry worker."""

    def __init__(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Bind to the entry; :meth:`async_load` reads the stored queue."""
        self._hass = hass
        self._entry = entry
        self._manifest = _Segment(-1, _manifest_store(hass, entry.entry_id))
        self._segments: dict[int, _Segment] = {}  # holding sends, or the open one
        self._retiring: dict[int, _Segment] = {}  # empty; files being removed
        self._unreadable: set[int] = set()  # segment files kept as they are
        self._open: _Segment | None = None
        self._next_segment = 0
        self._seq = 0
        # Every send held (queued, being retried, or being sent by its action).
        self._items: dict[str, OutboxItem] = {}
        # A target's lane: its one send, or its sends in order (most lanes hold one:
        # a deque each would cost 100k deques, ~76 MiB, for 100k devices).
        self._lanes: dict[str, OutboxItem | deque[OutboxItem]] = {}
        self._ready: list[tuple[float, int, int, OutboxItem]] = []
        self._aging: list[tuple[float, int, OutboxItem]] = []
        self._queued = 0
        self._sending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._stopping = False
        self._closed = False
        self._full_issue = False
        self._signal_pending = False
        self._started = False
        self._unsub_final_write: CALLBACK_TYPE | None = None
        self.errors: list[dict[str, Any]] = []
        self.delivered = 0
        self.given_up = 0

    # --- what others read ---------------------------------------------------------

    @property
    def depth(self) -> int:
        """Return how many sends are waiting."""
        return self._queued

    @property
    def sending(self) -> int:
        """Return how many actions are handing a send to the outbox right now."""
        return self._sending

    @property
    def stopping(self) -> bool:
        """Return whether the outbox is stopping (or stopped)."""
        return self._stopping

    @property
    def items(self) -> list[OutboxItem]:
        """Return the waiting sends, oldest first (O(n): for diagnostics)."""
        return [i for i in self._items.values() if i.state is not SendState.DIRECT]

    @property
    def oldest(self) -> OutboxItem | None:
        """Return the send that has waited longest (the top of the age heap)."""
        aging = self._aging
        while aging and self._items.get(aging[0][2].id) is not aging[0][2]:
            heapq.heappop(aging)  # a send that is gone
        return aging[0][2] if aging else None

    def _max_depth(self) -> int:
        value = self._entry.options.get(CONF_OUTBOX_MAX_DEPTH, DEFAULT_MAX_DEPTH)
        return int(value) if isinstance(value, (int, float)) else DEFAULT_MAX_DEPTH

    # --- loading --------------------------------------------------------------------

    async def async_load(self) -> None:
        """Read the queue stored by an earlier run (sends survive restarts).

        HA moves a file that is not JSON aside and raises its own repair issue;
        records that are not sends are dropped with a warning; a segment that cannot
        be read is left as it is (and named in the log), never overwritten.
        """
        stored: Any = await self._manifest.store.async_load()
        if stored is not None and not isinstance(stored, dict):
            LOGGER.warning("%s: ignored an unreadable outbox file", self._entry.title)
        numbers = _segment_numbers(stored)
        legacy = stored.get("items") if isinstance(stored, dict) else None
        stores = [
            _segment_store(self._hass, self._entry.entry_id, number)
            for number in numbers
        ]
        # One file at a time: decoding many at once in executor threads would starve
        # the event loop of the GIL.
        loaded = [
            await self._async_load_segment(number, store)
            for number, store in zip(numbers, stores, strict=True)
        ]
        found: list[OutboxItem] = []
        dropped = 0
        for number, store, rows in zip(numbers, stores, loaded, strict=True):
            if rows is None:
                continue
            segment = _Segment(number, store, assigned=SEGMENT_SIZE, listed=True)
            self._segments[number] = segment
            await asyncio.sleep(0)  # a deep queue loads without stalling the loop
            for raw in rows:
                if (item := parse_item(raw)) is None:
                    dropped += 1
                    continue
                item.segment = segment
                found.append(item)
        self._next_segment = max([*numbers, *self._unreadable, -1]) + 1
        found.sort(key=lambda item: item.seq)
        migrate: list[OutboxItem] = []
        if isinstance(legacy, list):  # 1.1: every send in the manifest file
            self._manifest.changes += 1
            start = found[-1].seq + 1 if found else 0
            for offset, raw in enumerate(legacy):
                if offset % SEGMENT_SIZE == SEGMENT_SIZE - 1:
                    await asyncio.sleep(0)
                if (item := parse_item(raw)) is None:
                    dropped += 1
                    continue
                item.seq = start + offset
                migrate.append(item)
        if dropped:
            LOGGER.warning(
                "%s: dropped %s unreadable outbox entries", self._entry.title, dropped
            )
        loop_now, boot_now, wall_now = (
            self._hass.loop.time(),
            _since_boot(),
            time.time(),
        )
        for index, item in enumerate([*found, *migrate]):
            if index % SEGMENT_SIZE == SEGMENT_SIZE - 1:
                await asyncio.sleep(0)
            if item.id in self._items:  # a copy (it is left out of the next write)
                continue
            # Retries on the loop's clock, age on the boot clock: a stored time in the
            # future (the clock went back since) counts as now, and no retry waits
            # longer than RETRY_MAX.
            item.born = boot_now - max(0.0, wall_now - item.created)
            item.due = loop_now + min(max(0.0, item.next_attempt - wall_now), RETRY_MAX)
            if item.segment is not None:
                item.segment.items[item.id] = item
            self._add(item, SendState.QUEUED)
            if item.segment is None:
                self._place(item)
        self._seq = max((item.seq for item in self._items.values()), default=-1) + 1
        for segment in list(self._segments.values()):
            if not segment.items:
                self._retire(segment)
        if migrate:
            # The 1.1 file keeps the sends until the segments holding them are
            # written: segments first (they need not be listed yet), then the
            # manifest. A crash in between migrates again on the next start.
            for segment in list(self._segments.values()):
                segment.listed = True
                await self._persist(segment)
            await self._persist(self._manifest)
        # The repair issue outlives a reload: say again whether the queue is full.
        self._full_issue = True
        if self._queued >= self._max_depth():
            self._raise_full_issue()
        self._update_full_issue()
        if self._queued:
            LOGGER.debug("%s: %s queued sends restored", self._entry.title, self.depth)

    async def _async_load_segment(
        self, number: int, store: Store[dict[str, Any]]
    ) -> list[Any] | None:
        try:
            stored: Any = await store.async_load()
        except Exception:  # noqa: BLE001 - one bad file must not lose the others
            LOGGER.exception(
                "%s: cannot read outbox segment %s (%s); it is kept as it is",
                self._entry.title,
                number,
                store.path,
            )
            self._unreadable.add(number)
            return None
        rows = stored.get("items") if isinstance(stored, dict) else None
        if stored is not None and not isinstance(rows, list):
            LOGGER.warning(
                "%s: ignored an unreadable outbox segment %s", self._entry.title, number
            )
        return rows if isinstance(rows, list) else []

    # --- the index: lanes per target, a heap of due heads, a heap of ages -------------

    def _add(self, item: OutboxItem, state: SendState) -> None:
        item.state = state
        self._items[item.id] = item
        lanes = self._lanes
        for target in item.targets:
            lane = lanes.get(target)
            if lane is None:
                lanes[target] = item
            elif isinstance(lane, deque):
                lane.append(item)
            else:
                lanes[target] = deque((lane, item))
        if state is SendState.QUEUED:
            self._queue(item)

    def _queue(self, item: OutboxItem) -> None:
        """Count a held send as waiting: it ages and, at the head, is scheduled."""
        item.state = SendState.QUEUED
        self._queued += 1
        heapq.heappush(self._aging, (item.born, item.seq, item))
        self._schedule(item)

    def _is_head(self, item: OutboxItem) -> bool:
        return all(_head(self._lanes[target]) is item for target in item.targets)

    def _schedule(self, item: OutboxItem) -> None:
        if item.state is not SendState.QUEUED or not self._is_head(item):
            return
        item.version += 1
        heapq.heappush(self._ready, (item.due, item.seq, item.version, item))
        self._wake.set()

    def _discard(self, item: OutboxItem) -> None:
        """Forget a send (sent, given up or refused); the next in its lanes moves up."""
        if self._items.pop(item.id, None) is None:
            return
        if item.state is not SendState.DIRECT:
            self._queued -= 1
        item.version += 1  # its heap entries are stale now
        heads: list[OutboxItem] = []
        lanes = self._lanes
        for target in item.targets:
            lane = lanes[target]
            if not isinstance(lane, deque):
                del lanes[target]
                continue
            if lane[0] is item:
                lane.popleft()
            else:  # given up for age behind a send still waiting
                lane.remove(item)
            if len(lane) == 1:
                lanes[target] = lane[0]
            heads.append(lane[0])
        for head in heads:
            self._schedule(head)
        self._compact()
        if (segment := item.segment) is not None:
            item.segment = None
            del segment.items[item.id]
            self._touch(segment)
            if not segment.items and (
                segment is not self._open or segment.assigned >= SEGMENT_SIZE
            ):
                self._retire(segment)
        self._update_full_issue()

    def _compact(self) -> None:
        """Drop stale heap entries once they outnumber the sends (O(1) amortised)."""
        limit = 2 * len(self._items) + 64
        if len(self._ready) > limit:
            self._ready = [
                entry
                for entry in self._ready
                if entry[3].version == entry[2] and entry[3].state is SendState.QUEUED
            ]
            heapq.heapify(self._ready)
        if len(self._aging) > limit:
            self._aging = [
                entry
                for entry in self._aging
                if self._items.get(entry[2].id) is entry[2]
                and entry[2].state is not SendState.DIRECT
            ]
            heapq.heapify(self._aging)

    def _next(self) -> tuple[OutboxItem | None, float | None]:
        """Return the send to try now, or the seconds until one is due."""
        ready = self._ready
        while ready:
            due, _, version, item = ready[0]
            if item.version != version or item.state is not SendState.QUEUED:
                heapq.heappop(ready)
                continue
            now = self._hass.loop.time()
            if due <= now:
                heapq.heappop(ready)
                return item, None
            return None, due - now
        return None, None

    # --- storage: segments, coalesced writes ------------------------------------------

    def _place(self, item: OutboxItem) -> None:
        """Put a send in the open segment (opening a new one when it is full)."""
        segment = self._open
        if segment is None or segment.assigned >= SEGMENT_SIZE:
            number = self._next_segment
            self._next_segment += 1
            segment = _Segment(
                number, _segment_store(self._hass, self._entry.entry_id, number)
            )
            self._segments[number] = segment
            self._open = segment
        segment.items[item.id] = item
        segment.assigned += 1
        item.segment = segment
        self._touch(segment)

    def _retire(self, segment: _Segment) -> None:
        self._segments.pop(segment.number, None)
        if self._open is segment:
            self._open = None
        segment.retired = True
        self._retiring[segment.number] = segment
        self._touch(segment)

    @callback
    def _touch(self, segment: _Segment) -> None:
        """Note a change; it is written within SAVE_DELAY unless a caller waits.

        Before ``start`` nothing is written in the background: an outbox whose
        entry failed to set up must not write files the next attempt owns.
        """
        if self._closed:
            return
        segment.changes += 1
        if self._started:
            self._touch_again(segment)

    @callback
    def _write_soon(self, segment: _Segment) -> None:
        segment.timer = None
        segment.wanted = max(segment.wanted, segment.changes)
        self._start_writer(segment)

    def _start_writer(self, segment: _Segment) -> None:
        if segment.writer is None and not self._closed:
            segment.writer = self._hass.async_create_task(
                self._write(segment),
                f"{DOMAIN} outbox write {self._entry.entry_id}",
                eager_start=False,
            )

    async def _persist(self, segment: _Segment) -> None:
        """Return once the segment as it is now is on disk (sharing writes)."""
        target = segment.changes
        segment.wanted = max(segment.wanted, target)
        while segment.saved < target and not self._closed:
            self._start_writer(segment)
            assert segment.writer is not None
            await asyncio.shield(segment.writer)

    async def _write(self, segment: _Segment) -> None:
        try:
            while segment.saved < segment.wanted:
                if segment.timer is not None:
                    segment.timer.cancel()
                    segment.timer = None
                target = segment.changes
                if segment is self._manifest:
                    listed = [*self._segments.values(), *self._retiring.values()]
                    numbers = sorted(
                        {s.number for s in listed} | self._unreadable,
                    )
                    await segment.store.async_save({"segments": numbers})
                    for written in listed:
                        written.listed = True
                elif segment.retired and not segment.items:
                    await segment.store.async_remove()
                    if self._retiring.get(segment.number) is segment:
                        del self._retiring[segment.number]
                        self._touch(self._manifest)
                else:
                    if not segment.listed:  # the manifest must name it first
                        self._manifest.changes += 1
                        await self._persist(self._manifest)
                    await segment.store.async_save(
                        {"items": [item.row() for item in segment.items.values()]}
                    )
                segment.saved = target
        except Exception:  # noqa: BLE001 - logged; the next change writes again
            LOGGER.exception("%s: cannot write the outbox", self._entry.title)
            segment.saved = segment.changes
        finally:
            segment.writer = None
        if segment.saved < segment.changes and self._started:  # changed meanwhile
            self._touch_again(segment)

    def _touch_again(self, segment: _Segment) -> None:
        if segment.timer is None and segment.writer is None and not self._closed:
            segment.timer = self._hass.loop.call_later(
                SAVE_DELAY, self._write_soon, segment
            )

    async def _flush(self) -> None:
        """Write every pending change now (unload, Home Assistant stopping)."""
        for segment in [*self._segments.values(), *self._retiring.values()]:
            if segment.saved < segment.changes:
                await self._persist(segment)
        if self._manifest.saved < self._manifest.changes:
            await self._persist(self._manifest)

    async def _on_final_write(self, _event: Event) -> None:
        """Home Assistant is stopping: write everything, sends in progress included.

        Home Assistant cancels actions still running after this stage, so a send
        still waiting for the provider is stored as queued (at least once).
        """
        self._unsub_final_write = None
        self._store_in_flight()
        await self._flush()
        self._closed = True  # Home Assistant writes nothing after this stage
        self._cancel_timers()

    def _store_in_flight(self) -> None:
        """Store the sends still waiting for the provider as queued (sent again)."""
        in_flight = [i for i in self._items.values() if i.state is SendState.DIRECT]
        for item in in_flight:
            item.attempts = max(item.attempts, 1)
            self._queue(item)
            self._place(item)
        if in_flight:
            LOGGER.warning(
                "%s: %s sends still in progress were stored to be sent again",
                self._entry.title,
                len(in_flight),
            )

    def _cancel_timers(self) -> None:
        for segment in [
            *self._segments.values(),
            *self._retiring.values(),
            self._manifest,
        ]:
            if segment.timer is not None:
                segment.timer.cancel()
                segment.timer = None

    @callback
    def _signal(self) -> None:
        """Tell the outbox sensor, once per turn of the loop however many changed."""
        if not self._signal_pending:
            self._signal_pending = True
            self._hass.loop.call_soon(self._send_signal)

    @callback
    def _send_signal(self) -> None:
        self._signal_pending = False
        async_dispatcher_send(self._hass, signal_state(self._entry.entry_id))

    # --- running --------------------------------------------------------------------

    @callback
    def start(self) -> None:
        """Start the retry worker (and the background writes)."""
        self._started = True
        for segment in [
            *self._segments.values(),
            *self._retiring.values(),
            self._manifest,
        ]:
            if segment.saved < segment.changes:
                self._touch_again(segment)
        self._unsub_final_write = self._hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_FINAL_WRITE, self._on_final_write
        )
        self._task = self._entry.async_create_background_task(
            self._hass, self._run(), f"{DOMAIN} outbox {self._entry.entry_id}"
        )

    async def stop(self) -> None:
        """Stop the worker; the queue stays stored.

        A send in progress is let finish (it is bounded by the client's timeout), so
        that a send the provider accepted is not sent again after the restart; so are
        actions handing a send over, so that a send they queue reaches the store
        before the entry loads again. Then every change is written, and this outbox
        writes nothing more (the next one owns the files).
        """
        self._stopping = True
        self._wake.set()
        deadline = self._hass.loop.time() + STOP_TIMEOUT
        task, self._task = self._task, None
        if task is not None and not task.done():
            try:
                async with asyncio.timeout_at(deadline):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except asyncio.CancelledError:
                if not task.cancelled():  # we are cancelled, not the worker
                    raise
        try:
            async with asyncio.timeout_at(deadline):
                await self._idle.wait()
        except TimeoutError:
            # Still waiting for the provider: store those sends as queued (at least
            # once: the next run sends them again, even if this answer was a yes).
            self._store_in_flight()
        await self._flush()
        self._closed = True
        self._cancel_timers()
        if self._unsub_final_write is not None:
            self._unsub_final_write()
            self._unsub_final_write = None

    @callback
    def wake(self, operation: str | None = None) -> None:
        """Retry now (all sends, or those of one operation), e.g. after a reconnect."""
        now = self._hass.loop.time()
        for lane in self._lanes.values():
            item = _head(lane)
            if (operation is None or item.operation == operation) and item.due > now:
                item.due = now
                self._schedule(item)
        self._wake.set()

    def _refuse_when_full(self) -> None:
        limit = self._max_depth()
        if self._queued < limit:
            return
        if not self._full_issue:  # once per filling, not once per refused send
            LOGGER.warning(
                "%s: the outbox is full (%s sends wait); sends that would be queued "
                "are refused until it drains",
                self._entry.title,
                self._queued,
            )
            self._raise_full_issue()
        else:
            LOGGER.debug(
                "%s: the outbox is full; a send was refused", self._entry.title
            )
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="outbox_full",
            translation_placeholders={"title": self._entry.title, "max": str(limit)},
        )

    def _raise_full_issue(self) -> None:
        self._full_issue = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            f"outbox_full_{self._entry.entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="outbox_full",
            translation_placeholders={
                "title": self._entry.title,
                "max": str(self._max_depth()),
            },
        )

    def _update_full_issue(self) -> None:
        if self._full_issue and self._queued < self._max_depth():
            self._full_issue = False
            ir.async_delete_issue(
                self._hass, DOMAIN, f"outbox_full_{self._entry.entry_id}"
            )

    async def async_submit(
        self,
        operation: str,
        action: str,
        targets: list[str],
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Send now, or queue the send; return the action's response fields.

        Raises the provider's error when the send was refused (not queued), and
        ``HomeAssistantError`` when the outbox is full or stopping.
        """
        if self._stopping:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"title": self._entry.title},
            )
        self._update_full_issue()  # (the limit may have been raised in the options)
        now = self._hass.loop.time()
        item = OutboxItem(
            id=uuid.uuid4().hex,
            operation=operation,
            action=action,
            targets=list(dict.fromkeys(targets)),
            params=params,
            created=time.time(),
            seq=self._seq,
            due=now,
            born=_since_boot(),
        )
        self._sending += 1
        self._idle.clear()
        try:
            if self._paused or any(target in self._lanes for target in item.targets):
                # Behind a send to the same target (waiting, or being sent now).
                self._refuse_when_full()
                self._seq += 1
                self._add(item, SendState.QUEUED)
            else:
                self._seq += 1
                self._add(item, SendState.DIRECT)  # holds its targets' place
                result = await self._send_now(item)
                if result is not None:
                    return {"status": "sent", **result}
            if not self._closed:
                if item.segment is None:
                    self._place(item)
                self._signal()
                assert item.segment is not None
                await self._persist(item.segment)
        finally:
            self._sending -= 1
            if not self._sending:
                self._idle.set()
        LOGGER.debug("%s: %s queued as %s", self._entry.title, action, item.id)
        response: dict[str, Any] = {"status": "queued", "outbox_id": item.id}
        if item.last_error:
            response["error"] = item.last_error
        return response

    async def _send_now(self, item: OutboxItem) -> dict[str, Any] | None:
        """Try a send at once; None when it failed on a passing fault (now queued).

        A send that ``stop`` stored while it was still in progress (it waited too
        long) is no longer ours to forget: it stays stored whatever the answer.
        """
        try:
            result = await OPERATIONS[item.operation](self._entry, item)
        except ProviderError as err:
            stored_by_stop = item.state is not SendState.DIRECT
            if not is_transient(err):
                if not stored_by_stop:
                    self._discard(item)
                raise
            if stored_by_stop:
                return None
            item.attempts = 1
            item.last_error = str(err)
            delay = retry_delay(1, err)
            item.next_attempt = time.time() + delay
            item.due = self._hass.loop.time() + delay
            self._note_error(item, err)
            try:
                self._refuse_when_full()
            except HomeAssistantError:
                self._discard(item)
                raise
            self._queue(item)
            return None
        except BaseException:
            if item.state is SendState.DIRECT:
                self._discard(item)
            raise
        if item.state is SendState.DIRECT:
            self._discard(item)
        return result

    def _note_error(self, item: OutboxItem, err: ProviderError) -> None:
        self.errors.append(
            {
                "time": time.time(),
                "outbox_id": item.id,
                "action": item.action,
                "error": str(err),
            }
        )
        del self.errors[:-MAX_ERRORS_KEPT]

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._run_once()
            except Exception:  # noqa: BLE001 - a bug must not stop the queue for good
                LOGGER.exception("%s: the outbox worker failed", self._entry.title)
                await self._sleep(RETRY_MIN)

    async def _run_once(self) -> None:
        if self._expire():
            await asyncio.sleep(0)  # more to give up: let the loop breathe
            return
        item, wait = (None, None) if self._paused else self._next()
        if item is None:
            await self._sleep(wait)
            return
        await self._attempt(item)

    async def _sleep(self, seconds: float | None) -> None:
        """Wait until woken (a send became due, stop) or ``seconds`` passed."""
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _attempt(self, item: OutboxItem) -> None:
        item.state = SendState.BUSY
        try:
            await OPERATIONS[item.operation](self._entry, item)
        except ProviderAuthError as err:
            item.last_error = str(err)
            self._note_error(item, err)
            self._requeue(item)
            self._auth_failed()
        except ProviderError as err:
            item.attempts += 1
            item.last_error = str(err)
            self._note_error(item, err)
            if is_transient(err):
                delay = retry_delay(item.attempts, err)
                item.next_attempt = time.time() + delay
                item.due = self._hass.loop.time() + delay
                LOGGER.debug(
                    "%s: %s %s failed (%s); retry %s",
                    self._entry.title,
                    item.action,
                    item.id,
                    err,
                    item.attempts,
                )
                self._requeue(item)
            else:
                self._give_up(item, str(err))
        except Exception as err:  # noqa: BLE001 - a bug must not stop the queue
            LOGGER.exception(
                "%s: unexpected error sending %s", self._entry.title, item.id
            )
            self._give_up(item, f"unexpected error: {type(err).__name__}")
        else:
            self._discard(item)
            self.delivered += 1
            LOGGER.debug(
                "%s: queued %s %s sent", self._entry.title, item.action, item.id
            )
            self._signal()

    def _requeue(self, item: OutboxItem) -> None:
        item.state = SendState.QUEUED
        self._schedule(item)
        if item.segment is not None:
            self._touch(item.segment)
        self._signal()

    def _expire(self) -> bool:
        """Give up sends older than the age limit; True when more remain to check."""
        hours = self._entry.options.get(CONF_OUTBOX_MAX_AGE, DEFAULT_MAX_AGE_HOURS)
        limit = _since_boot() - float(hours) * 3600
        aging = self._aging
        for _ in range(EXPIRE_BATCH):
            if not aging or aging[0][0] > limit:
                return False
            _, _, item = heapq.heappop(aging)
            if self._items.get(item.id) is item and item.state is SendState.QUEUED:
                self._give_up(item, item.last_error or "expired", expired=True)
        return bool(aging) and aging[0][0] <= limit

    def _give_up(self, item: OutboxItem, error: str, *, expired: bool = False) -> None:
        self._discard(item)
        self.given_up += 1
        LOGGER.warning(
            "%s: gave up %s %s after %s attempts%s: %s",
            self._entry.title,
            item.action,
            item.id,
            item.attempts,
            " (age limit)" if expired else "",
            error,
        )
        self._hass.bus.async_fire(
            EVENT_SEND_FAILED,
            {
                "config_entry_id": self._entry.entry_id,
                "outbox_id": item.id,
                "action": item.action,
                "targets": item.targets,
                "reason": "expired" if expired else "refused",
                "error": error,
                "attempts": item.attempts,
                "created_at": time.strftime(
                    "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(item.created)
                ),
            },
        )
        self._signal()

    @callback
    def _auth_failed(self) -> None:
        """Stop retrying; ask for new credentials (the reload restarts the queue)."""
        self._paused = True
        raise_auth_issue(self._hass, self._entry)
        self._entry.async_start_reauth(self._hass)


@callback
def raise_auth_issue(hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
    """Create the repair issue that says the account's credentials were refused."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"auth_failed_{entry.entry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="auth_failed",
        translation_placeholders={"title": entry.title},
    )


@callback
def clear_auth_issue(hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
    """Remove the repair issue once the credentials work again."""
    ir.async_delete_issue(hass, DOMAIN, f"auth_failed_{entry.entry_id}")


async def async_remove_outbox(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored queue of a removed entry (every segment, then the manifest).

    Sends still waiting are not delivered any more: say how many, so that it is not
    a silent drop.
    """
    manifest = _manifest_store(hass, entry_id)
    try:
        stored = await manifest.async_load()
    except Exception:  # noqa: BLE001 - remove what can be removed
        LOGGER.exception("Cannot read the outbox of the removed entry %s", entry_id)
        stored = None
    waiting = 0
    if isinstance(stored, dict) and isinstance(stored.get("items"), list):
        waiting += len(stored["items"])
    for number in _segment_numbers(stored):
        segment = _segment_store(hass, entry_id, number)
        with contextlib.suppress(Exception):
            data = await segment.async_load()
            if isinstance(data, dict) and isinstance(data.get("items"), list):
                waiting += len(data["items"])
        await segment.async_remove()
    await manifest.async_remove()
    ir.async_delete_issue(hass, DOMAIN, f"outbox_full_{entry_id}")
    if waiting:
        LOGGER.warning(
            "The removed entry %s had %s queued sends; they will not be sent",
            entry_id,
            waiting,
        )

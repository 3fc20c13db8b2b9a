"""The outbox's storage: the queue in segment files, written coalesced, read back.

The queue is stored in segments of ``SEGMENT_SIZE`` sends (one ``Store`` file each)
listed by a small manifest, so a change rewrites one segment. A change is written
within ``SAVE_DELAY`` seconds, unless a caller waits for it (``_persist``: a send the
action answers ``queued`` for is on disk first); every pending change is written on
unload and when Home Assistant stops. Loading reads the segments one at a time,
migrates the 1.1 file (every send in one file) and puts the stored times on this
run's clocks. ``_Storage`` is this part of ``Outbox``; it also tells the outbox sensor
that something changed (``_signal``).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Event, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import STORAGE_DIR, Store

from ..const import DOMAIN, LOGGER, signal_state
from . import policy
from .index import _Index
from .policy import (
    OutboxItem,
    SendState,
    WriteFailedError,
    _save,
    _Segment,
    _segment_numbers,
    _segment_store,
    _store_key,
    parse_item,
)


def _segment_files(storage_dir: str, entry_id: str) -> list[int]:
    """Return the numbers of the entry's segment files on disk (in the executor)."""
    prefix = f"{_store_key(entry_id)}."
    try:
        names = [path.name for path in Path(storage_dir).iterdir()]
    except OSError:  # no storage directory yet: nothing stored
        return []
    return [
        int(suffix)
        for name in names
        if name.startswith(prefix)
        and (suffix := name[len(prefix) :]).isdecimal()
        and suffix.isascii()
        and len(suffix) <= 9
    ]


class _Storage(_Index):
    """The segment files of ``Outbox`` and their writers."""

    _manifest: _Segment
    _segments: dict[int, _Segment]
    _retiring: dict[int, _Segment]
    _unreadable: set[int]
    _next_segment: int
    _seq: int
    _closed: bool
    _started: bool
    _signal_pending: bool
    _write_failing: bool
    _unsub_final_write: CALLBACK_TYPE | None

    async def async_load(self) -> None:
        """Read the queue stored by an earlier run (sends survive restarts).

        HA moves a file that is not JSON aside and raises its own repair issue;
        records that are not sends are dropped with a warning; a segment that cannot
        be read is left as it is (and named in the log), never overwritten. The
        segment files are also found on disk: a manifest that cannot be read (or
        that does not name a segment) loses no send, and a segment number is never
        given twice (the manifest keeps the next one).
        """
        stored = await self._async_load_manifest()
        listed = _segment_numbers(stored)
        legacy = stored.get("items") if isinstance(stored, dict) else None
        next_stored = stored.get("next") if isinstance(stored, dict) else None
        on_disk = await self._hass.async_add_executor_job(
            _segment_files, self._hass.config.path(STORAGE_DIR), self._entry.entry_id
        )
        unlisted = sorted(set(on_disk) - set(listed))
        if unlisted:
            LOGGER.warning(
                "%s: found %s outbox segment files the outbox file does not list "
                "(%s); their sends are kept",
                self._entry.title,
                len(unlisted),
                ", ".join(map(str, unlisted[:10])),
            )
            self._manifest.changes += 1  # list them
        numbers = sorted({*listed, *on_disk})
        found: list[OutboxItem] = []
        dropped = 0
        # One file at a time, each parsed before the next is read: decoding many at
        # once in executor threads would starve the event loop of the GIL.
        for number in numbers:
            store = _segment_store(self._hass, self._entry.entry_id, number)
            rows = await self._async_load_segment(number, store)
            if rows is None:
                continue
            segment = _Segment(
                number,
                store,
                assigned=policy.SEGMENT_SIZE,
                listed=number not in unlisted,
            )
            self._segments[number] = segment
            for raw in rows:
                if (item := parse_item(raw)) is None:
                    dropped += 1
                    continue
                item.segment = segment
                found.append(item)
            del rows
            await asyncio.sleep(0)  # a deep queue loads without stalling the loop
        highest = max([*numbers, *self._unreadable, -1])
        if isinstance(next_stored, int) and not isinstance(next_stored, bool):
            highest = max(highest, next_stored - 1)
        self._next_segment = highest + 1
        found.sort(key=lambda item: item.seq)
        migrate: list[OutboxItem] = []
        if isinstance(legacy, list):  # 1.1: every send in the manifest file
            start = found[-1].seq + 1 if found else 0
            for offset, raw in enumerate(legacy):
                if offset % policy.SEGMENT_SIZE == policy.SEGMENT_SIZE - 1:
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
            policy._since_boot(),  # noqa: SLF001 - read at call time
            policy.time.time(),
        )
        for index, item in enumerate([*found, *migrate]):
            if index % policy.SEGMENT_SIZE == policy.SEGMENT_SIZE - 1:
                await asyncio.sleep(0)
            if item.id in self._items:  # a copy (it is left out of the next write)
                continue
            # Retries on the loop's clock, age on the boot clock: a stored time in the
            # future (the clock went back since) counts as now, and no retry waits
            # longer than RETRY_MAX.
            item.born = boot_now - max(0.0, wall_now - item.created)
            item.due = loop_now + min(
                max(0.0, item.next_attempt - wall_now), policy.RETRY_MAX
            )
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
            # manifest. A crash in between migrates again on the next start; a
            # write that fails leaves the 1.1 file as it is (start writes again).
            try:
                for segment in list(self._segments.values()):
                    segment.listed = True
                    await self._persist(segment)
                self._manifest.changes += 1
                await self._persist(self._manifest)
            except WriteFailedError:
                pass  # logged by _write
        # The repair issue outlives a reload: say again whether the queue is full.
        self._full_issue = True
        if self._queued >= self._max_depth():
            self._raise_full_issue()
        self._update_full_issue()
        if self._queued:
            LOGGER.debug("%s: %s queued sends restored", self._entry.title, self.depth)

    async def _async_load_manifest(self) -> Any:
        """Return the manifest as stored, or None when it cannot be read."""
        try:
            stored: Any = await self._manifest.store.async_load()
        except Exception:  # noqa: BLE001 - the segments are found on disk
            LOGGER.exception(
                "%s: cannot read the outbox file (%s); its segments are found on disk",
                self._entry.title,
                self._manifest.store.path,
            )
            return None
        if stored is not None and not isinstance(stored, dict):
            LOGGER.warning("%s: ignored an unreadable outbox file", self._entry.title)
        return stored

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

    # --- storage: segments, coalesced writes ------------------------------------------

    def _place(self, item: OutboxItem) -> None:
        """Put a send in the open segment (opening a new one when it is full)."""
        segment = self._open
        if segment is None or segment.assigned >= policy.SEGMENT_SIZE:
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
        """Return once the segment as it is now is on disk (sharing writes).

        Raises ``WriteFailedError`` when the write that should have stored it failed
        (disk full, an I/O error): the change stays pending and is written again.
        """
        target = segment.changes
        segment.wanted = max(segment.wanted, target)
        while segment.saved < target and not self._closed:
            self._start_writer(segment)
            assert segment.writer is not None
            await asyncio.shield(segment.writer)
            if segment.saved < target and segment.failed >= target:
                raise WriteFailedError(segment.error)
            # (a write of an older state failed: the loop tries this one itself)

    async def _write(self, segment: _Segment) -> None:
        target = segment.changes
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
                    await _save(
                        segment.store,
                        {"segments": numbers, "next": self._next_segment},
                    )
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
                    await _save(
                        segment.store,
                        {"items": [item.row() for item in segment.items.values()]},
                    )
                segment.saved = target
        except Exception as err:  # noqa: BLE001 - kept pending, written again
            # The change stays unwritten (saved < changes): it is tried again in
            # WRITE_RETRY seconds, or at once by the next caller that waits for it.
            segment.failed = max(target, 1)
            segment.error = str(err) or type(err).__name__
            if not self._write_failing:
                self._write_failing = True
                LOGGER.error(
                    "%s: cannot write the outbox (%s); the change is kept and "
                    "written again, and sends are refused while it cannot be stored",
                    self._entry.title,
                    segment.error,
                )
            else:
                LOGGER.debug(
                    "%s: the outbox still cannot be written: %s",
                    self._entry.title,
                    segment.error,
                )
        else:
            segment.failed = 0
            if self._write_failing and segment.saved >= segment.changes:
                self._write_failing = False
                LOGGER.warning("%s: the outbox is written again", self._entry.title)
        finally:
            segment.writer = None
        if segment.saved < segment.changes and self._started:  # changed meanwhile
            self._touch_again(segment)

    def _touch_again(self, segment: _Segment) -> None:
        if segment.timer is None and segment.writer is None and not self._closed:
            segment.timer = self._hass.loop.call_later(
                policy.WRITE_RETRY if segment.failed else policy.SAVE_DELAY,
                self._write_soon,
                segment,
            )

    async def _flush(self) -> None:
        """Write every pending change now (unload, Home Assistant stopping).

        A write that fails is logged (by ``_write``) and left: nothing more can be
        done for it once this outbox closes.
        """
        for segment in [*self._segments.values(), *self._retiring.values()]:
            if segment.saved < segment.changes:
                with contextlib.suppress(WriteFailedError):
                    await self._persist(segment)
        if self._manifest.saved < self._manifest.changes:
            with contextlib.suppress(WriteFailedError):
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

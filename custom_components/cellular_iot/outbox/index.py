"""The outbox's index: which send may go next, and when, in O(log n).

Each target (device, endpoint, ICCID) has a lane: its one send, or its sends in call
order. A send at the head of all its lanes is in a heap by due time (the loop's
clock); a second heap orders the waiting sends by age (the boot clock) for the age
limit. A change leaves stale entries in the heaps: they are skipped when they come up
and dropped once they outnumber the sends. ``_Index`` is this part of ``Outbox``: it
adds, queues, schedules and discards sends and picks the next; a discard also updates
the send's segment (``_touch``, ``_retire``: see ``persistence``).
"""

from __future__ import annotations

import asyncio
from collections import deque
import heapq
from typing import TYPE_CHECKING

from . import policy
from .issues import _FullIssue
from .policy import OutboxItem, SendState, _Segment


def _head(lane: OutboxItem | deque[OutboxItem]) -> OutboxItem:
    return lane[0] if isinstance(lane, deque) else lane


class _Index(_FullIssue):
    """The lanes and heaps of ``Outbox`` (the sends themselves are in ``_items``)."""

    _items: dict[str, OutboxItem]
    _lanes: dict[str, OutboxItem | deque[OutboxItem]]
    # Heap entries name their send by id: a tuple of atomic values is not tracked
    # by the garbage collector (one holding the send would be, two per send).
    _ready: list[tuple[float, int, int, str]]
    _aging: list[tuple[float, int, str]]
    _wake: asyncio.Event
    _open: _Segment | None

    if TYPE_CHECKING:  # in persistence

        def _touch(self, segment: _Segment) -> None: ...

        def _retire(self, segment: _Segment) -> None: ...

    @property
    def depth(self) -> int:
        """Return how many sends are waiting."""
        return self._queued

    @property
    def items(self) -> list[OutboxItem]:
        """Return the waiting sends, oldest first (O(n): for diagnostics)."""
        return [i for i in self._items.values() if i.state is not SendState.DIRECT]

    @property
    def oldest(self) -> OutboxItem | None:
        """Return the send that has waited longest (the top of the age heap)."""
        aging, items = self._aging, self._items
        while aging and aging[0][2] not in items:
            heapq.heappop(aging)  # a send that is gone
        return items[aging[0][2]] if aging else None

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
        item.pack()  # waiting: its params as text, not a tracked dict
        heapq.heappush(self._aging, (item.born, item.seq, item.id))
        self._schedule(item)

    def _is_head(self, item: OutboxItem) -> bool:
        return all(_head(self._lanes[target]) is item for target in item.targets)

    def _schedule(self, item: OutboxItem) -> None:
        if item.state is not SendState.QUEUED or not self._is_head(item):
            return
        item.version += 1
        heapq.heappush(self._ready, (item.due, item.seq, item.version, item.id))
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
                segment is not self._open or segment.assigned >= policy.SEGMENT_SIZE
            ):
                self._retire(segment)
        self._update_full_issue()

    def _compact(self) -> None:
        """Drop stale heap entries once they outnumber the sends (O(1) amortised)."""
        items = self._items
        limit = 2 * len(items) + 64
        if len(self._ready) > limit:
            self._ready = [
                entry
                for entry in self._ready
                if (item := items.get(entry[3])) is not None
                and item.version == entry[2]
                and item.state is SendState.QUEUED
            ]
            heapq.heapify(self._ready)
        if len(self._aging) > limit:
            self._aging = [
                entry
                for entry in self._aging
                if (item := items.get(entry[2])) is not None
                and item.state is not SendState.DIRECT
            ]
            heapq.heapify(self._aging)

    def _next(self) -> tuple[OutboxItem | None, float | None]:
        """Return the send to try now, or the seconds until one is due."""
        ready, items = self._ready, self._items
        while ready:
            due, _, version, ident = ready[0]
            item = items.get(ident)
            if (
                item is None
                or item.version != version
                or item.state is not SendState.QUEUED
            ):
                heapq.heappop(ready)
                continue
            now = self._hass.loop.time()
            if due <= now:
                heapq.heappop(ready)
                return item, None
            return None, due - now
        return None, None

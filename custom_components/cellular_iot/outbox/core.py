"""``Outbox``: an account entry's persistent send queue, as the integration sees it.

The class is made of one part per job, each in its module and each a base of the
next: ``_FullIssue`` (issues: the depth cap), ``_Index`` (index: lanes and heaps),
``_Storage`` (persistence: the segment files), ``_Worker`` (worker: the retries).
Here are the state every part shares (``__init__``) and what the integration calls:
``async_submit`` (send now, or queue), ``wake``, ``start`` and ``stop``.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import os
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from ..const import DOMAIN, LOGGER
from ..providers.errors import ProviderError
from . import policy
from .index import _head
from .policy import (
    OPERATIONS,
    OutboxItem,
    SendState,
    WriteFailedError,
    _manifest_store,
    _Segment,
    is_transient,
    retry_delay,
)
from .worker import _Worker


class Outbox(_Worker):
    """The persistent send queue of one account entry and its retry worker."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
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
        self._ready: list[tuple[float, int, int, str]] = []  # (due, seq, version, id)
        self._aging: list[tuple[float, int, str]] = []  # (born, seq, id)
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
        self._write_failing = False
        self._started = False
        self._unsub_final_write: CALLBACK_TYPE | None = None
        self.errors: list[dict[str, Any]] = []
        self.delivered = 0
        self.given_up = 0

    @property
    def sending(self) -> int:
        """Return how many actions are handing a send to the outbox right now."""
        return self._sending

    @property
    def stopping(self) -> bool:
        """Return whether the outbox is stopping (or stopped)."""
        return self._stopping

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
        deadline = self._hass.loop.time() + policy.STOP_TIMEOUT
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
            id=os.urandom(16).hex(),  # 32 hex digits, as uuid4().hex
            operation=operation,
            action=action,
            targets=tuple(dict.fromkeys(targets)),
            params_data=params,
            created=policy.time.time(),
            seq=self._seq,
            due=now,
            born=policy._since_boot(),  # noqa: SLF001 - read at call time
        )
        self._sending += 1
        self._idle.clear()
        try:
            if self._paused or not self._lanes.keys().isdisjoint(item.targets):
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
                try:
                    await self._persist(item.segment)
                except WriteFailedError as err:
                    # Not stored, so not queued: the caller is told, and the send
                    # is forgotten (a later retry would surprise a caller told no).
                    self._discard(item)
                    raise HomeAssistantError(
                        translation_domain=DOMAIN,
                        translation_key="outbox_not_stored",
                        translation_placeholders={
                            "title": self._entry.title,
                            "error": str(err),
                        },
                    ) from err
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
            item.next_attempt = policy.time.time() + delay
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

"""The outbox's retry worker: one send at a time, when it is due, until it goes.

Each turn gives up the sends past the age limit (``EXPIRE_BATCH`` at most, then it
yields to the loop), then tries the next due send (see ``index``) or sleeps until one
is due or something wakes it. A passing fault schedules a retry with backoff
(``retry_delay``; a 429 at the provider's ``Retry-After``, and until then the worker
tries no other send of the account, whose rate limit it is); a refusal or an
unexpected error gives the send up and fires ``cellular_iot_send_failed``; a refused
credential pauses the queue, raises the repair issue and starts re-authentication.
``_Worker`` is this part of ``Outbox``.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

from homeassistant.core import callback

from ..const import LOGGER
from ..providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
)
from . import policy
from .persistence import _Storage
from .policy import (
    CONF_OUTBOX_MAX_AGE,
    DEFAULT_MAX_AGE_HOURS,
    EVENT_SEND_FAILED,
    EXPIRE_BATCH,
    MAX_ERRORS_KEPT,
    OPERATIONS,
    OutboxItem,
    SendState,
    is_transient,
    retry_delay,
)


class _Worker(_Storage):
    """The retry loop of ``Outbox`` and its counters."""

    _paused: bool
    _stopping: bool
    errors: list[dict[str, Any]]
    delivered: int
    given_up: int
    # The loop time before which the worker tries no send: the provider's rate limit
    # is the account's, so after a 429 every send waits for its time, not one alone.
    _rate_limited_until: float = 0.0

    def _note_error(self, item: OutboxItem, err: ProviderError) -> None:
        """Keep the error (the last ten); a 429 holds the worker until the send's due."""
        if isinstance(err, ProviderRateLimitedError):
            self._rate_limited_until = max(self._rate_limited_until, item.due)
        self.errors.append(
            {
                "time": policy.time.time(),
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
                await self._sleep(policy.RETRY_MIN)

    async def _run_once(self) -> None:
        if self._expire():
            await asyncio.sleep(0)  # more to give up: let the loop breathe
            return
        if not self._paused:
            hold = self._rate_limited_until - self._hass.loop.time()
            if hold > 0:  # the provider said when: no request before that
                await self._sleep(hold)
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
            if is_transient(err):
                delay = retry_delay(item.attempts, err)
                item.next_attempt = policy.time.time() + delay
                item.due = self._hass.loop.time() + delay
                self._note_error(item, err)  # (after ``due``: a 429 holds until it)
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
                self._note_error(item, err)
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
        if self._items.get(item.id) is not item:
            return  # forgotten while it was tried (its action could not store it)
        item.state = SendState.QUEUED
        self._schedule(item)
        if item.segment is not None:
            self._touch(item.segment)
        self._signal()

    def _expire(self) -> bool:
        """Give up sends older than the age limit; True when more remain to check."""
        hours = self._entry.options.get(CONF_OUTBOX_MAX_AGE, DEFAULT_MAX_AGE_HOURS)
        limit = policy._since_boot() - float(hours) * 3600  # noqa: SLF001
        aging = self._aging
        for _ in range(EXPIRE_BATCH):
            if not aging or aging[0][0] > limit:
                return False
            _, _, ident = heapq.heappop(aging)
            item = self._items.get(ident)
            if item is not None and item.state is SendState.QUEUED:
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
                "targets": list(item.targets),
                "reason": "expired" if expired else "refused",
                "error": error,
                "attempts": item.attempts,
                "created_at": policy.time.strftime(
                    "%Y-%m-%dT%H:%M:%S+00:00", policy.time.gmtime(item.created)
                ),
            },
        )
        self._signal()

    @callback
    def _auth_failed(self) -> None:
        """Stop retrying; ask for new credentials (the reload restarts the queue).

        Re-authentication is the one repair HA shows for it; no issue of ours.
        """
        self._paused = True
        self._entry.async_start_reauth(self._hass)

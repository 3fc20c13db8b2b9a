"""The outbox as it was at 077d1c5, kept only as the benchmark's "before" baseline.

A copy of custom_components/cellular_iot/outbox.py at 077d1c5: only the imports are
absolute and the formatter sorted them. The benchmark registers its own operation in
this module's OPERATIONS. Not used by the integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import asdict, dataclass, field
import random
import time
from typing import Any, Final
import uuid

from custom_components.cellular_iot.const import DOMAIN, LOGGER, signal_state
from custom_components.cellular_iot.models import CellularIoTConfigEntry
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store

STORAGE_VERSION: Final = 1
EVENT_SEND_FAILED: Final = "cellular_iot_send_failed"
CONF_OUTBOX_MAX_AGE: Final = "outbox_max_age"
DEFAULT_MAX_AGE_HOURS: Final = 24
# Backoff: RETRY_MIN * 2^(attempt-1), at most RETRY_MAX, times a jitter factor.
# Read at call time, so tests can shorten them.
RETRY_MIN: float = 10.0
RETRY_MAX: float = 900.0
RETRY_JITTER: Final = (0.75, 1.25)
# Hologram: "refrain from making requests for 5-10 seconds and then retry".
RATE_LIMIT_DELAY: tuple[float, float] = (5.0, 10.0)
MAX_ERRORS_KEPT: Final = 10
# How long unloading waits for a send in progress (longer than the clients' timeouts).
STOP_TIMEOUT: Final = 35.0


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


@dataclass(slots=True)
class OutboxItem:
    """One send waiting in the outbox (JSON-serialisable)."""

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


# An operation performs one send for a loaded entry; it may record progress on the
# item (emnify's multi-part SMS) and returns the response fields of a sent result.
type Operation = Callable[
    [CellularIoTConfigEntry, OutboxItem], Awaitable[dict[str, Any]]
]
OPERATIONS: dict[str, Operation] = {}


class Outbox:
    """The persistent send queue of one account entry and its retry worker."""

    def __init__(self, hass: HomeAssistant, entry: CellularIoTConfigEntry) -> None:
        """Bind to the entry; :meth:`async_load` reads the stored queue."""
        self._hass = hass
        self._entry = entry
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.outbox.{entry.entry_id}"
        )
        self._items: list[OutboxItem] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._stopping = False
        self.errors: list[dict[str, Any]] = []
        self.delivered = 0
        self.given_up = 0

    @property
    def depth(self) -> int:
        """Return how many sends are waiting."""
        return len(self._items)

    @property
    def items(self) -> list[OutboxItem]:
        """Return the waiting sends, oldest first."""
        return list(self._items)

    async def async_load(self) -> None:
        """Read the queue stored by an earlier run (sends survive restarts)."""
        stored = await self._store.async_load()
        items = stored.get("items", []) if isinstance(stored, dict) else []
        for raw in items:
            try:
                self._items.append(OutboxItem(**raw))
            except TypeError:
                LOGGER.warning("Dropped an unreadable outbox entry: %s", raw)
        if self._items:
            LOGGER.debug("%s: %s queued sends restored", self._entry.title, self.depth)

    async def _async_save(self) -> None:
        await self._store.async_save({"items": [asdict(item) for item in self._items]})
        async_dispatcher_send(self._hass, signal_state(self._entry.entry_id))

    @callback
    def start(self) -> None:
        """Start the retry worker."""
        self._task = self._entry.async_create_background_task(
            self._hass, self._run(), f"{DOMAIN} outbox {self._entry.entry_id}"
        )

    async def stop(self) -> None:
        """Stop the worker; the queue stays stored.

        A send in progress is let finish (it is bounded by the client's timeout), so
        that a send the provider accepted is not sent again after the restart.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @callback
    def wake(self, operation: str | None = None) -> None:
        """Retry now (all sends, or those of one operation), e.g. after a reconnect."""
        now = time.time()
        for item in self._items:
            if operation is None or item.operation == operation:
                item.next_attempt = min(item.next_attempt, now)
        self._wake.set()

    def _blocked(self, targets: list[str], before: int | None = None) -> bool:
        wanted = set(targets)
        queued = self._items if before is None else self._items[:before]
        return any(wanted.intersection(item.targets) for item in queued)

    async def async_submit(
        self,
        operation: str,
        action: str,
        targets: list[str],
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Send now, or queue the send; return the action's response fields.

        Raises the provider's error when the send was refused (not queued).
        """
        item = OutboxItem(
            id=uuid.uuid4().hex,
            operation=operation,
            action=action,
            targets=targets,
            params=params,
            created=time.time(),
        )
        if not self._blocked(targets) and not self._paused:
            try:
                result = await OPERATIONS[operation](self._entry, item)
            except ProviderError as err:
                if not is_transient(err):
                    raise
                item.attempts = 1
                item.last_error = str(err)
                item.next_attempt = time.time() + retry_delay(1, err)
                self._note_error(item, err)
            else:
                return {"status": "sent", **result}
        self._items.append(item)
        await self._async_save()
        self._wake.set()
        LOGGER.debug("%s: %s queued as %s", self._entry.title, action, item.id)
        response: dict[str, Any] = {"status": "queued", "outbox_id": item.id}
        if item.last_error:
            response["error"] = item.last_error
        return response

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

    def _next(self) -> tuple[OutboxItem | None, float | None]:
        """Return the send to try now, or the seconds until one is due."""
        now = time.time()
        wait: float | None = None
        for index, item in enumerate(self._items):
            if self._blocked(item.targets, before=index):
                continue
            if item.next_attempt <= now:
                return item, None
            due = item.next_attempt - now
            wait = due if wait is None else min(wait, due)
        return None, wait

    async def _run(self) -> None:
        while not self._stopping:
            await self._expire()
            item, wait = (None, None) if self._paused else self._next()
            if item is None:
                self._wake.clear()
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            await self._attempt(item)

    async def _attempt(self, item: OutboxItem) -> None:
        try:
            await OPERATIONS[item.operation](self._entry, item)
        except ProviderAuthError as err:
            item.last_error = str(err)
            self._note_error(item, err)
            await self._async_save()
            self._auth_failed()
        except ProviderError as err:
            item.attempts += 1
            item.last_error = str(err)
            self._note_error(item, err)
            if is_transient(err):
                item.next_attempt = time.time() + retry_delay(item.attempts, err)
                LOGGER.debug(
                    "%s: %s %s failed (%s); retry %s",
                    self._entry.title,
                    item.action,
                    item.id,
                    err,
                    item.attempts,
                )
                await self._async_save()
            else:
                await self._give_up(item, str(err))
        except Exception as err:
            LOGGER.exception(
                "%s: unexpected error sending %s", self._entry.title, item.id
            )
            await self._give_up(item, f"unexpected error: {type(err).__name__}")
        else:
            self._items.remove(item)
            self.delivered += 1
            LOGGER.debug(
                "%s: queued %s %s sent", self._entry.title, item.action, item.id
            )
            await self._async_save()

    async def _expire(self) -> None:
        hours = self._entry.options.get(CONF_OUTBOX_MAX_AGE, DEFAULT_MAX_AGE_HOURS)
        limit = time.time() - float(hours) * 3600
        for item in [item for item in self._items if item.created < limit]:
            await self._give_up(item, item.last_error or "expired", expired=True)

    async def _give_up(
        self, item: OutboxItem, error: str, *, expired: bool = False
    ) -> None:
        if item in self._items:
            self._items.remove(item)
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
        await self._async_save()

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
    """Delete the stored queue of a removed entry."""
    await Store[dict[str, Any]](
        hass, STORAGE_VERSION, f"{DOMAIN}.outbox.{entry_id}"
    ).async_remove()

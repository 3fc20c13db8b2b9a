"""Hologram inbound without routes: the account's messages read from the REST API.

Hologram Routes (webhooks) are limited to certain legacy organizations, so a
Hologram account opened today has no way to push its devices' messages. The poller
reads them instead: ``GET /api/1/csr/rdm`` every :data:`POLL_INTERVAL` (60 s, chosen by
the integration within Hologram's rate limits, not by the user), newest first, page after page until it reaches the last
record it handled (or the pages of one poll are used up: the walk then goes on at the
next poll from where it stopped). Every record becomes the same
``cellular_iot_message_received`` event a route delivery does, with ``source:
poll``, oldest first within a poll.

Nothing missed: the cursor (the highest record id handled, the time the walk starts
from, a walk in progress) is kept in HA's ``Store`` (``.storage/cellular_iot.
hologram_inbound.<entry id>``), written after every poll, so a restart goes on from
there; records below the cursor that show up late are still taken (their ids are
checked against the recent ones). Nothing doubled: the ids of the messages fired
lately (the record's UUID, its numeric id, and the device-time-payload id a route's
delivery has too) are kept with the cursor and shared with the entry's webhook, so a
message that comes both ways fires once. Within the rate limits: one request per
poll when nothing is new, at most :data:`MAX_PAGES_PER_POLL` pages of
:data:`~..providers.hologram_messages.PAGE_SIZE`; a failure backs off (doubling, up
to an hour; a 429's Retry-After at least); refused credentials start
re-authentication and stop the polling.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, INBOUND_BOTH, SOURCE_POLL
from ...events import async_fire_message, message_event
from ...models import CellularIoTConfigEntry
from ...providers.deliveries import InboundFormatError, parse_hologram
from ...providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
)
from ...providers.hologram import HologramClient
from ...providers.hologram_messages import PAGE_SIZE as API_PAGE_SIZE, StoredMessage
from ...recent import RecentIds

LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
# Pages read in one poll at most (a backlog is read over several polls), and the
# records asked for per page.
MAX_PAGES_PER_POLL: Final = 10
PAGE_SIZE: Final = API_PAGE_SIZE
# The longest wait between two polls after failures.
MAX_BACKOFF: Final = timedelta(hours=1)
# A new cursor (polling just turned on) takes the messages of the last hour, so the
# first messages of a new account are not lost to the minutes its setup took. With
# the webhook on too, it starts now: the webhook delivered the rest.
FIRST_LOOKBACK: Final = timedelta(hours=1)
# The walk asks for records logged since the newest one handled, less this margin
# (records committed late, clocks).
SINCE_MARGIN: Final = timedelta(hours=1)
# Message ids remembered (shared with the webhook; stored with the cursor).
RECENT_SIZE: Final = 4096
# Delay before the ids the webhook added are written (batched).
SAVE_DELAY: Final = 10.0


# How often the account's messages are read: one request when nothing is new, so 60
# requests an hour per account.
POLL_INTERVAL: Final = timedelta(seconds=60)


def storage_key(entry_id: str) -> str:
    """Return the Store key of an entry's cursor."""
    return f"{DOMAIN}.hologram_inbound.{entry_id}"


async def async_remove_state(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's stored cursor (the entry is removed)."""
    await Store[dict[str, Any]](
        hass, STORAGE_VERSION, storage_key(entry_id)
    ).async_remove()


def _as_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class HologramPoller:
    """Reads one Hologram account's messages from the REST API, on a cursor."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CellularIoTConfigEntry,
        client: HologramClient,
        *,
        mode: str,
        interval: timedelta = POLL_INTERVAL,
    ) -> None:
        """Poll ``client`` for ``entry`` every ``interval``."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._mode = mode
        self._interval = interval
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry.entry_id)
        )
        self.recent = RecentIds(RECENT_SIZE)
        # The cursor.
        self.last_id: int | None = None
        self.since: int | None = None
        self.walk_top: int | None = None
        self.walk_next: int | None = None
        # What the diagnostics show.
        self.polls = 0
        self.requests = 0
        self.fired = 0
        self.duplicates = 0
        self.skipped = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_poll: datetime | None = None
        self.stopped = False
        self._polling = False
        self._unsub_timer: CALLBACK_TYPE | None = None

    @property
    def interval(self) -> timedelta:
        """The time between two polls that succeed."""
        return self._interval

    # --- the cursor, stored ----------------------------------------------------------

    async def async_load(self) -> None:
        """Read the stored cursor (a new one starts now, less the first lookback)."""
        stored = await self._store.async_load()
        if isinstance(stored, dict):
            self.last_id = _as_id(stored.get("last_id"))
            self.since = _as_id(stored.get("since"))
            self.walk_top = _as_id(stored.get("walk_top"))
            self.walk_next = _as_id(stored.get("walk_next"))
            if self.walk_top is None or self.walk_next is None:
                self.walk_top = self.walk_next = None
            recent = stored.get("recent")
            if isinstance(recent, list):
                self.recent.add(key for key in recent if isinstance(key, str))
        if self.since is None:
            start = dt_util.utcnow()
            if self._mode != INBOUND_BOTH:
                start -= FIRST_LOOKBACK
            self.since = int(start.timestamp())
        self.recent.on_change = self._schedule_save

    def _data(self) -> dict[str, Any]:
        return {
            "last_id": self.last_id,
            "since": self.since,
            "walk_top": self.walk_top,
            "walk_next": self.walk_next,
            "recent": self.recent.ids(),
        }

    @callback
    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)

    # --- scheduling --------------------------------------------------------------

    @callback
    def start(self) -> None:
        """Poll now, then every interval."""
        self.stopped = False
        self._entry.async_create_task(
            self._hass, self._async_run(), f"{self._entry.title} message poll"
        )

    async def async_stop(self) -> None:
        """Stop polling and write the cursor."""
        self.stopped = True
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        self.recent.on_change = None
        await self._store.async_save(self._data())

    @callback
    def _schedule(self, delay: timedelta) -> None:
        if self.stopped:
            return
        if self._unsub_timer is not None:
            self._unsub_timer()
        self._unsub_timer = async_call_later(
            self._hass, delay.total_seconds(), self._timer_fired
        )

    @callback
    def _timer_fired(self, _now: datetime) -> None:
        self._unsub_timer = None
        if not self.stopped:
            self._entry.async_create_task(
                self._hass, self._async_run(), f"{self._entry.title} message poll"
            )

    async def _async_run(self) -> None:
        delay = await self.async_poll()
        if delay is not None:
            self._schedule(delay)

    # --- one poll ----------------------------------------------------------------

    async def async_poll(self) -> timedelta | None:
        """Read what is new; return when to poll next (None: do not)."""
        if self._polling or self.stopped:
            return None
        self._polling = True
        try:
            await self._async_read()
        except ProviderAuthError as err:
            self.failures += 1
            self.last_error = str(err)
            self.stopped = True
            LOGGER.warning(
                "%s: Hologram refused the API key while reading messages",
                self._entry.title,
            )
            self._entry.async_start_reauth(self._hass)
            return None
        except ProviderError as err:
            self.failures += 1
            self.last_error = str(err)
            wait = min(self.interval * (1 << min(self.failures, 16)), MAX_BACKOFF)
            if isinstance(err, ProviderRateLimitedError) and err.retry_after:
                wait = max(wait, timedelta(seconds=float(err.retry_after)))
            LOGGER.debug(
                "%s: reading messages failed (%s); next try in %s",
                self._entry.title,
                err,
                wait,
            )
            return wait
        finally:
            self._polling = False
            self.polls += 1
            self.last_poll = dt_util.utcnow()
        self.failures = 0
        self.last_error = None
        return self.interval

    async def _async_read(self) -> None:
        """Walk the list from the newest record (or where the last walk stopped).

        A page that fails ends the poll: what the pages before it held is fired and
        the walk goes on from there at the next poll.
        """
        top = self.walk_top
        after = self.walk_next
        found: dict[int, StoredMessage] = {}
        done = False
        try:
            for _ in range(MAX_PAGES_PER_POLL):
                page = await self._client.list_messages(
                    timestart=self.since, startafter=after, limit=PAGE_SIZE
                )
                self.requests += 1
                self.skipped += page.skipped
                if top is None and page.messages:
                    top = max(message.id for message in page.messages)
                reached = False
                for message in page.messages:
                    found[message.id] = message
                    if self.last_id is not None and message.id <= self.last_id:
                        reached = True
                if reached or not page.continues:
                    done = True
                    break
                after = page.next_after
        finally:
            newest = self._fire(sorted(found.values(), key=lambda m: m.id))
            if done:
                if top is not None:
                    self.last_id = max(self.last_id or 0, top)
                if newest is not None:
                    since = int((newest - SINCE_MARGIN).timestamp())
                    self.since = max(self.since or 0, since)
                self.walk_top = self.walk_next = None
            elif found:
                self.walk_top, self.walk_next = top, after
            await self._store.async_save(self._data())

    def _fire(self, messages: list[StoredMessage]) -> datetime | None:
        """Fire each message not seen yet; return the newest time logged."""
        newest: datetime | None = None
        for stored in messages:
            if stored.logged is not None and (newest is None or stored.logged > newest):
                newest = stored.logged
            number = f"hologram-rdm-{stored.id}"
            if number in self.recent:
                continue
            try:
                (message,) = parse_hologram(dict(stored.record))
            except (InboundFormatError, ValueError) as err:
                self.skipped += 1
                self.recent.add((number,))
                LOGGER.debug(
                    "%s: skipped record %s: %s", self._entry.title, stored.id, err
                )
                continue
            if not self.recent.claim((*message.keys, number)):
                self.duplicates += 1
                self.recent.add((number,))
                continue
            self.fired += 1
            event = message_event(
                provider="hologram",
                source=SOURCE_POLL,
                entry_id=self._entry.entry_id,
                payload=message.payload,
                device_id=message.device_id,
                iccid=message.iccid,
                topics=message.topics,
                received_at=message.received_at,
                message_id=message.message_id,
                **message.extra,
            )
            async_fire_message(self._hass, self._entry.entry_id, event)
        return newest

    def diagnostics(self) -> dict[str, Any]:
        """Return the poller's state for the diagnostics."""
        return {
            "interval_seconds": self.interval.total_seconds(),
            "last_id": self.last_id,
            "since": self.since,
            "walk_in_progress": self.walk_next is not None,
            "polls": self.polls,
            "requests": self.requests,
            "fired": self.fired,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_poll": self.last_poll.isoformat() if self.last_poll else None,
            "stopped": self.stopped,
            "remembered_ids": len(self.recent),
        }

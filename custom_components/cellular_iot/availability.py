"""Whether an account's provider (and its MQTT broker) can be reached.

Each account entry has one :class:`Reachability` with a link per connection: ``api``
(the provider's REST API) and, for a monoZ account with a broker, ``broker``. What
an entity shows decides what its availability follows (``entity.py``): the SIM
entities, read from the provider's API, are unavailable while ``api`` is down; the
inbound entities (what arrived: the last message, when the device was last heard, the
message events) stay available whatever the links, and the **Broker connected**
sensor shows ``broker`` itself.

What takes a link down, and what brings it back:

- ``api``: a request that gets no answer (no connection, no answer in time) or an
  HTTP 5xx takes it down; any answer below 500 brings it back, a 4xx included (a 401
  is a credentials problem, handled by re-authentication, not an outage). The
  provider clients report every request, whoever made it (an action, the outbox, a
  retry). No request is made while the provider is reachable (nothing here polls);
  while it is not, a cheap authenticated request is made after 30 s, 1, 2 and then
  every 5 minutes, so the entities come back even when nothing else is sent.
- ``broker``: up while the MQTT client is connected and subscribed; a lost
  connection or a failed attempt to connect takes it down. The client reconnects by
  itself with backoff.

Each change is logged once at info level (HA's log-when-unavailable rule): when a link
goes down, with the reason, and when it is back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN, LOGGER, signal_state

LINK_API: Final = "api"
LINK_BROKER: Final = "broker"
# Seconds before each check of a provider that cannot be reached; the last repeats.
PROBE_DELAYS: Final = (30.0, 60.0, 120.0, 300.0)


@dataclass(slots=True)
class _Link:
    """One connection: what it is called in the log, and why it is down (or None)."""

    name: str
    reason: str | None = None
    is_up: Callable[[], bool] | None = None
    probe: Callable[[], Awaitable[Any]] | None = None
    probes: int = 0
    timer: CALLBACK_TYPE | None = None


class Reachability:
    """The links of one account entry; logs each loss and each return once."""

    def __init__(self, hass: HomeAssistant, entry_id: str, title: str) -> None:
        """Start with no links: an entry without links is always reachable."""
        self._hass = hass
        self._entry_id = entry_id
        self._title = title
        self._links: dict[str, _Link] = {}
        self._stopped = False

    def add_link(
        self,
        key: str,
        name: str,
        *,
        is_up: Callable[[], bool] | None = None,
        probe: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """Track a connection, up until a report says otherwise.

        ``is_up`` reads the state where the connection keeps it (the MQTT client);
        ``probe`` is the cheap request made while the link is down.
        """
        self._links[key] = _Link(name, is_up=is_up, probe=probe)

    @property
    def available(self) -> bool:
        """Return whether every link is up."""
        return all(self._up(link) for link in self._links.values())

    def link_up(self, key: str) -> bool:
        """Return whether one link is up (a link the entry does not have: yes)."""
        link = self._links.get(key)
        return link is None or self._up(link)

    @staticmethod
    def _up(link: _Link) -> bool:
        if link.is_up is not None:
            return link.is_up()
        return link.reason is None

    @callback
    def report(self, key: str, reason: str | None) -> None:
        """Take a link down (``reason``) or bring it back (None); log each change."""
        link = self._links.get(key)
        if link is None or self._stopped or (reason is None and link.reason is None):
            return  # (the usual report: up, and it was up)
        was_down = link.reason is not None
        link.reason = reason
        if reason is not None and not was_down:
            LOGGER.info(
                "%s: cannot reach %s (%s); what depends on it is unavailable until "
                "it answers again",
                self._title,
                link.name,
                reason,
            )
            self._schedule_probe(link)
        elif reason is None and was_down:
            LOGGER.info(
                "%s: %s can be reached again",
                self._title,
                link.name,
            )
            self._cancel_probe(link)
            link.probes = 0
        if (reason is not None) != was_down:
            # Only a change: every request reports, and an account of 500 devices
            # has thousands of entities that would each write their state again.
            async_dispatcher_send(self._hass, signal_state(self._entry_id))

    @callback
    def stop(self) -> None:
        """Cancel the checks (the entry unloads)."""
        self._stopped = True
        for link in self._links.values():
            self._cancel_probe(link)

    def _schedule_probe(self, link: _Link) -> None:
        if link.probe is None or link.timer is not None or self._stopped:
            return
        delay = PROBE_DELAYS[min(link.probes, len(PROBE_DELAYS) - 1)]
        link.probes += 1

        @callback
        def _due(_now: Any) -> None:
            link.timer = None
            if link.reason is None or self._stopped:
                return
            self._hass.async_create_background_task(
                self._async_probe(link), f"{DOMAIN} check {link.name}"
            )

        link.timer = async_call_later(self._hass, delay, _due)

    async def _async_probe(self, link: _Link) -> None:
        assert link.probe is not None
        try:
            await link.probe()
        except Exception as err:  # noqa: BLE001 - the client reported the outcome
            LOGGER.debug("%s: checking %s: %s", self._title, link.name, err)
        if link.reason is not None:
            self._schedule_probe(link)

    @staticmethod
    def _cancel_probe(link: _Link) -> None:
        if link.timer is not None:
            link.timer()
            link.timer = None

"""The outbox's repair issues, and what removing an entry does to its stored queue.

One issue: the outbox is full (``outbox_full``: raised when a send is refused for
the depth cap, deleted once the queue is below it again). Refused credentials raise
none: they start HA's re-authentication, the one repair for them (an issue of ours
next to it said the same thing twice); ``clear_auth_issue`` deletes the one earlier
versions raised. ``_FullIssue`` is the part of ``Outbox``
that keeps the second (see ``core``). ``async_remove_outbox`` deletes a removed
entry's stored files and its full issue, and says how many sends were lost.
"""

from __future__ import annotations

import contextlib
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from ..const import DOMAIN, LOGGER
from .policy import (
    CONF_OUTBOX_MAX_DEPTH,
    DEFAULT_MAX_DEPTH,
    _manifest_store,
    _segment_numbers,
    _segment_store,
)


class _FullIssue:
    """The depth cap of ``Outbox``: a full outbox refuses sends, and says so once."""

    _hass: HomeAssistant
    _entry: ConfigEntry[Any]
    _queued: int
    _full_issue: bool

    def _max_depth(self) -> int:
        value = self._entry.options.get(CONF_OUTBOX_MAX_DEPTH, DEFAULT_MAX_DEPTH)
        return int(value) if isinstance(value, (int, float)) else DEFAULT_MAX_DEPTH

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


@callback
def clear_auth_issue(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Remove the "credentials refused" issue earlier versions raised.

    Refused credentials now start re-authentication only (one repair, not two).
    """
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

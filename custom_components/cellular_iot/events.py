"""The one inbound event shape of DESIGN.md, built and fired the same way by every path.

The on-device listener, the provider webhooks and monoZ MQTT uplinks all fire
``cellular_iot_message_received`` and tell the entry's entities through the
dispatcher with the data built here.

``data`` is always there: the text when the payload is UTF-8 text, else None. Text
means valid UTF-8 without control characters other than tab, line feed and carriage
return: a payload of NULs or other C0 controls is binary data that merely decodes, and
as JSON each such byte would take six (``\u0000``), so 10 KB of them would pass the
recorder's 32 KB limit for event data. The raw bytes (``data_base64``) are added only
when the payload is not text, so a text message is stored once by the recorder, not
twice (a 10 KB message was a 24 KB event).
Entities show a short :func:`preview` of the event, never the whole payload: the
recorder refuses state attributes over 16 KB.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import EVENT_MESSAGE_RECEIVED, signal_message

# C0 control characters other than tab, line feed and carriage return.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Entity attributes carry at most this much of a message (the event carries it all).
PREVIEW_LENGTH: Final = 255
PREVIEW_BASE64_LENGTH: Final = 252
PREVIEW_ITEMS: Final = 20


def message_event(
    *,
    provider: str,
    source: str,
    entry_id: str,
    payload: bytes,
    device_id: str | None = None,
    iccid: str | None = None,
    topics: Sequence[str] = (),
    received_at: datetime | None = None,
    remote: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return the event data: ``data`` is the text when the payload is UTF-8 text.

    ``data_base64`` (the raw bytes) is there only when the payload is not text.
    """
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and _CONTROL.search(text):
        text = None
    event: dict[str, Any] = {
        "provider": provider,
        "source": source,
        "config_entry_id": entry_id,
        "device_id": device_id,
        "iccid": iccid,
        "topics": list(topics),
        "data": text,
    }
    if text is None:
        event["data_base64"] = base64.b64encode(payload).decode()
    event["received_at"] = dt_util.as_utc(received_at or dt_util.utcnow()).isoformat()
    event["remote"] = remote
    event.update(extra)
    return event


def _cut(value: Any) -> tuple[Any, bool]:
    """Return the value cut to the preview, and whether it was cut."""
    if isinstance(value, str) and len(value) > PREVIEW_LENGTH:
        return value[:PREVIEW_LENGTH], True
    if isinstance(value, (list, tuple)):
        items = [_cut(item) for item in value[:PREVIEW_ITEMS]]
        return [item for item, _ in items], len(value) > PREVIEW_ITEMS or any(
            cut for _, cut in items
        )
    if isinstance(value, dict):
        pairs = {key: _cut(item) for key, item in list(value.items())[:PREVIEW_ITEMS]}
        return {key: item for key, (item, _) in pairs.items()}, len(
            value
        ) > PREVIEW_ITEMS or any(cut for _, cut in pairs.values())
    return value, False


def preview(event: dict[str, Any]) -> dict[str, Any]:
    """Return the event as entity attributes: every text cut to 255 characters.

    ``data_base64`` is cut to 252 characters (still whole base64: 189 bytes).
    ``preview`` is true when something was cut; the event itself keeps it all.
    """
    attributes: dict[str, Any] = {}
    shortened = False
    for key, value in event.items():
        if key == "data_base64" and isinstance(value, str):
            cut_value, cut = (
                value[:PREVIEW_BASE64_LENGTH],
                len(value) > (PREVIEW_BASE64_LENGTH),
            )
        else:
            cut_value, cut = _cut(value)
        attributes[key] = cut_value
        shortened = shortened or cut
    attributes["preview"] = shortened
    return attributes


@callback
def async_fire_message(
    hass: HomeAssistant, entry_id: str, event: dict[str, Any]
) -> None:
    """Fire the HA event and update the entry's entities."""
    hass.bus.async_fire(EVENT_MESSAGE_RECEIVED, event)
    async_dispatcher_send(hass, signal_message(entry_id), event)

"""The one inbound event shape of DESIGN.md, built and fired the same way by every path.

The on-device listener, the provider webhooks and monoZ MQTT uplinks all fire
``cellular_iot_message_received`` and tell the entry's entities through the
dispatcher with the data built here.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import EVENT_MESSAGE_RECEIVED, signal_message


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
    """Return the event data: ``data`` is the text when the payload is UTF-8."""
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "provider": provider,
        "source": source,
        "config_entry_id": entry_id,
        "device_id": device_id,
        "iccid": iccid,
        "topics": list(topics),
        "data": text,
        "data_base64": base64.b64encode(payload).decode(),
        "received_at": dt_util.as_utc(received_at or dt_util.utcnow()).isoformat(),
        "remote": remote,
        **extra,
    }


@callback
def async_fire_message(
    hass: HomeAssistant, entry_id: str, event: dict[str, Any]
) -> None:
    """Fire the HA event and update the entry's entities."""
    hass.bus.async_fire(EVENT_MESSAGE_RECEIVED, event)
    async_dispatcher_send(hass, signal_message(entry_id), event)

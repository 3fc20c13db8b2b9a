"""Wiring of an on_device entry: the listener's messages become HA events."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady

from .const import (
    CONF_HOST,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    DOMAIN,
    LOGGER,
    EntryKind,
)
from .events import async_fire_message, message_event as build_event
from .models import CellularIoTConfigEntry, OnDeviceData
from .providers.hologram_socket import HologramSocketClient
from .providers.listener import Listener, ReceivedMessage


def message_event(entry_id: str, message: ReceivedMessage) -> dict[str, Any]:
    """Build the event data of a message the listener received."""
    return build_event(
        provider=EntryKind.ON_DEVICE.value,
        source="listener",
        entry_id=entry_id,
        payload=message.data,
        remote=message.remote,
        protocol=message.protocol,
        truncated=message.truncated,
    )


async def async_setup_on_device(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> OnDeviceData:
    """Start the listener; a port that cannot be bound retries later."""
    socket: HologramSocketClient | None = None
    if entry.data.get(CONF_SOURCE_ID) and entry.data.get(CONF_SOURCE_KEY):
        socket = HologramSocketClient(
            entry.data[CONF_SOURCE_ID], entry.data[CONF_SOURCE_KEY]
        )
    runtime: OnDeviceData

    @callback
    def on_message(message: ReceivedMessage) -> None:
        event = message_event(entry.entry_id, message)
        runtime.last_message = event
        runtime.received += 1
        async_fire_message(hass, entry.entry_id, event)

    listener = Listener(
        entry.data[CONF_PROTOCOL],
        entry.data.get(CONF_HOST, ""),
        entry.data[CONF_PORT],
        on_message,
    )
    runtime = OnDeviceData(kind=EntryKind.ON_DEVICE, listener=listener, socket=socket)
    try:
        await listener.start()
    except OSError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_bind",
            translation_placeholders={
                "protocol": entry.data[CONF_PROTOCOL],
                "port": str(entry.data[CONF_PORT]),
                "error": err.strerror or type(err).__name__,
            },
        ) from err
    LOGGER.debug(
        "Listening for cloud messages on %s port %s",
        entry.data[CONF_PROTOCOL],
        listener.port,
    )
    return runtime

"""Diagnostics of a cellular_iot entry, with every secret redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_API_KEY, CONF_APPLICATION_TOKEN, CONF_SOURCE_KEY
from .models import CellularIoTConfigEntry, EmnifyData, HologramData, OnDeviceData

# The title can hold the account e-mail ("Hologram (owner@example.com)").
TO_REDACT = {CONF_API_KEY, CONF_APPLICATION_TOKEN, CONF_SOURCE_KEY, "email", "title"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> dict[str, Any]:
    """Return the entry's configuration and runtime state, secrets redacted."""
    runtime: dict[str, Any] = {}
    data = getattr(entry, "runtime_data", None)
    if isinstance(data, HologramData):
        runtime = {
            "kind": data.kind.value,
            "user_id": data.user.user_id,
            "org_id": data.client.org_id,
            "email": data.user.email,
        }
    elif isinstance(data, EmnifyData):
        account = data.client.account
        runtime = {
            "kind": data.kind.value,
            "org_id": account.org_id,
            "authentications": data.client.authentications,
        }
    elif isinstance(data, OnDeviceData):
        runtime = {
            "kind": data.kind.value,
            "listening": data.listener.listening,
            "port": data.listener.port,
            "active_connections": data.listener.active_connections,
            "rejected_connections": data.listener.rejected,
            "messages_received": data.received,
            "socket_api": data.socket is not None,
        }
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "version": f"{entry.version}.{entry.minor_version}",
                "state": entry.state.value,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "runtime": runtime,
        },
        TO_REDACT,
    )

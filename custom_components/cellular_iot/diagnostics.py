"""Diagnostics of a cellular_iot entry, with every secret redacted."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_PASSWORD,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
)
from .models import (
    CellularIoTConfigEntry,
    EmnifyData,
    HologramData,
    MonozData,
    OnDeviceData,
)

# The title can hold the account e-mail ("Hologram (owner@example.com)"). The Socket
# API source ID is half of that credential pair. Like HA core's cellular integrations
# (huawei_lte), SIM and subscriber identifiers are personal data: ICCID, IMSI, IMEI
# and phone numbers (MSISDN) are redacted wherever they appear.
TO_REDACT = {
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    "email",
    "iccid",
    "imei",
    "imsi",
    "msisdn",
    "phone_number",
    "title",
}
# The same identifiers inside free text (outbox targets such as "iccid:8988…", error
# messages): ICCIDs (89 + 16 to 20 digits) and phone numbers in E.164 form.
_IDENTIFIERS = re.compile(r"(?<!\d)(?:89\d{16,20}|\+\d{7,15})(?!\d)")


def _scrub(value: Any) -> Any:
    """Replace ICCIDs and phone numbers in every string of ``value``."""
    if isinstance(value, str):
        return _IDENTIFIERS.sub(REDACTED, value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


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
    elif isinstance(data, MonozData):
        runtime = {
            "kind": data.kind.value,
            "org_id": data.client.org_id,
            "messages_received": data.received,
            "mqtt": None,
        }
        if data.mqtt is not None:
            runtime["mqtt"] = {
                "host": data.mqtt.settings.host,
                "port": data.mqtt.settings.port,
                "tls": data.mqtt.settings.tls,
                "client_id": data.mqtt.settings.client_id,
                "connected": data.mqtt.connected,
                "connections": data.mqtt.connect_count,
                "session_present": data.mqtt.session_present,
                "problems": sorted(data.mqtt.problems),
                "last_error": data.mqtt.last_error,
                "uplink_topic": data.uplink_topic,
                "uplinks_dropped": data.uplinks_dropped,
                "dropped_bad_topic": data.mqtt.dropped,
            }
    elif isinstance(data, OnDeviceData):
        runtime = {
            "kind": data.kind.value,
            "listening": data.listener.listening,
            "port": data.listener.port,
            "active_connections": data.listener.active_connections,
            "rejected_connections": data.listener.rejected,
            "refused_not_allowed": data.listener.refused,
            "evicted_connections": data.listener.evicted,
            "closed_idle": data.listener.timed_out,
            "closed_at_deadline": data.listener.cut_at_deadline,
            "dropped_rate_limited": data.listener.rate_limited,
            "messages_received": data.received,
            "socket_api": data.socket is not None,
        }
    outbox = getattr(data, "outbox", None)
    if outbox is not None:
        runtime["outbox"] = {
            "depth": outbox.depth,
            "delivered": outbox.delivered,
            "given_up": outbox.given_up,
            "waiting": [
                {
                    "action": item.action,
                    "targets": item.targets,
                    "attempts": item.attempts,
                    "last_error": item.last_error,
                    "created": item.created,
                }
                for item in outbox.items
            ],
            "last_errors": list(outbox.errors),
        }
    hook = getattr(data, "webhook", None)
    if hook is not None:
        runtime["webhook"] = {
            "accepted": hook.accepted,
            "duplicates": hook.duplicates,
            "rejected": hook.rejected,
            "last_rejection": hook.last_rejection,
        }
    redacted: dict[str, Any] = _scrub(
        async_redact_data(
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
    )
    return redacted

"""Diagnostics of a cellular_iot entry, with every secret redacted."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_DEVICE_KEY,
    CONF_KIND,
    CONF_LISTENER_SECRET,
    CONF_PASSWORD,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
)
from .kinds import KINDS
from .models import CellularIoTConfigEntry, CellularIoTData

# The title can hold the account e-mail ("Hologram (owner@example.com)"). The Socket
# API device key is a credential, and so were the legacy source ID and key; so is the
# listener's shared secret. Like HA core's cellular integrations
# (huawei_lte), SIM and subscriber identifiers are personal data: ICCID, IMSI, IMEI
# and phone numbers (MSISDN) are redacted wherever they appear.
TO_REDACT = {
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_DEVICE_KEY,
    CONF_LISTENER_SECRET,
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
    data: CellularIoTData | None = getattr(entry, "runtime_data", None)
    kind = KINDS.get(str(entry.data.get(CONF_KIND)))
    if data is not None and kind is not None:
        runtime = kind.diagnostics(data)
    outbox = getattr(data, "outbox", None)
    if outbox is not None:
        runtime["outbox"] = {
            "depth": outbox.depth,
            "delivered": outbox.delivered,
            "given_up": outbox.given_up,
            "waiting": [
                {
                    "action": item.action,
                    "targets": list(item.targets),
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
            TO_REDACT | kind.redact if kind is not None else TO_REDACT,
        )
    )
    return redacted

"""The broker settings of a monoZ entry: client ids, client settings, TLS.

Shared by the entry's setup (``broker.py``) and its config flow (``flow.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import secrets
import ssl
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import instance_id
from homeassistant.util.ssl import client_context, client_context_no_verify

from ...const import (
    CONF_CLIENT_ID,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_UPLINK_TOPIC,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
)
from ...providers.monoz import default_uplink_filters, legacy_uplink_filter
from ...providers.mqtt import MqttSettings

# Derived client ids: letters and digits, 23 characters (what MQTT 3.1.1 requires
# every broker to accept).
CLIENT_ID_PREFIX: Final = "hacelliot"
CLIENT_ID_LENGTH: Final = 23


def derived_client_id(instance: str, entry_id: str) -> str:
    """Return the client id of an entry of this Home Assistant installation.

    Stable across restarts (both ids are stored), different for every entry and every
    installation, and it reveals neither id to the broker.
    """
    digest = hashlib.sha256(f"{instance}:{entry_id}".encode()).hexdigest()
    return CLIENT_ID_PREFIX + digest[: CLIENT_ID_LENGTH - len(CLIENT_ID_PREFIX)]


def throwaway_client_id() -> str:
    """Return a random client id for a one-off connection (clean session)."""
    size = CLIENT_ID_LENGTH - len(CLIENT_ID_PREFIX)
    return CLIENT_ID_PREFIX + secrets.token_hex(size)[:size]


async def async_client_id(
    hass: HomeAssistant, entry_id: str, broker: Mapping[str, Any]
) -> str:
    """Return the client id the user chose, or the one derived for the entry."""
    chosen: str = broker.get(CONF_CLIENT_ID) or ""
    if chosen:
        return chosen
    return derived_client_id(await instance_id.async_get(hass), entry_id)


def mqtt_settings(
    broker: Mapping[str, Any],
    *,
    persistent_session: bool = False,
    client_id: str | None = None,
) -> MqttSettings:
    """Return the client settings stored in an entry's ``mqtt`` data."""
    return MqttSettings(
        persistent_session=persistent_session,
        host=broker[CONF_HOST],
        port=int(broker[CONF_PORT]),
        username=broker.get(CONF_USERNAME) or None,
        password=broker.get(CONF_PASSWORD) or None,
        client_id=client_id
        if client_id is not None
        else broker.get(CONF_CLIENT_ID) or "",
        tls=bool(broker.get(CONF_TLS)),
        verify_tls=bool(broker.get(CONF_VERIFY_TLS, True)),
    )


def sends_password_in_clear(broker: Mapping[str, Any]) -> bool:
    """Return whether the broker settings send a password without TLS."""
    return bool(broker.get(CONF_PASSWORD)) and not broker.get(CONF_TLS)


def tls_context(broker: Mapping[str, Any]) -> ssl.SSLContext | None:
    """Return Home Assistant's ready-made client context (no file I/O in the loop)."""
    if not broker.get(CONF_TLS):
        return None
    if broker.get(CONF_VERIFY_TLS, True):
        return client_context()
    return client_context_no_verify()


def uplink_filters(broker: Mapping[str, Any]) -> list[str]:
    """Return the uplink filters of an entry's ``mqtt`` data (none: subscribe to nothing).

    Stored as a list; entries of earlier versions stored one filter as a string.
    """
    value = broker.get(CONF_UPLINK_TOPIC)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [item.strip() for item in value if isinstance(item, str) and item.strip()]


def migrate_broker(org_id: str, broker: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``mqtt`` data of an earlier version with the uplink filters as a list.

    The old default ``/<org>/+/pub/#`` heard only ``/<org>/<iccid>/pub…``: it becomes
    the filters of every documented shape (which still hear it). A filter the user
    typed stays as it was; an empty one stays empty (subscribe to nothing).
    """
    data = dict(broker)
    value = data.get(CONF_UPLINK_TOPIC)
    if isinstance(value, str) and value.strip() == legacy_uplink_filter(org_id):
        data[CONF_UPLINK_TOPIC] = default_uplink_filters(org_id)
    elif CONF_UPLINK_TOPIC in data:
        data[CONF_UPLINK_TOPIC] = uplink_filters(data)
    return data

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
    CONF_USERNAME,
    CONF_VERIFY_TLS,
)
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

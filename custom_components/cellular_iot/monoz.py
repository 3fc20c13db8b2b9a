"""Wiring of a monoz entry: the REST client, the optional broker and its uplinks."""

from __future__ import annotations

from collections.abc import Mapping
import ssl
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util.ssl import client_context, client_context_no_verify

from .const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_HOST,
    CONF_MQTT,
    CONF_ORG_ID,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_UPLINK_TOPIC,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    LOGGER,
    EntryKind,
    signal_state,
)
from .events import async_fire_message, message_event
from .models import CellularIoTConfigEntry, MonozData
from .providers.monoz import MonozClient, iccid_from_topic
from .providers.mqtt import MqttClient, MqttMessage, MqttSettings

MONOZ_MQTT_OPERATION: Final = "monoz_mqtt"
# An uplink larger than this is dropped (monoZ documents 6 KB per message).
MAX_UPLINK_BYTES: Final = 64 * 1024


def mqtt_settings(
    broker: Mapping[str, Any], *, persistent_session: bool = False
) -> MqttSettings:
    """Return the client settings stored in an entry's ``mqtt`` data."""
    return MqttSettings(
        persistent_session=persistent_session,
        host=broker[CONF_HOST],
        port=int(broker[CONF_PORT]),
        username=broker.get(CONF_USERNAME) or None,
        password=broker.get(CONF_PASSWORD) or None,
        client_id=broker.get(CONF_CLIENT_ID) or "",
        tls=bool(broker.get(CONF_TLS)),
        verify_tls=bool(broker.get(CONF_VERIFY_TLS, True)),
    )


def tls_context(broker: Mapping[str, Any]) -> ssl.SSLContext | None:
    """Return Home Assistant's ready-made client context (no file I/O in the loop)."""
    if not broker.get(CONF_TLS):
        return None
    if broker.get(CONF_VERIFY_TLS, True):
        return client_context()
    return client_context_no_verify()


def uplink_event(entry_id: str, org_id: str, message: MqttMessage) -> dict[str, Any]:
    """Build the event data of an MQTT uplink."""
    return message_event(
        provider=EntryKind.MONOZ.value,
        source="mqtt",
        entry_id=entry_id,
        payload=message.payload,
        iccid=iccid_from_topic(org_id, message.topic),
        topics=[message.topic],
        qos=message.qos,
    )


async def async_setup_monoz(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> MonozData:
    """Prove the API key; with a broker, start the MQTT client in the background.

    A broker that is down does not keep the entry from loading: REST downlinks work,
    and the client reconnects with backoff (its state is a binary sensor).
    """
    org_id: str = entry.data[CONF_ORG_ID]
    client = MonozClient(
        async_get_clientsession(hass), org_id, entry.data[CONF_API_KEY]
    )
    await client.validate()
    runtime = MonozData(kind=EntryKind.MONOZ, client=client, mqtt=None)
    broker: Mapping[str, Any] | None = entry.data.get(CONF_MQTT)
    if not broker:
        return runtime

    @callback
    def on_message(message: MqttMessage) -> None:
        if message.retain:
            # A retained message is an old one the broker replays on (re)subscribe.
            LOGGER.debug("Ignoring the retained message on %s", message.topic)
            return
        if len(message.payload) > MAX_UPLINK_BYTES:
            LOGGER.warning(
                "Dropped an uplink of %s bytes on %s (limit %s)",
                len(message.payload),
                message.topic,
                MAX_UPLINK_BYTES,
            )
            return
        event = uplink_event(entry.entry_id, org_id, message)
        runtime.last_message = event
        runtime.received += 1
        async_fire_message(hass, entry.entry_id, event)

    @callback
    def on_connection_change(connected: bool) -> None:
        async_dispatcher_send(hass, signal_state(entry.entry_id))
        if connected and runtime.outbox is not None:
            # Downlinks queued while the broker was away go out now.
            runtime.outbox.wake(MONOZ_MQTT_OPERATION)

    runtime.uplink_topic = broker.get(CONF_UPLINK_TOPIC) or None
    runtime.mqtt = MqttClient(
        # The broker keeps queuing uplinks for this client id while HA is away.
        mqtt_settings(broker, persistent_session=True),
        subscriptions=[(runtime.uplink_topic, 1)] if runtime.uplink_topic else [],
        on_message=on_message,
        on_connection_change=on_connection_change,
        ssl_context=tls_context(broker),
    )
    await runtime.mqtt.start()
    return runtime

"""Wiring of a monoZ entry: the REST client, the optional broker and its uplinks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
import logging
import re
import secrets
import time
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ...availability import LINK_API, LINK_BROKER, Reachability
from ...const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_HOST,
    CONF_MQTT,
    CONF_ORG_ID,
    CONF_PORT,
    DOMAIN,
    LOGGER,
    EntryKind,
    signal_state,
)
from ...events import async_fire_message, message_event
from ...models import AccountData, CellularIoTConfigEntry
from ...providers.errors import ProviderError
from ...providers.monoz import MonozClient, is_downlink_topic, split_uplink_topic
from ...providers.mqtt import (
    MqttClient,
    MqttMessage,
    MqttProblem,
)
from .settings import (
    CLIENT_ID_PREFIX,
    async_client_id,
    derived_client_id,
    mqtt_settings,
    sends_password_in_clear,
    tls_context,
    uplink_filters,
)

__all__ = [
    "MAX_UPLINK_BYTES",
    "MONOZ_MQTT_OPERATION",
    "UPLINK_BURST",
    "MonozData",
    "async_setup_monoz",
    "derived_client_id",
]

MONOZ_MQTT_OPERATION: Final = "monoz_mqtt"
# An uplink larger than this is dropped. monoZ documents 6 KB per message; 10 KB keeps
# the event (text plus base64) under the recorder's 32 KB limit for event data.
MAX_UPLINK_BYTES: Final = 10 * 1024
# Uplinks per entry: a burst of UPLINK_BURST, then UPLINK_RATE per second; beyond that
# they are dropped (counted in the diagnostics), so a flood cannot fill the database.
UPLINK_RATE: Final = 20.0
UPLINK_BURST: Final = 100
# What earlier versions generated and stored when the client ID was left empty.
_LEGACY_GENERATED_ID: Final = re.compile(r"ha-cellular-iot-[0-9a-f]{8}")
# Each step of handing that session over (connect, end) gets this long; the broker
# sends what it queued right after accepting the connection, so a marker that does
# not come back within DRAIN_TIMEOUT (a broker whose ACL drops it) ends the wait.
RETIRE_TIMEOUT: Final = 30.0
DRAIN_TIMEOUT: Final = 10.0
# Topics the retirement publishes to itself; never an uplink.
_RETIRE_TOPIC_PREFIX: Final = f"{CLIENT_ID_PREFIX}/retire/"


@dataclass(slots=True)
class MonozData(AccountData):
    """A loaded monoZ account: its REST client and, with a broker, its MQTT client."""

    client: MonozClient
    mqtt: MqttClient | None
    uplink_topics: list[str] = field(default_factory=list)
    last_message: dict[str, Any] | None = None
    received: int = 0
    # Uplinks dropped: over the size limit or the rate limit.
    uplinks_dropped: int = 0

    @property
    def broker(self) -> MqttClient | None:
        """The MQTT broker connection, with a broker configured."""
        return self.mqtt


def monotonic() -> float:
    """Return the clock of the uplink rate limit (tests substitute their own)."""
    return time.monotonic()


class UplinkLimiter:
    """A token bucket: ``burst`` uplinks at once, then ``rate`` per second."""

    def __init__(self, rate: float = UPLINK_RATE, burst: int = UPLINK_BURST) -> None:
        """Start full."""
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = monotonic()
        self.dropped = 0
        self.limiting = False

    def allow(self) -> bool:
        """Take a token if there is one; count the uplink as dropped otherwise."""
        now = monotonic()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.dropped += 1
        return False


def uplink_event(entry_id: str, org_id: str, message: MqttMessage) -> dict[str, Any]:
    """Build the event data of an MQTT uplink.

    ``iccid`` and ``topics`` as :func:`split_uplink_topic` finds them; ``topic`` is
    the whole MQTT topic.
    """
    iccid, topics = split_uplink_topic(org_id, message.topic)
    return message_event(
        provider=EntryKind.MONOZ.value,
        source="mqtt",
        entry_id=entry_id,
        payload=message.payload,
        iccid=iccid,
        topics=topics,
        topic=message.topic,
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
    reachability = Reachability(hass, entry.entry_id, entry.title)
    reachability.add_link(LINK_API, "the monoZ API", probe=client.validate)
    client.observer = partial(reachability.report, LINK_API)
    entry.async_on_unload(reachability.stop)
    runtime = MonozData(
        kind=EntryKind.MONOZ, client=client, mqtt=None, reachability=reachability
    )
    broker: Mapping[str, Any] | None = entry.data.get(CONF_MQTT)
    if not broker:
        return runtime
    # A client id that an earlier version generated is replaced by the derived one;
    # its session at the broker is handed over and ended once the new one is up.
    legacy_id = broker.get(CONF_CLIENT_ID) or ""
    if not _LEGACY_GENERATED_ID.fullmatch(legacy_id):
        legacy_id = ""
    client_id = await async_client_id(
        hass, entry.entry_id, {**broker, CONF_CLIENT_ID: ""} if legacy_id else broker
    )
    subscribed = asyncio.Event()
    if sends_password_in_clear(broker):
        LOGGER.warning(
            "%s sends its MQTT username and password to %s:%s without TLS: anyone "
            "on the network path can read them. Turn on TLS in the broker settings "
            "(Reconfigure) if the broker offers it",
            entry.title,
            broker[CONF_HOST],
            broker[CONF_PORT],
        )
    limiter = UplinkLimiter()
    oversized = 0

    @callback
    def on_message(message: MqttMessage) -> None:
        nonlocal oversized
        if message.retain:
            # A retained message is an old one the broker replays on (re)subscribe.
            LOGGER.debug("Ignoring the retained message on %s", message.topic)
            return
        if message.topic.startswith(_RETIRE_TOPIC_PREFIX):
            return  # our own marker, seen through a filter such as "#"
        if is_downlink_topic(org_id, message.topic):
            # /<org>/<iccid>/sub…: a downlink (ours, or the portal's), which the
            # filter "+/<org>/+/#" hears too. Not an uplink.
            return
        if len(message.payload) > MAX_UPLINK_BYTES:
            oversized += 1
            runtime.uplinks_dropped += 1
            LOGGER.log(
                logging.WARNING if oversized == 1 else logging.DEBUG,
                "%s: dropped an uplink of %s bytes on %s (limit %s bytes; further "
                "ones are logged at debug level and counted in the diagnostics)",
                entry.title,
                len(message.payload),
                message.topic,
                MAX_UPLINK_BYTES,
            )
            return
        if not limiter.allow():
            runtime.uplinks_dropped += 1
            if not limiter.limiting:
                limiter.limiting = True
                LOGGER.warning(
                    "%s: more than %s uplinks at once (%s per second sustained); "
                    "dropping uplinks until the rate falls",
                    entry.title,
                    UPLINK_BURST,
                    UPLINK_RATE,
                )
            return
        if limiter.limiting:
            limiter.limiting = False
            LOGGER.info(
                "%s: uplinks are accepted again (%s dropped so far)",
                entry.title,
                limiter.dropped,
            )
        event = uplink_event(entry.entry_id, org_id, message)
        runtime.last_message = event
        runtime.received += 1
        async_fire_message(hass, entry.entry_id, event)

    @callback
    def on_connection_change(connected: bool) -> None:
        if connected:
            subscribed.set()
        # Logs the loss and the return once each; the entities follow.
        reachability.report(LINK_BROKER, None if connected else "connection lost")
        async_dispatcher_send(hass, signal_state(entry.entry_id))
        if connected and runtime.outbox is not None:
            # Downlinks queued while the broker was away go out now.
            runtime.outbox.wake(MONOZ_MQTT_OPERATION)

    @callback
    def on_problem(problem: MqttProblem, active: bool) -> None:
        issue_id = _issue_id(problem, entry.entry_id)
        if not active:
            LOGGER.info("%s: %s is over", entry.title, problem.value)
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            return
        if problem is MqttProblem.FLAPPING:
            LOGGER.warning(
                "%s: the MQTT broker %s:%s keeps closing the connection soon after "
                "accepting it. Most likely another client uses the same client ID "
                "(%s), for example a second Home Assistant restored from a backup "
                "of this one; give one of them its own client ID (Reconfigure)",
                entry.title,
                broker[CONF_HOST],
                broker[CONF_PORT],
                client_id,
            )
        else:
            LOGGER.warning(
                "%s: the MQTT broker %s:%s refuses the username or password; "
                "retrying with growing delays. Enter the right ones (Reconfigure)",
                entry.title,
                broker[CONF_HOST],
                broker[CONF_PORT],
            )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING
            if problem is MqttProblem.FLAPPING
            else ir.IssueSeverity.ERROR,
            translation_key=f"mqtt_{problem.value}",
            translation_placeholders={
                "title": entry.title,
                "broker": f"{broker[CONF_HOST]}:{broker[CONF_PORT]}",
                "client_id": client_id,
            },
        )

    @callback
    def clear_issues() -> None:
        for problem in MqttProblem:
            ir.async_delete_issue(hass, DOMAIN, _issue_id(problem, entry.entry_id))

    entry.async_on_unload(clear_issues)
    runtime.uplink_topics = uplink_filters(broker)
    runtime.mqtt = MqttClient(
        # The broker keeps queuing uplinks for this client id while HA is away.
        mqtt_settings(broker, persistent_session=True, client_id=client_id),
        subscriptions=[(topic, 1) for topic in runtime.uplink_topics],
        on_message=on_message,
        on_connection_change=on_connection_change,
        on_problem=on_problem,
        on_connect_failed=partial(reachability.report, LINK_BROKER),
        ssl_context=tls_context(broker),
    )
    mqtt_client = runtime.mqtt
    reachability.add_link(
        LINK_BROKER,
        f"the MQTT broker {broker[CONF_HOST]}:{broker[CONF_PORT]}",
        is_up=lambda: mqtt_client.connected,
    )
    await runtime.mqtt.start()
    if legacy_id:
        entry.async_create_background_task(
            hass,
            _async_retire_client_id(hass, entry, legacy_id, subscribed, on_message),
            f"{DOMAIN} retire MQTT client ID {entry.entry_id}",
        )
    return runtime


def _issue_id(problem: MqttProblem, entry_id: str) -> str:
    return f"mqtt_{problem.value}_{entry_id}"


async def _async_retire_client_id(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry,
    old_id: str,
    subscribed: asyncio.Event,
    deliver: Callable[[MqttMessage], None],
) -> None:
    """Move an entry off the client id an earlier version generated, losing nothing.

    That ``ha-cellular-iot-<8 hex>`` was random per entry, yet a backup copies it like
    everything else, and it is one character over MQTT 3.1.1's 23. Once the derived
    client id is connected and subscribed (new uplinks reach it), the old persistent
    session is resumed once: the broker hands over the uplinks it queued for it
    (delivered as events), which ends with a marker message this client publishes to
    itself; a clean-session connect then ends the old session, and the entry stops
    storing the id. Until that has worked, every start tries again.
    """
    broker: Mapping[str, Any] = entry.data[CONF_MQTT]
    await subscribed.wait()
    marker = f"{_RETIRE_TOPIC_PREFIX}{secrets.token_hex(8)}"
    drained = asyncio.Event()

    def relay(message: MqttMessage) -> None:
        if message.topic == marker:
            drained.set()
        else:
            deliver(message)

    old = MqttClient(
        mqtt_settings(broker, persistent_session=True, client_id=old_id),
        subscriptions=[(marker, 1)],
        on_message=relay,
        ssl_context=tls_context(broker),
    )
    clean = MqttClient(
        mqtt_settings(broker, client_id=old_id), ssl_context=tls_context(broker)
    )
    try:
        await old.start(wait=True, timeout=RETIRE_TIMEOUT)
        try:
            await old.publish(marker, b"", 1, timeout=DRAIN_TIMEOUT)
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await drained.wait()
        except (ProviderError, TimeoutError):
            LOGGER.debug("%s: no drain marker; the queue was sent by now", entry.title)
        await old.stop()
        await clean.start(wait=True, timeout=RETIRE_TIMEOUT)
    except (ProviderError, TimeoutError) as err:
        LOGGER.debug("%s: the old MQTT client ID stays for now: %s", entry.title, err)
        return
    finally:
        await old.stop()
        await clean.stop()
    current: Mapping[str, Any] = entry.data.get(CONF_MQTT) or {}
    if current.get(CONF_CLIENT_ID) != old_id:
        return  # reconfigured meanwhile
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_MQTT: {**current, CONF_CLIENT_ID: ""}}
    )
    LOGGER.info(
        "%s: the MQTT client ID %s generated by an earlier version is replaced by "
        "one derived from this installation and entry; its session at the broker "
        "was handed over and ended",
        entry.title,
        old_id,
    )

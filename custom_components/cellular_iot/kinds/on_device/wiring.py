"""Wiring of an on_device entry: the listener's messages become HA events.

Who may send (the allowed networks), how often (messages a minute per sender) and the
optional shared secret every message must start with are the entry's options. An
entry without them (created before they existed) gets the defaults: loopback and the
private ranges, 30 messages a minute, no secret.

Two repair issues: a listener beyond loopback that lets every address send, and a UDP
listener beyond loopback without a secret (a datagram's source address can be forged,
so its allowed networks prove nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir

from ...const import (
    CONF_DEVICE_KEY,
    CONF_DEVICE_KEY_LEGACY,
    CONF_HOST,
    CONF_LISTENER_SECRET,
    CONF_PORT,
    CONF_PROTOCOL,
    DOMAIN,
    LOGGER,
    EntryKind,
)
from ...events import async_fire_message, message_event as build_event
from ...models import CellularIoTConfigEntry, CellularIoTData
from ...providers.hologram_socket import CREDENTIAL_LENGTH, HologramSocketClient
from ...providers.listener import (
    DEFAULT_ALLOWED_NETWORKS,
    DEFAULT_RATE_LIMIT,
    Listener,
    ReceivedMessage,
    is_loopback_host,
    open_to_all,
    parse_networks,
)

# Options of on_device entries.
CONF_ALLOWED_NETWORKS: Final = "allowed_networks"
CONF_RATE_LIMIT: Final = "rate_limit"
RATE_LIMIT_MAX: Final = 600
ISSUE_OPEN_TO_ALL: Final = "listener_open_to_all"
ISSUE_UDP_WITHOUT_SECRET: Final = "listener_udp_without_secret"  # noqa: S105 - an id


@dataclass(slots=True)
class OnDeviceData(CellularIoTData):
    """The listener of an on_device entry and its optional Socket API client."""

    listener: Listener
    socket: HologramSocketClient | None
    last_message: dict[str, Any] | None = None
    received: int = 0
    errors: list[str] = field(default_factory=list)


def socket_client(data: Mapping[str, Any]) -> HologramSocketClient | None:
    """Return the Socket API client of an entry's device key, if it has one.

    A key migrated from the legacy credentials (``device_key_legacy``) keeps
    sending the legacy frame with its two halves, the source ID and the key.
    """
    key = data.get(CONF_DEVICE_KEY)
    if not isinstance(key, str) or not key:
        return None
    try:
        if data.get(CONF_DEVICE_KEY_LEGACY):
            return HologramSocketClient(
                key[CREDENTIAL_LENGTH:], source_id=key[:CREDENTIAL_LENGTH]
            )
        return HologramSocketClient(key)
    except ValueError:
        # Only a hand-edited store gets here: the flow checks the key's form.
        LOGGER.error(
            "The stored Hologram device key is not 8 printable characters: "
            "send_to_cloud and send_sms stay off until it is entered again"
        )
        return None


def listener_options(options: Mapping[str, Any]) -> tuple[list[str], int]:
    """Return the allowed networks and rate limit of an entry (defaults if absent)."""
    allowed = options.get(CONF_ALLOWED_NETWORKS)
    if not isinstance(allowed, list):
        allowed = list(DEFAULT_ALLOWED_NETWORKS)
    rate = options.get(CONF_RATE_LIMIT)
    if not isinstance(rate, int) or not 1 <= rate <= RATE_LIMIT_MAX:
        rate = DEFAULT_RATE_LIMIT
    return [str(network) for network in allowed], rate


def listener_secret(options: Mapping[str, Any]) -> str | None:
    """Return the entry's shared secret, or None when messages need none."""
    secret = options.get(CONF_LISTENER_SECRET)
    return secret if isinstance(secret, str) and secret else None


def default_listener_options() -> dict[str, Any]:
    """Return the options a new on_device entry starts with."""
    return {
        CONF_ALLOWED_NETWORKS: list(DEFAULT_ALLOWED_NETWORKS),
        CONF_RATE_LIMIT: DEFAULT_RATE_LIMIT,
    }


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
        authenticated=message.authenticated,
    )


def _issue_id(entry: CellularIoTConfigEntry, issue: str = ISSUE_OPEN_TO_ALL) -> str:
    return f"{issue}_{entry.entry_id}"


def _checked_options(
    entry: CellularIoTConfigEntry, options: Mapping[str, Any]
) -> tuple[list[str], int]:
    """Return the allowed networks and rate; the defaults for a corrupt list."""
    allowed, rate = listener_options(options)
    try:
        parse_networks(allowed)
    except ValueError as err:
        # Only a hand-edited store gets here: the options flow checks every network.
        LOGGER.error(
            "The allowed networks of %s hold %s, which is not a network: using the "
            "defaults (loopback and private ranges)",
            entry.title,
            err,
        )
        allowed = list(DEFAULT_ALLOWED_NETWORKS)
    return allowed, rate


@callback
def _async_set_issue(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, issue: str, up: bool
) -> None:
    if up:
        ir.async_create_issue(
            hass,
            DOMAIN,
            _issue_id(entry, issue),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue,
            translation_placeholders={
                "title": entry.title,
                "protocol": str(entry.data[CONF_PROTOCOL]),
                "port": str(entry.data[CONF_PORT]),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(entry, issue))


@callback
def async_update_open_issue(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, listener: Listener
) -> None:
    """Raise the repair issues of a listener reachable beyond loopback.

    One while anyone may send; one while it takes UDP without a secret (a forged
    source address passes any allowed networks).
    """
    beyond_loopback = not is_loopback_host(entry.data.get(CONF_HOST, ""))
    _async_set_issue(
        hass,
        entry,
        ISSUE_OPEN_TO_ALL,
        beyond_loopback and open_to_all(listener.allowed or ()),
    )
    _async_set_issue(
        hass,
        entry,
        ISSUE_UDP_WITHOUT_SECRET,
        beyond_loopback and listener.protocol == "UDP" and not listener.has_secret,
    )


@callback
def async_apply_listener_options(
    hass: HomeAssistant, entry: CellularIoTConfigEntry, options: Mapping[str, Any]
) -> None:
    """Give the running listener new options (no rebind); raise or clear the issue."""
    runtime = getattr(entry, "runtime_data", None)
    if not isinstance(runtime, OnDeviceData):
        return
    allowed, rate = _checked_options(entry, options)
    runtime.listener.configure(
        allowed=allowed, rate_limit=rate, secret=listener_secret(options)
    )
    async_update_open_issue(hass, entry, runtime.listener)


async def async_setup_on_device(
    hass: HomeAssistant, entry: CellularIoTConfigEntry
) -> OnDeviceData:
    """Start the listener; a port that cannot be bound retries later."""
    socket = socket_client(entry.data)
    runtime: OnDeviceData

    @callback
    def on_message(message: ReceivedMessage) -> None:
        event = message_event(entry.entry_id, message)
        runtime.last_message = event
        runtime.received += 1
        async_fire_message(hass, entry.entry_id, event)

    allowed, rate = _checked_options(entry, entry.options)
    listener = Listener(
        entry.data[CONF_PROTOCOL],
        entry.data.get(CONF_HOST, ""),
        entry.data[CONF_PORT],
        on_message,
        allowed=allowed,
        rate_limit=rate,
        secret=listener_secret(entry.options),
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
    async_update_open_issue(hass, entry, listener)
    for issue in (ISSUE_OPEN_TO_ALL, ISSUE_UDP_WITHOUT_SECRET):
        entry.async_on_unload(
            partial(ir.async_delete_issue, hass, DOMAIN, _issue_id(entry, issue))
        )
    LOGGER.debug(
        "Listening for cloud messages on %s port %s",
        entry.data[CONF_PROTOCOL],
        listener.port,
    )
    return runtime

"""Constants of the cellular_iot integration."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "cellular_iot"
LOGGER = logging.getLogger(__package__)


class EntryKind(StrEnum):
    """The kinds of config entry of this release (``kinds.KINDS`` holds what each is)."""

    HOLOGRAM = "hologram"
    EMNIFY = "emnify"
    MONOZ = "monoz"
    ON_DEVICE = "on_device"


# Config entry data keys.
CONF_KIND: Final = "kind"
CONF_API_KEY: Final = "api_key"
CONF_ORG_ID: Final = "org_id"
CONF_USER_ID: Final = "user_id"
CONF_APPLICATION_TOKEN: Final = "application_token"  # noqa: S105 - a key name
ATTR_EXPIRY: Final = "expiry"

# Action names (DESIGN.md).
SERVICE_SEND_CLOUD_MESSAGE: Final = "send_cloud_message"
SERVICE_SEND_SMS: Final = "send_sms"
SERVICE_PUBLISH_DOWNLINK: Final = "publish_downlink"
SERVICE_SEND_TO_DEVICE_WEBHOOK: Final = "send_to_device_webhook"
SERVICE_SEND_TO_CLOUD: Final = "send_to_cloud"
SERVICE_SET_SIM_STATE: Final = "set_sim_state"

# Action fields (DESIGN.md).
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_DEVICE_IDS: Final = "device_ids"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_PORT: Final = "port"
ATTR_PROTOCOL: Final = "protocol"
ATTR_DATA: Final = "data"
ATTR_DATA_BASE64: Final = "data_base64"
ATTR_ENCRYPTED: Final = "encrypted"
# A downlink held until the device is next active (1NCE OS: SEND_WHEN_ACTIVE).
ATTR_SEND_WHEN_ACTIVE: Final = "send_when_active"
ATTR_MESSAGE: Final = "message"
ATTR_PHONE_NUMBER: Final = "phone_number"
ATTR_SENDER: Final = "sender"
ATTR_WEBHOOK_URL: Final = "webhook_url"

EVENT_MESSAGE_RECEIVED: Final = "cellular_iot_message_received"

# on_device entries.
CONF_PROTOCOL: Final = "protocol"
CONF_PORT: Final = "port"
CONF_HOST: Final = "host"
# The Socket API's 8-character device key; entries of minor version 2 and before
# held the legacy pair (source_id, source_key) instead: since 1.3 that pair is the
# device key (source ID + key) with device_key_legacy set (kinds/on_device/flow.py).
CONF_DEVICE_KEY: Final = "device_key"
CONF_DEVICE_KEY_LEGACY: Final = "device_key_legacy"
CONF_REMOVE_DEVICE_KEY: Final = "remove_device_key"
# The on_device listener's shared secret (an option): every message starts with it.
CONF_LISTENER_SECRET: Final = "listener_secret"  # noqa: S105 - a key name
CONF_REMOVE_LISTENER_SECRET: Final = "remove_listener_secret"  # noqa: S105 - a key name
CONF_SOURCE_ID: Final = "source_id"
CONF_SOURCE_KEY: Final = "source_key"
DEFAULT_LISTENER_PORT: Final = 4010
ATTR_TOPICS: Final = "topics"

# monoz entries: the broker settings live in data["mqtt"] (absent without a broker).
CONF_MQTT: Final = "mqtt"
CONF_USE_MQTT: Final = "use_mqtt"
CONF_TLS: Final = "tls"
CONF_VERIFY_TLS: Final = "verify_tls"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"  # noqa: S105 - a key name
CONF_CLIENT_ID: Final = "client_id"
CONF_UPLINK_TOPIC: Final = "uplink_topic"
ATTR_ICCID: Final = "iccid"
ATTR_TOPIC: Final = "topic"
ATTR_QOS: Final = "qos"
ATTR_FORMAT: Final = "format"
ATTR_VIA: Final = "via"

# Inbound webhook of account entries: the id in data, the shared secret in options
# (rotating it from the options flow needs no reload).
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_WEBHOOK_SECRET: Final = "webhook_secret"  # noqa: S105 - a key name
# The Home Assistant Cloud URL of the webhook, when the account was given one.
CONF_CLOUDHOOK_URL: Final = "cloudhook_url"
# The documentation pages, as the forms link them.
DOCS_URL: Final = "https://github.com/cellular-iot/cellular_iot/blob/main/docs"
CONF_ROTATE_SECRET: Final = "rotate_secret"  # noqa: S105 - a key name

# Devices under an account: config subentries of type "device".
SUBENTRY_DEVICE: Final = "device"
CONF_NAME: Final = "name"
CONF_SEND_AS: Final = "send_as"
SEND_AS_CLOUD_MESSAGE: Final = "cloud_message"
SEND_AS_SMS: Final = "sms"
ATTR_DEVICE: Final = "device"
ATTR_STATE: Final = "state"
# Internal: the provider id an action resolved (device_id, or a monoZ ICCID).
ATTR_PROVIDER_ID: Final = "provider_id"


def signal_message(entry_id: str) -> str:
    """Dispatcher signal sent when an entry received a message."""
    return f"{DOMAIN}_{entry_id}_message"


def signal_state(entry_id: str) -> str:
    """Dispatcher signal sent when an entry's connection state changed."""
    return f"{DOMAIN}_{entry_id}_state"


# Hologram accounts: how inbound messages arrive (options). Routes (webhooks) are
# limited to certain legacy organizations; every account can be polled.
CONF_INBOUND_MODE: Final = "inbound_mode"
INBOUND_WEBHOOK: Final = "webhook"
INBOUND_POLLING: Final = "polling"
INBOUND_BOTH: Final = "both"
INBOUND_MODES: Final = (INBOUND_POLLING, INBOUND_WEBHOOK, INBOUND_BOTH)
# The event's ``source`` for a message read from the provider's REST API.
SOURCE_POLL: Final = "poll"

# Until 1.4, accounts stored a SIM refresh interval chosen by the user (options);
# the integration chooses it now, and the migration to 1.4 drops the stored one.
LEGACY_CONF_SIM_INTERVAL: Final = "sim_interval"

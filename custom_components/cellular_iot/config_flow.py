"""Config flow of the cellular_iot integration: one menu step per entry kind."""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
from typing import Any

import voluptuous as vol

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import (
    ACCOUNT_KINDS,
    CONF_API_KEY,
    CONF_APPLICATION_TOKEN,
    CONF_CLIENT_ID,
    CONF_HOST,
    CONF_KIND,
    CONF_MQTT,
    CONF_ORG_ID,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_ROTATE_SECRET,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    CONF_TLS,
    CONF_UPLINK_TOPIC,
    CONF_USE_MQTT,
    CONF_USER_ID,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DEFAULT_LISTENER_PORT,
    DOMAIN,
    LOGGER,
    SUBENTRY_DEVICE,
    EntryKind,
)
from .inbound_webhook import new_webhook_secret, url_with_secret, webhook_url
from .kinds.monoz.broker import (
    async_client_id,
    mqtt_settings,
    throwaway_client_id,
    tls_context,
)
from .kinds.on_device.wiring import (
    CONF_ALLOWED_NETWORKS,
    CONF_RATE_LIMIT,
    RATE_LIMIT_MAX,
    async_apply_listener_options,
    default_listener_options,
    listener_options,
)
from .outbox import (
    CONF_OUTBOX_MAX_AGE,
    CONF_OUTBOX_MAX_DEPTH,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_MAX_DEPTH,
    MAX_DEPTH_RANGE,
)
from .providers.emnify import EmnifyAccount, EmnifyClient
from .providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFoundError,
)
from .providers.hologram import HologramClient, HologramUser
from .providers.hologram_socket import validate_credentials
from .providers.listener import Listener, parse_networks
from .providers.monoz import (
    DEFAULT_BROKER_HOST,
    DEFAULT_BROKER_PORT,
    MonozClient,
    default_uplink_filter,
    valid_org_id,
)
from .providers.mqtt import (
    MqttClient,
    MqttClientIdRejectedError,
    MqttTlsError,
    valid_topic_filter,
)
from .subentry_flow import PORT, DeviceSubentryFlow

# Where to paste the webhook URL at each provider (one line, shown with the URL).
WEBHOOK_HINTS: dict[EntryKind, str] = {
    EntryKind.HOLOGRAM: (
        "Hologram Dashboard → Routes → New route → Advanced Webhook Builder: paste "
        "the URL with the secret and use the JSON template from the README"
    ),
    EntryKind.EMNIFY: (
        "emnify Portal → Integrations → Data Streamer (Webhook) or a service "
        "profile's API callback URL; give the secret as the API secret"
    ),
    EntryKind.MONOZ: (
        "monoZ:Link → Configuration → Add Configuration → Webhook: paste the URL, "
        "Authorization Bearer Token = the secret"
    ),
}

# Form texts name the provider of the entry: these fill the {provider},
# {credential} and {account} placeholders of strings.json (errors included).
PROVIDER_PLACEHOLDERS: dict[EntryKind, dict[str, str]] = {
    EntryKind.HOLOGRAM: {
        "provider": "Hologram",
        "credential": "API key",
        "account": "Hologram account",
    },
    EntryKind.EMNIFY: {
        "provider": "emnify",
        "credential": "application token",
        "account": "emnify organization",
    },
    EntryKind.MONOZ: {
        "provider": "monoZ",
        "credential": "API key",
        "account": "monoZ organization",
    },
}

_SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT = TextSelector()

HOLOGRAM_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_API_KEY): _SECRET,
        vol.Optional(CONF_ORG_ID): _TEXT,
    }
)
ON_DEVICE_SCHEMA = vol.Schema(
    {
        # TCP and UDP read the same in every language (and hassfest allows only
        # lower-case option keys in strings.json): no translation_key.
        vol.Required(CONF_PROTOCOL, default="TCP"): SelectSelector(
            SelectSelectorConfig(options=["TCP", "UDP"], mode=SelectSelectorMode.LIST)
        ),
        vol.Required(CONF_PORT, default=DEFAULT_LISTENER_PORT): PORT,
        vol.Optional(CONF_HOST): _TEXT,
        vol.Optional(CONF_SOURCE_ID): _TEXT,
        vol.Optional(CONF_SOURCE_KEY): _SECRET,
    }
)
EMNIFY_SCHEMA = vol.Schema({vol.Required(CONF_APPLICATION_TOKEN): _SECRET})
MONOZ_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_ORG_ID): _TEXT,
        vol.Required(CONF_API_KEY): _SECRET,
        vol.Required(CONF_USE_MQTT, default=False): BooleanSelector(),
    }
)
MONOZ_RECONFIGURE_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_API_KEY): _SECRET,
        vol.Required(CONF_USE_MQTT, default=False): BooleanSelector(),
    }
)


def monoz_mqtt_schema(org_id: str) -> vol.Schema:
    """Return the broker form; its defaults point at monoZ's own broker.

    monoZ documents its broker on port 1883 without TLS, so that stays the default;
    the TLS switch comes first so that nobody misses it.
    """
    return vol.Schema(
        {
            vol.Required(CONF_TLS, default=False): BooleanSelector(),
            vol.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
            vol.Required(CONF_HOST, default=DEFAULT_BROKER_HOST): _TEXT,
            vol.Required(CONF_PORT, default=DEFAULT_BROKER_PORT): PORT,
            vol.Optional(CONF_USERNAME): _TEXT,
            vol.Optional(CONF_PASSWORD): _SECRET,
            vol.Optional(CONF_CLIENT_ID): _TEXT,
            vol.Required(
                CONF_UPLINK_TOPIC, default=default_uplink_filter(org_id)
            ): _TEXT,
        }
    )


def monoz_unique_id(org_id: str) -> str:
    """One monoZ account per organisation."""
    return f"monoz-org-{org_id}"


class _InvalidOrgIdError(Exception):
    """The organisation id typed into the form is not a positive integer."""


def _parse_org_id(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdecimal() or int(text) <= 0:
        raise _InvalidOrgIdError
    return int(text)


def on_device_unique_id(data: Mapping[str, Any]) -> str:
    """One listener per protocol and port."""
    return f"{str(data[CONF_PROTOCOL]).lower()}-{int(data[CONF_PORT])}"


def emnify_unique_id(account: EmnifyAccount, token: str) -> str:
    """One emnify account per organisation (or per token when it names none)."""
    if account.org_id:
        return f"emnify-org-{account.org_id}"
    return "emnify-token-" + hashlib.sha256(token.encode()).hexdigest()[:16]


def hologram_unique_id(user: HologramUser, org_id: int | None) -> str:
    """One Hologram account per organisation, or per user when no org is given."""
    return f"org-{org_id}" if org_id is not None else f"user-{user.user_id}"


class CellularIoTConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Hologram, emnify or monoZ account, or the on-device listener."""

    VERSION = 1
    MINOR_VERSION = 2

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Options of an account entry (its webhook) or of a listener (who may send)."""
        if config_entry.data.get(CONF_KIND) == EntryKind.ON_DEVICE:
            return ListenerOptionsFlow()
        return WebhookOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Account entries hold their devices as subentries."""
        if config_entry.data.get(CONF_KIND) in ACCOUNT_KINDS:
            return {SUBENTRY_DEVICE: DeviceSubentryFlow}
        return {}

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Account entries have a webhook; listeners say who may send."""
        return config_entry.data.get(CONF_KIND) in (*ACCOUNT_KINDS, EntryKind.ON_DEVICE)

    def _async_create_account_entry(
        self, *, title: str, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Create an account entry with its inbound webhook; show the URL once."""
        webhook_id = webhook.async_generate_id()
        secret = new_webhook_secret()
        url = webhook_url(self.hass, webhook_id)
        return self.async_create_entry(
            title=title,
            data={**data, CONF_WEBHOOK_ID: webhook_id},
            options={CONF_WEBHOOK_SECRET: secret},
            # config.create_entry.account: the URL and secret, shown only now.
            description="account",
            description_placeholders={
                "webhook_url": url,
                "secret": secret,
                "url_with_secret": url_with_secret(url, secret),
                "hint": WEBHOOK_HINTS[EntryKind(data[CONF_KIND])],
            },
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the entry kinds."""
        return self.async_show_menu(
            step_id="user", menu_options=[kind.value for kind in EntryKind]
        )

    async def async_step_hologram(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Hologram account from its API key (and optional org id)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            try:
                org_id = _parse_org_id(user_input.get(CONF_ORG_ID))
            except _InvalidOrgIdError:
                errors[CONF_ORG_ID] = "invalid_org_id"
            else:
                user, org_name = await self._async_validate_hologram(
                    api_key, org_id, errors
                )
                if user is not None:
                    await self.async_set_unique_id(hologram_unique_id(user, org_id))
                    self._abort_if_unique_id_configured()
                    data: dict[str, Any] = {
                        CONF_KIND: EntryKind.HOLOGRAM.value,
                        CONF_API_KEY: api_key,
                        CONF_USER_ID: user.user_id,
                    }
                    if org_id is not None:
                        data[CONF_ORG_ID] = org_id
                    return self._async_create_account_entry(
                        title=_hologram_title(user, org_id, org_name), data=data
                    )
        return self.async_show_form(
            step_id="hologram",
            data_schema=self.add_suggested_values_to_schema(
                HOLOGRAM_SCHEMA,
                {k: v for k, v in (user_input or {}).items() if k != CONF_API_KEY},
            ),
            errors=errors,
            description_placeholders=PROVIDER_PLACEHOLDERS[EntryKind.HOLOGRAM],
        )

    async def async_step_emnify(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add an emnify account from an application token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_APPLICATION_TOKEN].strip()
            account = await self._async_validate_emnify(token, errors)
            if account is not None:
                await self.async_set_unique_id(emnify_unique_id(account, token))
                self._abort_if_unique_id_configured()
                return self._async_create_account_entry(
                    title=f"emnify {account.org_name or account.org_id or 'account'}",
                    data={
                        CONF_KIND: EntryKind.EMNIFY.value,
                        CONF_APPLICATION_TOKEN: token,
                    },
                )
        return self.async_show_form(
            step_id="emnify",
            data_schema=EMNIFY_SCHEMA,
            errors=errors,
            description_placeholders=PROVIDER_PLACEHOLDERS[EntryKind.EMNIFY],
        )

    _monoz: dict[str, Any]
    _reconfiguring: bool = False

    async def async_step_monoz(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a monoZ account from its org id and API key; optionally a broker."""
        errors: dict[str, str] = {}
        if user_input is not None:
            org_id = str(user_input[CONF_ORG_ID]).strip()
            api_key = user_input[CONF_API_KEY].strip()
            if not valid_org_id(org_id):
                errors[CONF_ORG_ID] = "invalid_monoz_org_id"
            elif await self._async_validate_monoz(org_id, api_key, errors):
                await self.async_set_unique_id(monoz_unique_id(org_id))
                self._abort_if_unique_id_configured()
                self._monoz = {
                    CONF_KIND: EntryKind.MONOZ.value,
                    CONF_ORG_ID: org_id,
                    CONF_API_KEY: api_key,
                }
                if user_input[CONF_USE_MQTT]:
                    return await self.async_step_monoz_mqtt()
                return self._async_create_account_entry(
                    title=f"monoZ {org_id}", data=self._monoz
                )
        return self.async_show_form(
            step_id="monoz",
            data_schema=self.add_suggested_values_to_schema(
                MONOZ_SCHEMA,
                {k: v for k, v in (user_input or {}).items() if k != CONF_API_KEY},
            ),
            errors=errors,
            description_placeholders=PROVIDER_PLACEHOLDERS[EntryKind.MONOZ],
        )

    async def async_step_monoz_mqtt(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect to the broker once to prove the settings, then store them."""
        errors: dict[str, str] = {}
        org_id: str = self._monoz[CONF_ORG_ID]
        current: dict[str, Any] = self._monoz.get(CONF_MQTT) or {}
        if user_input is not None:
            broker = await self._async_validate_broker(user_input, current, errors)
            if broker is not None:
                data = {**self._monoz, CONF_MQTT: broker}
                if self._reconfiguring:
                    return self.async_update_reload_and_abort(
                        self._get_reconfigure_entry(), data=data
                    )
                return self._async_create_account_entry(
                    title=f"monoZ {org_id}", data=data
                )
        suggested = user_input or {
            k: v for k, v in current.items() if k != CONF_PASSWORD
        }
        return self.async_show_form(
            step_id="monoz_mqtt",
            data_schema=self.add_suggested_values_to_schema(
                monoz_mqtt_schema(org_id),
                {k: v for k, v in suggested.items() if k != CONF_PASSWORD},
            ),
            errors=errors,
            description_placeholders={"org_id": org_id},
        )

    async def _async_validate_broker(
        self,
        user_input: dict[str, Any],
        current: Mapping[str, Any],
        errors: dict[str, str],
    ) -> dict[str, Any] | None:
        """Check the uplink filter, then connect with the settings (and disconnect)."""
        broker: dict[str, Any] = {
            CONF_HOST: str(user_input[CONF_HOST]).strip(),
            CONF_PORT: int(user_input[CONF_PORT]),
            CONF_TLS: bool(user_input.get(CONF_TLS)),
            CONF_VERIFY_TLS: bool(user_input.get(CONF_VERIFY_TLS, True)),
            CONF_USERNAME: (user_input.get(CONF_USERNAME) or "").strip(),
            CONF_PASSWORD: user_input.get(CONF_PASSWORD) or "",
            # Empty: derived from this installation's instance ID and the entry
            # when the entry loads (see monoz.async_client_id).
            CONF_CLIENT_ID: (user_input.get(CONF_CLIENT_ID) or "").strip(),
            CONF_UPLINK_TOPIC: str(user_input.get(CONF_UPLINK_TOPIC) or "").strip(),
        }
        if broker[CONF_USERNAME] and not broker[CONF_PASSWORD]:
            # A blank password on reconfigure keeps the stored one.
            broker[CONF_PASSWORD] = current.get(CONF_PASSWORD, "")
        if not broker[CONF_HOST]:
            errors[CONF_HOST] = "mqtt_cannot_connect"
            return None
        if broker[CONF_UPLINK_TOPIC] and not valid_topic_filter(
            broker[CONF_UPLINK_TOPIC]
        ):
            errors[CONF_UPLINK_TOPIC] = "invalid_topic_filter"
            return None
        if self._reconfiguring:
            # The entry's own client ID: this clean session clears what the broker
            # kept for it. A new entry has no ID yet: a one-off one.
            client_id = await async_client_id(
                self.hass, self._get_reconfigure_entry().entry_id, broker
            )
        else:
            client_id = broker[CONF_CLIENT_ID] or throwaway_client_id()
        client = MqttClient(
            mqtt_settings(broker, client_id=client_id), ssl_context=tls_context(broker)
        )
        try:
            await client.start(wait=True, timeout=15)
        except ProviderAuthError:
            errors["base"] = "mqtt_invalid_auth"
            return None
        except MqttTlsError as err:
            LOGGER.debug("%s", err)
            errors["base"] = "mqtt_tls_failed"
            return None
        except MqttClientIdRejectedError:
            errors[CONF_CLIENT_ID] = "mqtt_client_id_rejected"
            return None
        except ProviderError as err:
            LOGGER.debug("Cannot connect to the MQTT broker: %s", err)
            errors["base"] = "mqtt_cannot_connect"
            return None
        await client.stop()
        return broker

    async def _async_validate_monoz(
        self, org_id: str, api_key: str, errors: dict[str, str]
    ) -> bool:
        """Prove the org id and key with monoZ's read-only device detail call."""
        if not api_key:
            errors[CONF_API_KEY] = "invalid_auth"
            return False
        client = MonozClient(async_get_clientsession(self.hass), org_id, api_key)
        try:
            await client.validate()
        except ProviderAuthError:
            errors["base"] = "invalid_auth"
        except ProviderError as err:
            LOGGER.debug("Cannot check the monoZ API key: %s", err)
            errors["base"] = "cannot_connect"
        except Exception:  # noqa: BLE001 - the flow must show "unknown", not crash
            LOGGER.exception("Unexpected error while checking the monoZ API key")
            errors["base"] = "unknown"
        else:
            return True
        return False

    async def async_step_reconfigure_monoz(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Replace the API key and add, change or remove the broker."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            org_id: str = entry.data[CONF_ORG_ID]
            api_key = (user_input.get(CONF_API_KEY) or "").strip() or entry.data[
                CONF_API_KEY
            ]
            if await self._async_validate_monoz(org_id, api_key, errors):
                # Everything else of the entry stays (its webhook ID above all);
                # the broker is set again below, or removed.
                self._monoz = {
                    **{k: v for k, v in entry.data.items() if k != CONF_MQTT},
                    CONF_API_KEY: api_key,
                }
                if user_input[CONF_USE_MQTT]:
                    self._reconfiguring = True
                    if entry.data.get(CONF_MQTT):
                        self._monoz[CONF_MQTT] = entry.data[CONF_MQTT]
                    return await self.async_step_monoz_mqtt()
                return self.async_update_reload_and_abort(entry, data=self._monoz)
        return self.async_show_form(
            step_id="reconfigure_monoz",
            data_schema=self.add_suggested_values_to_schema(
                MONOZ_RECONFIGURE_SCHEMA,
                {CONF_USE_MQTT: bool(entry.data.get(CONF_MQTT))},
            ),
            errors=errors,
            description_placeholders={
                **PROVIDER_PLACEHOLDERS[EntryKind.MONOZ],
                "title": entry.title,
            },
        )

    async def async_step_on_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the listener for cloud messages on this device."""
        errors: dict[str, str] = {}
        if user_input is not None:
            # A listener already configured holds its port: say so, not "cannot bind".
            await self.async_set_unique_id(on_device_unique_id(user_input))
            self._abort_if_unique_id_configured()
            data = await self._async_validate_on_device(user_input, errors, None)
            if data is not None:
                return self.async_create_entry(
                    title=f"Listener {data[CONF_PROTOCOL]} {data[CONF_PORT]}",
                    data=data,
                    options=default_listener_options(),
                    # config.create_entry.on_device: a listener has no webhook.
                    description="on_device",
                    description_placeholders={
                        "protocol": data[CONF_PROTOCOL],
                        "port": str(data[CONF_PORT]),
                    },
                )
        return self.async_show_form(
            step_id="on_device",
            data_schema=self.add_suggested_values_to_schema(
                ON_DEVICE_SCHEMA,
                {k: v for k, v in (user_input or {}).items() if k != CONF_SOURCE_KEY},
            ),
            errors=errors,
        )

    async def _async_validate_on_device(
        self,
        user_input: dict[str, Any],
        errors: dict[str, str],
        current: ConfigEntry | None,
    ) -> dict[str, Any] | None:
        """Check the credentials' form and that the address can be bound."""
        protocol = user_input[CONF_PROTOCOL]
        port = int(user_input[CONF_PORT])
        host = (user_input.get(CONF_HOST) or "").strip()
        source_id = (user_input.get(CONF_SOURCE_ID) or "").strip()
        source_key = (user_input.get(CONF_SOURCE_KEY) or "").strip()
        if current is not None and source_id and not source_key:
            source_key = current.data.get(CONF_SOURCE_KEY, "")
        data: dict[str, Any] = {
            CONF_KIND: EntryKind.ON_DEVICE.value,
            CONF_PROTOCOL: protocol,
            CONF_PORT: port,
            CONF_HOST: host,
        }
        if source_id or source_key:
            try:
                validate_credentials(source_id, source_key)
            except ValueError:
                errors["base"] = "invalid_credentials"
                return None
            data[CONF_SOURCE_ID] = source_id
            data[CONF_SOURCE_KEY] = source_key
        same_socket = current is not None and all(
            current.data.get(k) == data[k]
            for k in (CONF_PROTOCOL, CONF_PORT, CONF_HOST)
        )
        if not same_socket:
            probe = Listener(protocol, host, port, lambda message: None)
            try:
                await probe.start()
            except OSError:
                errors["base"] = "cannot_bind"
                return None
            # Returns once the socket is closed: the entry's setup binds it next.
            await probe.stop()
        return data

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication when the provider refuses the stored secret."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new secret for the same account."""
        return await self._async_replace_secret(
            "reauth_confirm", self._get_reauth_entry(), user_input, required=True
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Replace the secret of an account (the account itself stays the same)."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_KIND) == EntryKind.ON_DEVICE:
            return await self._async_reconfigure_on_device(entry, user_input)
        if entry.data.get(CONF_KIND) == EntryKind.MONOZ:
            return await self.async_step_reconfigure_monoz()
        return await self._async_replace_secret(
            "reconfigure", entry, user_input, required=False
        )

    async def _async_reconfigure_on_device(
        self, entry: ConfigEntry, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Move the listener to another protocol, port or address (no restart)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_validate_on_device(user_input, errors, entry)
            if data is not None:
                unique_id = on_device_unique_id(data)
                if unique_id != entry.unique_id:
                    await self.async_set_unique_id(unique_id)
                    self._abort_if_unique_id_configured()
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=f"Listener {data[CONF_PROTOCOL]} {data[CONF_PORT]}",
                    data=data,
                )
        suggested = {
            k: v for k, v in entry.data.items() if k not in (CONF_KIND, CONF_SOURCE_KEY)
        }
        return self.async_show_form(
            step_id="reconfigure_on_device",
            data_schema=self.add_suggested_values_to_schema(
                ON_DEVICE_SCHEMA, user_input or suggested
            ),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def async_step_reconfigure_on_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle the on_device reconfigure form."""
        return await self._async_reconfigure_on_device(
            self._get_reconfigure_entry(), user_input
        )

    async def _async_replace_secret(
        self,
        step_id: str,
        entry: ConfigEntry,
        user_input: dict[str, Any] | None,
        *,
        required: bool,
    ) -> ConfigFlowResult:
        """Check a new API key / application token and store it on the entry."""
        emnify = entry.data.get(CONF_KIND) == EntryKind.EMNIFY
        key = CONF_APPLICATION_TOKEN if emnify else CONF_API_KEY
        errors: dict[str, str] = {}
        if user_input is not None:
            secret = (user_input.get(key) or "").strip() or entry.data[key]
            unique_id: str | None = None
            if emnify:
                account = await self._async_validate_emnify(secret, errors)
                if account is not None:
                    unique_id = emnify_unique_id(account, secret)
            elif entry.data.get(CONF_KIND) == EntryKind.MONOZ:
                org = entry.data[CONF_ORG_ID]
                if await self._async_validate_monoz(org, secret, errors):
                    unique_id = monoz_unique_id(org)
            else:
                org_id = entry.data.get(CONF_ORG_ID)
                user, _ = await self._async_validate_hologram(secret, org_id, errors)
                _org_error_to_base(errors)
                if user is not None:
                    unique_id = hologram_unique_id(user, org_id)
            if unique_id is not None:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={key: secret}
                )
        marker = vol.Required(key) if required else vol.Optional(key)
        return self.async_show_form(
            step_id=step_id,
            data_schema=vol.Schema({marker: _SECRET}),
            errors=errors,
            description_placeholders={
                **PROVIDER_PLACEHOLDERS[EntryKind(entry.data[CONF_KIND])],
                "title": entry.title,
            },
        )

    async def _async_validate_emnify(
        self, token: str, errors: dict[str, str]
    ) -> EmnifyAccount | None:
        """Prove the application token with POST /api/v1/authenticate."""
        if not token:
            errors[CONF_APPLICATION_TOKEN] = "invalid_auth"
            return None
        client = EmnifyClient(async_get_clientsession(self.hass), token)
        try:
            return await client.authenticate()
        except ProviderAuthError:
            errors["base"] = "invalid_auth"
        except ProviderError as err:
            LOGGER.debug("Cannot check the emnify application token: %s", err)
            errors["base"] = "cannot_connect"
        except Exception:  # noqa: BLE001 - the flow must show "unknown", not crash
            LOGGER.exception("Unexpected error while checking the emnify token")
            errors["base"] = "unknown"
        return None

    async def _async_validate_hologram(
        self,
        api_key: str,
        org_id: int | None,
        errors: dict[str, str],
    ) -> tuple[HologramUser | None, str | None]:
        """Prove the key with GET /users/me (and the org with GET /organizations/id)."""
        if not api_key:
            errors[CONF_API_KEY] = "invalid_auth"
            return None, None
        client = HologramClient(
            async_get_clientsession(self.hass), api_key, org_id=org_id
        )
        org_name: str | None = None
        try:
            user = await client.get_me()
            if org_id is not None:
                try:
                    org_name = await client.get_organization(org_id)
                except (ProviderAuthError, ProviderNotFoundError):
                    errors[CONF_ORG_ID] = "org_not_accessible"
                    return None, None
        except ProviderAuthError:
            errors["base"] = "invalid_auth"
        except ProviderError as err:
            LOGGER.debug("Cannot check the Hologram API key: %s", err)
            errors["base"] = "cannot_connect"
        except Exception:  # noqa: BLE001 - the flow must show "unknown", not crash
            LOGGER.exception("Unexpected error while checking the Hologram API key")
            errors["base"] = "unknown"
        else:
            return user, org_name
        return None, None


def _org_error_to_base(errors: dict[str, str]) -> None:
    """Show an organisation error on forms that have no org id field."""
    if CONF_ORG_ID in errors:
        errors["base"] = errors.pop(CONF_ORG_ID)


def _hologram_title(
    user: HologramUser, org_id: int | None, org_name: str | None
) -> str:
    who = user.email or user.name or f"user {user.user_id}"
    if org_id is not None:
        return f"Hologram {org_name or f'org {org_id}'}"
    return f"Hologram ({who})"


class WebhookOptionsFlow(OptionsFlow):
    """Show the account's webhook URL; rotate its shared secret."""

    _new_secret: str
    _options: dict[str, Any]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the URL; on request, make a new secret."""
        entry = self.config_entry
        if user_input is not None:
            self._options = {
                **entry.options,
                CONF_OUTBOX_MAX_AGE: int(user_input[CONF_OUTBOX_MAX_AGE]),
                CONF_OUTBOX_MAX_DEPTH: int(user_input[CONF_OUTBOX_MAX_DEPTH]),
            }
            if user_input.get(CONF_ROTATE_SECRET):
                self._new_secret = new_webhook_secret()
                return await self.async_step_new_secret()
            return self.async_create_entry(data=self._options)
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_OUTBOX_MAX_AGE,
                        default=entry.options.get(
                            CONF_OUTBOX_MAX_AGE, DEFAULT_MAX_AGE_HOURS
                        ),
                    ): vol.All(
                        NumberSelector(
                            NumberSelectorConfig(
                                min=1,
                                max=720,
                                step=1,
                                mode=NumberSelectorMode.BOX,
                                unit_of_measurement="h",
                            )
                        ),
                        vol.Coerce(int),
                        vol.Range(min=1, max=720),
                    ),
                    vol.Required(
                        CONF_OUTBOX_MAX_DEPTH,
                        default=entry.options.get(
                            CONF_OUTBOX_MAX_DEPTH, DEFAULT_MAX_DEPTH
                        ),
                    ): vol.All(
                        NumberSelector(
                            NumberSelectorConfig(
                                min=MAX_DEPTH_RANGE[0],
                                max=MAX_DEPTH_RANGE[1],
                                step=1,
                                mode=NumberSelectorMode.BOX,
                            )
                        ),
                        vol.Coerce(int),
                        vol.Range(min=MAX_DEPTH_RANGE[0], max=MAX_DEPTH_RANGE[1]),
                    ),
                    vol.Required(CONF_ROTATE_SECRET, default=False): BooleanSelector(),
                }
            ),
            description_placeholders={
                "webhook_url": webhook_url(self.hass, entry.data[CONF_WEBHOOK_ID]),
                "hint": WEBHOOK_HINTS[EntryKind(entry.data[CONF_KIND])],
            },
        )

    async def async_step_new_secret(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the new secret once; it replaces the old one when confirmed."""
        entry = self.config_entry
        if user_input is not None:
            return self.async_create_entry(
                data={**self._options, CONF_WEBHOOK_SECRET: self._new_secret}
            )
        url = webhook_url(self.hass, entry.data[CONF_WEBHOOK_ID])
        return self.async_show_form(
            step_id="new_secret",
            data_schema=vol.Schema({}),
            description_placeholders={
                "secret": self._new_secret,
                "url_with_secret": url_with_secret(url, self._new_secret),
            },
        )


class ListenerOptionsFlow(OptionsFlow):
    """Who may send to the on-device listener, and how often (applied at once)."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the listener's options."""
        return await self.async_step_listener()

    async def async_step_listener(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check every network; the running listener takes the options at once."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders = {"network": ""}
        allowed, rate = listener_options(entry.options)
        if user_input is not None:
            values = user_input.get(CONF_ALLOWED_NETWORKS) or []
            rate = int(user_input[CONF_RATE_LIMIT])
            try:
                networks = parse_networks(values)
            except ValueError as err:
                errors[CONF_ALLOWED_NETWORKS] = "invalid_network"
                placeholders["network"] = str(err)[:100]
            else:
                if not networks:
                    errors[CONF_ALLOWED_NETWORKS] = "no_network"
                else:
                    options = {
                        **entry.options,
                        CONF_ALLOWED_NETWORKS: [str(n) for n in networks],
                        CONF_RATE_LIMIT: rate,
                    }
                    async_apply_listener_options(self.hass, entry, options)
                    return self.async_create_entry(data=options)
            allowed = [str(value) for value in values]
        return self.async_show_form(
            step_id="listener",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_ALLOWED_NETWORKS, default=allowed): TextSelector(
                        TextSelectorConfig(multiple=True)
                    ),
                    vol.Required(CONF_RATE_LIMIT, default=rate): vol.All(
                        NumberSelector(
                            NumberSelectorConfig(
                                min=1,
                                max=RATE_LIMIT_MAX,
                                step=1,
                                mode=NumberSelectorMode.BOX,
                                unit_of_measurement="messages/min",
                            )
                        ),
                        vol.Coerce(int),
                        vol.Range(min=1, max=RATE_LIMIT_MAX),
                    ),
                }
            ),
            errors=errors,
            description_placeholders={**placeholders, "title": entry.title},
        )

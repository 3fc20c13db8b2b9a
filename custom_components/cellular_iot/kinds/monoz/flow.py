"""The config flow of a monoZ account: its forms, its broker, its devices."""

# Parent-relative imports: mypy checks custom_components/cellular_iot as the
# package cellular_iot, where custom_components.… would be a second name.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    TextSelector,
    TextSelectorConfig,
)

from ...const import (
    ATTR_ICCID,
    ATTR_QOS,
    ATTR_TOPIC,
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_HOST,
    CONF_KIND,
    CONF_MQTT,
    CONF_ORG_ID,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_UPLINK_TOPIC,
    CONF_USE_MQTT,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    LOGGER,
    SUBENTRY_DEVICE,
    EntryKind,
)
from ...providers.errors import ProviderAuthError, ProviderError
from ...providers.monoz import (
    DEFAULT_BROKER_HOST,
    DEFAULT_BROKER_PORT,
    MonozClient,
    default_uplink_filters,
    valid_downlink_topic,
    valid_iccid,
    valid_org_id,
)
from ...providers.mqtt import (
    MqttClient,
    MqttClientIdRejectedError,
    MqttTlsError,
    valid_topic_filter,
)
from ...subentry_flow import DeviceForm, DeviceSubentryFlow
from ..flow import (
    PORT,
    PORT_FIELD,
    SECRET,
    TEXT,
    KindFlow,
    KindFlowBase,
    SecretCheck,
    select,
)
from .settings import (
    async_client_id,
    mqtt_settings,
    throwaway_client_id,
    tls_context,
    uplink_filters,
)

# Form texts name the provider: the {provider}, {credential} and {account}
# placeholders of strings.json (errors included).
PLACEHOLDERS = {
    "provider": "monoZ",
    "credential": "API key",
    "account": "monoZ organization",
}
# The docs of the webhook at the provider (the forms link it; their texts say
# where to paste the URL).
WEBHOOK_DOCS = "webhooks.md#monoz"

FILTERS = TextSelector(TextSelectorConfig(multiple=True))

MONOZ_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_ORG_ID): TEXT,
        vol.Required(CONF_API_KEY): SECRET,
        vol.Required(CONF_USE_MQTT, default=False): BooleanSelector(),
    }
)
MONOZ_RECONFIGURE_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_API_KEY): SECRET,
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
            vol.Required(CONF_HOST, default=DEFAULT_BROKER_HOST): TEXT,
            vol.Required(CONF_PORT, default=DEFAULT_BROKER_PORT): PORT,
            vol.Optional(CONF_USERNAME): TEXT,
            vol.Optional(CONF_PASSWORD): SECRET,
            vol.Optional(CONF_CLIENT_ID): TEXT,
            # One or more filters; the default hears every topic shape monoZ
            # documents (Level1/<org>/<iccid>/Level4, outer levels optional).
            vol.Required(
                CONF_UPLINK_TOPIC, default=default_uplink_filters(org_id)
            ): FILTERS,
        }
    )


def monoz_unique_id(org_id: str) -> str:
    """One monoZ account per organization."""
    return f"monoz-org-{org_id}"


async def async_validate_monoz(
    hass: HomeAssistant, org_id: str, api_key: str, errors: dict[str, str]
) -> bool:
    """Prove the org id and key with monoZ's read-only device detail call."""
    if not api_key:
        errors[CONF_API_KEY] = "invalid_auth"
        return False
    client = MonozClient(async_get_clientsession(hass), org_id, api_key)
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


async def _async_account_id(
    hass: HomeAssistant,
    entry: ConfigEntry,
    credentials: Mapping[str, str],
    errors: dict[str, str],
) -> str | None:
    """Prove a new API key for the entry's organization."""
    api_key = credentials[CONF_API_KEY]
    org = entry.data[CONF_ORG_ID]
    if await async_validate_monoz(hass, org, api_key, errors):
        return monoz_unique_id(org)
    return None


class MonozSteps(KindFlowBase):
    """The config flow's steps adding or reconfiguring a monoZ account."""

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
            elif await async_validate_monoz(self.hass, org_id, api_key, errors):
                # The broker form may follow: one left open there does not hold
                # the organization (the first form to finish creates the entry).
                await self.async_set_unique_id(
                    monoz_unique_id(org_id), raise_on_progress=False
                )
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
                # What was typed stays after an error, the key too (masked).
                user_input or {},
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
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
            description_placeholders={"org_id": org_id, **PORT_FIELD.placeholders},
        )

    async def _async_validate_broker(
        self,
        user_input: dict[str, Any],
        current: Mapping[str, Any],
        errors: dict[str, str],
    ) -> dict[str, Any] | None:
        """Check the uplink filter, then connect with the settings (and disconnect)."""
        port = PORT_FIELD.check(user_input, errors)
        if port is None:
            return None
        broker: dict[str, Any] = {
            CONF_HOST: str(user_input[CONF_HOST]).strip(),
            CONF_PORT: port,
            CONF_TLS: bool(user_input.get(CONF_TLS)),
            CONF_VERIFY_TLS: bool(user_input.get(CONF_VERIFY_TLS, True)),
            CONF_USERNAME: (user_input.get(CONF_USERNAME) or "").strip(),
            CONF_PASSWORD: user_input.get(CONF_PASSWORD) or "",
            # Empty: derived from this installation's instance ID and the entry
            # when the entry loads (see monoz.async_client_id).
            CONF_CLIENT_ID: (user_input.get(CONF_CLIENT_ID) or "").strip(),
            CONF_UPLINK_TOPIC: uplink_filters(user_input),
        }
        if broker[CONF_USERNAME] and not broker[CONF_PASSWORD]:
            # A blank password on reconfigure keeps the stored one.
            broker[CONF_PASSWORD] = current.get(CONF_PASSWORD, "")
        if not broker[CONF_HOST]:
            errors[CONF_HOST] = "mqtt_cannot_connect"
            return None
        if not all(valid_topic_filter(item) for item in broker[CONF_UPLINK_TOPIC]):
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
            if await async_validate_monoz(self.hass, org_id, api_key, errors):
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
                # What was typed stays after an error, the key too (masked).
                user_input or {CONF_USE_MQTT: bool(entry.data.get(CONF_MQTT))},
            ),
            errors=errors,
            description_placeholders={**PLACEHOLDERS, "title": entry.title},
        )


def _defaults_schema(current: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the downlink topic and QoS that notify.send_message publishes with."""
    return {
        vol.Optional(ATTR_TOPIC, default=current.get(ATTR_TOPIC, "")): TextSelector(),
        vol.Required(ATTR_QOS, default=str(current.get(ATTR_QOS, 0))): select(
            ["0", "1"], ATTR_QOS
        ),
    }


def _clean_defaults(
    user_input: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    topic = str(user_input.get(ATTR_TOPIC) or "").strip()
    if not valid_downlink_topic(topic):
        errors[ATTR_TOPIC] = "invalid_topic"
    return {ATTR_TOPIC: topic, ATTR_QOS: int(user_input[ATTR_QOS])}


def _clean_iccid(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if valid_iccid(text) else None


class MonozDeviceFlow(DeviceSubentryFlow):
    """Add or reconfigure a device (a SIM) of a monoZ account."""

    form = DeviceForm(
        key=ATTR_ICCID,
        invalid_id="invalid_iccid",
        clean_id=_clean_iccid,
        placeholders=lambda entry: {"org_id": str(entry.data.get(CONF_ORG_ID))},
        defaults=_defaults_schema,
        clean_defaults=_clean_defaults,
    )

    async def async_step_monoz(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a monoZ device by its SIM's ICCID."""
        return await self._async_add_device(user_input)


FLOW = KindFlow(
    steps=MonozSteps,
    placeholders=PLACEHOLDERS,
    webhook_docs=WEBHOOK_DOCS,
    secret=SecretCheck(CONF_API_KEY, _async_account_id),
    reconfigure_step="reconfigure_monoz",
    subentries={SUBENTRY_DEVICE: MonozDeviceFlow},
)

"""Config flow of the cellular_iot integration: one menu step per entry kind.

Each kind's steps live in kinds/<kind>/flow.py, as a mixin this flow inherits,
with a ``KindFlow`` saying what the shared parts here need of the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
)

from .const import (
    CONF_CLOUDHOOK_URL,
    CONF_INBOUND_MODE,
    CONF_KIND,
    CONF_ROTATE_SECRET,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOCS_URL,
    DOMAIN,
    INBOUND_MODES,
    INBOUND_WEBHOOK,
)
from .inbound_webhook import (
    account_webhook_url,
    async_create_cloudhook,
    cloud_offers_webhooks,
    new_webhook_secret,
    secret_placeholders,
)
from .kinds import KINDS
from .kinds.flow import SECRET, TEXT, KindFlow, KindFlowBase, WholeNumber, select
from .outbox import (
    CONF_OUTBOX_MAX_AGE,
    CONF_OUTBOX_MAX_DEPTH,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_MAX_DEPTH,
    MAX_DEPTH_RANGE,
)

# The flow tests patch the provider calls of the forms through this module: the
# very classes the kinds' flows use.
from .providers.emnify import EmnifyClient
from .providers.hologram import HologramClient
from .providers.monoz import MonozClient
from .providers.mqtt import MqttClient

__all__ = [
    "FLOWS",
    "PROVIDER_PLACEHOLDERS",
    "CellularIoTConfigFlow",
    "EmnifyClient",
    "HologramClient",
    "MonozClient",
    "MqttClient",
    "WebhookOptionsFlow",
]

# The kinds' flows, in the order of the menu.
FLOWS: dict[str, KindFlow] = {key: kind.flow for key, kind in KINDS.items()}

# What fills the {provider}, {credential} and {account} placeholders of each
# account's forms (errors included).
PROVIDER_PLACEHOLDERS: dict[str, dict[str, str]] = {
    kind: dict(flow.placeholders) for kind, flow in FLOWS.items() if flow.placeholders
}


def _kind_flow(entry: ConfigEntry) -> KindFlow | None:
    """Return the flow of the entry's kind (None for an entry of no known kind)."""
    kind = entry.data.get(CONF_KIND)
    return FLOWS.get(str(kind))


def _webhook_placeholders(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the provider's name and the docs of pasting the webhook URL at it."""
    flow = FLOWS[data[CONF_KIND]]
    assert flow.webhook_docs is not None, "only kinds with webhook docs have one"
    return {
        "provider": flow.placeholders["provider"],
        "docs_url": f"{DOCS_URL}/{flow.webhook_docs}",
    }


# Every kind's steps in one base, in the menu's order: HA calls
# async_step_<step_id> on the flow class. Built with type(): mypy cannot follow
# starred bases (class C(*mixins)), so it checks against their common base.
if TYPE_CHECKING:
    _KindSteps = KindFlowBase
else:
    _KindSteps = type("_KindSteps", tuple(flow.steps for flow in FLOWS.values()), {})


class CellularIoTConfigFlow(_KindSteps, domain=DOMAIN):
    """Add a Hologram, emnify or monoZ account, or the on-device listener."""

    VERSION = 1
    MINOR_VERSION = 4

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Options of an account entry (its webhook) or of a listener (who may send)."""
        flow = _kind_flow(config_entry)
        if flow is not None and flow.options_flow is not None:
            return flow.options_flow()
        return WebhookOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Account entries hold their devices as subentries."""
        flow = _kind_flow(config_entry)
        return dict(flow.subentries) if flow is not None else {}

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Account entries have a webhook; listeners say who may send."""
        flow = _kind_flow(config_entry)
        return flow is not None and (
            flow.options_flow is not None or flow.webhook_docs is not None
        )

    _account: tuple[str, dict[str, Any]]

    def _async_create_account_entry(
        self, *, title: str, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Create an account entry with its inbound webhook; show the URL once.

        With Home Assistant Cloud connected, first offer a Cloud URL for the webhook.
        """
        data = {**data, CONF_WEBHOOK_ID: webhook.async_generate_id()}
        self._account = (title, data)
        if cloud_offers_webhooks(self.hass):
            return self._async_show_webhook_menu()
        return self._async_finish_account()

    async def async_step_webhook(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer a Home Assistant Cloud URL for the account's webhook, or its own."""
        return self._async_show_webhook_menu()

    def _async_show_webhook_menu(self) -> ConfigFlowResult:
        data = self._account[1]
        return self.async_show_menu(
            step_id="webhook",
            menu_options=["cloudhook", "own_url"],
            description_placeholders={
                **_webhook_placeholders(data),
                "webhook_url": account_webhook_url(self.hass, data)[0],
            },
        )

    async def async_step_cloudhook(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Give the account's webhook a Home Assistant Cloud URL."""
        data = self._account[1]
        url = await async_create_cloudhook(self.hass, data[CONF_WEBHOOK_ID])
        if url is None:
            return self.async_abort(reason="cloud_not_connected")
        data[CONF_CLOUDHOOK_URL] = url
        return self._async_finish_account()

    async def async_step_own_url(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use this Home Assistant's own URL for the account's webhook."""
        return self._async_finish_account()

    def _async_finish_account(self) -> ConfigFlowResult:
        """Create the account entry; its message says where the URL goes, once."""
        title, data = self._account
        secret = new_webhook_secret()
        url, reachable = account_webhook_url(self.hass, data)
        kind = data[CONF_KIND]
        return self.async_create_entry(
            title=title,
            data=data,
            options={CONF_WEBHOOK_SECRET: secret, **FLOWS[kind].new_entry_options},
            # config.create_entry.<kind>: the URL and secret, shown only now;
            # <kind>_local also warns that the provider cannot reach the URL.
            description=kind if reachable else f"{kind}_local",
            description_placeholders={
                **_webhook_placeholders(data),
                "webhook_url": url,
                **secret_placeholders(url, secret),
            },
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the entry kinds."""
        return self.async_show_menu(step_id="user", menu_options=list(FLOWS))

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
        step = FLOWS[entry.data[CONF_KIND]].reconfigure_step
        if step is not None:
            # The kind's own form: the listener's address, monoZ's broker.
            kind_step = getattr(self, f"async_step_{step}")
            result: ConfigFlowResult = await kind_step(user_input)
            return result
        return await self._async_replace_secret(
            "reconfigure", entry, user_input, required=False
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
        flow = FLOWS[entry.data[CONF_KIND]]
        # Only accounts start a reauth (services.provider_error gets no listener).
        assert flow.secret is not None, f"{entry.title} has no secret to replace"
        check = flow.secret
        errors: dict[str, str] = {}
        if user_input is not None:
            # A field left empty keeps what is stored (the reconfigure form's secret).
            credentials = {
                key: (str(user_input.get(key) or "")).strip() or entry.data[key]
                for key in check.keys
            }
            unique_id = await check.account_id(self.hass, entry, credentials, errors)
            if unique_id is not None:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates=credentials
                )
        schema: dict[vol.Marker, Any] = {
            vol.Required(key, default=entry.data.get(key, "")): TEXT
            for key in check.also
        }
        marker = vol.Required(check.key) if required else vol.Optional(check.key)
        schema[marker] = SECRET
        return self.async_show_form(
            step_id=step_id,
            # What was typed stays after an error (masked).
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(schema), user_input or {}
            ),
            errors=errors,
            description_placeholders={**flow.placeholders, "title": entry.title},
        )


# The outbox's limits (whole numbers, checked by the step: translated errors).
OUTBOX_MAX_AGE_FIELD = WholeNumber(CONF_OUTBOX_MAX_AGE, 1, 720, "h")
OUTBOX_MAX_DEPTH_FIELD = WholeNumber(CONF_OUTBOX_MAX_DEPTH, *MAX_DEPTH_RANGE)


def _inbound_fields(entry: ConfigEntry) -> dict[vol.Marker, Any]:
    """Return how inbound messages arrive (Hologram: polling, webhook or both)."""
    kind = KINDS.get(entry.data.get(CONF_KIND, ""))
    if kind is None or not kind.inbound_modes:
        return {}
    return {
        vol.Required(
            CONF_INBOUND_MODE,
            # An entry of before polling has no option: it takes its webhook only.
            default=entry.options.get(CONF_INBOUND_MODE, INBOUND_WEBHOOK),
        ): select(list(INBOUND_MODES), CONF_INBOUND_MODE),
    }


class WebhookOptionsFlow(OptionsFlow):
    """Show the account's webhook URL; rotate its shared secret."""

    _new_secret: str
    _options: dict[str, Any]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the URL; on request, make a new secret."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            max_age = OUTBOX_MAX_AGE_FIELD.check(user_input, errors)
            max_depth = OUTBOX_MAX_DEPTH_FIELD.check(user_input, errors)
        if user_input is not None and not errors:
            self._options = {
                **entry.options,
                CONF_OUTBOX_MAX_AGE: max_age,
                CONF_OUTBOX_MAX_DEPTH: max_depth,
            }
            if CONF_INBOUND_MODE in user_input:
                self._options[CONF_INBOUND_MODE] = user_input[CONF_INBOUND_MODE]
            if user_input.get(CONF_ROTATE_SECRET):
                self._new_secret = new_webhook_secret()
                return await self.async_step_new_secret()
            return self._finish(self._options)
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_OUTBOX_MAX_AGE,
                        default=entry.options.get(
                            CONF_OUTBOX_MAX_AGE, DEFAULT_MAX_AGE_HOURS
                        ),
                    ): OUTBOX_MAX_AGE_FIELD.selector,
                    vol.Required(
                        CONF_OUTBOX_MAX_DEPTH,
                        default=entry.options.get(
                            CONF_OUTBOX_MAX_DEPTH, DEFAULT_MAX_DEPTH
                        ),
                    ): OUTBOX_MAX_DEPTH_FIELD.selector,
                    **_inbound_fields(entry),
                    vol.Required(CONF_ROTATE_SECRET, default=False): BooleanSelector(),
                }
            ),
            errors=errors,
            description_placeholders={
                **_webhook_placeholders(entry.data),
                **OUTBOX_MAX_AGE_FIELD.placeholders,
                **OUTBOX_MAX_DEPTH_FIELD.placeholders,
                "webhook_url": account_webhook_url(self.hass, entry.data)[0],
            },
        )

    def _finish(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Save the options; a new inbound mode (what is set up) reloads the entry.

        The options are stored before the reload is scheduled, so the reload sets up
        the new mode (no update listener: HA wants reauth and reconfigure to do their
        own reload, which a listener would double).
        """
        entry = self.config_entry
        before = entry.options.get(CONF_INBOUND_MODE, INBOUND_WEBHOOK)
        if CONF_INBOUND_MODE in options and options[CONF_INBOUND_MODE] != before:
            self.hass.config_entries.async_update_entry(entry, options=options)
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data=options)

    async def async_step_new_secret(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the new secret once; it replaces the old one when confirmed."""
        entry = self.config_entry
        if user_input is not None:
            return self._finish(
                {**self._options, CONF_WEBHOOK_SECRET: self._new_secret}
            )
        url = account_webhook_url(self.hass, entry.data)[0]
        return self.async_show_form(
            step_id="new_secret",
            data_schema=vol.Schema({}),
            description_placeholders=secret_placeholders(url, self._new_secret),
        )

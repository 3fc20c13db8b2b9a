"""Config flow of the cellular_iot integration: one menu step per entry kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import (
    CONF_API_KEY,
    CONF_KIND,
    CONF_ORG_ID,
    CONF_USER_ID,
    DOMAIN,
    LOGGER,
    EntryKind,
)
from .providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFoundError,
)
from .providers.hologram import HologramClient, HologramUser

_SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT = TextSelector()

HOLOGRAM_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_API_KEY): _SECRET,
        vol.Optional(CONF_ORG_ID): _TEXT,
    }
)
HOLOGRAM_REAUTH_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): _SECRET})
HOLOGRAM_RECONFIGURE_SCHEMA = vol.Schema({vol.Optional(CONF_API_KEY): _SECRET})


class _InvalidOrgIdError(Exception):
    """The organisation id typed into the form is not a positive integer."""


def _parse_org_id(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdecimal() or int(text) <= 0:
        raise _InvalidOrgIdError
    return int(text)


def hologram_unique_id(user: HologramUser, org_id: int | None) -> str:
    """One Hologram account per organisation, or per user when no org is given."""
    return f"org-{org_id}" if org_id is not None else f"user-{user.user_id}"


class CellularIoTConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Hologram, emnify or monoZ account, or the on-device listener."""

    VERSION = 1
    MINOR_VERSION = 1

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
                    return self.async_create_entry(
                        title=_hologram_title(user, org_id, org_name), data=data
                    )
        return self.async_show_form(
            step_id="hologram",
            data_schema=self.add_suggested_values_to_schema(
                HOLOGRAM_SCHEMA,
                {k: v for k, v in (user_input or {}).items() if k != CONF_API_KEY},
            ),
            errors=errors,
        )

    async def async_step_emnify(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Abort: emnify accounts are not available yet."""
        return self.async_abort(reason="not_yet_available")

    async def async_step_monoz(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Abort: monoZ accounts are not available yet."""
        return self.async_abort(reason="not_yet_available")

    async def async_step_on_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Abort: the on-device listener is not available yet."""
        return self.async_abort(reason="not_yet_available")

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication when the provider refuses the stored secret."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API key for the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"title": entry.title}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            org_id = entry.data.get(CONF_ORG_ID)
            user, _ = await self._async_validate_hologram(api_key, org_id, errors)
            _org_error_to_base(errors)
            if user is not None:
                await self.async_set_unique_id(hologram_unique_id(user, org_id))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: api_key}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=HOLOGRAM_REAUTH_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Replace the API key of an account (the account itself stays the same)."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_KIND) != EntryKind.HOLOGRAM:
            return self.async_abort(reason="not_yet_available")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"title": entry.title}
        if user_input is not None:
            api_key = (user_input.get(CONF_API_KEY) or "").strip() or entry.data[
                CONF_API_KEY
            ]
            org_id = entry.data.get(CONF_ORG_ID)
            user, _ = await self._async_validate_hologram(api_key, org_id, errors)
            _org_error_to_base(errors)
            if user is not None:
                await self.async_set_unique_id(hologram_unique_id(user, org_id))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: api_key}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=HOLOGRAM_RECONFIGURE_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )

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

"""The config flow of a Hologram account: its form, its checks, its devices."""

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
from homeassistant.helpers.selector import SelectOptionDict

from ...const import (
    ATTR_DEVICE_ID,
    ATTR_PORT,
    ATTR_PROTOCOL,
    CONF_API_KEY,
    CONF_INBOUND_MODE,
    CONF_KIND,
    CONF_ORG_ID,
    CONF_SEND_AS,
    CONF_USER_ID,
    INBOUND_POLLING,
    LOGGER,
    SEND_AS_CLOUD_MESSAGE,
    SEND_AS_SMS,
    SUBENTRY_DEVICE,
    EntryKind,
)
from ...providers.errors import ProviderAuthError, ProviderError, ProviderNotFoundError
from ...providers.hologram import HologramClient, HologramUser
from ...subentry_flow import DeviceForm, DeviceSubentryFlow, numeric_id
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
from .data import HologramData

# Form texts name the provider: the {provider}, {credential} and {account}
# placeholders of strings.json (errors included).
PLACEHOLDERS = {
    "provider": "Hologram",
    "credential": "API key",
    "account": "Hologram account",
}
# The docs of the webhook at the provider (the forms link it; their texts say
# where to paste the URL).
WEBHOOK_DOCS = "webhooks.md#hologram"
DEFAULT_DEVICE_PORT = 4010

HOLOGRAM_SCHEMA = vol.Schema(
    {vol.Required(CONF_API_KEY): SECRET, vol.Optional(CONF_ORG_ID): TEXT}
)


class _InvalidOrgIdError(Exception):
    """The organization id typed into the form is not a positive integer."""


def _parse_org_id(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdecimal() or int(text) <= 0:
        raise _InvalidOrgIdError
    return int(text)


def hologram_unique_id(user: HologramUser, org_id: int | None) -> str:
    """One Hologram account per organization, or per user when no org is given."""
    return f"org-{org_id}" if org_id is not None else f"user-{user.user_id}"


def _hologram_title(
    user: HologramUser, org_id: int | None, org_name: str | None
) -> str:
    who = user.email or user.name or f"user {user.user_id}"
    if org_id is not None:
        return f"Hologram {org_name or f'org {org_id}'}"
    return f"Hologram ({who})"


async def async_validate_hologram(
    hass: HomeAssistant, api_key: str, org_id: int | None, errors: dict[str, str]
) -> tuple[HologramUser | None, str | None]:
    """Prove the key with GET /users/me (and the org with GET /organizations/id)."""
    if not api_key:
        errors[CONF_API_KEY] = "invalid_auth"
        return None, None
    client = HologramClient(async_get_clientsession(hass), api_key, org_id=org_id)
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


async def _async_account_id(
    hass: HomeAssistant,
    entry: ConfigEntry,
    credentials: Mapping[str, str],
    errors: dict[str, str],
) -> str | None:
    """Prove a new API key for the entry's organization (or user)."""
    api_key = credentials[CONF_API_KEY]
    org_id = entry.data.get(CONF_ORG_ID)
    user, _ = await async_validate_hologram(hass, api_key, org_id, errors)
    # The reauth and reconfigure forms have no org id field.
    if CONF_ORG_ID in errors:
        errors["base"] = errors.pop(CONF_ORG_ID)
    return hologram_unique_id(user, org_id) if user is not None else None


class HologramSteps(KindFlowBase):
    """The config flow's step adding a Hologram account."""

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
                user, org_name = await async_validate_hologram(
                    self.hass, api_key, org_id, errors
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
                # What was typed stays after an error, the key too (masked).
                user_input or {},
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )


def _defaults_schema(current: Mapping[str, Any]) -> dict[Any, Any]:
    """How notify.send_message reaches the device: cloud message or SMS."""
    return {
        vol.Required(
            CONF_SEND_AS, default=current.get(CONF_SEND_AS, SEND_AS_CLOUD_MESSAGE)
        ): select([SEND_AS_CLOUD_MESSAGE, SEND_AS_SMS], CONF_SEND_AS),
        vol.Required(
            ATTR_PORT, default=current.get(ATTR_PORT, DEFAULT_DEVICE_PORT)
        ): PORT,
        vol.Required(ATTR_PROTOCOL, default=current.get(ATTR_PROTOCOL, "TCP")): select(
            ["TCP", "UDP"], None
        ),
    }


def _clean_defaults(
    user_input: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        CONF_SEND_AS: user_input[CONF_SEND_AS],
        ATTR_PORT: PORT_FIELD.check(user_input, errors),
        ATTR_PROTOCOL: user_input[ATTR_PROTOCOL],
    }


async def _async_device_choices(entry: ConfigEntry) -> list[SelectOptionDict]:
    """List the devices of the loaded account, to pick one from."""
    runtime = getattr(entry, "runtime_data", None)
    if not isinstance(runtime, HologramData):
        return []
    try:
        devices = await runtime.client.list_devices(limit=500)
    except ProviderError as err:
        LOGGER.debug("Cannot list the Hologram devices: %s", err)
        return []
    return [
        SelectOptionDict(value=str(d.device_id), label=f"{d.name} ({d.device_id})")
        for d in devices
    ]


class HologramDeviceFlow(DeviceSubentryFlow):
    """Add or reconfigure a device of a Hologram account."""

    form = DeviceForm(
        key=ATTR_DEVICE_ID,
        invalid_id="invalid_device_id",
        clean_id=numeric_id,
        placeholders=lambda entry: {
            "id_name": "Hologram device ID",
            **PORT_FIELD.placeholders,
        },
        defaults=_defaults_schema,
        clean_defaults=_clean_defaults,
        choices=_async_device_choices,
    )

    async def async_step_hologram(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a Hologram device by its device ID (picked from the account's list)."""
        return await self._async_add_device(user_input)


FLOW = KindFlow(
    steps=HologramSteps,
    placeholders=PLACEHOLDERS,
    webhook_docs=WEBHOOK_DOCS,
    secret=SecretCheck(CONF_API_KEY, _async_account_id),
    subentries={SUBENTRY_DEVICE: HologramDeviceFlow},
    # Routes are limited to certain legacy organizations: a new account polls.
    new_entry_options={CONF_INBOUND_MODE: INBOUND_POLLING},
)

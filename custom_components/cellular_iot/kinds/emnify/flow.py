"""The config flow of an emnify account: its form, its check, its devices."""

# Parent-relative imports: mypy checks custom_components/cellular_iot as the
# package cellular_iot, where custom_components.… would be a second name.

from __future__ import annotations

from collections.abc import Mapping
import hashlib
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ...const import (
    ATTR_DEVICE_ID,
    CONF_APPLICATION_TOKEN,
    CONF_KIND,
    LOGGER,
    SUBENTRY_DEVICE,
    EntryKind,
)
from ...providers.emnify import EmnifyAccount, EmnifyClient
from ...providers.errors import ProviderAuthError, ProviderError, ProviderNotFoundError
from ...subentry_flow import DeviceForm, DeviceSubentryFlow, numeric_id
from ..flow import SECRET, KindFlow, KindFlowBase, SecretCheck

# Form texts name the provider: the {provider}, {credential} and {account}
# placeholders of strings.json (errors included).
PLACEHOLDERS = {
    "provider": "emnify",
    "credential": "application token",
    "account": "emnify organization",
}
# The docs of the webhook at the provider (the forms link it; their texts say
# where to paste the URL).
WEBHOOK_DOCS = "webhooks.md#emnify"

EMNIFY_SCHEMA = vol.Schema({vol.Required(CONF_APPLICATION_TOKEN): SECRET})


def emnify_unique_id(account: EmnifyAccount, token: str) -> str:
    """One emnify account per organization (or per token when it names none)."""
    if account.org_id:
        return f"emnify-org-{account.org_id}"
    return "emnify-token-" + hashlib.sha256(token.encode()).hexdigest()[:16]


async def async_validate_emnify(
    hass: HomeAssistant, token: str, errors: dict[str, str]
) -> EmnifyAccount | None:
    """Prove the application token with POST /api/v1/authenticate."""
    if not token:
        errors[CONF_APPLICATION_TOKEN] = "invalid_auth"
        return None
    client = EmnifyClient(async_get_clientsession(hass), token)
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


async def _async_account_id(
    hass: HomeAssistant,
    entry: ConfigEntry,
    credentials: Mapping[str, str],
    errors: dict[str, str],
) -> str | None:
    """Prove a new application token; the account is the organization it opens."""
    token = credentials[CONF_APPLICATION_TOKEN]
    account = await async_validate_emnify(hass, token, errors)
    return emnify_unique_id(account, token) if account is not None else None


class EmnifySteps(KindFlowBase):
    """The config flow's step adding an emnify account."""

    async def async_step_emnify(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add an emnify account from an application token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_APPLICATION_TOKEN].strip()
            account = await async_validate_emnify(self.hass, token, errors)
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
            # What was typed stays after an error, the token too (masked).
            data_schema=self.add_suggested_values_to_schema(
                EMNIFY_SCHEMA, user_input or {}
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )


async def _async_check_endpoint(
    hass: HomeAssistant, entry: ConfigEntry, device_id: str
) -> tuple[str, str] | None:
    """Read the endpoint (``GET /endpoint/{id}``): the organization must have it.

    With the loaded account's client (its token cached), else a client of its own.
    """
    client = getattr(getattr(entry, "runtime_data", None), "client", None)
    if not isinstance(client, EmnifyClient):
        client = EmnifyClient(
            async_get_clientsession(hass), entry.data[CONF_APPLICATION_TOKEN]
        )
    try:
        await client.endpoint(int(device_id))
    except ProviderNotFoundError:
        return ATTR_DEVICE_ID, "device_not_found"
    except ProviderError as err:
        LOGGER.debug("Cannot check emnify endpoint %s: %s", device_id, err)
        return "base", "cannot_check_device"
    return None


class EmnifyDeviceFlow(DeviceSubentryFlow):
    """Add or reconfigure a device (an endpoint) of an emnify account."""

    form = DeviceForm(
        key=ATTR_DEVICE_ID,
        invalid_id="invalid_device_id",
        clean_id=numeric_id,
        placeholders=lambda entry: {"id_name": "emnify endpoint ID"},
        check=_async_check_endpoint,
    )

    async def async_step_emnify(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add an emnify device by its endpoint ID."""
        return await self._async_add_device(user_input)


FLOW = KindFlow(
    steps=EmnifySteps,
    placeholders=PLACEHOLDERS,
    webhook_docs=WEBHOOK_DOCS,
    secret=SecretCheck(CONF_APPLICATION_TOKEN, _async_account_id),
    subentries={SUBENTRY_DEVICE: EmnifyDeviceFlow},
)

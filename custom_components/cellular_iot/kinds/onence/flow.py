"""The config flow of a 1NCE account: its form, its check, its devices."""

# Parent-relative imports: mypy checks custom_components/cellular_iot as the
# package cellular_iot, where custom_components.… would be a second name.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import SelectOptionDict

from ...const import ATTR_ICCID, CONF_CLIENT_ID, CONF_KIND, LOGGER, SUBENTRY_DEVICE
from ...providers.errors import ProviderAuthError, ProviderError
from ...providers.onence import OneNceAccount, OneNceClient, valid_iccid
from ...subentry_flow import DeviceForm, DeviceSubentryFlow
from ..flow import SECRET, TEXT, KindFlow, KindFlowBase, SecretCheck

# The entry's kind, and the secret's key in its data (the client id is CONF_CLIENT_ID).
KIND: Final = "1nce"
CONF_CLIENT_SECRET: Final = "client_secret"  # noqa: S105 - a key name

# Form texts name the provider: the {provider}, {credential} and {account}
# placeholders of strings.json (errors included).
PLACEHOLDERS = {
    "provider": "1NCE",
    "credential": "client ID and secret",
    "account": "1NCE account",
}
# The docs of the webhook at the provider (the forms link it; their texts say
# where to paste the URL).
WEBHOOK_DOCS = "1nce.md#inbound"

ONENCE_SCHEMA = vol.Schema(
    {vol.Required(CONF_CLIENT_ID): TEXT, vol.Required(CONF_CLIENT_SECRET): SECRET}
)


def onence_unique_id(account: OneNceAccount) -> str:
    """One entry per 1NCE customer."""
    return f"1nce-{account.customer_id}"


def client_for(hass: HomeAssistant, entry: ConfigEntry) -> OneNceClient:
    """Return the loaded account's client (its token kept), else a new one."""
    client = getattr(getattr(entry, "runtime_data", None), "client", None)
    if isinstance(client, OneNceClient):
        return client
    return OneNceClient(
        async_get_clientsession(hass),
        entry.data[CONF_CLIENT_ID],
        entry.data[CONF_CLIENT_SECRET],
    )


async def async_validate_onence(
    hass: HomeAssistant, client_id: str, secret: str, errors: dict[str, str]
) -> OneNceAccount | None:
    """Prove the client id and secret: ask 1NCE's token endpoint for a token."""
    if not client_id or not secret:
        errors["base"] = "invalid_auth"
        return None
    client = OneNceClient(async_get_clientsession(hass), client_id, secret)
    try:
        return await client.authenticate()
    except ProviderAuthError:
        errors["base"] = "invalid_auth"
    except ProviderError as err:
        LOGGER.debug("Cannot check the 1NCE credentials: %s", err)
        errors["base"] = "cannot_connect"
    except Exception:  # noqa: BLE001 - the flow must show "unknown", not crash
        LOGGER.exception("Unexpected error while checking the 1NCE credentials")
        errors["base"] = "unknown"
    return None


async def _async_account_id(
    hass: HomeAssistant,
    entry: ConfigEntry,
    credentials: Mapping[str, str],
    errors: dict[str, str],
) -> str | None:
    """Prove new credentials; the account is the customer their token is for."""
    account = await async_validate_onence(
        hass, credentials[CONF_CLIENT_ID], credentials[CONF_CLIENT_SECRET], errors
    )
    return onence_unique_id(account) if account is not None else None


class OneNceSteps(KindFlowBase):
    """The config flow's step adding a 1NCE account."""

    async def async_step_1nce(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a 1NCE account from its API client id and secret."""
        errors: dict[str, str] = {}
        if user_input is not None:
            client_id = str(user_input.get(CONF_CLIENT_ID, "")).strip()
            secret = str(user_input.get(CONF_CLIENT_SECRET, "")).strip()
            account = await async_validate_onence(self.hass, client_id, secret, errors)
            if account is not None:
                await self.async_set_unique_id(onence_unique_id(account))
                self._abort_if_unique_id_configured()
                return self._async_create_account_entry(
                    title=f"1NCE {account.name}" if account.name else "1NCE account",
                    data={
                        CONF_KIND: KIND,
                        CONF_CLIENT_ID: client_id,
                        CONF_CLIENT_SECRET: secret,
                    },
                )
        return self.async_show_form(
            step_id=KIND,
            # What was typed stays after an error, the secret too (masked).
            data_schema=self.add_suggested_values_to_schema(
                ONENCE_SCHEMA, user_input or {}
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )


def clean_iccid(value: Any) -> str | None:
    """Return an ICCID as stored (digits, no spaces), or None."""
    text = "".join(str(value or "").split())
    return text if valid_iccid(text) else None


async def _async_sim_choices(entry: ConfigEntry) -> list[SelectOptionDict]:
    """List the SIMs of the loaded account, to pick one from (label and ICCID)."""
    runtime = getattr(entry, "runtime_data", None)
    client = getattr(runtime, "client", None)
    if not isinstance(client, OneNceClient):
        return []
    try:
        listing = await client.list_sims()
    except ProviderError as err:
        LOGGER.debug("Cannot list the 1NCE SIMs: %s", err)
        return []
    return [
        SelectOptionDict(
            value=iccid, label=f"{name} ({iccid})" if name != iccid else iccid
        )
        for iccid, name in listing.devices.items()
    ]


async def _async_check_sim(
    hass: HomeAssistant, entry: ConfigEntry, iccid: str
) -> tuple[str, str] | None:
    """Read the SIM: the account must have it (1NCE answers 200 empty for others)."""
    try:
        sim = await client_for(hass, entry).sim(iccid)
    except ProviderError as err:
        LOGGER.debug("Cannot check 1NCE SIM: %s", err)
        return "base", "cannot_check_device"
    return None if sim is not None else (ATTR_ICCID, "device_not_found")


class OneNceDeviceFlow(DeviceSubentryFlow):
    """Add or reconfigure a device (a SIM) of a 1NCE account."""

    form = DeviceForm(
        key=ATTR_ICCID,
        invalid_id="invalid_iccid",
        clean_id=clean_iccid,
        placeholders=lambda entry: {"id_name": "ICCID"},
        choices=_async_sim_choices,
        check=_async_check_sim,
    )

    async def async_step_1nce(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a 1NCE device by its SIM's ICCID (picked from the account's SIMs)."""
        return await self._async_add_device(user_input)


FLOW = KindFlow(
    steps=OneNceSteps,
    placeholders=PLACEHOLDERS,
    webhook_docs=WEBHOOK_DOCS,
    secret=SecretCheck(CONF_CLIENT_SECRET, _async_account_id, also=(CONF_CLIENT_ID,)),
    subentries={SUBENTRY_DEVICE: OneNceDeviceFlow},
)

"""The config flow of the on-device listener: its address, its bind check, its options."""

# Parent-relative imports: mypy checks custom_components/cellular_iot as the
# package cellular_iot, where custom_components.… would be a second name.

from __future__ import annotations

from collections.abc import Mapping
import secrets
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)

from ...const import (
    CONF_DEVICE_KEY,
    CONF_DEVICE_KEY_LEGACY,
    CONF_HOST,
    CONF_KIND,
    CONF_LISTENER_SECRET,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_REMOVE_DEVICE_KEY,
    CONF_REMOVE_LISTENER_SECRET,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    DEFAULT_LISTENER_PORT,
    DOCS_URL,
    EntryKind,
)
from ...providers.hologram_socket import validate_credentials, validate_device_key
from ...providers.listener import Listener, parse_networks, validate_secret
from ..flow import PORT, PORT_FIELD, SECRET, TEXT, KindFlow, KindFlowBase, WholeNumber
from .wiring import (
    CONF_ALLOWED_NETWORKS,
    CONF_RATE_LIMIT,
    RATE_LIMIT_MAX,
    async_apply_listener_options,
    default_listener_options,
    listener_options,
    listener_secret,
)

ON_DEVICE_SCHEMA = vol.Schema(
    {
        # TCP and UDP read the same in every language (and hassfest allows only
        # lower-case option keys in strings.json): no translation_key.
        vol.Required(CONF_PROTOCOL, default="TCP"): SelectSelector(
            SelectSelectorConfig(options=["TCP", "UDP"], mode=SelectSelectorMode.LIST)
        ),
        vol.Required(CONF_PORT, default=DEFAULT_LISTENER_PORT): PORT,
        vol.Optional(CONF_HOST): TEXT,
        vol.Optional(CONF_DEVICE_KEY): SECRET,
    }
)
# Reconfigure: an empty key keeps the stored one (it is never shown); this removes it.
RECONFIGURE_ON_DEVICE_SCHEMA = ON_DEVICE_SCHEMA.extend(
    {vol.Optional(CONF_REMOVE_DEVICE_KEY, default=False): BooleanSelector()}
)
# What is never offered back as a suggested value.
_NOT_SUGGESTED = frozenset(
    {CONF_KIND, CONF_DEVICE_KEY, CONF_DEVICE_KEY_LEGACY, CONF_REMOVE_DEVICE_KEY}
)


def migrate_socket_credentials(data: Mapping[str, Any]) -> dict[str, Any]:
    """1.2 -> 1.3: an entry's legacy source ID and key become its device key.

    The pair is kept as one 8-character credential (source ID + key, the bytes the
    SMS frame always carried) marked ``device_key_legacy``, so the entry keeps
    sending the legacy cloud message frame it was made for. A pair the old flow
    could not have stored (one half missing or malformed) never sent anything and
    is dropped.
    """
    migrated = dict(data)
    source_id = migrated.pop(CONF_SOURCE_ID, None)
    source_key = migrated.pop(CONF_SOURCE_KEY, None)
    if isinstance(source_id, str) and isinstance(source_key, str):
        try:
            validate_credentials(source_id, source_key)
        except ValueError:
            return migrated
        migrated[CONF_DEVICE_KEY] = source_id + source_key
        migrated[CONF_DEVICE_KEY_LEGACY] = True
    return migrated


def on_device_unique_id(data: Mapping[str, Any]) -> str:
    """One listener per protocol and port."""
    return f"{str(data[CONF_PROTOCOL]).lower()}-{int(data[CONF_PORT])}"


class OnDeviceSteps(KindFlowBase):
    """The config flow's steps adding or moving the on-device listener."""

    async def async_step_on_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the listener for cloud messages on this device."""
        errors: dict[str, str] = {}
        if user_input is not None:
            # A listener already configured holds its port: say so, not "cannot bind".
            # Another form for the same address (one left open, or left after an
            # error) does not hold it: the first to finish creates the entry.
            await self.async_set_unique_id(
                on_device_unique_id(user_input), raise_on_progress=False
            )
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
                {
                    k: v
                    for k, v in (user_input or {}).items()
                    if k not in _NOT_SUGGESTED
                },
            ),
            errors=errors,
            description_placeholders=PORT_FIELD.placeholders,
        )

    async def _async_validate_on_device(
        self,
        user_input: dict[str, Any],
        errors: dict[str, str],
        current: ConfigEntry | None,
    ) -> dict[str, Any] | None:
        """Check the device key's form and that the address can be bound.

        On reconfigure an empty key keeps the stored one (a legacy one stays
        legacy) unless ``remove_device_key`` is ticked; a key entered replaces it.
        """
        protocol = user_input[CONF_PROTOCOL]
        port = PORT_FIELD.check(user_input, errors)
        if port is None:
            return None
        host = (user_input.get(CONF_HOST) or "").strip()
        device_key = (user_input.get(CONF_DEVICE_KEY) or "").strip()
        data: dict[str, Any] = {
            CONF_KIND: EntryKind.ON_DEVICE.value,
            CONF_PROTOCOL: protocol,
            CONF_PORT: port,
            CONF_HOST: host,
        }
        if device_key:
            try:
                validate_device_key(device_key)
            except ValueError:
                errors[CONF_DEVICE_KEY] = "invalid_device_key"
                return None
            data[CONF_DEVICE_KEY] = device_key
        elif (
            current is not None
            and not user_input.get(CONF_REMOVE_DEVICE_KEY)
            and current.data.get(CONF_DEVICE_KEY)
        ):
            data[CONF_DEVICE_KEY] = current.data[CONF_DEVICE_KEY]
            if current.data.get(CONF_DEVICE_KEY_LEGACY):
                data[CONF_DEVICE_KEY_LEGACY] = True
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

    async def async_step_reconfigure_on_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the listener to another protocol, port or address (no restart)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_validate_on_device(user_input, errors, entry)
            if data is not None:
                unique_id = on_device_unique_id(data)
                if unique_id != entry.unique_id:
                    await self.async_set_unique_id(unique_id, raise_on_progress=False)
                    self._abort_if_unique_id_configured()
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=f"Listener {data[CONF_PROTOCOL]} {data[CONF_PORT]}",
                    data=data,
                )
        suggested = {
            k: v
            for k, v in (user_input or entry.data).items()
            if k not in _NOT_SUGGESTED
        }
        return self.async_show_form(
            step_id="reconfigure_on_device",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_ON_DEVICE_SCHEMA, suggested
            ),
            errors=errors,
            description_placeholders={"title": entry.title, **PORT_FIELD.placeholders},
        )


# The details the listener's options form leaves to the docs.
LISTENER_DOCS_URL = f"{DOCS_URL}/listener.md#who-may-send-allowed-networks"
RATE_LIMIT_FIELD = WholeNumber(CONF_RATE_LIMIT, 1, RATE_LIMIT_MAX, "messages/min")


def suggested_secret() -> str:
    """Return a fresh secret the options form offers (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


class ListenerOptionsFlow(OptionsFlow):
    """Who may send to the on-device listener, how often, and the shared secret.

    Applied at once. The secret is never shown back: an empty field keeps the
    stored one, ``remove_listener_secret`` forgets it.
    """

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the listener's options."""
        return await self.async_step_listener()

    def _secret(self, user_input: dict[str, Any], errors: dict[str, str]) -> str | None:
        """Return the secret to store (None: none); a bad input adds an error."""
        entered = str(user_input.get(CONF_LISTENER_SECRET) or "").strip()
        remove = bool(user_input.get(CONF_REMOVE_LISTENER_SECRET))
        if entered and remove:
            errors[CONF_LISTENER_SECRET] = "listener_secret_and_remove"
            return None
        if remove:
            return None
        if not entered:
            return listener_secret(self.config_entry.options)
        try:
            return validate_secret(entered)
        except ValueError:
            errors[CONF_LISTENER_SECRET] = "invalid_listener_secret"
            return None

    async def async_step_listener(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check every network and the secret; the running listener takes them."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders = {"network": ""}
        allowed, rate = listener_options(entry.options)
        if user_input is not None:
            values = user_input.get(CONF_ALLOWED_NETWORKS) or []
            checked = RATE_LIMIT_FIELD.check(user_input, errors)
            try:
                networks = parse_networks(values)
            except ValueError as err:
                errors[CONF_ALLOWED_NETWORKS] = "invalid_network"
                placeholders["network"] = str(err)[:100]
            else:
                if not networks:
                    errors[CONF_ALLOWED_NETWORKS] = "no_network"
            secret = self._secret(user_input, errors)
            if checked is not None and not errors:
                rate = checked
                options = {
                    key: value
                    for key, value in entry.options.items()
                    if key != CONF_LISTENER_SECRET
                }
                options[CONF_ALLOWED_NETWORKS] = [str(n) for n in networks]
                options[CONF_RATE_LIMIT] = rate
                if secret is not None:
                    options[CONF_LISTENER_SECRET] = secret
                async_apply_listener_options(self.hass, entry, options)
                return self.async_create_entry(data=options)
            allowed = [str(value) for value in values]
        schema: dict[vol.Marker, Any] = {
            vol.Required(CONF_ALLOWED_NETWORKS, default=allowed): TextSelector(
                TextSelectorConfig(multiple=True)
            ),
            vol.Required(CONF_RATE_LIMIT, default=rate): RATE_LIMIT_FIELD.selector,
            # Never filled in: the stored secret is not shown again.
            vol.Optional(CONF_LISTENER_SECRET): SECRET,
        }
        has_secret = listener_secret(entry.options) is not None
        if has_secret:
            schema[vol.Optional(CONF_REMOVE_LISTENER_SECRET, default=False)] = (
                BooleanSelector()
            )
        return self.async_show_form(
            step_id="listener",
            data_schema=vol.Schema(schema),
            errors=errors,
            description_placeholders={
                **placeholders,
                **RATE_LIMIT_FIELD.placeholders,
                "docs_url": LISTENER_DOCS_URL,
                "title": entry.title,
                "suggestion": suggested_secret(),
            },
        )


FLOW = KindFlow(
    steps=OnDeviceSteps,
    reconfigure_step="reconfigure_on_device",
    options_flow=ListenerOptionsFlow,
)

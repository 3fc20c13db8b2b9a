"""The config flow of the on-device listener: its address, its bind check, its options."""

# Parent-relative imports: mypy checks custom_components/cellular_iot as the
# package cellular_iot, where custom_components.… would be a second name.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)

from ...const import (
    CONF_HOST,
    CONF_KIND,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_SOURCE_ID,
    CONF_SOURCE_KEY,
    DEFAULT_LISTENER_PORT,
    EntryKind,
)
from ...providers.hologram_socket import validate_credentials
from ...providers.listener import Listener, parse_networks
from ..flow import PORT, SECRET, TEXT, KindFlow, KindFlowBase
from .wiring import (
    CONF_ALLOWED_NETWORKS,
    CONF_RATE_LIMIT,
    RATE_LIMIT_MAX,
    async_apply_listener_options,
    default_listener_options,
    listener_options,
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
        vol.Optional(CONF_SOURCE_ID): TEXT,
        vol.Optional(CONF_SOURCE_KEY): SECRET,
    }
)


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


FLOW = KindFlow(
    steps=OnDeviceSteps,
    reconfigure_step="reconfigure_on_device",
    options_flow=ListenerOptionsFlow,
)

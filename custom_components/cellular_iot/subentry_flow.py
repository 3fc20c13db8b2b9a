"""Devices under an account: one config subentry per device.

A Hologram device, an emnify endpoint or a monoZ ICCID, with its name and its
defaults for sending.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import (
    ATTR_ICCID,
    ATTR_PORT,
    ATTR_PROTOCOL,
    ATTR_QOS,
    ATTR_TOPIC,
    CONF_KIND,
    CONF_NAME,
    CONF_ORG_ID,
    CONF_SEND_AS,
    DEVICE_KEYS,
    LOGGER,
    SEND_AS_CLOUD_MESSAGE,
    SEND_AS_SMS,
    EntryKind,
)
from .kinds.hologram import HologramData
from .providers.errors import ProviderError
from .providers.monoz import valid_downlink_topic, valid_iccid

DEFAULT_DEVICE_PORT = 4010
# What each provider calls the ID of a device (in the forms' error texts).
ID_NAMES: dict[EntryKind, str] = {
    EntryKind.HOLOGRAM: "Hologram device ID",
    EntryKind.EMNIFY: "emnify endpoint ID",
}
# A port field (1-65535), shared with the listener and broker forms.
PORT = vol.All(
    NumberSelector(
        NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
    ),
    vol.Coerce(int),
    vol.Range(min=1, max=65535),
)


def _select(options: list[str], translation_key: str | None) -> SelectSelector:
    """Return a drop-down whose options strings.json's selector section labels.

    Only TCP / UDP go without a translation_key: they read the same everywhere.
    """
    config = SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
    if translation_key is not None:
        config["translation_key"] = translation_key
    return SelectSelector(config)


def _defaults_schema(kind: EntryKind, current: dict[str, Any]) -> dict[Any, Any]:
    """Return the per-device defaults: how notify.send_message reaches the device."""
    if kind is EntryKind.HOLOGRAM:
        return {
            vol.Required(
                CONF_SEND_AS, default=current.get(CONF_SEND_AS, SEND_AS_CLOUD_MESSAGE)
            ): _select([SEND_AS_CLOUD_MESSAGE, SEND_AS_SMS], CONF_SEND_AS),
            vol.Required(
                ATTR_PORT, default=current.get(ATTR_PORT, DEFAULT_DEVICE_PORT)
            ): PORT,
            vol.Required(
                ATTR_PROTOCOL, default=current.get(ATTR_PROTOCOL, "TCP")
            ): _select(["TCP", "UDP"], None),
        }
    if kind is EntryKind.MONOZ:
        return {
            vol.Optional(
                ATTR_TOPIC, default=current.get(ATTR_TOPIC, "")
            ): TextSelector(),
            vol.Required(ATTR_QOS, default=str(current.get(ATTR_QOS, 0))): _select(
                ["0", "1"], ATTR_QOS
            ),
        }
    return {}


def _clean_defaults(
    kind: EntryKind, user_input: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    if kind is EntryKind.HOLOGRAM:
        return {
            CONF_SEND_AS: user_input[CONF_SEND_AS],
            ATTR_PORT: int(user_input[ATTR_PORT]),
            ATTR_PROTOCOL: user_input[ATTR_PROTOCOL],
        }
    if kind is EntryKind.MONOZ:
        topic = str(user_input.get(ATTR_TOPIC) or "").strip()
        if not valid_downlink_topic(topic):
            errors[ATTR_TOPIC] = "invalid_topic"
        return {ATTR_TOPIC: topic, ATTR_QOS: int(user_input[ATTR_QOS])}
    return {}


def _clean_id(kind: EntryKind, value: Any) -> str | None:
    text = str(value or "").strip()
    if kind is EntryKind.MONOZ:
        return text if valid_iccid(text) else None
    return text if text.isdecimal() and int(text) > 0 else None


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a device of an account."""

    @property
    def _kind(self) -> EntryKind:
        return EntryKind(self._get_entry().data[CONF_KIND])

    async def _device_choices(self) -> list[SelectOptionDict]:
        """Hologram can list the account's devices; the others are typed."""
        runtime = getattr(self._get_entry(), "runtime_data", None)
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

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a device: each account kind has a form that speaks of its provider."""
        return await self._async_add_device(self._kind.value, None)

    async def async_step_hologram(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a Hologram device by its device ID (picked from the account's list)."""
        return await self._async_add_device("hologram", user_input)

    async def async_step_emnify(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add an emnify device by its endpoint ID."""
        return await self._async_add_device("emnify", user_input)

    async def async_step_monoz(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a monoZ device by its SIM's ICCID."""
        return await self._async_add_device("monoz", user_input)

    async def _async_add_device(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        """Add a device by its provider id (picked from a list where possible)."""
        kind = self._kind
        key = DEVICE_KEYS[kind]
        choices = await self._device_choices()
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = _clean_id(kind, user_input.get(key))
            defaults = _clean_defaults(kind, user_input, errors)
            if device_id is None:
                errors[key] = (
                    "invalid_iccid" if key == ATTR_ICCID else "invalid_device_id"
                )
            elif any(
                sub.data.get(key) == device_id
                for sub in self._get_entry().subentries.values()
            ):
                return self.async_abort(reason="already_configured")
            if not errors and device_id is not None:
                labels = {c["value"]: c["label"] for c in choices}
                name = (user_input.get(CONF_NAME) or "").strip() or labels.get(
                    device_id, f"{kind.value} {device_id}"
                ).rsplit(" (", 1)[0]
                self.hass.config_entries.async_schedule_reload(self._entry_id)
                return self.async_create_entry(
                    title=name,
                    data={key: device_id, **defaults},
                    unique_id=f"{kind.value}-{device_id}",
                )
        id_selector: Any = (
            SelectSelector(
                SelectSelectorConfig(
                    options=choices,
                    custom_value=True,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
            if choices
            else TextSelector()
        )
        schema = vol.Schema(
            {
                vol.Required(key): id_selector,
                vol.Optional(CONF_NAME): TextSelector(),
                **_defaults_schema(kind, {}),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    def _placeholders(self) -> dict[str, str]:
        """Return the placeholders of the device forms and their errors."""
        if self._kind is EntryKind.MONOZ:
            return {"org_id": str(self._get_entry().data.get(CONF_ORG_ID))}
        return {"id_name": ID_NAMES[self._kind]}

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Rename the device or change its defaults (its id stays)."""
        kind = self._kind
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            defaults = _clean_defaults(kind, user_input, errors)
            if not errors:
                self.hass.config_entries.async_schedule_reload(self._entry_id)
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    title=(user_input.get(CONF_NAME) or "").strip() or subentry.title,
                    data={**subentry.data, **defaults},
                )
        schema = vol.Schema(
            {
                vol.Optional(CONF_NAME, default=subentry.title): TextSelector(),
                **_defaults_schema(kind, dict(subentry.data)),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                **self._placeholders(),
                "device": str(subentry.data.get(DEVICE_KEYS[kind], "")),
            },
        )

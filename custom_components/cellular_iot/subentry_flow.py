"""Devices under an account: one config subentry per device.

A Hologram device, an emnify endpoint or a monoZ ICCID, with its name and its
defaults for sending. Each account kind subclasses ``DeviceSubentryFlow`` in its
kinds/<kind>/flow.py with its ``DeviceForm`` and the step of its add form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import CONF_KIND, CONF_NAME


def numeric_id(value: Any) -> str | None:
    """Return a device id that is a positive integer, or None."""
    text = str(value or "").strip()
    return text if text.isdecimal() and int(text) > 0 else None


def _no_defaults(current: Mapping[str, Any]) -> dict[Any, Any]:
    return {}


def _nothing_to_clean(
    user_input: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceForm:
    """What the device forms of an account kind ask, and how they check it."""

    # The data key of the device's provider id.
    key: str
    # The error on that field when the id is not one.
    invalid_id: str
    # The id as stored, or None when it is not valid.
    clean_id: Callable[[Any], str | None]
    # The placeholders of the forms and their errors, from the account entry.
    placeholders: Callable[[ConfigEntry], dict[str, str]]
    # The per-device defaults (how notify.send_message reaches the device), with
    # the given values as defaults...
    defaults: Callable[[Mapping[str, Any]], dict[Any, Any]] = _no_defaults
    # ...and the values to store from a submitted form (errors set on the way).
    clean_defaults: Callable[[dict[str, Any], dict[str, str]], dict[str, Any]] = (
        _nothing_to_clean
    )
    # The account's devices to choose from; None: the id is typed.
    choices: Callable[[ConfigEntry], Awaitable[list[SelectOptionDict]]] | None = None
    # Whether the account has a device with this id: None when it has, else the
    # error to show as (field, error key): on the id field when the provider says
    # the account has no such device, on the form when it could not tell. None:
    # the provider has no read that tells.
    check: (
        Callable[[HomeAssistant, ConfigEntry, str], Awaitable[tuple[str, str] | None]]
        | None
    ) = None


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a device of an account.

    The add form's step is named after the account kind: the subclass of each kind
    has ``async_step_<kind>`` calling ``_async_add_device``.
    """

    form: ClassVar[DeviceForm]

    @property
    def _kind(self) -> str:
        return str(self._get_entry().data[CONF_KIND])

    async def _device_choices(self) -> list[SelectOptionDict]:
        """List the account's devices where the provider can; the others are typed."""
        if self.form.choices is None:
            return []
        return await self.form.choices(self._get_entry())

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a device: each account kind has a form that speaks of its provider."""
        return await self._async_add_device(None)

    async def _async_add_device(
        self, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        """Add a device by its provider id (picked from a list where possible).

        The list leaves out the devices already added; when it leaves none, the
        form says so instead of showing an empty list.
        """
        kind = self._kind
        form = self.form
        key = form.key
        entry = self._get_entry()
        added = {
            str(sub.data[key]) for sub in entry.subentries.values() if key in sub.data
        }
        listed = await self._device_choices()
        choices = [choice for choice in listed if choice["value"] not in added]
        if listed and not choices:
            return self.async_abort(
                reason="all_devices_added",
                description_placeholders={"title": entry.title},
            )
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = form.clean_id(user_input.get(key))
            defaults = form.clean_defaults(user_input, errors)
            if device_id is None:
                errors[key] = form.invalid_id
            elif device_id in added:
                return self.async_abort(reason="already_configured")
            elif (
                not errors
                and form.check is not None
                and (refused := await form.check(self.hass, entry, device_id))
            ):
                errors[refused[0]] = refused[1]
            if not errors and device_id is not None:
                labels = {c["value"]: c["label"] for c in choices}
                name = (user_input.get(CONF_NAME) or "").strip() or labels.get(
                    device_id, f"{kind} {device_id}"
                ).rsplit(" (", 1)[0]
                # The loaded account sets up the new device itself (no reload).
                return self.async_create_entry(
                    title=name,
                    data={key: device_id, **defaults},
                    unique_id=f"{kind}-{device_id}",
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
                **form.defaults({}),
            }
        )
        return self.async_show_form(
            step_id=kind,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=form.placeholders(entry),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Rename the device or change its defaults (its id stays)."""
        form = self.form
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            defaults = form.clean_defaults(user_input, errors)
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
                **form.defaults(dict(subentry.data)),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                **form.placeholders(self._get_entry()),
                "device": str(subentry.data.get(form.key, "")),
            },
        )

"""What the shared config flow asks of an entry kind, and what its steps build on.

config_flow.py composes one ConfigFlow from the kinds' step mixins (HA calls
``async_step_<step_id>`` on the flow class) and asks the entry's ``KindFlow``
wherever the kinds differ, instead of branching on the kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
TEXT = TextSelector()


@dataclass(frozen=True, slots=True)
class WholeNumber:
    """A whole-number form field whose limits the step checks, not the schema.

    A limit in the schema (the selector's min/max, ``vol.Range``) fails the form
    before the step runs, with voluptuous' untranslated "Value 70000.0 is too
    large". The step calls :meth:`check` instead: out of range, or not whole, is
    the translated error ``<key>_out_of_range`` on the field, whose text takes the
    limits from the placeholders ``<key>_min`` and ``<key>_max``.
    """

    key: str
    minimum: int
    maximum: int
    unit: str | None = None

    @property
    def selector(self) -> NumberSelector:
        """Return the field's selector: a box of whole numbers, no limits."""
        config = NumberSelectorConfig(step=1, mode=NumberSelectorMode.BOX)
        if self.unit is not None:
            config["unit_of_measurement"] = self.unit
        return NumberSelector(config)

    @property
    def placeholders(self) -> dict[str, str]:
        """Return the limits, as the field's error text shows them."""
        return {
            f"{self.key}_min": str(self.minimum),
            f"{self.key}_max": str(self.maximum),
        }

    def check(
        self, user_input: Mapping[str, Any], errors: dict[str, str]
    ) -> int | None:
        """Return the field's whole number; None with the field's error when not one."""
        value = float(user_input[self.key])
        if value.is_integer() and self.minimum <= value <= self.maximum:
            return int(value)
        errors[self.key] = f"{self.key}_out_of_range"
        return None


# A port field: the listener, the broker and the devices' defaults.
PORT_FIELD = WholeNumber("port", 1, 65535)
PORT = PORT_FIELD.selector


def select(options: list[str], translation_key: str | None) -> SelectSelector:
    """Return a drop-down whose options strings.json's selector section labels.

    Only TCP / UDP go without a translation_key: they read the same everywhere.
    """
    config = SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
    if translation_key is not None:
        config["translation_key"] = translation_key
    return SelectSelector(config)


class KindFlowBase(ConfigFlow):
    """The config flow as a kind's steps see it: each kind's mixin subclasses this."""

    def _async_create_account_entry(
        self, *, title: str, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Create an account entry with its inbound webhook (config_flow.py)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class SecretCheck:
    """An account's secret, as the reauth and the shared reconfigure forms ask it."""

    # The data key of the secret (a password field).
    key: str
    # Prove new credentials for the entry: the unique id of the account they open,
    # or None with the form's errors set. Given the secret and the ``also`` fields,
    # by data key.
    account_id: Callable[
        [HomeAssistant, ConfigEntry, Mapping[str, str], dict[str, str]],
        Awaitable[str | None],
    ]
    # Credentials asked with the secret (text fields, filled with the stored value):
    # 1NCE's client id, which a new client secret comes with.
    also: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every field of the form, in its order."""
        return (*self.also, self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class KindFlow:
    """One entry kind's part of the config flow.

    The menu offers each kind as the step named by its EntryKind value: ``steps``
    must have ``async_step_<value>``.
    """

    # The mixin with the kind's steps; the config flow class inherits it.
    steps: type[KindFlowBase]
    # The {provider}, {credential} and {account} of the account forms' texts.
    placeholders: Mapping[str, str] = field(default_factory=dict)
    # Accounts get an inbound webhook when created, and the webhook options flow:
    # this is the docs page (and anchor, in docs/) of pasting its URL at the
    # provider. None: no webhook.
    webhook_docs: str | None = None
    # The secret that reauth_confirm (and reconfigure, see below) replaces.
    secret: SecretCheck | None = None
    # The kind's own reconfigure step; None: the shared form replacing the secret.
    reconfigure_step: str | None = None
    # The kind's own options flow, in place of the webhook's.
    options_flow: Callable[[], OptionsFlow] | None = None
    # The subentry types of the kind's entries (accounts: their devices).
    subentries: Mapping[str, type[ConfigSubentryFlow]] = field(default_factory=dict)
    # The options a new entry of the kind starts with (beside its webhook secret).
    new_entry_options: Mapping[str, Any] = field(default_factory=dict)

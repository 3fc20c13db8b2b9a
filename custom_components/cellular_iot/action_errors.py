"""What every action raises: translated errors that name the field by its label.

Shared by the action registry (``services.py``), the device targets and the kinds'
send paths. Bad input is a ``ServiceValidationError`` (HTTP 400 over REST on every
release); a provider failure a translated ``HomeAssistantError``.
"""

from __future__ import annotations

from typing import Final

import voluptuous as vol

from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.translation import async_get_cached_translations

from .const import DOMAIN
from .models import CellularIoTConfigEntry
from .providers.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
)

# What an error message quotes of a bad value.
MAX_SHOWN_CHARS: Final = 100


def shown(value: object) -> str:
    """Return a value as an error message may quote it: printable, cut short."""
    text = str(value)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + "…"
    return "".join(char if char.isprintable() else "?" for char in text)


class FieldInvalid(vol.Invalid):
    """A field failed validation; the message is a translation key.

    The key and placeholders live in attributes of our own: voluptuous' ``Invalid``
    has none of these names, but probatio's (HA 2026.9+ aliases ``voluptuous`` to
    it) has read-only ``translation_key`` and ``placeholders`` properties, and
    its ``__init__`` takes keywords voluptuous' does not. Only the message is
    passed up, which both accept.
    """

    def __init__(self, translation_key: str, **placeholders: object) -> None:
        """Keep the translation key and its placeholders."""
        super().__init__(translation_key)
        self.field_error_key = translation_key
        self.field_error_placeholders = {
            key: shown(value) for key, value in placeholders.items()
        }


# HA's REST API (``POST /api/services/<domain>/<action>``) answers a
# ``ServiceValidationError`` with 400 and its message from 2026.11; up to 2026.8 (and
# perhaps 2026.10) only ``vol.Invalid`` is a 400, anything else a 500 with an ERROR
# traceback. tests/test_action_errors_rest.py checks this against the running HA.
REST_ANSWERS_SERVICE_VALIDATION_ERRORS: Final = (MAJOR_VERSION, MINOR_VERSION) >= (
    2026,
    11,
)


class ActionValidationError(ServiceValidationError, vol.Invalid):
    """A ``ServiceValidationError`` that is also a ``vol.Invalid``, for older HA.

    Raised instead of a plain ``ServiceValidationError`` where the REST API answers
    only ``vol.Invalid`` with 400. Callers that catch ``ServiceValidationError`` or
    ``HomeAssistantError`` still do, with its translation and message (``str``).
    Where HA checks ``vol.Invalid`` first it is invalid input: the websocket API
    sends it as an invalid-format error with that message (not logged as an
    error), and a script stops even with ``continue_on_error``, as for any
    invalid action data.

    HA 2026.9+ aliases voluptuous to probatio, whose ``Invalid`` has read-only
    ``translation_key`` (and more) properties; these class attributes come first in
    the MRO, so ``HomeAssistantError.__init__`` can set them.
    """

    translation_domain: str | None = None
    translation_key: str | None = None
    translation_placeholders: dict[str, str] | None = None


def invalid(key: str, **placeholders: object) -> ServiceValidationError:
    """Return the translated error to raise for bad action input.

    Bad input is a 400 over REST on every release. Like HA's own schema errors
    (``vol.Invalid``) it stops a script even with ``continue_on_error`` up to
    2026.10: the script is wrong, not the moment.
    """
    error_type = (
        ServiceValidationError
        if REST_ANSWERS_SERVICE_VALIDATION_ERRORS
        else ActionValidationError
    )
    return error_type(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            name: shown(value) for name, value in placeholders.items()
        },
    )


def not_ready(key: str, **placeholders: object) -> ServiceValidationError:
    """Return the translated error for right input the entry cannot send now.

    Not loaded, none set up, no credentials. A plain ``ServiceValidationError`` on
    every release, so ``continue_on_error`` passes it (an account that is retrying
    its setup does not stop a script).
    """
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            name: shown(value) for name, value in placeholders.items()
        },
    )


def _service_text(hass: HomeAssistant, key: str, default: str) -> str:
    """Return a text of the actions' translations (services.yaml's labels)."""
    full_key = f"component.{DOMAIN}.services.{key}"
    for language in (hass.config.language, "en"):
        text = async_get_cached_translations(hass, language, "services", DOMAIN).get(
            full_key
        )
        if text:
            return text
    return default


def label(hass: HomeAssistant, action: str, field: str) -> str:
    """Return a field's label, as the action's form shows it (``Port``)."""
    return _service_text(hass, f"{action}.fields.{field}.name", field)


def action_name(hass: HomeAssistant, action: str) -> str:
    """Return an action's name, as the actions list shows it."""
    return _service_text(hass, f"{action}.name", action)


def provider_error(
    hass: HomeAssistant,
    entry: CellularIoTConfigEntry | None,
    err: ProviderError,
    *,
    title: str | None = None,
) -> HomeAssistantError:
    """Translate a provider client error; start re-authentication on auth errors."""
    title = title or (entry.title if entry is not None else "Hologram device webhook")
    # The text names the kind of failure; the placeholder only what was answered.
    placeholders = {"title": title, "error": err.reason}
    if isinstance(err, ProviderAuthError):
        if entry is not None:
            entry.async_start_reauth(hass)
        key = "provider_auth"
    elif isinstance(err, ProviderNotFoundError):
        key = "provider_not_found"
    elif isinstance(err, ProviderBadRequestError):
        key = "provider_bad_request"
    elif isinstance(err, ProviderRateLimitedError):
        key = "provider_rate_limited"
    elif isinstance(err, ProviderConnectionError):
        key = "provider_unreachable"
    else:
        key = "provider_error"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )

"""A stand-in for ``homeassistant.components.cloud`` in tests.

The integration imports the cloud module only once the cloud integration is loaded
(``cloud`` is an after-dependency). Importing the real one is not possible on every
release the tests run on (on 2026.2 it pulls in alexa → camera → turbojpeg), so the
tests put this stub in its place: the functions core's own tests mock
(``async_active_subscription``, ``async_is_connected``, ``async_create_cloudhook``,
``async_delete_cloudhook``) and the errors they raise.
"""

from __future__ import annotations

import sys
from types import ModuleType
from unittest.mock import AsyncMock, MagicMock

import pytest

import homeassistant.components
from homeassistant.exceptions import HomeAssistantError

NAME = "homeassistant.components.cloud"


class CloudNotAvailable(HomeAssistantError):
    """As core's: the cloud is not available."""


class CloudNotConnected(CloudNotAvailable):
    """As core's: the cloud is not connected."""


def stub_cloud(
    monkeypatch: pytest.MonkeyPatch,
    *,
    logged_in: bool = True,
    connected: bool = True,
    create: AsyncMock | None = None,
) -> ModuleType:
    """Put a cloud module in place (logged in and connected unless told); return it."""
    module = ModuleType(NAME)
    module.CloudNotAvailable = CloudNotAvailable  # type: ignore[attr-defined]
    module.CloudNotConnected = CloudNotConnected  # type: ignore[attr-defined]
    module.async_active_subscription = MagicMock(return_value=logged_in)  # type: ignore[attr-defined]
    module.async_is_connected = MagicMock(return_value=connected)  # type: ignore[attr-defined]
    module.async_create_cloudhook = create or AsyncMock()  # type: ignore[attr-defined]
    module.async_delete_cloudhook = AsyncMock()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, NAME, module)
    # ``from homeassistant.components import cloud`` reads the package first.
    monkeypatch.setattr(homeassistant.components, "cloud", module, raising=False)
    return module

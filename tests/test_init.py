"""Setting up, unloading and reloading entries."""

from __future__ import annotations

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant

from .conftest import hologram_entry
from .fakes.hologram import FakeHologram


async def test_setup_unload_reload(hass: HomeAssistant, hologram: FakeHologram) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.user.user_id == 1001
    assert len(hologram.calls("/users/me")) == 1

    assert await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert len(hologram.calls("/users/me")) == 2

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    # The actions stay registered: they belong to the integration, not the entry.
    assert hass.services.has_service(DOMAIN, "send_cloud_message")


async def test_setup_refused_key_starts_reauth(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry(api_key="revoked-key")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    assert flows[0]["context"]["entry_id"] == entry.entry_id


async def test_setup_provider_down_retries(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.fail("/users/me", 503)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_timeout_retries(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram.fail("/users/me", hang=True)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_unknown_kind_is_an_error(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={"kind": "carrier_pigeon"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR

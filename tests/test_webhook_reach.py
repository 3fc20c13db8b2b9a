"""The webhook URL shown for a new account: one a provider can reach, or a warning.

Issue 26 A2: the URL shown was HA's internal one (``http://192.168…:8123``) with no word
that a provider cannot reach it, and Home Assistant Cloud was never offered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .cloud_stub import stub_cloud
from .conftest import API_KEY, hologram_entry
from .fakes.hologram import FakeHologram
from .test_docs_links import anchors
from .texts import icu_format

ROOT = Path(__file__).parent.parent
STRINGS = json.loads(
    (ROOT / "custom_components" / "cellular_iot" / "strings.json").read_text()
)
DOCS = "https://github.com/cellular-iot/cellular_iot/blob/main/docs/"
CLOUDHOOK = "https://hooks.nabu.casa/abcdef"


async def _add_hologram(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "hologram"}
    )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": API_KEY}
    )


def _message(result: Any) -> str:
    text = STRINGS["config"]["create_entry"][result["description"]]
    return icu_format(text, result["description_placeholders"])


async def test_external_url_is_shown(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    await hass.config.async_update(
        internal_url="http://192.168.1.5:8123", external_url="https://ha.example.com"
    )
    result = await _add_hologram(hass)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    placeholders = result["description_placeholders"]
    webhook_id = result["data"]["webhook_id"]
    assert placeholders["webhook_url"] == (
        f"https://ha.example.com/api/webhook/{webhook_id}"
    )
    assert placeholders["url_with_secret"].startswith("https://ha.example.com/")
    assert result["description"] == "hologram"
    assert "cannot reach" not in _message(result)


async def test_internal_url_only_is_a_warning(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    await hass.config.async_update(internal_url="http://192.168.1.5:8123")
    result = await _add_hologram(hass)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == "hologram_local"
    assert result["description_placeholders"]["webhook_url"].startswith(
        "http://192.168.1.5:8123/api/webhook/"
    )
    message = _message(result)
    assert "**Hologram cannot reach this URL**" in message
    assert "Settings → System → Network" in message
    assert "Home Assistant Cloud" in message


async def test_hints_are_translated_and_link_the_template(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """Placeholders carry only data; the link leads to the page with the template."""
    result = await _add_hologram(hass)
    await hass.async_block_till_done()
    placeholders = result["description_placeholders"]
    assert set(placeholders) == {
        "provider",
        "docs_url",
        "webhook_url",
        "secret",
        "url_with_secret",
        "basic_auth",
    }
    assert "README" not in _message(result)
    page, anchor = placeholders["docs_url"].removeprefix(DOCS).split("#")
    text = (ROOT / "docs" / page).read_text()
    assert anchor in anchors(text)
    section = text.split("\n## Hologram\n")[1].split("\n## ")[0]
    assert '"data": "<<data>>"' in section  # the JSON template of the route


async def test_cloudhook_offered_and_created(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    hass.config.components.add("cloud")
    cloud = stub_cloud(monkeypatch, create=AsyncMock(return_value=CLOUDHOOK))
    result = await _add_hologram(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "webhook"
    assert result["menu_options"] == ["cloudhook", "own_url"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "cloudhook"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    webhook_id = result["data"]["webhook_id"]
    cloud.async_create_cloudhook.assert_awaited_once_with(hass, webhook_id)
    assert result["data"]["cloudhook_url"] == CLOUDHOOK
    assert result["description"] == "hologram"
    assert result["description_placeholders"]["webhook_url"] == CLOUDHOOK
    # The options show the Cloud URL too.
    entry = result["result"]
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["description_placeholders"]["webhook_url"] == CLOUDHOOK


async def test_own_url_instead_of_cloudhook(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    hass.config.components.add("cloud")
    cloud = stub_cloud(monkeypatch, create=AsyncMock(return_value=CLOUDHOOK))
    result = await _add_hologram(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "own_url"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    cloud.async_create_cloudhook.assert_not_awaited()
    assert "cloudhook_url" not in result["data"]
    assert result["description"] == "hologram_local"


async def test_no_cloudhook_offered_when_cloud_is_not_connected(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    hass.config.components.add("cloud")
    stub_cloud(monkeypatch, connected=False)
    result = await _add_hologram(hass)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_cloudhook_deleted_when_entry_removed(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    hass.config.components.add("cloud")
    cloud = stub_cloud(monkeypatch)
    entry = hologram_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, "webhook_id": "w" * 64, "cloudhook_url": CLOUDHOOK},
    )
    await hass.config_entries.async_remove(entry.entry_id)
    cloud.async_delete_cloudhook.assert_awaited_once_with(hass, "w" * 64)


async def test_no_cloudhook_no_delete(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    hass.config.components.add("cloud")
    cloud = stub_cloud(monkeypatch)
    entry: MockConfigEntry = hologram_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_remove(entry.entry_id)
    cloud.async_delete_cloudhook.assert_not_called()


async def test_webhook_menu_without_a_choice_shows_it_again(
    hass: HomeAssistant, hologram: FakeHologram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Cloud menu's own step (reached when nothing was chosen) shows the menu."""
    hass.config.components.add("cloud")
    stub_cloud(monkeypatch, create=AsyncMock(return_value=CLOUDHOOK))
    result = await _add_hologram(hass)
    assert result["type"] is FlowResultType.MENU
    again = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert again["type"] is FlowResultType.MENU
    assert again["step_id"] == "webhook"
    assert again["menu_options"] == ["cloudhook", "own_url"]
    assert again["description_placeholders"] == result["description_placeholders"]

"""The config flow: menu, Hologram step with every error, reauth and reconfigure."""

from __future__ import annotations

import base64
import socket
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cellular_iot.const import DOMAIN
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .conftest import API_KEY, hologram_entry
from .fakes.hologram import FakeHologram


async def _hologram_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "hologram",
        "emnify",
        "monoz",
        "1nce",
        "on_device",
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "hologram"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hologram"
    assert result["errors"] == {}
    return result["flow_id"]


async def test_user_flow_creates_entry_for_user(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    flow_id = await _hologram_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"api_key": f"  {API_KEY} "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Hologram (owner@example.com)"
    webhook_id = result["data"].pop("webhook_id")
    assert len(webhook_id) == 64
    assert result["data"] == {"kind": "hologram", "api_key": API_KEY, "user_id": 1001}
    assert len(result["options"]["webhook_secret"]) >= 32
    assert (
        result["options"]["webhook_secret"]
        in result["description_placeholders"]["url_with_secret"]
    )
    assert result["result"].unique_id == "user-1001"
    auth = hologram.calls("/users/me")[0].headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(f"apikey:{API_KEY}".encode()).decode()


async def test_user_flow_with_org(hass: HomeAssistant, hologram: FakeHologram) -> None:
    flow_id = await _hologram_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"api_key": API_KEY, "org_id": " 7001 "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Hologram Fleet Ltd"
    assert result["data"]["org_id"] == 7001
    assert result["result"].unique_id == "org-7001"
    assert len(hologram.calls("/organizations/7001")) == 1


@pytest.mark.parametrize(
    ("user_input", "fault", "errors"),
    [
        ({"api_key": "wrong"}, None, {"base": "invalid_auth"}),
        ({"api_key": "   "}, None, {"api_key": "invalid_auth"}),
        ({"api_key": API_KEY}, 500, {"base": "cannot_connect"}),
        ({"api_key": API_KEY}, "hang", {"base": "cannot_connect"}),
        ({"api_key": API_KEY}, "garbage", {"base": "cannot_connect"}),
        ({"api_key": API_KEY, "org_id": "abc"}, None, {"org_id": "invalid_org_id"}),
        ({"api_key": API_KEY, "org_id": "0"}, None, {"org_id": "invalid_org_id"}),
        (
            {"api_key": API_KEY, "org_id": "5002"},
            None,
            {"org_id": "org_not_accessible"},
        ),
        ({"api_key": API_KEY, "org_id": "999"}, None, {"org_id": "org_not_accessible"}),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    hologram: FakeHologram,
    user_input: dict[str, str],
    fault: int | str | None,
    errors: dict[str, str],
) -> None:
    flow_id = await _hologram_form(hass)
    if fault == "hang":
        hologram.fail("/users/me", hang=True)
    elif fault == "garbage":
        hologram.fail("/users/me", 200, raw=b"<html>maintenance</html>")
    elif fault is not None:
        hologram.fail("/users/me", fault)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # What was typed stays, the key too (issue 26 A11: it was emptied).
    suggested = {
        str(k): k.description.get("suggested_value") if k.description else None
        for k in result["data_schema"].schema
    }
    assert suggested["api_key"] == user_input["api_key"]
    if "org_id" in user_input:
        assert suggested["org_id"] == user_input["org_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {"api_key": API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_unexpected_error(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    flow_id = await _hologram_form(hass)
    with patch(
        "custom_components.cellular_iot.config_flow.HologramClient.get_me",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"api_key": API_KEY}
        )
    assert result["errors"] == {"base": "unknown"}


async def test_same_account_cannot_be_added_twice(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    hologram_entry(org_id=None).add_to_hass(hass)
    flow_id = await _hologram_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"api_key": API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth(hass: HomeAssistant, hologram: FakeHologram) -> None:
    entry = hologram_entry(api_key="old-key")
    entry.add_to_hass(hass)
    hologram.api_keys["new-key"] = 1001
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    # The key typed stays in the (masked) field.
    (marker,) = result["data_schema"].schema
    assert marker.description == {"suggested_value": "still-wrong"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "new-key"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["api_key"] == "new-key"


async def test_reauth_other_account_is_refused(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry(org_id=None)
    entry.add_to_hass(hass)
    hologram.api_keys["someone-else"] = 1002
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "someone-else"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data["api_key"] == API_KEY


async def test_reconfigure_replaces_key(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    hologram.api_keys["rotated"] = 1001
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    hologram.fail("/users/me", 502)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "rotated"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "rotated"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["api_key"] == "rotated"


async def test_reconfigure_blank_keeps_key(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["api_key"] == API_KEY


async def test_reconfigure_org_no_longer_accessible(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry()
    entry.add_to_hass(hass)
    hologram.orgs[7001]["users"] = []
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "org_not_accessible"}


async def test_reconfigure_other_account_is_refused(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    entry = hologram_entry(org_id=None)
    entry.add_to_hass(hass)
    hologram.api_keys["someone-else"] = 1002
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_key": "someone-else"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


@pytest.mark.parametrize("protocol", ["TCP", "UDP"])
async def test_on_device_flow_listens_at_once_beside_an_account(
    hass: HomeAssistant, hologram_account: MockConfigEntry, protocol: str
) -> None:
    """With the integration loaded, the new listener binds on its first setup.

    The flow's probe used to close its UDP socket without waiting, so setup found the
    port still taken and went to SETUP_RETRY for ~5 s: messages sent meanwhile were lost.
    """
    kind = socket.SOCK_DGRAM if protocol == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "on_device"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"protocol": protocol, "port": port, "host": "127.0.0.1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.listener.listening
    await hass.async_block_till_done()

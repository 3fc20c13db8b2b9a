"""Every text a flow shows renders the way the frontend renders it.

The flows are driven here through every step, error, abort and created entry (config
flow, reauth, reconfigure, options, device subentries). Each result's translation
keys are looked up in strings.json and formatted with the ``description_placeholders``
the code passed, as the frontend's message formatter does: a ``{name}`` that was not
passed is a "Translation Error" in the browser, and a failure here. At the end, every
step, error, abort and create-entry message of strings.json must have been rendered,
so a new text cannot escape. Select selectors (flows and services.yaml) must have a
translation for each option.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.kinds.hologram.flow import HologramDeviceFlow
from custom_components.cellular_iot.kinds.on_device.flow import LISTENER_DOCS_URL
from custom_components.cellular_iot.providers.emnify import EmnifyAccount
from custom_components.cellular_iot.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNotFoundError,
)
from custom_components.cellular_iot.providers.hologram import HologramUser
from custom_components.cellular_iot.providers.mqtt import (
    MqttClientIdRejectedError,
    MqttTlsError,
)
from custom_components.cellular_iot.providers.onence import OneNceAccount
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.selector import SelectOptionDict, SelectSelector

from .cloud_stub import CloudNotConnected, stub_cloud
from .conftest import (
    API_KEY,
    ONENCE_PUMP,
    emnify_entry,
    hologram_entry,
    monoz_entry,
    onence_entry,
    with_webhook,
)
from .test_docs_links import anchors
from .texts import MissingPlaceholderError, icu_format

INTEGRATION = Path(__file__).parent.parent / "custom_components" / DOMAIN
STRINGS: dict[str, Any] = json.loads((INTEGRATION / "strings.json").read_text())
ROOT = INTEGRATION.parent.parent
FLOW = "custom_components.cellular_iot.config_flow"
ON_DEVICE_FLOW = "custom_components.cellular_iot.kinds.on_device.flow"
ONENCE_CLIENT = "custom_components.cellular_iot.providers.onence.OneNceClient"
ONENCE_ACCOUNT = OneNceAccount(customer_id="4697283466", name="Fleet")
# The 1NCE forms' credentials (reauth asks both, the client id and the secret).
ONENCE_CREDENTIALS = {"client_id": "client", "client_secret": "secret"}
BUSY_PORT = 4999
# Options that read the same in every language and cannot be strings.json keys
# (hassfest allows only [a-z0-9-_] there): a select of only these needs no
# translation_key.
SELF_DESCRIBING_OPTIONS = {"TCP", "UDP"}


def test_icu_format_catches_what_the_browser_shows_as_translation_error() -> None:
    assert icu_format("at {url}", {"url": "x"}) == "at x"
    assert icu_format("it''s '{literal}'", {}) == "it's {literal}"
    with pytest.raises(MissingPlaceholderError, match="url_with_secret"):
        icu_format("{url_with_secret}", {})
    with pytest.raises(AssertionError, match="tag"):
        icu_format("/{org}/<ICCID>/sub", {"org": "x"})
    with pytest.raises(AssertionError):
        icu_format("{count, plural, one {x}}", {"count": 1})


class Renderer:
    """Render flow results against strings.json and remember what was rendered."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, ...]] = set()
        self.texts: list[str] = []

    def _format(self, text: str, placeholders: dict[str, Any]) -> None:
        self.texts.append(icu_format(text, placeholders))

    def section(self, path: tuple[str, ...]) -> dict[str, Any]:
        node: Any = STRINGS
        for key in path:
            node = node[key]
        return dict(node)

    def render(self, path: tuple[str, ...], result: Any) -> Any:
        """Render every text the frontend shows for this result; return it."""
        strings = self.section(path)
        placeholders = dict(result.get("description_placeholders") or {})
        kind = result["type"]
        if kind in (FlowResultType.FORM, FlowResultType.MENU):
            step_id = result["step_id"]
            assert step_id in strings["step"], f"{path} step {step_id} has no texts"
            self.seen.add((*path, "step", step_id))
            step = strings["step"][step_id]
            for key in ("title", "description"):
                if key in step:
                    self._format(step[key], placeholders)
            for option in result.get("menu_options") or []:
                self._format(step["menu_options"][option], placeholders)
            schema = result.get("data_schema") if kind is FlowResultType.FORM else None
            for marker, validator in (schema.schema if schema else {}).items():
                field = str(marker)
                assert field in step.get("data", {}), f"{path} {step_id}: no {field}"
                self._format(step["data"][field], placeholders)
                if field in step.get("data_description", {}):
                    self._format(step["data_description"][field], placeholders)
                check_select(validator, f"{path} {step_id} {field}")
            for error in (result.get("errors") or {}).values():
                assert error in strings["error"], f"{path}: no error {error}"
                self.seen.add((*path, "error", error))
                self._format(strings["error"][error], placeholders)
        elif kind is FlowResultType.CREATE_ENTRY:
            key = result.get("description") or "default"
            messages = strings.get("create_entry", {})
            if key in messages:
                self.seen.add((*path, "create_entry", key))
                self._format(messages[key], placeholders)
            else:
                assert not placeholders, f"{path}: no create_entry.{key}"
        elif kind is FlowResultType.ABORT:
            reason = result["reason"]
            assert reason in strings["abort"], f"{path}: no abort reason {reason}"
            self.seen.add((*path, "abort", reason))
            self._format(strings["abort"][reason], placeholders)
        else:  # pragma: no cover - no other result types in this integration
            raise AssertionError(kind)
        return result

    def expected(self) -> set[tuple[str, ...]]:
        """Every step, error, abort and create-entry message of every flow."""
        paths = [("config",), ("options",)] + [
            ("config_subentries", name) for name in STRINGS["config_subentries"]
        ]
        wanted: set[tuple[str, ...]] = set()
        for path in paths:
            strings = self.section(path)
            for group in ("step", "error", "abort", "create_entry"):
                wanted |= {(*path, group, key) for key in strings.get(group, {})}
        return wanted


def check_select(validator: Any, where: str) -> None:
    """A select's options are translated, or labelled by the flow, or self-describing."""
    found = [validator] if isinstance(validator, SelectSelector) else []
    found += [
        v for v in getattr(validator, "validators", []) if isinstance(v, SelectSelector)
    ]
    for select in found:
        options = select.config["options"]
        values = [o if isinstance(o, str) else o["value"] for o in options]
        if all(not isinstance(o, str) for o in options):
            continue  # labelled by the flow (the device list)
        key = select.config.get("translation_key")
        if key is None:
            assert set(values) <= SELF_DESCRIBING_OPTIONS, (
                f"{where}: no translation_key"
            )
            continue
        translated = STRINGS["selector"][key]["options"]
        assert set(values) <= set(translated), f"{where}: untranslated {values}"


def test_every_service_select_has_translations() -> None:
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    selects = 0
    for service, spec in services.items():
        for field, field_spec in (spec.get("fields") or {}).items():
            select = (field_spec.get("selector") or {}).get("select")
            if select is None:
                continue
            selects += 1
            options = [str(o) for o in select["options"]]
            key = select.get("translation_key")
            if key is None:
                assert set(options) <= SELF_DESCRIBING_OPTIONS, (service, field)
                continue
            assert set(options) <= set(STRINGS["selector"][key]["options"]), (
                service,
                field,
            )
    assert selects == 5


# --- driving the flows ---------------------------------------------------------------


class FakeListener:
    """The bind check of the listener form, without a socket (BUSY_PORT is taken)."""

    def __init__(self, protocol: str, host: str, port: int, callback: Any) -> None:
        self.port = port

    async def start(self) -> None:
        if self.port == BUSY_PORT:
            raise OSError("in use")

    async def stop(self) -> None:
        return None


USER = HologramUser(user_id=1001, name="Owner", email="owner@example.com", org_id=None)


@pytest.fixture
async def providers(hass: HomeAssistant) -> AsyncIterator[dict[str, AsyncMock]]:
    """The provider calls of the forms, each answering as told."""
    mocks = {
        "get_me": AsyncMock(return_value=USER),
        "get_organization": AsyncMock(return_value="Fleet Ltd"),
        "authenticate": AsyncMock(return_value=EmnifyAccount("4242", "Fleet GmbH")),
        "validate": AsyncMock(return_value=None),
        "endpoint": AsyncMock(return_value=None),
        "start": AsyncMock(return_value=None),
        "stop": AsyncMock(return_value=None),
        "onence_authenticate": AsyncMock(return_value=ONENCE_ACCOUNT),
        # The add-device form's check: any SIM found (None: 1NCE does not know it).
        "onence_sim": AsyncMock(return_value=object()),
    }
    with (
        patch(f"{FLOW}.HologramClient.get_me", mocks["get_me"]),
        patch(f"{FLOW}.HologramClient.get_organization", mocks["get_organization"]),
        patch(f"{FLOW}.EmnifyClient.authenticate", mocks["authenticate"]),
        patch(f"{FLOW}.EmnifyClient.endpoint", mocks["endpoint"]),
        patch(f"{FLOW}.MonozClient.validate", mocks["validate"]),
        patch(f"{FLOW}.MqttClient.start", mocks["start"]),
        patch(f"{FLOW}.MqttClient.stop", mocks["stop"]),
        patch(f"{ONENCE_CLIENT}.authenticate", mocks["onence_authenticate"]),
        patch(f"{ONENCE_CLIENT}.sim", mocks["onence_sim"]),
        patch(f"{ON_DEVICE_FLOW}.Listener", FakeListener),
        patch("custom_components.cellular_iot.async_setup_entry", return_value=True),
        patch("custom_components.cellular_iot.async_unload_entry", return_value=True),
    ):
        yield mocks
        # Unloaded while the stand-in setup is in place (nothing was set up).
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


CONFIG = ("config",)
OPTIONS = ("options",)
DEVICE = ("config_subentries", "device")


async def _config(
    hass: HomeAssistant, r: Renderer, flow_id: str, user_input: dict[str, Any]
) -> Any:
    return r.render(
        CONFIG, await hass.config_entries.flow.async_configure(flow_id, user_input)
    )


async def _start(hass: HomeAssistant, r: Renderer, kind: str) -> str:
    menu = r.render(
        CONFIG,
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        ),
    )
    form = await _config(hass, r, menu["flow_id"], {"next_step_id": kind})
    assert form["step_id"] == kind
    return str(form["flow_id"])


async def _add_accounts(
    hass: HomeAssistant, r: Renderer, mocks: dict[str, AsyncMock]
) -> None:
    # Hologram, with every error of its form.
    flow = await _start(hass, r, "hologram")
    for fault, user_input, error in (
        (ProviderAuthError("no"), {"api_key": "k"}, "invalid_auth"),
        (ProviderConnectionError("down"), {"api_key": "k"}, "cannot_connect"),
        (RuntimeError("bug"), {"api_key": "k"}, "unknown"),
        (None, {"api_key": "k", "org_id": "abc"}, "invalid_org_id"),
    ):
        mocks["get_me"].side_effect = fault
        result = await _config(hass, r, flow, user_input)
        assert error in result["errors"].values()
    mocks["get_me"].side_effect = None
    mocks["get_organization"].side_effect = ProviderNotFoundError("no")
    result = await _config(hass, r, flow, {"api_key": "k", "org_id": "7"})
    assert result["errors"] == {"org_id": "org_not_accessible"}
    mocks["get_organization"].side_effect = None
    result = await _config(hass, r, flow, {"api_key": API_KEY})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    flow = await _start(hass, r, "hologram")
    result = await _config(hass, r, flow, {"api_key": API_KEY})
    assert result["reason"] == "already_configured"

    # emnify.
    flow = await _start(hass, r, "emnify")
    mocks["authenticate"].side_effect = ProviderAuthError("no")
    result = await _config(hass, r, flow, {"application_token": "t"})
    assert result["errors"] == {"base": "invalid_auth"}
    mocks["authenticate"].side_effect = ProviderConnectionError("down")
    result = await _config(hass, r, flow, {"application_token": "t"})
    assert result["errors"] == {"base": "cannot_connect"}
    mocks["authenticate"].side_effect = None
    result = await _config(hass, r, flow, {"application_token": "t"})
    assert result["type"] is FlowResultType.CREATE_ENTRY

    # 1NCE.
    flow = await _start(hass, r, "1nce")
    for fault, error in (
        (ProviderAuthError("no"), "invalid_auth"),
        (ProviderConnectionError("down"), "cannot_connect"),
        (RuntimeError("bug"), "unknown"),
    ):
        mocks["onence_authenticate"].side_effect = fault
        result = await _config(hass, r, flow, ONENCE_CREDENTIALS)
        assert result["errors"] == {"base": error}
    mocks["onence_authenticate"].side_effect = None
    result = await _config(hass, r, flow, ONENCE_CREDENTIALS)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == "1nce_local"
    flow = await _start(hass, r, "1nce")
    result = await _config(hass, r, flow, ONENCE_CREDENTIALS)
    assert result["reason"] == "already_configured"

    # monoZ, with its broker form and every error of it.
    flow = await _start(hass, r, "monoz")
    monoz = {"org_id": "mti", "api_key": "k", "use_mqtt": True}
    result = await _config(hass, r, flow, {**monoz, "org_id": "m t!"})
    assert result["errors"] == {"org_id": "invalid_monoz_org_id"}
    mocks["validate"].side_effect = ProviderAuthError("no")
    result = await _config(hass, r, flow, monoz)
    assert result["errors"] == {"base": "invalid_auth"}
    mocks["validate"].side_effect = ProviderConnectionError("down")
    result = await _config(hass, r, flow, monoz)
    assert result["errors"] == {"base": "cannot_connect"}
    mocks["validate"].side_effect = None
    result = await _config(hass, r, flow, monoz)
    assert result["step_id"] == "monoz_mqtt"
    broker = {"host": "127.0.0.1", "port": 1883, "tls": False, "verify_tls": True}
    result = await _config(hass, r, flow, {**broker, "host": " "})
    assert result["errors"] == {"host": "mqtt_cannot_connect"}
    result = await _config(hass, r, flow, {**broker, "uplink_topic": ["/a/#/b"]})
    assert result["errors"] == {"uplink_topic": "invalid_topic_filter"}
    for fault, error in (
        (ProviderAuthError("no"), "mqtt_invalid_auth"),
        (MqttTlsError("cert"), "mqtt_tls_failed"),
        (MqttClientIdRejectedError("id"), "mqtt_client_id_rejected"),
        (ProviderConnectionError("down"), "mqtt_cannot_connect"),
    ):
        mocks["start"].side_effect = fault
        result = await _config(hass, r, flow, broker)
        assert error in result["errors"].values()
    mocks["start"].side_effect = None
    result = await _config(hass, r, flow, broker)
    assert result["type"] is FlowResultType.CREATE_ENTRY

    await _add_accounts_reachable(hass, r, mocks)

    # This device: TCP and UDP listeners (each with its own create message).
    flow = await _start(hass, r, "on_device")
    listener = {"protocol": "TCP", "port": 4010}
    result = await _config(hass, r, flow, {**listener, "device_key": "ab"})
    assert result["errors"] == {"device_key": "invalid_device_key"}
    result = await _config(hass, r, flow, {**listener, "port": BUSY_PORT})
    assert result["errors"] == {"base": "cannot_bind"}
    result = await _config(hass, r, flow, listener)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == "on_device"
    flow = await _start(hass, r, "on_device")
    result = await _config(hass, r, flow, {"protocol": "UDP", "port": 4010})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def _add_accounts_reachable(
    hass: HomeAssistant, r: Renderer, mocks: dict[str, AsyncMock]
) -> None:
    """The messages of a webhook the provider can reach: HA Cloud or an external URL."""
    mocks["authenticate"].return_value = EmnifyAccount("4343", "Cloud GmbH")
    hass.config.components.add("cloud")
    with pytest.MonkeyPatch.context() as monkeypatch:
        stub_cloud(
            monkeypatch,
            create=AsyncMock(
                side_effect=[CloudNotConnected(), "https://hooks.nabu.casa/x"]
            ),
        )
        for reason in ("cloud_not_connected", None):
            flow = await _start(hass, r, "emnify")
            menu = await _config(hass, r, flow, {"application_token": "t"})
            assert menu["step_id"] == "webhook"
            result = await _config(hass, r, flow, {"next_step_id": "cloudhook"})
            if reason is not None:
                assert result["reason"] == reason
        assert result["description"] == "emnify"
    hass.config.components.remove("cloud")
    await hass.config.async_update(external_url="https://ha.example.com")
    mocks["get_me"].return_value = HologramUser(3003, None, "b@example.com", None)
    flow = await _start(hass, r, "hologram")
    result = await _config(hass, r, flow, {"api_key": "k3"})
    assert result["description"] == "hologram"
    flow = await _start(hass, r, "monoz")
    result = await _config(
        hass, r, flow, {"org_id": "mt2", "api_key": "k", "use_mqtt": False}
    )
    assert result["description"] == "monoz"
    mocks["onence_authenticate"].return_value = OneNceAccount("5555", "Other")
    flow = await _start(hass, r, "1nce")
    result = await _config(hass, r, flow, ONENCE_CREDENTIALS)
    assert result["description"] == "1nce"
    mocks["onence_authenticate"].return_value = ONENCE_ACCOUNT
    await hass.config.async_update(external_url=None)
    mocks["get_me"].return_value = USER
    mocks["authenticate"].return_value = EmnifyAccount("4242", "Fleet GmbH")


def _entries() -> dict[str, MockConfigEntry]:
    return {
        "hologram": with_webhook(hologram_entry(), "a" * 64, "s" * 32),
        "emnify": with_webhook(emnify_entry("token"), "b" * 64, "s" * 32),
        "monoz": with_webhook(monoz_entry(), "c" * 64, "s" * 32),
        "1nce": with_webhook(onence_entry(), "d" * 64, "s" * 32),
        "on_device": MockConfigEntry(
            domain=DOMAIN,
            title="Listener TCP 4010",
            data={"kind": "on_device", "protocol": "TCP", "port": 4010, "host": ""},
            unique_id="tcp-4010",
        ),
    }


async def _reauth_and_reconfigure(
    hass: HomeAssistant,
    r: Renderer,
    mocks: dict[str, AsyncMock],
    entries: dict[str, MockConfigEntry],
) -> None:
    secret = {"hologram": "api_key", "emnify": "application_token", "monoz": "api_key"}
    calls = {"hologram": "get_me", "emnify": "authenticate", "monoz": "validate"}
    for kind, key in secret.items():
        entry = entries[kind]
        result = r.render(CONFIG, await entry.start_reauth_flow(hass))
        assert result["step_id"] == "reauth_confirm"
        for fault, error in (
            (ProviderAuthError("no"), "invalid_auth"),
            (ProviderConnectionError("down"), "cannot_connect"),
        ):
            mocks[calls[kind]].side_effect = fault
            result = await _config(hass, r, result["flow_id"], {key: "new"})
            assert result["errors"] == {"base": error}
        mocks[calls[kind]].side_effect = None
        result = await _config(hass, r, result["flow_id"], {key: "new"})
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
    # 1NCE: reauth asks the client id and the secret.
    entry = entries["1nce"]
    result = r.render(CONFIG, await entry.start_reauth_flow(hass))
    assert result["step_id"] == "reauth_confirm"
    for fault, error in (
        (ProviderAuthError("no"), "invalid_auth"),
        (ProviderConnectionError("down"), "cannot_connect"),
    ):
        mocks["onence_authenticate"].side_effect = fault
        result = await _config(hass, r, result["flow_id"], ONENCE_CREDENTIALS)
        assert result["errors"] == {"base": error}
    mocks["onence_authenticate"].side_effect = None
    mocks["onence_authenticate"].return_value = OneNceAccount("999", "Another")
    result = await _config(hass, r, result["flow_id"], ONENCE_CREDENTIALS)
    assert result["reason"] == "wrong_account"
    mocks["onence_authenticate"].return_value = ONENCE_ACCOUNT
    result = r.render(CONFIG, await entry.start_reauth_flow(hass))
    result = await _config(hass, r, result["flow_id"], ONENCE_CREDENTIALS)
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    # A key of another Hologram user.
    mocks["get_me"].return_value = HologramUser(2002, None, None, None)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Hologram (owner@example.com)",
        data={"kind": "hologram", "api_key": "k", "user_id": 1001, "webhook_id": "w"},
        unique_id="user-1001",
    )
    entry.add_to_hass(hass)
    result = r.render(CONFIG, await entry.start_reauth_flow(hass))
    result = await _config(hass, r, result["flow_id"], {"api_key": "other"})
    assert result["reason"] == "wrong_account"
    mocks["get_me"].return_value = USER

    calls["1nce"] = "onence_authenticate"
    for kind in ("hologram", "emnify", "1nce"):
        entry = entries[kind]
        result = r.render(CONFIG, await entry.start_reconfigure_flow(hass))
        assert result["step_id"] == "reconfigure"
        mocks[calls[kind]].side_effect = ProviderAuthError("no")
        result = await _config(hass, r, result["flow_id"], {})
        assert result["errors"] == {"base": "invalid_auth"}
        mocks[calls[kind]].side_effect = None
        result = await _config(hass, r, result["flow_id"], {})
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()

    entry = entries["monoz"]
    result = r.render(CONFIG, await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "reconfigure_monoz"
    mocks["validate"].side_effect = ProviderAuthError("no")
    result = await _config(hass, r, result["flow_id"], {"use_mqtt": False})
    assert result["errors"] == {"base": "invalid_auth"}
    mocks["validate"].side_effect = None
    result = await _config(hass, r, result["flow_id"], {"use_mqtt": True})
    assert result["step_id"] == "monoz_mqtt"
    result = await _config(
        hass, r, result["flow_id"], {"host": "127.0.0.1", "port": 1883}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    # Reconfigure kept the rest of the entry: its webhook (the options show its URL).
    assert entry.data["webhook_id"] == "c" * 64

    entry = entries["on_device"]
    result = r.render(CONFIG, await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "reconfigure_on_device"
    result = await _config(
        hass, r, result["flow_id"], {"protocol": "TCP", "port": BUSY_PORT}
    )
    assert result["errors"] == {"base": "cannot_bind"}
    result = await _config(
        hass, r, result["flow_id"], {"protocol": "UDP", "port": 4011}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()


async def _options(
    hass: HomeAssistant, r: Renderer, entries: dict[str, MockConfigEntry]
) -> None:
    manager = hass.config_entries.options
    for kind in ("hologram", "emnify", "monoz", "1nce"):
        result = r.render(OPTIONS, await manager.async_init(entries[kind].entry_id))
        assert result["step_id"] == "init"
        form = {"outbox_max_age": 24, "outbox_max_depth": 1000}
        result = r.render(
            OPTIONS,
            await manager.async_configure(
                result["flow_id"], {**form, "rotate_secret": True}
            ),
        )
        assert result["step_id"] == "new_secret"
        result = r.render(OPTIONS, await manager.async_configure(result["flow_id"], {}))
        assert result["type"] is FlowResultType.CREATE_ENTRY
    result = r.render(OPTIONS, await manager.async_init(entries["on_device"].entry_id))
    assert result["step_id"] == "listener"
    for networks, error in ((["10.0.0.300"], "invalid_network"), ([], "no_network")):
        result = r.render(
            OPTIONS,
            await manager.async_configure(
                result["flow_id"], {"allowed_networks": networks, "rate_limit": 30}
            ),
        )
        assert error in result["errors"].values()
    listener = {"allowed_networks": ["10.0.0.0/8"], "rate_limit": 30}
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"], {**listener, "listener_secret": "short"}
        ),
    )
    assert result["errors"] == {"listener_secret": "invalid_listener_secret"}
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"], {**listener, "listener_secret": "s" * 16}
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # With a secret stored the form offers to remove it; not both at once.
    result = r.render(OPTIONS, await manager.async_init(entries["on_device"].entry_id))
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"],
            {**listener, "listener_secret": "t" * 16, "remove_listener_secret": True},
        ),
    )
    assert result["errors"] == {"listener_secret": "listener_secret_and_remove"}
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"], {**listener, "remove_listener_secret": True}
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def _devices(
    hass: HomeAssistant,
    r: Renderer,
    entries: dict[str, MockConfigEntry],
    mocks: dict[str, AsyncMock],
) -> None:
    manager = hass.config_entries.subentries
    # An emnify endpoint the organisation does not have, or cannot be asked about.
    for fault, errors in (
        (ProviderNotFoundError("no"), {"device_id": "device_not_found"}),
        (ProviderConnectionError("down"), {"base": "cannot_check_device"}),
    ):
        mocks["endpoint"].side_effect = fault
        result = r.render(
            DEVICE,
            await manager.async_init(
                (entries["emnify"].entry_id, "device"), context={"source": SOURCE_USER}
            ),
        )
        result = r.render(
            DEVICE, await manager.async_configure(result["flow_id"], {"device_id": "9"})
        )
        assert result["errors"] == errors
    mocks["endpoint"].side_effect = None
    cases = {
        "hologram": ({"device_id": "x"}, "invalid_device_id", {"device_id": "123"}),
        "emnify": ({"device_id": "-1"}, "invalid_device_id", {"device_id": "77"}),
        "monoz": ({"iccid": "12"}, "invalid_iccid", {"iccid": "8988303000000001234"}),
        "1nce": ({"iccid": "12"}, "invalid_iccid", {"iccid": ONENCE_PUMP}),
    }
    defaults = {
        "hologram": {"send_as": "sms", "port": 4010, "protocol": "TCP"},
        "emnify": {},
        "monoz": {"topic": "", "qos": "0"},
        "1nce": {},
    }
    for kind, (bad, error, good) in cases.items():
        entry = entries[kind]
        for user_input, expected in (
            ({**bad, **defaults[kind]}, {next(iter(bad)): error}),
            *(
                [({**good, "topic": "led"}, {"topic": "invalid_topic"})]
                if kind == "monoz"
                else []
            ),
        ):
            result = r.render(
                DEVICE,
                await manager.async_init(
                    (entry.entry_id, "device"), context={"source": SOURCE_USER}
                ),
            )
            assert result["step_id"] == kind
            result = r.render(
                DEVICE, await manager.async_configure(result["flow_id"], user_input)
            )
            assert result["errors"] == expected
        result = r.render(
            DEVICE,
            await manager.async_configure(
                result["flow_id"], {**good, **defaults[kind]}
            ),
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        result = r.render(
            DEVICE,
            await manager.async_init(
                (entry.entry_id, "device"), context={"source": SOURCE_USER}
            ),
        )
        result = r.render(
            DEVICE,
            await manager.async_configure(
                result["flow_id"], {**good, **defaults[kind]}
            ),
        )
        assert result["reason"] == "already_configured"
        subentry_id = next(iter(entry.subentries))
        result = r.render(
            DEVICE,
            await manager.async_init(
                (entry.entry_id, "device"),
                context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
            ),
        )
        assert result["step_id"] == "reconfigure"
        result = r.render(
            DEVICE,
            await manager.async_configure(
                result["flow_id"], {"name": "Renamed", **defaults[kind]}
            ),
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
    # Every device the account lists is added already.
    flow = HologramDeviceFlow
    added = next(iter(entries["hologram"].subentries.values())).data["device_id"]

    async def listed(entry: Any) -> list[SelectOptionDict]:
        return [SelectOptionDict(value=added, label=f"Van ({added})")]

    with patch.object(flow, "form", replace(flow.form, choices=listed)):
        result = r.render(
            DEVICE,
            await manager.async_init(
                (entries["hologram"].entry_id, "device"),
                context={"source": SOURCE_USER},
            ),
        )
    assert result["reason"] == "all_devices_added"


async def test_every_flow_text_renders_with_the_placeholders_passed(
    hass: HomeAssistant, providers: dict[str, AsyncMock]
) -> None:
    renderer = Renderer()
    await _add_accounts(hass, renderer, providers)
    entries = _entries()
    for entry in entries.values():
        entry.add_to_hass(hass)
    await _reauth_and_reconfigure(hass, renderer, providers, entries)
    await _number_errors(hass, renderer, entries)
    await _options(hass, renderer, entries)
    await _devices(hass, renderer, entries, providers)
    assert renderer.expected() - renderer.seen == set()


async def test_out_of_range_numbers_are_translated_form_errors(
    hass: HomeAssistant, providers: dict[str, AsyncMock]
) -> None:
    """Issue 26 A8: no "Value 70000.0 is too large"; the limits as whole numbers."""
    entries = _entries()
    for entry in entries.values():
        entry.add_to_hass(hass)
    renderer = Renderer()
    await _number_errors(hass, renderer, entries)
    texts = "\n".join(renderer.texts)
    assert "The port is a whole number from 1 to 65535." in texts
    assert "Give a whole number of hours from 1 to 720." in texts
    assert "Give a whole number of messages from 1 to " in texts
    errors = [text for text in renderer.texts if "whole number" in text]
    assert len(errors) == 8
    assert not [text for text in errors if ".0" in text]  # not "Value 70000.0"


async def _number_errors(
    hass: HomeAssistant, r: Renderer, entries: dict[str, MockConfigEntry]
) -> None:
    """Every whole-number field out of range (or not whole): its translated error."""
    port_error = {"port": "port_out_of_range"}
    flow = await _start(hass, r, "on_device")
    for port in (70000, 0):
        result = await _config(hass, r, flow, {"protocol": "TCP", "port": port})
        assert result.get("errors") == port_error, result
    hass.config_entries.flow.async_abort(flow)

    flow = await _start(hass, r, "monoz")
    monoz = {"org_id": "mt9", "api_key": "k", "use_mqtt": True}
    result = await _config(hass, r, flow, monoz)
    assert result["step_id"] == "monoz_mqtt"
    for port in (70000, 1883.5):
        result = await _config(hass, r, flow, {"host": "127.0.0.1", "port": port})
        assert result["errors"] == port_error
    hass.config_entries.flow.async_abort(flow)

    manager = hass.config_entries.options
    result = r.render(OPTIONS, await manager.async_init(entries["emnify"].entry_id))
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"], {"outbox_max_age": 0, "outbox_max_depth": 10**9}
        ),
    )
    assert result["errors"] == {
        "outbox_max_age": "outbox_max_age_out_of_range",
        "outbox_max_depth": "outbox_max_depth_out_of_range",
    }
    manager.async_abort(result["flow_id"])
    result = r.render(OPTIONS, await manager.async_init(entries["on_device"].entry_id))
    result = r.render(
        OPTIONS,
        await manager.async_configure(
            result["flow_id"], {"allowed_networks": ["10.0.0.0/8"], "rate_limit": 0}
        ),
    )
    assert result["errors"] == {"rate_limit": "rate_limit_out_of_range"}
    manager.async_abort(result["flow_id"])

    subentries = hass.config_entries.subentries
    result = r.render(
        DEVICE,
        await subentries.async_init(
            (entries["hologram"].entry_id, "device"), context={"source": SOURCE_USER}
        ),
    )
    device = {"device_id": "123", "send_as": "sms", "protocol": "TCP"}
    result = r.render(
        DEVICE,
        await subentries.async_configure(result["flow_id"], {**device, "port": 70000}),
    )
    assert result["errors"] == port_error
    subentries.async_abort(result["flow_id"])


def test_on_device_create_message_would_fail_with_the_account_one() -> None:
    """The defect of issue 15: the listener's success dialog used the account text."""
    account = STRINGS["config"]["create_entry"]["hologram"]
    with pytest.raises(MissingPlaceholderError, match="url_with_secret"):
        icu_format(account, {"protocol": "TCP", "port": "4010"})


PROVIDER_WORDS = {
    "hologram": ("Hologram",),
    "emnify": ("emnify", "endpoint"),
    "monoz": ("monoZ", "ICCID"),
    "1nce": ("1NCE", "client ID"),
}
# Words two providers share: 1NCE and monoZ both name a device by its SIM's ICCID.
SHARED_WORDS = {("1nce", "ICCID")}


@pytest.mark.parametrize("kind", ["hologram", "emnify", "monoz", "1nce"])
async def test_forms_speak_of_their_own_provider(
    hass: HomeAssistant, providers: dict[str, AsyncMock], kind: str
) -> None:
    """The device, reauth and reconfigure forms of an account name only its provider."""
    entry = _entries()[kind]
    entry.add_to_hass(hass)
    renderer = Renderer()
    result = renderer.render(
        DEVICE,
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, "device"), context={"source": SOURCE_USER}
        ),
    )
    bad_id = {"iccid": "12"} if kind in ("monoz", "1nce") else {"device_id": "x"}
    result = renderer.render(
        DEVICE,
        await hass.config_entries.subentries.async_configure(result["flow_id"], bad_id),
    )
    assert result["errors"]
    result = renderer.render(CONFIG, await entry.start_reauth_flow(hass))
    calls = {
        "hologram": "get_me",
        "emnify": "authenticate",
        "monoz": "validate",
        "1nce": "onence_authenticate",
    }
    providers[calls[kind]].side_effect = ProviderAuthError("no")
    key = "application_token" if kind == "emnify" else "api_key"
    credentials = ONENCE_CREDENTIALS if kind == "1nce" else {key: "x"}
    result = await _config(hass, renderer, result["flow_id"], credentials)
    assert result["errors"] == {"base": "invalid_auth"}
    texts = "\n".join(renderer.texts)
    assert PROVIDER_WORDS[kind][0] in texts
    for other, words in PROVIDER_WORDS.items():
        if other != kind:
            for word in words:
                if (kind, word) not in SHARED_WORDS:
                    assert word not in texts, (kind, word)


def test_names_titles_and_spelling_are_consistent() -> None:
    """Issue 26 A11: the proper name, a title for what the options hold, US spelling,
    and a short listener options text (the detail is in docs/listener.md)."""
    raw = (INTEGRATION / "strings.json").read_text()
    assert STRINGS["config"]["step"]["user"]["title"] == "Add Cellular IoT"
    assert "cellular IoT" not in raw
    # The options hold the outbox and the inbound mode too, not only the webhook.
    assert STRINGS["options"]["step"]["init"]["title"] == "Account options"
    listener = STRINGS["options"]["step"]["listener"]["description"]
    assert len(listener.split()) <= 70
    page, anchor = LISTENER_DOCS_URL.rsplit("/", 1)[1].split("#")
    assert anchor in anchors((ROOT / "docs" / page).read_text())
    # US English, as Home Assistant writes: emnify's own field and texts aside.
    quoted = ('"organisation"', "Organisation blocked", "Organisation Name")
    pages = [INTEGRATION / "strings.json", *sorted((ROOT / "docs").glob("*.md"))]
    pages += sorted(INTEGRATION.rglob("*.py"))
    for page in pages:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if any(text in line for text in quoted):
                continue
            assert "organis" not in line.lower(), f"{page.name}:{number}: {line}"

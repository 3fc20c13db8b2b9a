"""quality_scale.yaml: every rule of HA's quality scale, and what the code does.

The schema and hassfest's own validators are in test_hassfest.py. Here: the file
lists exactly the rules of the scale, each with a valid status (an exempt or todo
one with its reason), and a rule marked done holds in the code wherever a test can
tell.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
import importlib
import inspect
import json
from pathlib import Path
import pkgutil
import re
import tomllib
from types import ModuleType
from typing import Any

import pytest

import custom_components.cellular_iot as integration
from custom_components.cellular_iot.config_flow import CellularIoTConfigFlow
from custom_components.cellular_iot.const import DOMAIN
from custom_components.cellular_iot.coordinator import SimCoordinator
from custom_components.cellular_iot.kinds import KINDS, AccountKind
from custom_components.cellular_iot.sim_status import SimInterval
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .conftest import GATE_TRACKER, hologram_entry, setup_entry, with_webhook
from .fakes.hologram import FakeHologram
from .test_hassfest import (
    INTEGRATION,
    MANIFEST,
    QUALITY_SCALE_RULES,
    STRINGS,
    quality_scale,
    rule_status,
)

ROOT = INTEGRATION.parent.parent
RULES: dict[str, Any] = quality_scale()["rules"]


def _done(rule: str) -> bool:
    return rule_status(RULES[rule]) == "done"


def _modules() -> Iterator[ModuleType]:
    """Every module of the integration, imported."""
    yield integration
    for info in pkgutil.walk_packages(integration.__path__, f"{integration.__name__}."):
        if info.name.endswith(".llm"):
            continue  # HA 2026.8 on (it holds no entity)
        yield importlib.import_module(info.name)


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(INTEGRATION.rglob("*.py")):
        yield path, path.read_text()


def _entity_classes() -> set[type[Entity]]:
    return {
        cls
        for module in _modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Entity) and cls.__module__.startswith(integration.__name__)
    }


def _platform_modules() -> set[str]:
    return {platform.value for kind in KINDS.values() for platform in kind.platforms}


# --- the file ------------------------------------------------------------------------


def test_the_file_lists_exactly_the_rules_of_the_scale() -> None:
    assert set(RULES) == set(QUALITY_SCALE_RULES)
    # Grouped by tier, in the scale's order within each.
    assert list(RULES) == list(QUALITY_SCALE_RULES)


@pytest.mark.parametrize("rule", sorted(QUALITY_SCALE_RULES))
def test_each_rule_has_a_valid_status_and_a_reason_where_needed(rule: str) -> None:
    value = RULES[rule]
    status = rule_status(value)
    assert status in ("done", "exempt", "todo")
    if status != "done":
        assert isinstance(value, dict), f"{rule}: {status} needs a comment"
        assert str(value.get("comment", "")).strip(), f"{rule}: no reason"


# --- what a rule marked done means in the code ----------------------------------------

CHECKS: dict[str, Callable[[], None]] = {}


def check(rule: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(function: Callable[[], None]) -> Callable[[], None]:
        CHECKS[rule] = function
        return function

    return register


@check("action-setup")
def _action_setup() -> None:
    init = ast.parse((INTEGRATION / "__init__.py").read_text())
    setup = next(
        node
        for node in init.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "async_setup"
    )
    assert "async_setup_services" in ast.unparse(setup)
    registering = {
        path.name for path, text in _sources() if "services.async_register(" in text
    }
    assert registering == {"services.py"}


@check("appropriate-polling")
def _appropriate_polling() -> None:
    # The integration chooses: no interval in any form, none read from the options.
    for section in ("config", "options"):
        for step in STRINGS[section]["step"].values():
            assert not [key for key in step.get("data", {}) if "interval" in key]
    for path, text in _sources():
        assert not re.search(r"options\.get\([^)]*INTERVAL", text), path
    for kind in KINDS.values():
        interval = getattr(kind, "sim_interval", None)
        assert interval is None or (
            isinstance(interval, SimInterval) and interval.minutes >= 5
        )


@check("brands")
def _brands() -> None:
    assert (INTEGRATION / "brand" / "icon.png").is_file()
    assert (INTEGRATION / "brand" / "logo.png").is_file()


@check("common-modules")
def _common_modules() -> None:
    assert issubclass(SimCoordinator, DataUpdateCoordinator)
    assert SimCoordinator.__module__.endswith(".coordinator")
    assert (INTEGRATION / "entity.py").is_file()
    # No coordinator defined anywhere else.
    for path, text in _sources():
        if path.name != "coordinator.py":
            assert not re.search(r"class \w+\(DataUpdateCoordinator", text), path


@check("config-flow")
def _config_flow() -> None:
    assert MANIFEST["config_flow"] is True
    sections = [STRINGS["config"], STRINGS["options"]]
    sections += list(STRINGS.get("config_subentries", {}).values())
    for section in sections:
        for name, step in section["step"].items():
            missing = set(step.get("data", {})) - set(step.get("data_description", {}))
            assert not missing, f"{name}: no data_description for {missing}"


@check("config-flow-test-coverage")
def _config_flow_test_coverage() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    assert "coverage report" in script, "scripts/test runs no flow coverage gate"
    gate = script[script.index("coverage report") :].split("\n\n")[0]
    assert "--fail-under=100" in gate
    assert "cellular_iot/config_flow.py" in gate
    assert "cellular_iot/subentry_flow.py" in gate


@check("test-coverage")
def _test_coverage() -> None:
    assert "--cov-fail-under=95" in (ROOT / "scripts" / "test").read_text()


@check("dependency-transparency")
def _dependency_transparency() -> None:
    for requirement in MANIFEST["requirements"]:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", requirement)


@check("has-entity-name")
def _has_entity_name() -> None:
    classes = _entity_classes()
    assert classes

    def sets_it(cls: type) -> bool:
        # (HA's entity metaclass turns _attr_* into properties: read the source.)
        return any(
            "_attr_has_entity_name = True" in inspect.getsource(klass)
            for klass in cls.__mro__
            if klass.__module__.startswith(integration.__name__)
        )

    assert not [cls.__name__ for cls in classes if not sets_it(cls)]


@check("runtime-data")
def _runtime_data() -> None:
    for path, text in _sources():
        assert not re.search(r"hass\.data(\[|\.setdefault\(|\.get\()DOMAIN", text), path


@check("parallel-updates")
def _parallel_updates() -> None:
    for platform in _platform_modules():
        module = importlib.import_module(f"{integration.__name__}.{platform}")
        assert isinstance(getattr(module, "PARALLEL_UPDATES", None), int), platform


@check("reauthentication-flow")
def _reauthentication_flow() -> None:
    assert hasattr(CellularIoTConfigFlow, "async_step_reauth")
    assert "reauth_successful" in STRINGS["config"]["abort"]


@check("reconfiguration-flow")
def _reconfiguration_flow() -> None:
    assert hasattr(CellularIoTConfigFlow, "async_step_reconfigure")


@check("diagnostics")
def _diagnostics() -> None:
    text = (INTEGRATION / "diagnostics.py").read_text()
    assert "async def async_get_config_entry_diagnostics" in text
    assert "async_redact_data" in text


@check("icon-translations")
def _icon_translations() -> None:
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    assert icons.get("entity")
    assert icons.get("services")


@check("entity-translations")
def _entity_translations() -> None:
    assert STRINGS["entity"]
    for path, text in _sources():
        assert not re.search(r"_attr_name = [^N]", text), path  # None: the device's


@check("exception-translations")
def _exception_translations() -> None:
    translated = (
        "HomeAssistantError",
        "ServiceValidationError",
        "ConfigEntryNotReady",
        "ConfigEntryAuthFailed",
        "ConfigEntryError",
        "UpdateFailed",
    )
    for path, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in translated
            ):
                keywords = {keyword.arg for keyword in node.exc.keywords}
                assert "translation_key" in keywords or None in keywords, (
                    f"{path.name}:{node.lineno}"
                )


@check("repair-issues")
def _repair_issues() -> None:
    assert any("async_create_issue" in text for _, text in _sources())
    assert STRINGS["issues"]


@check("entity-disabled-by-default")
def _entity_disabled_by_default() -> None:
    sim = (INTEGRATION / "sim_entities.py").read_text()
    assert "_attr_entity_registry_enabled_default = description.enabled" in sim
    assert "enabled=False" in sim


@check("entity-category")
def _entity_category() -> None:
    assert any("EntityCategory." in text for _, text in _sources())


@check("integration-owner")
def _integration_owner() -> None:
    assert MANIFEST["codeowners"]


@check("inject-websession")
def _inject_websession() -> None:
    for path, text in _sources():
        assert "ClientSession(" not in text, path
    assert any("async_get_clientsession" in text for _, text in _sources())


@check("strict-typing")
def _strict_typing() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True
    assert "custom_components/cellular_iot" in mypy["files"]


@check("docs-data-update")
def _docs_data_update() -> None:
    sim = (ROOT / "docs" / "sim.md").read_text()
    assert "homeassistant.update_entity" in sim
    assert "How data is updated" in (ROOT / "README.md").read_text()


@check("docs-removal-instructions")
def _docs_removal() -> None:
    assert "## Removing the integration" in (ROOT / "README.md").read_text()


@check("docs-installation-instructions")
def _docs_installation() -> None:
    assert "## Installation" in (ROOT / "README.md").read_text()


@check("docs-actions")
def _docs_actions() -> None:
    actions = (ROOT / "docs" / "actions.md").read_text()
    services = (INTEGRATION / "services.yaml").read_text()
    for name in re.findall(r"^([a-z_]+):", services, re.MULTILINE):
        assert f"{DOMAIN}.{name}" in actions, name


@check("docs-known-limitations")
def _docs_known_limitations() -> None:
    assert (ROOT / "docs" / "limitations.md").is_file()


@check("docs-troubleshooting")
def _docs_troubleshooting() -> None:
    assert (ROOT / "docs" / "troubleshooting.md").is_file()


@check("docs-use-cases")
def _docs_use_cases() -> None:
    assert "### Use cases" in (ROOT / "README.md").read_text()


@check("docs-supported-devices")
def _docs_supported_devices() -> None:
    assert "### Supported devices" in (ROOT / "README.md").read_text()


@check("dynamic-devices")
def _dynamic_devices() -> None:
    # Every kind whose provider lists an account's devices offers new ones (a fixable
    # repair whose fix flow adds a subentry; tests/test_discovery.py drives it).
    listing = {
        name
        for name, kind in KINDS.items()
        if isinstance(kind, AccountKind)
        and type(kind).device_lister is not AccountKind.device_lister
    }
    assert listing == {"hologram", "emnify", "1nce"}, listing
    discovery = (INTEGRATION / "discovery.py").read_text()
    assert "async_add_subentry(" in discovery
    assert "is_fixable=True" in discovery


@check("stale-devices")
def _stale_devices() -> None:
    assert callable(getattr(integration, "async_remove_config_entry_device", None))
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    assert "fix_flow" in strings["issues"]["stale_device"]


def test_every_check_names_a_rule_of_the_scale() -> None:
    assert set(CHECKS) <= set(QUALITY_SCALE_RULES)


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_a_rule_marked_done_holds_in_the_code(rule: str) -> None:
    if not _done(rule):
        pytest.fail(f"{rule} has a check here but is not marked done")
    CHECKS[rule]()


def test_async_dependency_is_exempt_for_its_reason() -> None:
    value = RULES["async-dependency"]
    assert rule_status(value) == "exempt"
    assert "paho" in value["comment"]
    mqtt = (INTEGRATION / "providers" / "mqtt.py").read_text()
    assert "add_reader" in mqtt
    assert "loop_start" not in mqtt
    assert "threading" not in mqtt


async def test_every_entity_has_a_unique_id(
    hass: HomeAssistant, hologram: FakeHologram
) -> None:
    """entity-unique-id: every entity of a loaded account is in the registry."""
    assert _done("entity-unique-id")
    await setup_entry(
        hass, with_webhook(hologram_entry(), "a" * 64, "q" * 32, GATE_TRACKER)
    )
    await hass.async_block_till_done()
    ours = hass.states.async_entity_ids()
    registry = er.async_get(hass)
    assert ours
    assert [
        entity_id for entity_id in ours if registry.async_get(entity_id) is None
    ] == []

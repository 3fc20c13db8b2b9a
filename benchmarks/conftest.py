"""Benchmarks run on the test harness (a real HA with its HTTP stack) and the fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import *  # noqa: F403 - the fixtures: fakes, broker, integration

RESULTS: dict[str, dict[str, Any]] = {}
OUT = Path(__file__).parent / "results.json"


def record(name: str, **figures: Any) -> None:
    """Keep one benchmark's figures for the table and the JSON file."""
    RESULTS[name] = figures


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Print the table and write it as JSON."""
    if not RESULTS:
        return
    OUT.write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")
    lines = [
        "",
        f"{'benchmark':<44} {'ours':>14} {'baseline':>14} {'ratio':>7} {'goal':>8}  ok",
    ]
    for name, fig in RESULTS.items():
        ours, base, ratio, goal = (
            fig.get("ours", ""),
            fig.get("baseline", ""),
            fig.get("ratio", ""),
            fig.get("goal", ""),
        )
        ok = fig.get("ok", "")
        ratio_text = f"{ratio:.3f}" if isinstance(ratio, float) else str(ratio)
        lines.append(
            f"{name:<44} {ours!s:>14} {base!s:>14} {ratio_text:>7} {goal!s:>8}  "
            f"{'yes' if ok is True else 'NO' if ok is False else ok}"
        )
    lines.append(f"\n(written to {OUT})")
    print("\n".join(lines))

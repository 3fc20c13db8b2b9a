"""Benchmarks run on the test harness (a real HA with its HTTP stack) and the fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import *  # noqa: F403 - the fixtures: fakes, broker, integration

RESULTS: dict[str, dict[str, Any]] = {}
OUT = Path(__file__).parent / "results.json"


@pytest.fixture
def user_log_level(caplog: pytest.LogCaptureFixture) -> None:
    """WARNING, HA's default: the test harness logs DEBUG, which both sides would pay
    for (rest_command and HA's MQTT client log a debug line a call) and a user does
    not."""
    for name in ("", "homeassistant", "custom_components", "aiohttp.access"):
        caplog.set_level(logging.WARNING, logger=name)


@pytest.fixture
async def no_asyncio_debug() -> AsyncGenerator[None]:
    """Run the loop without asyncio's debug mode, as a user's HA does. The harness
    turns it on, and it then captures a stack trace for every callback and future:
    that is most of the time of both sides, and more of ours, whose calls go
    deeper, so it measures the stack depth rather than the work."""
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(False)
    yield
    loop.set_debug(debug)


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

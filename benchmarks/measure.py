"""What every benchmark measures with: alternating rounds, ratios, time per call.
One copy, imported by the benchmark modules (the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import statistics
import time
from typing import Any

from benchmarks.conftest import record


def ratio_ok(ratio: float, goal: str) -> bool:
    """Whether ``ratio`` meets a goal written ``>=1.0x`` or ``<=1.1x``."""
    op, value = goal[:2], float(goal[2:].rstrip("x"))
    return ratio >= value if op == ">=" else ratio <= value


async def alternate(
    rounds: int,
    baseline: Callable[[], Awaitable[float]],
    ours: Callable[[], Awaitable[float]],
) -> tuple[float, float]:
    """Median of each side over alternating rounds (each returns a rate or a time)."""
    base_runs: list[float] = []
    our_runs: list[float] = []
    await baseline()  # warm-up
    await ours()
    for index in range(rounds):
        first, second = (baseline, ours) if index % 2 == 0 else (ours, baseline)
        a = await first()
        b = await second()
        if first is baseline:
            base_runs.append(a)
            our_runs.append(b)
        else:
            our_runs.append(a)
            base_runs.append(b)
    return statistics.median(our_runs), statistics.median(base_runs)


def put(
    name: str, ours: float, base: float, unit: str, goal: str, **extra: Any
) -> None:
    """Record one row: both figures, their ratio and whether it meets the goal."""
    ratio = ours / base
    record(
        name,
        ours=f"{ours:.1f} {unit}",
        baseline=f"{base:.1f} {unit}",
        ratio=round(ratio, 3),
        goal=goal,
        ok=ratio_ok(ratio, goal),
        **extra,
    )


async def per_call(call: Callable[[], Awaitable[Any]], count: int) -> float:
    """Microseconds per call of ``count`` calls, one after another."""
    start = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - start) / count * 1e6

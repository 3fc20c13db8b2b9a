"""What every benchmark measures with: alternating rounds, ratios, time per call.
One copy, imported by the benchmark modules (the fixtures are in conftest.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
import statistics
import sys
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


def percentile_ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of latencies in seconds, in milliseconds."""
    return sorted(values)[int(q * (len(values) - 1))] * 1000


def put_p99(name: str, ours: list[float], base: list[float]) -> None:
    """Record the p99 latency of both sides (seconds in, ms shown; info only)."""
    ours_ms, base_ms = percentile_ms(ours, 0.99), percentile_ms(base, 0.99)
    record(
        name,
        ours=f"{ours_ms:.2f} ms",
        baseline=f"{base_ms:.2f} ms",
        ratio=round(ours_ms / base_ms, 3),
        goal="info",
        ok="-",
    )


async def per_call(call: Callable[[], Awaitable[Any]], count: int) -> float:
    """Microseconds per call of ``count`` calls, one after another."""
    start = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - start) / count * 1e6


def _part(filename: str) -> str:
    """Name the part of the process a code object belongs to."""
    if "/tests/fakes/" in filename:
        return "fake provider"
    if "custom_components/cellular_iot" in filename:
        return "cellular_iot"
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/", maxsplit=1)[0]
    return "stdlib and other"


async def count_instructions(
    call: Callable[[], Awaitable[Any]], count: int
) -> tuple[float, Counter[str], Counter[str]]:
    """Python bytecode instructions one call executes (``sys.monitoring``, 3.12+).

    Exact and the same on every machine and run, unlike a time: it counts the work,
    not how fast this machine did it. Returns the instructions per call outside the
    fake provider (which runs in the same process but is not what a user runs), the
    instructions per call by part (package), and ours by function.
    """
    monitoring = sys.monitoring
    tool = monitoring.PROFILER_ID
    monitoring.use_tool_id(tool, "benchmarks.count_instructions")
    counts: Counter[Any] = Counter()

    def on_instruction(code: Any, offset: int) -> None:
        counts[code] += 1

    def on_start(code: Any, offset: int) -> None:
        monitoring.set_local_events(tool, code, monitoring.events.INSTRUCTION)

    monitoring.register_callback(tool, monitoring.events.INSTRUCTION, on_instruction)
    # A code object is counted from its first start or resume in the window (a
    # long-lived coroutine, such as a server connection's, only resumes).
    starts = monitoring.events.PY_START | monitoring.events.PY_RESUME
    monitoring.register_callback(tool, monitoring.events.PY_START, on_start)
    monitoring.register_callback(tool, monitoring.events.PY_RESUME, on_start)
    try:
        monitoring.set_events(tool, starts)
        for _ in range(count):
            await call()
    finally:
        monitoring.set_events(tool, 0)
        for code in counts:
            monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, None)
        monitoring.register_callback(tool, monitoring.events.PY_START, None)
        monitoring.register_callback(tool, monitoring.events.PY_RESUME, None)
        monitoring.free_tool_id(tool)
    parts: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    for code, number in counts.items():
        part = _part(code.co_filename)
        parts[part] += number / count
        if part == "cellular_iot":
            ours[code.co_qualname] += number / count
    outside_fake = sum(v for k, v in parts.items() if k != "fake provider")
    return outside_fake, parts, ours


async def put_instructions(
    name: str,
    ours: Callable[[], Awaitable[Any]],
    baseline: Callable[[], Awaitable[Any]],
    count: int,
) -> None:
    """Count both sides' instructions per call and record the row, with the counts
    by package and our 15 busiest functions (in results.json)."""
    ours_n, ours_parts, ours_functions = await count_instructions(ours, count)
    base_n, base_parts, _ = await count_instructions(baseline, count)
    put(
        name,
        ours_n,
        base_n,
        "instr",
        "<=1.0x",
        ours_parts={k: round(v) for k, v in ours_parts.most_common()},
        baseline_parts={k: round(v) for k, v in base_parts.most_common()},
        ours_functions={k: round(v) for k, v in ours_functions.most_common(15)},
    )

"""Hostile-input benchmark (issue 8): memory, CPU and time to a real alert under each flood.

    .venv/bin/python -m bench.hostile            # 8 s per flood, ~2 min
    .venv/bin/python -m bench.hostile --quick    # 3 s per flood

A real `logtray listen --notifier console` (its own config, data and log dirs) receives each
flood of tests/support/hostile.py from loopback. Per flood: the listener's RSS before, at its
peak during and 5 s after; its CPU (share of one core) during; how long after the flood ends
until its CPU is idle again (< 5 % over 0.5 s); and the time from sending a new named alert
(`FOUND PROBLEM IN /app/realN.py:3`) as the flood ends to a notice naming it. The calm
row is the same alert with no flood. Prints JSON and a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.conftest import free_port
from tests.support import hostile

IDLE_SHARE = 0.05


async def _sample_during(listen: hostile.Listen, work: Awaitable[object]) -> dict[str, float]:
    rss_peak = listen.rss_mb()
    cpu0, t0 = listen.cpu_s(), time.monotonic()
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.sleep(0.2)
        rss_peak = max(rss_peak, listen.rss_mb())
    await task
    return {
        "rss_peak_mb": rss_peak,
        "cpu_during": (listen.cpu_s() - cpu0) / (time.monotonic() - t0),
    }


async def _until_idle(listen: hostile.Listen, limit_s: float = 60.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        cpu0 = listen.cpu_s()
        await asyncio.sleep(0.5)
        if (listen.cpu_s() - cpu0) / 0.5 < IDLE_SHARE:
            return max(0.0, time.monotonic() - start - 0.5)
    return float("inf")


async def run(seconds: float) -> list[dict[str, Any]]:
    hostile.raise_fd_limit()
    port = free_port()
    home = tempfile.mkdtemp(prefix="logtray-hostile-")
    env = {
        **os.environ,
        **{
            name: os.path.join(home, name.lower())
            for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
        },
        "LOGTRAY_LISTENER_LINE_TIMEOUT_S": "5",
    }
    listen = hostile.Listen(port, env)
    listen.wait_ready()
    results: list[dict[str, Any]] = []
    counter = 0

    async def named_latency() -> float | None:
        nonlocal counter
        counter += 1
        name = f"/app/real{counter}.py"
        since = await hostile.send_named(port, name)
        tail = name.rsplit("/", 1)[1]
        return await asyncio.to_thread(listen.wait_notice, hostile.names(tail), since, 10)

    async def measure(name: str, flood: Callable[[], Awaitable[object]] | None) -> None:
        before = listen.rss_mb()
        row: dict[str, Any] = {"flood": name, "rss_before_mb": before}
        if flood is None:
            row.update(rss_peak_mb=before, cpu_during=0.0)
        else:
            row.update(await _sample_during(listen, flood()))
        # From the end of the flood: the named alert is sent at once, idleness measured beside it.
        named = asyncio.ensure_future(named_latency())
        row["idle_after_s"] = await _until_idle(listen)
        row["named_alert_s"] = await named
        await asyncio.sleep(5)
        row["rss_after_mb"] = listen.rss_mb()
        row["alive"] = listen.proc.poll() is None
        results.append(row)
        print(json.dumps(row), flush=True)

    await measure("calm (no flood)", None)
    for name, make in hostile.FLOODS.items():
        await measure(name, lambda make=make: hostile.for_a_while(seconds, port, make))
    await measure("slow tricklers (50)", lambda: hostile.slowloris(port, 50, seconds))

    async def idle() -> None:
        writers = await hostile.idle_connections(port, 1000)
        await asyncio.sleep(seconds)
        for writer in writers:
            writer.close()

    await measure("1,000 idle connections", idle)
    listen.stop()
    stderr = "".join(listen.stderr)
    print(f"tracebacks on stderr: {stderr.count('Traceback')}; stderr lines: {len(listen.stderr)}")
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| flood | RSS before → peak → 5 s after (MB) | CPU during | idle again after | "
        "named alert visible after |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        named = "not shown" if r["named_alert_s"] is None else f"{r['named_alert_s']:.2f} s"
        lines.append(
            f"| {r['flood']} | {r['rss_before_mb']:.0f} → {r['rss_peak_mb']:.0f} → "
            f"{r['rss_after_mb']:.0f} | {r['cpu_during']:.0%} | {r['idle_after_s']:.1f} s | "
            f"{named} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per flood")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per flood")
    args = parser.parse_args()
    results = asyncio.run(run(3.0 if args.quick else args.seconds))
    print(table(results))


if __name__ == "__main__":
    main()

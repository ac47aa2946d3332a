"""Hostile-input benchmark: memory, CPU and time to a real alert under each flood.

    .venv/bin/python -m bench.hostile            # 8 s per flood, ~2 min
    .venv/bin/python -m bench.hostile --quick    # 3 s per flood

A real `logtray listen --notifier console` (its own config, data and log dirs) receives each
flood of tests/support/hostile.py from loopback (each a flood of connections too, then the
same look-alike sources streamed on two open connections, as tests/test_soak.py sends them,
and slow tricklers and idle connections). Per flood: the listener's RSS before, at its
peak during and 5 s after; its CPU (share of one core) during; how long after the flood ends
until its CPU is idle again (< 5 % over 0.5 s); the time from sending a new named alert
(`FOUND PROBLEM IN /app/duringN.py:3`) halfway through the flood to a notice naming it, and
the same for one sent as the flood ends (`/app/realN.py`); and whether each is in the
history afterwards (`logtray alerts --json`). The calm row is the same alert with no flood.
As root, a last row: 15 idle connections from each of 20 addresses off this machine
(a network namespace), reconnecting whenever closed, and the seconds from connect to the
listener's answer for a sender with the token from a fresh address. Prints JSON and a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
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
        "LOGTRAY_LISTENER_TOKEN": "bench-token",
    }
    listen = hostile.Listen(port, env)
    listen.wait_ready()
    results: list[dict[str, Any]] = []
    counter = 0

    sent_names: list[str] = []

    async def named_latency(prefix: str = "real", since: float | None = None) -> float | None:
        nonlocal counter
        counter += 1
        name = f"/app/{prefix}{counter}.py"
        sent_names.append(name)
        if since is None:
            since = await hostile.send_named(port, name)
        tail = name.rsplit("/", 1)[1]
        return await asyncio.to_thread(listen.wait_notice, hostile.names(tail), since, 10)

    async def during(flood: Callable[[], Awaitable[object]]) -> float | None:
        """The flood, and halfway through it a named alert: seconds until it is shown."""
        task = asyncio.ensure_future(flood())
        await asyncio.sleep(seconds / 2)
        nonlocal counter
        name = f"/app/during{counter + 1}.py"
        since = await hostile.send_named(port, name)
        shown = await named_latency("during", since)
        await task
        return shown

    async def measure(name: str, flood: Callable[[], Awaitable[object]] | None) -> None:
        before = listen.rss_mb()
        first = len(sent_names)
        row: dict[str, Any] = {"flood": name, "rss_before_mb": before}
        if flood is None:
            row.update(rss_peak_mb=before, cpu_during=0.0, during_s=None)
        else:
            seen: list[float | None] = []

            async def flood_and_named() -> None:
                seen.append(await during(flood))

            row.update(await _sample_during(listen, flood_and_named()))
            row["during_s"] = seen[0]
        # From the end of the flood: the named alert is sent at once, idleness measured beside it.
        after = asyncio.ensure_future(named_latency())
        row["idle_after_s"] = await _until_idle(listen)
        row["named_alert_s"] = await after
        row["names"] = sent_names[first:]
        await asyncio.sleep(5)
        row["rss_after_mb"] = listen.rss_mb()
        row["alive"] = listen.proc.poll() is None
        results.append(row)
        print(json.dumps(row), flush=True)

    await measure("calm (no flood)", None)
    for name, make in hostile.FLOODS.items():
        await measure(name, lambda make=make: hostile.for_a_while(seconds, port, make))
    # No connection flood: two connections streaming a new look-alike source with every line
    # (tests/test_soak.py's flood of new sources, whose real alert must pop on its own).
    await measure(
        "look-alike sources, 2 streaming connections",
        lambda: hostile.streaming(seconds, port, hostile.look_alike_line, connections=2),
    )
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
    kept = {e.get("pathname") for e in hostile.history(env)}
    for row in results:
        row["kept"] = sum(n in kept for n in row["names"])
    missing = [n for n in sent_names if n not in kept]
    print(f"named alerts sent: {len(sent_names)}; not in the history afterwards: {missing}")
    if os.geteuid() == 0:
        results.append(await squatters(seconds, env))
    return results


async def squatters(seconds: float, env: dict[str, str]) -> dict[str, Any]:
    """Idle connections from 20 addresses off this machine; a sender with the token."""
    from tests.support.netns import SENDER, SQUATTER, in_namespace, namespace_with_peers

    port = free_port()
    with namespace_with_peers(21) as (namespace, host_ip, peers):
        listen = hostile.Listen(port, env, hosts=("127.0.0.1", host_ip))
        listen.wait_ready()
        squat = await in_namespace(
            namespace,
            sys.executable,
            "-c",
            SQUATTER,
            str(port),
            host_ip,
            "15",
            *peers[:20],
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            await squat.stdout.readline()  # type: ignore[union-attr]
            await asyncio.sleep(seconds)
            token = env["LOGTRAY_LISTENER_TOKEN"]
            sender = await in_namespace(
                namespace,
                sys.executable,
                "-c",
                SENDER,
                str(port),
                host_ip,
                peers[20],
                token,
                "10",
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await sender.communicate()
        finally:
            squat.kill()
            await squat.wait()
            listen.stop()
    answers = [json.loads(line) for line in out.decode().splitlines()]
    row = {
        "flood": "20 addresses × 15 idle connections, reconnecting",
        "token_sender_s": [round(t, 3) for t, _ in answers],
        "accepted": sum(reply == '{"ok":true}' for _, reply in answers),
    }
    print(json.dumps(row), flush=True)
    return row


def _seconds(value: float | None) -> str:
    return "not shown" if value is None else f"{value:.2f} s"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| flood | RSS before → peak → 5 s after (MB) | CPU during | idle again after | "
        "named alert sent during it, visible after | sent as it ends, visible after | "
        "in the history |",
        "|---|---|---|---|---|---|---|",
    ]
    squat = None
    for r in results:
        if "token_sender_s" in r:
            squat = r
            continue
        during = "—" if r["flood"].startswith("calm") else _seconds(r["during_s"])
        lines.append(
            f"| {r['flood']} | {r['rss_before_mb']:.0f} → {r['rss_peak_mb']:.0f} → "
            f"{r['rss_after_mb']:.0f} | {r['cpu_during']:.0%} | {r['idle_after_s']:.1f} s | "
            f"{during} | {_seconds(r['named_alert_s'])} | {r['kept']} of {len(r['names'])} |"
        )
    if squat:
        times = ", ".join(f"{t:.2f}" for t in squat["token_sender_s"])
        lines.append(
            f"\n{squat['flood']}: a sender with the token from a fresh address, "
            f"{squat['accepted']} of {len(squat['token_sender_s'])} alerts accepted; seconds "
            f"from connect to the listener's answer: {times}"
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

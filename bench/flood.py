"""Flood benchmark: logtray's listener vs. the original `netcat -l` + `notify-send` loop.

    .venv/bin/python -m bench.flood            # full run: 100 clients, 200,000 lines, 200 files
    .venv/bin/python -m bench.flood --quick    # smaller, for a smoke test

Both receive the same load on a private desktop (Xvfb + D-Bus + dunst, as in the tests), so
notifications really go over D-Bus. Results are printed as JSON and a Markdown table to paste
into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port
from tests.support.desktop import start_desktop

ROOT = Path(__file__).resolve().parent.parent


def alert_lines(client: int, per_client: int, keys: int, clients: int) -> bytes:
    lines = []
    for i in range(per_client):
        key = (client + i * clients) % keys
        lines.append(
            f'{{"pathname": "/app/svc/f{key}.py", "count": {30 + i % 7}, "window_s": 10, '
            f'"threshold": 25, "level": "error"}}\n'
        )
    return "".join(lines).encode()


async def flood(port: int, clients: int, per_client: int, keys: int) -> dict[str, int]:
    """Each client connects once, sends its lines and closes (as an alert sender would)."""
    payloads = [alert_lines(c, per_client, keys, clients) for c in range(clients)]
    result = {"sent": 0, "refused": 0}

    async def one(payload: bytes) -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            result["refused"] += payload.count(b"\n")
            return
        writer.write(payload)
        await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        result["sent"] += payload.count(b"\n")

    await asyncio.gather(*(one(p) for p in payloads))
    return result


def count_notify(desktop, since: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(Notify calls, alert lines inside their bodies) since index `since`."""
    calls = desktop.notify_calls()[since:]
    lines = sum(str(c["body"]).count("pathname") + str(c["title"]).count("pathname") for c in calls)
    return len(calls), lines


def run_logtray(desktop, work: Path, clients: int, per_client: int, keys: int) -> dict:  # type: ignore[no-untyped-def]
    total = clients * per_client
    port = free_port()
    env = {
        **os.environ,
        **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER")},
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_STATE_HOME": str(work / "state"),
        "LOGTRAY_LISTENER_PORT": str(port),
        "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        "LOGTRAY_NOTIFIER_BACKEND": "desktop",
        "BENCH_EXPECT": str(total),
        "PYTHONPATH": str(ROOT),
    }
    before = len(desktop.notify_calls())
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.flood_server"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert server.stdout is not None
    json.loads(server.stdout.readline())  # ready
    started = time.perf_counter()
    sent = asyncio.run(flood(port, clients, per_client, keys))
    client_seconds = time.perf_counter() - started
    result = json.loads(server.stdout.readline())
    server.wait(timeout=30)
    history = work / "data" / "logtray" / "alerts.jsonl"
    newest = json.loads(history.read_text().splitlines()[-1]) if history.exists() else {}
    notify_calls, _ = count_notify(desktop, before)
    result.update(
        sent=sent["sent"],
        refused=sent["refused"],
        client_seconds=client_seconds,
        missing_from_history=total - result["history_appended"],
        newest_in_history_file=newest.get("pathname"),
        notify_calls_on_dbus=notify_calls,
        distinct_keys=keys,
    )
    return result


def run_netcat_loop(desktop, clients: int, per_client: int, keys: int, settle: float) -> dict:  # type: ignore[no-untyped-def]
    nc = shutil.which("nc.traditional")
    if not nc or not shutil.which("notify-send"):
        return {"skipped": "needs netcat-traditional and libnotify-bin"}
    total = clients * per_client
    port = free_port()
    env = {**os.environ, **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}}
    script = (
        f'while true; do line="$({nc} -l -p {port})"; '
        'notify-send -- "Received Message" "$line"; done'
    )
    before = len(desktop.notify_calls())
    loop = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True)
    time.sleep(0.5)
    started = time.perf_counter()
    sent = asyncio.run(flood(port, clients, per_client, keys))
    time.sleep(settle)
    calls, delivered = count_notify(desktop, before)
    elapsed = time.perf_counter() - started
    os.killpg(loop.pid, 15)
    loop.wait()

    # Its best case: one alert per connection, senders retrying until it listens again.
    rate_port = free_port()
    script = script.replace(str(port), str(rate_port))
    before = len(desktop.notify_calls())
    loop = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True)
    time.sleep(0.5)
    sequential = 0
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", rate_port), timeout=1) as conn:
                conn.sendall(b"FOUND PROBLEM IN /app/a.py:1")
            sequential += 1
        except OSError:
            time.sleep(0.001)
    time.sleep(1)
    shown_sequential = len(desktop.notify_calls()) - before
    os.killpg(loop.pid, 15)
    loop.wait()
    return {
        "sent": sent["sent"],
        "refused": sent["refused"],
        "notify_calls": calls,
        "alerts_delivered": delivered,
        "alerts_lost": total - delivered,
        "seconds": elapsed,
        "sequential_alerts_in_5s": sequential,
        "sequential_shown": shown_sequential,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    clients, per_client, keys = (10, 200, 50) if args.quick else (100, 2000, 200)
    with tempfile.TemporaryDirectory(prefix="logtray-bench-") as tmp:
        work = Path(tmp)
        desktop = start_desktop(work / "desktop")
        try:
            ours = run_logtray(desktop, work / "logtray", clients, per_client, keys)
            desktop.reset()
            theirs = run_netcat_loop(desktop, clients, per_client, keys, settle=3)
        finally:
            desktop.stop()
    print(json.dumps({"logtray": ours, "netcat_notify_send": theirs}, indent=2))
    print(markdown_table(ours, theirs, clients, clients * per_client, keys))


def markdown_table(ours: dict, theirs: dict, clients: int, total: int, keys: int) -> str:  # type: ignore[type-arg]
    def ms(p50: float, p99: float) -> str:
        return f"{p50:.2f} / {p99:.2f} ms"

    rows = [
        ("alerts accepted", f"{ours['accepted']:,}", f"{theirs.get('alerts_delivered', 0):,}"),
        ("alerts lost", f"{total - ours['accepted']:,}", f"{theirs.get('alerts_lost', 0):,}"),
        ("accepted lines/s", f"{ours['lines_per_s']:,.0f}", "-"),
        (
            "notifications (Notify calls on D-Bus)",
            ours["notify_calls_on_dbus"],
            theirs.get("notify_calls", "-"),
        ),
        (
            "handled -> notifier call p50 / p99",
            ms(ours["handling_p50_ms"], ours["handling_p99_ms"]),
            "-",
        ),
        (
            "socket read -> notifier call p50 / p99",
            ms(ours["latency_p50_ms"], ours["latency_p99_ms"]),
            "-",
        ),
        ("RSS start -> peak", f"{ours['rss_start_mb']:.0f} -> {ours['rss_peak_mb']:.0f} MB", "-"),
        ("alerts missing from history", ours["missing_from_history"], "-"),
        (
            "one alert per connection for 5 s: sent / shown",
            "-",
            f"{theirs.get('sequential_alerts_in_5s', '-')} / {theirs.get('sequential_shown', '-')}",
        ),
    ]
    lines = [
        f"| {clients} clients, {total:,} lines, {keys} files | logtray | netcat + notify-send |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n" + "\n".join(lines)


if __name__ == "__main__":
    main()

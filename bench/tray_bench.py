"""Tray benchmark: logtray's tray app beside the bare pystray example, same desktop, same run.

    .venv/bin/python -m bench.tray_bench            # ~2.5 min (60 s idle each)
    .venv/bin/python -m bench.tray_bench --idle 10  # quicker

Measures the time from spawning the process to its icon being visible in the tray (trayer,
XEmbed), the resident memory once idle, and the CPU time used over the idle period. logtray
runs as users run it: listener, alert path, Docker events stream (the engine is up).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from tests.conftest import free_port
from tests.support.desktop import start_desktop

BARE_PYSTRAY = """
import pystray
from PIL import Image, ImageDraw

image = Image.new("RGB", (64, 64), "white")
ImageDraw.Draw(image).rectangle((16, 16, 48, 48), fill="black")
menu = pystray.Menu(pystray.MenuItem("Hello", lambda icon, item: None),
                    pystray.MenuItem("Quit", lambda icon, item: icon.stop()))
pystray.Icon("pystray-example", image, "pystray example", menu).run()
"""


def visible(env: dict[str, str], window_class: str) -> bool:
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--class", window_class],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    return bool(out.split())


def measure(cmd: list[str], env: dict[str, str], window_class: str, idle_s: float) -> dict:  # type: ignore[type-arg]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not visible(env, window_class):
            if proc.poll() is not None or time.perf_counter() - started > 30:
                raise RuntimeError(f"{window_class}: no icon (exit {proc.poll()})")
            time.sleep(0.01)
        to_icon = time.perf_counter() - started
        time.sleep(3)  # let start-up work (Docker status, D-Bus) settle
        process = psutil.Process(proc.pid)
        cpu_before = sum(process.cpu_times()[:2])
        time.sleep(idle_s)
        cpu_after = sum(process.cpu_times()[:2])
        rss = process.memory_info().rss / 2**20
        threads = process.num_threads()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "to_visible_icon_s": round(to_icon, 3),
        "idle_rss_mb": round(rss, 1),
        "idle_cpu_s": round(cpu_after - cpu_before, 3),
        "idle_cpu_percent": round(100 * (cpu_after - cpu_before) / idle_s, 3),
        "threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logtray-tray-bench-") as tmp:
        work = Path(tmp)
        desktop = start_desktop(work / "desktop", tray_host=True)
        env = {
            **os.environ,
            **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER")},
            "NO_AT_BRIDGE": "1",
            "XDG_CONFIG_HOME": str(work / "config"),
            "XDG_DATA_HOME": str(work / "data"),
            "XDG_STATE_HOME": str(work / "state"),
            "LOGTRAY_LISTENER_PORT": str(free_port()),
            "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        }
        script = work / "pystray-example"
        script.write_text(BARE_PYSTRAY)
        try:
            bare = measure([sys.executable, str(script)], env, "pystray-example", args.idle)
            ours = measure(
                [str(Path(sys.executable).with_name("logtray"))], env, "logtray", args.idle
            )
        finally:
            desktop.stop()
    print(json.dumps({"logtray": ours, "bare_pystray": bare}, indent=2))
    print(f"\n| idle {args.idle:.0f} s | logtray | bare pystray example | ratio |")
    print("|---|---|---|---|")
    for key, label in (
        ("to_visible_icon_s", "spawn -> icon visible (s)"),
        ("idle_rss_mb", "idle RSS (MB)"),
        ("idle_cpu_s", f"CPU time over {args.idle:.0f} s idle (s)"),
        ("threads", "threads"),
    ):
        ratio = ours[key] / bare[key] if bare[key] else float("nan")
        print(f"| {label} | {ours[key]} | {bare[key]} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()

"""Tray benchmark: logtray's tray app beside pystray's minimal example, same desktop, same run.

    .venv/bin/python -m bench.tray_bench                # ~3 min (30 s idle each, then the soak)
    .venv/bin/python -m bench.tray_bench --imports      # + what each dependency costs alone

Measures the time from spawning the process to its icon being visible in the tray (trayer,
XEmbed), the resident memory 30 s after start (idle), and the CPU time used over that idle
period. The bare example runs twice: as is, and with GDK_GL=disable (what logtray sets for
itself: GTK then does not probe OpenGL, which loads Mesa/LLVM). logtray runs as users run it,
on its second start (config with a token): listener, alert path, Docker events stream.

Then the soak: 1,000 alerts across 50 source files (one TCP connection, JSON lines), 200
state changes (a labelled container of the tray's stack stopped and started 100 times: each
is a Docker event the tray follows), and 50 menu opens; then 30 s idle and RSS again.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import free_port
from tests.support.desktop import start_desktop
from tests.support.tray import TrayIcon

BARE_PYSTRAY = """
import pystray
from PIL import Image, ImageDraw

image = Image.new("RGB", (64, 64), "white")
ImageDraw.Draw(image).rectangle((16, 16, 48, 48), fill="black")
menu = pystray.Menu(pystray.MenuItem("Hello", lambda icon, item: None),
                    pystray.MenuItem("Quit", lambda icon, item: icon.stop()))
pystray.Icon("pystray-example", image, "pystray example", menu).run()
"""

# Third-party packages logtray depends on, in the order the tray would load them.
DEPENDENCIES = (
    "platformdirs",
    "tomlkit",
    "orjson",
    "psutil",
    "prison",
    "PIL.Image",
    "PIL.ImageDraw",
    "gi",
    "Xlib.display",
    "dbus_fast",
    "desktop_notifier",
    "plyer",
    "requests",
    "docker",
    "aiokafka",
    "rich",
)

IMPORT_COST = """
import importlib, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
before = rss(); t = time.perf_counter()
importlib.import_module(sys.argv[1])
print(round((time.perf_counter() - t) * 1000), round(rss() - before, 1))
"""

# Runs the tray and writes the top-level modules it holds once idle (for --imports only).
TRAY_WITH_MODULES = """
import sys, threading, time
out_path, after = sys.argv[1], float(sys.argv[2])
sys.argv = ["logtray"]  # GTK names the icon's window class after it
def dump():
    time.sleep(after)
    with open(out_path, "w") as out:
        out.write(" ".join(sorted({m.split(".")[0] for m in list(sys.modules)})))
threading.Thread(target=dump, daemon=True).start()
from logtray.tray.commands.cli import main
sys.exit(main(["tray"]))
"""


def visible(env: dict[str, str], window_class: str) -> bool:
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--class", window_class],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    return bool(out.split())


def rss_mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def start(cmd: list[str], env: dict[str, str], window_class: str) -> tuple[Any, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not visible(env, window_class):
        if proc.poll() is not None or time.perf_counter() - started > 30:
            err = proc.communicate(timeout=30)[1].decode(errors="replace") if proc.poll() else ""
            raise RuntimeError(f"{window_class}: no icon (exit {proc.poll()}) {err[-2000:]}")
        time.sleep(0.01)
    return proc, started, time.perf_counter() - started


def idle(proc: Any, started: float, idle_s: float) -> dict[str, Any]:
    """RSS and CPU `idle_s` after the start (CPU counted from 3 s in: start-up settled)."""
    process = psutil.Process(proc.pid)
    time.sleep(max(0.0, started + 3 - time.perf_counter()))
    cpu_before = sum(process.cpu_times()[:2])
    time.sleep(max(0.0, started + idle_s - time.perf_counter()))
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    return {
        "idle_rss_mb": rss_mb(process),
        "idle_cpu_s": round(cpu, 3),
        "threads": process.num_threads(),
    }


def stop(proc: Any) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    return str(err.decode(errors="replace"))


def measure_bare(env: dict[str, str], script: Path, idle_s: float) -> dict[str, Any]:
    proc, started, to_icon = start([sys.executable, str(script)], env, "pystray-example")
    try:
        result = {"to_visible_icon_s": round(to_icon, 3), **idle(proc, started, idle_s)}
    finally:
        err = stop(proc)
    result["gtk_warnings"] = err.count("Gtk-") + err.count("Gdk-") + err.count("GLib-")
    return result


def soak(env: dict[str, str], port: int, stack: str, process: psutil.Process) -> dict[str, Any]:
    import docker

    from logtray.stack.labels import LABEL_SERVICE, LABEL_STACK
    from tests.stack.standins import BUSYBOX_IMAGE, build_standins

    # 1,000 alerts across 50 sources.
    t = time.perf_counter()
    lines = b"".join(
        json.dumps({"pathname": f"/app/soak{i % 50}.py", "count": 30, "window_s": 10}).encode()
        + b"\n"
        for i in range(1000)
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(lines)
    alerts_s = time.perf_counter() - t
    # 200 state changes: a container of the tray's stack, stopped and started 100 times.
    client = docker.from_env(timeout=60)
    build_standins(client)
    container = client.containers.run(
        BUSYBOX_IMAGE,
        ["sleep", "3600"],
        detach=True,
        init=True,
        network_mode="none",
        labels={LABEL_STACK: stack, LABEL_SERVICE: "demo"},
    )
    t = time.perf_counter()
    try:
        for _ in range(100):
            container.stop(timeout=0)
            container.start()
    finally:
        container.remove(force=True)
        client.close()
    states_s = time.perf_counter() - t
    # 50 menu opens.
    icon = TrayIcon(env, Path(tempfile.gettempdir()) / "logtray-tray-bench")
    icon.find()
    t = time.perf_counter()
    for _ in range(50):
        icon.open_menu()
        icon.xdotool("key", "Escape")
        time.sleep(0.1)
    menus_s = time.perf_counter() - t
    return {
        "alerts_sent_s": round(alerts_s, 2),
        "state_changes_s": round(states_s, 2),
        "menu_opens_s": round(menus_s, 2),
        "rss_right_after_soak_mb": rss_mb(process),
    }


def measure_logtray(
    env: dict[str, str],
    work: Path,
    idle_s: float,
    with_soak: bool,
    modules: Path | None = None,
    stack: str | None = None,
) -> dict[str, Any]:
    stack = stack or f"lt-bench-{uuid.uuid4().hex[:8]}"
    config = work / "logtray.toml"
    config.write_text(
        f'[listener]\ntoken = "bench"\n\n[stack]\nprofile = "lite"\nname = "{stack}"\n'
    )
    port = free_port()
    env = {**env, "LOGTRAY_CONFIG": str(config), "LOGTRAY_LISTENER_PORT": str(port)}
    if modules is not None:
        cmd = [sys.executable, "-c", TRAY_WITH_MODULES, str(modules), str(idle_s - 1)]
    else:
        cmd = [str(Path(sys.executable).with_name("logtray"))]
    proc, started, to_icon = start(cmd, env, "logtray")
    try:
        result = {"to_visible_icon_s": round(to_icon, 3), **idle(proc, started, idle_s)}
        if with_soak:
            process = psutil.Process(proc.pid)
            result.update(soak(env, port, stack, process))
            time.sleep(idle_s)
            result["rss_after_soak_and_idle_mb"] = rss_mb(process)
            result["growth_mb"] = round(
                result["rss_after_soak_and_idle_mb"] - result["idle_rss_mb"], 1
            )
    finally:
        err = stop(proc)
    result["gtk_warnings"] = err.count("Gtk-") + err.count("Gdk-") + err.count("GLib-")
    return result


def import_costs(held: set[str]) -> list[tuple[str, int, float, str]]:
    rows = []
    for module in DEPENDENCIES:
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_COST, module], capture_output=True, text=True, timeout=60
        ).stdout.split()
        ms, mb = (int(out[0]), float(out[1])) if len(out) == 2 else (-1, float("nan"))
        loaded = "yes" if module.split(".")[0] in held else "no"
        rows.append((module, ms, mb, loaded))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=30.0, help="seconds after start (idle)")
    parser.add_argument("--no-soak", action="store_true", help="skip the soak (no Docker)")
    parser.add_argument("--imports", action="store_true", help="also the import-cost table")
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
            "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        }
        script = work / "pystray-example"
        script.write_text(BARE_PYSTRAY)
        modules = work / "modules.txt" if args.imports else None
        try:
            bare = measure_bare(env, script, args.idle)
            bare_nogl = measure_bare({**env, "GDK_GL": "disable"}, script, args.idle)
            ours = measure_logtray(env, work, args.idle, not args.no_soak, modules)
        finally:
            desktop.stop()
        held = set(modules.read_text().split()) if modules and modules.exists() else set()
    print(json.dumps({"logtray": ours, "bare": bare, "bare_gdk_gl_disable": bare_nogl}, indent=2))
    print(
        f"\n| {args.idle:.0f} s after start | logtray | bare example, GDK_GL=disable | ratio |"
        " bare example as is |"
    )
    print("|---|---|---|---|---|")
    for key, label in (
        ("to_visible_icon_s", "spawn -> icon visible (s)"),
        ("idle_rss_mb", "idle RSS (MB)"),
        ("idle_cpu_s", "CPU time while idle (s)"),
        ("threads", "threads"),
        ("gtk_warnings", "GTK/GDK warnings on stderr"),
    ):
        ratio = f"{ours[key] / bare_nogl[key]:.2f}x" if bare_nogl[key] else "-"
        print(f"| {label} | {ours[key]} | {bare_nogl[key]} | {ratio} | {bare[key]} |")
    if "growth_mb" in ours:
        print("\n| soak | logtray |\n|---|---|")
        print(f"| RSS {args.idle:.0f} s after start (MB) | {ours['idle_rss_mb']} |")
        print(f"| RSS right after the soak (MB) | {ours['rss_right_after_soak_mb']} |")
        print(
            f"| RSS after the soak + {args.idle:.0f} s idle (MB) |"
            f" {ours['rss_after_soak_and_idle_mb']} |"
        )
        print(f"| growth (MB, bound 10) | {ours['growth_mb']} |")
    if args.imports:
        print("\n| dependency | import alone (ms) | RSS alone (MB) | held by the idle tray |")
        print("|---|---|---|---|")
        for module, ms, mb, loaded in import_costs(held):
            print(f"| {module} | {ms} | {mb} | {loaded} |")


if __name__ == "__main__":
    main()

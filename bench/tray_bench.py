"""Tray benchmark: logtray's tray app beside pystray's minimal example, same desktop, same run.

    .venv/bin/python -m bench.tray_bench                # ~3.5 min (30 s idle each, then the soak)
    .venv/bin/python -m bench.tray_bench --imports      # + what each dependency costs alone,
                                                        #   and what the idle tray holds beyond
                                                        #   the bare example, package by package
    .venv/bin/python -m bench.tray_bench --rss          # ~1 min: idle RSS only, logtray beside
                                                        #   the lean bare example (--runs N: pairs)

Measures the time from spawning the process to its icon being visible in the tray (trayer,
XEmbed), the resident memory 30 s after start (idle), and the CPU time used over that idle
period. The bare example runs three times: as is; with GDK_GL=disable (what logtray sets for
itself: GTK then does not probe OpenGL, which loads Mesa/LLVM); and the lean one, the reference
for the ratio: GDK_GL=disable and pystray's gtk backend (what logtray picks when no
StatusNotifier host runs, as here; the default appindicator backend loads
libayatana-appindicator on top). logtray runs as users run it, on its second start (config
with a token): listener, alert path, Docker events stream.

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

# Runs the tray and writes the modules it holds once idle, in import order (for --imports
# only; run with -X importtime, so stderr also says in which order the imports completed).
TRAY_WITH_MODULES = """
import json, sys, threading, time
out_path, after = sys.argv[1], float(sys.argv[2])
sys.argv = ["logtray"]  # GTK names the icon's window class after it
def dump():
    time.sleep(after)
    with open(out_path, "w") as out:
        json.dump(list(sys.modules), out)
threading.Thread(target=dump, daemon=True).start()
from logtray.tray.commands.cli import main
sys.exit(main(["tray"]))
"""

# The same for the bare example: which modules it holds once idle.
BARE_WITH_MODULES = """
import json, sys, threading, time
out_path, after = sys.argv[1], float(sys.argv[2])
def dump():
    time.sleep(after)
    with open(out_path, "w") as out:
        json.dump(list(sys.modules), out)
threading.Thread(target=dump, daemon=True).start()
"""

# What each package the idle tray holds costs, as far as importing goes: the tray's imports
# replayed in a fresh interpreter in the order they completed (so each import runs only its
# own module), the RSS after each one charged to its top-level package (logtray's own code to
# logtray.stack / logtray.tray). Run on the same desktop (pystray opens the display on import).
REPLAY = """
import collections, importlib, json, sys, warnings
warnings.simplefilter("ignore")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
order = []
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("import time:") and "|" in line and "[us]" not in line:
        order.append(line.rsplit("|", 1)[1].strip())
def item(name):
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "logtray" else parts[0].lstrip("_")
cost = collections.Counter()
start = rss()
if "gi" in order:
    import gi
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    cost["gi"] += rss() - start
for name in order:
    if name in sys.modules:
        continue
    before = rss()
    try:
        importlib.import_module(name)
    except Exception:  # another platform's module (nt, winreg, ...): the tray skipped it too
        continue
    cost[item(name)] += rss() - before
print(json.dumps({"interpreter": start, "items": cost}))
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


def measure_bare(
    env: dict[str, str], script: Path, idle_s: float, modules: Path | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, str(script)]
    if modules is not None:
        dumping = script.with_name(script.name + "-modules")
        dumping.write_text(BARE_WITH_MODULES + script.read_text())
        cmd = [sys.executable, str(dumping), str(modules), str(idle_s - 1)]
    proc, started, to_icon = start(cmd, env, "pystray-example")
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
        cmd = [sys.executable, "-X", "importtime", "-c", TRAY_WITH_MODULES]
        cmd += [str(modules), str(idle_s - 1)]
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
    if modules is not None:
        modules.with_suffix(".importtime").write_text(err)
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


def held_items(modules: Path) -> set[str]:
    """The top-level packages in a module dump (logtray's own as logtray.stack/.tray)."""
    if not modules.exists():
        return set()
    names = json.loads(modules.read_text())
    return {
        ".".join(n.split(".")[:2]) if n.startswith("logtray.") else n.split(".")[0].lstrip("_")
        for n in names
    }


def replay_costs(env: dict[str, str], importtime: Path) -> dict[str, Any]:
    """REPLAY of the idle tray's imports (on the desktop of `env`): MB per package."""
    out = subprocess.run(
        [sys.executable, "-c", REPLAY, str(importtime)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x" if base else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=30.0, help="seconds after start (idle)")
    parser.add_argument("--no-soak", action="store_true", help="skip the soak (no Docker)")
    parser.add_argument(
        "--imports",
        action="store_true",
        help="also the import-cost table and what the idle tray holds beyond the bare example",
    )
    parser.add_argument(
        "--rss",
        action="store_true",
        help="only the idle RSS: logtray beside the lean bare example (no soak, no other runs)",
    )
    parser.add_argument("--runs", type=int, default=1, help="with --rss: pairs, one after another")
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
        lean_env = {**env, "GDK_GL": "disable", "PYSTRAY_BACKEND": "gtk"}
        script = work / "pystray-example"
        script.write_text(BARE_PYSTRAY)
        modules = work / "modules.json" if args.imports else None
        bare_modules = work / "bare-modules.json" if args.imports else None
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        replayed: dict[str, Any] = {}
        try:
            if args.rss:
                for _ in range(args.runs):
                    lean = measure_bare(lean_env, script, args.idle, bare_modules)
                    ours = measure_logtray(env, work, args.idle, False, modules)
                    pairs.append((ours, lean))
            else:
                bare = measure_bare(env, script, args.idle)
                bare_nogl = measure_bare({**env, "GDK_GL": "disable"}, script, args.idle)
                lean = measure_bare(lean_env, script, args.idle, bare_modules)
                ours = measure_logtray(env, work, args.idle, not args.no_soak, modules)
            if modules is not None:
                replayed = replay_costs(lean_env, modules.with_suffix(".importtime"))
        finally:
            desktop.stop()
        held = held_items(modules) if modules else set()
        held_by_bare = held_items(bare_modules) if bare_modules else set()
    if args.rss:
        print(json.dumps([{"logtray": o, "bare_lean": b} for o, b in pairs], indent=2))
        print(
            f"\n| {args.idle:.0f} s after start | logtray idle RSS (MB) |"
            " bare example, gtk backend, GDK_GL=disable (MB) | ratio |"
        )
        print("|---|---|---|---|")
        for n, (o, b) in enumerate(pairs, 1):
            print(
                f"| run {n} | {o['idle_rss_mb']} | {b['idle_rss_mb']} |"
                f" {ratio(o['idle_rss_mb'], b['idle_rss_mb'])} |"
            )
    else:
        print(
            json.dumps(
                {
                    "logtray": ours,
                    "bare_lean": lean,
                    "bare": bare,
                    "bare_gdk_gl_disable": bare_nogl,
                },
                indent=2,
            )
        )
        print(
            f"\n| {args.idle:.0f} s after start | logtray | bare example, gtk backend,"
            " GDK_GL=disable | ratio | bare example, GDK_GL=disable | bare example as is |"
        )
        print("|---|---|---|---|---|---|")
        for key, label in (
            ("to_visible_icon_s", "spawn -> icon visible (s)"),
            ("idle_rss_mb", "idle RSS (MB)"),
            ("idle_cpu_s", "CPU time while idle (s)"),
            ("threads", "threads"),
            ("gtk_warnings", "GTK/GDK warnings on stderr"),
        ):
            print(
                f"| {label} | {ours[key]} | {lean[key]} | {ratio(ours[key], lean[key])} |"
                f" {bare_nogl[key]} | {bare[key]} |"
            )
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
        items = {k: v / 2**20 for k, v in replayed.get("items", {}).items()}
        beyond = sorted(
            ((k, v) for k, v in items.items() if k not in held_by_bare), key=lambda kv: -kv[1]
        )
        print(
            f"\nThe idle tray's imports replayed in their order: {sum(items.values()):.1f} MB"
            f" over the bare interpreter's {replayed.get('interpreter', 0) / 2**20:.1f} MB;"
            f" held beyond the bare example ({len(beyond)} packages,"
            f" {sum(v for _, v in beyond):.1f} MB), the largest:"
        )
        print("\n| package (not held by the bare example) | MB as the tray imports it |")
        print("|---|---|")
        for name, mb in beyond[:15]:
            print(f"| {name} | {mb:.1f} |")
        shared = sorted(
            ((k, v) for k, v in items.items() if k in held_by_bare), key=lambda kv: -kv[1]
        )
        print("\n| package (the bare example holds it too) | MB as the tray imports it |")
        print("|---|---|")
        for name, mb in shared[:5]:
            print(f"| {name} | {mb:.1f} |")


if __name__ == "__main__":
    main()

"""The tray's start loads what a stopped stack, a closed menu and no alert need, nothing more
(its idle RSS stays near pystray's bare example). Heavy packages are imported where they are
first used; this guards that without timing or memory bounds (RSS is measured in
bench/tray_bench.py, docs/benchmarks.md): a fresh interpreter goes through the tray's start up
to the GUI (every command's parser, the config, the app, its alert service started and
stopped, the icon drawn, the stack link asking an engine that is not there) and says which of
them it holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

# Each is loaded by its first use, never by the tray's start.
NOT_AT_START = (
    "aiokafka",  # the lite engine once Kafka runs, a team's alerts topic
    "cryptography",  # the team profile's certificates
    "rich",  # `logtray stack up`'s table
    "tomlkit",  # writing the config (first run), `logtray team invite`
    "codeowners",  # a team's [alerts_topic] owners_file
    "desktop_notifier",  # the first notification
    "dbus_fast",
    "plyer",
    "psutil",  # "who holds this port", the stack's bridge addresses at `up`
    "Xlib",  # the XEmbed tray check asks libX11 directly
    "http.server",  # `logtray demo`
    "plistlib",  # macOS autostart
)
# Held from the start on purpose: the Docker SDK (with requests and urllib3), because the tray
# follows its stack's events from the moment it starts.

START = """
import asyncio, concurrent.futures, json, sys
from logtray.tray.commands.cli import build_parser
args = build_parser().parse_args(["tray"])  # every command module, as `logtray` imports them
from logtray.tray.base.config import load_config
from logtray.tray.desktop import traycheck
from logtray.tray.desktop.app import TrayApp
from logtray.tray.desktop.icon import render_icon
from logtray.tray.desktop.menu import build_menu
from logtray.tray.desktop.tray_view import TrayView  # (pystray itself is imported in it)

traycheck.bus_name_owned = lambda name: True  # a notification server is there
app = TrayApp(load_config())
render_icon("stopped")
build_menu(app.state)

async def idle():
    # The app's own loop for a moment: the alert service (listener, history, the deferred
    # notifier) started, the stack link asking an engine that is not there, then a quit.
    asyncio.get_running_loop().call_later(1.5, app.request_quit)
    started = concurrent.futures.Future()
    await app._main(started, lambda: None)
    started.result()

asyncio.run(idle())
assert app.state.phase == "unavailable", app.state
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_the_tray_start_imports_none_of_the_heavy_packages(tmp_path: Path) -> None:
    config = tmp_path / "logtray.toml"
    config.write_text('[listener]\ntoken = "t"\n\n[stack]\nprofile = "lite"\n')
    env = {
        **os.environ,
        "LOGTRAY_CONFIG": str(config),
        "LOGTRAY_LISTENER_PORT": str(free_port()),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    env.pop("LOGTRAY_LISTENER_HOSTS", None)  # the default hosts: the bridges are asked too
    out = subprocess.run(
        [sys.executable, "-c", START], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    held = set(json.loads(out.stdout.splitlines()[-1]))
    loaded = [name for name in NOT_AT_START if name in held]
    assert loaded == [], f"imported at the tray's start: {loaded}"

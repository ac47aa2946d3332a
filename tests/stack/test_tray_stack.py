"""The tray's "Start stack" on the real Docker engine with local stand-ins: the icon turns
from grey to green, the Services submenu lists them, Quit stops the stack when configured."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import docker
import pytest

from stack.labels import LABEL_SERVICE, stack_filter
from tests.conftest import free_port, need
from tests.stack.test_cli_docker import config_toml
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import Running
from tests.support.tray import TrayIcon
from tray.icon import STATUS_COLOURS
from tray.state import AppState, ServiceView

pytestmark = [pytest.mark.docker, pytest.mark.desktop]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "tray"


def test_start_stack_from_the_menu_turns_the_icon_healthy(
    docker_client: docker.DockerClient, stack_name: str, tmp_path: Path
) -> None:
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)}")
    desktop = start_desktop(tmp_path / "desktop", tray_host=True)
    config = tmp_path / "config.toml"
    config.write_text(config_toml(stack_name) + "\n[tray]\nstop_stack_on_quit = true\n")
    env: dict[str, Any] = {
        **os.environ,
        **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER")},
        "LOGTRAY_CONFIG": str(config),
        "LOGTRAY_LISTENER_PORT": str(free_port()),
        "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
    }
    app = Running(env=env)
    try:
        app.wait_stderr("listening on")
        icon = TrayIcon(env, ARTIFACTS)
        icon.find()
        icon.wait_phase("stopped")
        stopped = AppState(
            phase="stopped",
            profile="lite",
            services=(
                ServiceView("kafka", "absent", "absent"),
                ServiceView("demo", "absent", "absent"),
            ),
        )
        icon.choose(stopped, lambda e: e.action == "stack.start")
        try:
            icon.wait_phase("starting", timeout=5)
        except AssertionError:  # the keystrokes beat the menu's appearance: choose again
            icon.xdotool("key", "Escape", "Escape")
            icon.choose(stopped, lambda e: e.action == "stack.start")
            icon.wait_phase("starting", timeout=10)
        icon.wait_colour(STATUS_COLOURS["healthy"], timeout=90)
        icon.image("icon-healthy")
        running = docker_client.containers.list(filters=stack_filter(stack_name))
        assert sorted(c.labels[LABEL_SERVICE] for c in running) == ["demo", "kafka"]
        healthy = AppState(phase="healthy", profile="lite", services=stopped.services)
        icon.open_menu()
        icon.xdotool("key", "Down", "Down", "Right")  # Stop stack, Services ▸ (opened)
        icon.screenshot("menu-services")
        icon.xdotool("key", "Escape", "Escape", "Escape")
        icon.choose(healthy, lambda e: e.action == "quit")
        assert app.proc.wait(timeout=60) == 0
        assert docker_client.containers.list(all=True, filters=stack_filter(stack_name)) == []
    finally:
        app.stop()
        desktop.stop()

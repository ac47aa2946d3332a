"""The tray on a private desktop beside a real stack: what every such test (tests/stack/test_
ship_tray.py, test_stack_alerts_topic.py, test_tray_kafka_port.py, test_tray_stack.py) sets up,
reads and cleans up the same way."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from logtray.stack.labels import LABEL_SERVICE, stack_filter
from logtray.stack.published import host_port
from logtray.stack.specs import KAFKA_HOST_PORT
from tests.conftest import need
from tests.support.desktop import Desktop, missing_tools, start_desktop
from tests.support.processes import logtray
from tests.support.tray import tray_env


@dataclass(frozen=True)
class TrayStack:
    desktop: Desktop
    config: Path  # the config file LOGTRAY_CONFIG names (a test may rewrite it)
    env: dict[str, str]  # the tray's and the CLI's environment


@contextlib.contextmanager
def tray_beside_stack(
    client: docker.DockerClient, name: str, tmp_path: Path, config: str
) -> Iterator[TrayStack]:
    """A desktop with a tray host and a notification server, and `config` (stack `name`) for
    the tray and the CLI. Afterwards `logtray stack down --volumes` and the desktop stopped;
    then the stack must have gone from the engine (`client`)."""
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)}")
    desktop = start_desktop(tmp_path / "desktop", tray_host=True)
    path = tmp_path / "config.toml"
    path.write_text(config)
    env = tray_env(desktop, LOGTRAY_CONFIG=str(path))
    try:
        yield TrayStack(desktop, path, env)
    finally:
        down = logtray("stack", "down", "--volumes", env=env, timeout=120)
        desktop.stop()
    assert down.returncode == 0, down.stdout + down.stderr
    assert client.containers.list(all=True, filters=stack_filter(name)) == []


def published(client: docker.DockerClient, name: str) -> int:
    """Where the engine says the stack's kafka container publishes Kafka's host listener."""
    for container in client.containers.list(filters=stack_filter(name)):
        if container.labels.get(LABEL_SERVICE) == "kafka":
            port = host_port(container.attrs, KAFKA_HOST_PORT)
            assert port is not None, container.attrs["NetworkSettings"]
            return port
    raise AssertionError(f"no running kafka container in {name}")


def tray_log() -> Path:
    """The tray's log file (under the test session's XDG_STATE_HOME)."""
    return Path(os.environ["XDG_STATE_HOME"]) / "logtray" / "log" / "logtray.log"


def tray_said() -> str:
    """What the tray has logged so far (its log file may not be there yet)."""
    return tray_log().read_text() if tray_log().exists() else "(no log)"


def wait_log(text: str, timeout: float = 30) -> None:
    """Until the tray has logged `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in tray_said():
            return
        time.sleep(0.05)
    raise AssertionError(f"the tray never logged {text!r}; its log:\n{tray_said()}")

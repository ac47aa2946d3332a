"""The tray ships the chosen containers' output while the stack's Kafka runs, on every engine:
the lite stand-in stack, a container printing Python tracebacks (a spike: one desktop
notification, its service named), and a steady one that goes on printing while the tray is
quit and started again: every line reaches the stack's Kafka exactly once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import docker
import pytest

from tests.stack.test_cli_docker import config_toml
from tests.stack.test_ship import (  # noqa: F401 (fixtures)
    Printers,
    _seqs,
    printer_image,
    printers,
)
from tests.support.processes import logtray
from tests.support.tray import start_tray
from tests.support.tray_stack import published, tray_beside_stack, tray_said, wait_log

pytestmark = [pytest.mark.docker, pytest.mark.desktop]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ship-tray"
TOTAL = 1500


def _status() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "logtray" / "ship" / "status.json"


def _shipped(service: str) -> int:
    """What the running tray's shipper says it shipped of `service` (its counts file)."""
    path = _status()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    return sum(int(c["shipped"]) for c in data["containers"] if c["service"] == service)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            status = _status().read_text() if _status().exists() else "(no counts)"
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; counts: {status}; "
                f"the tray's log:\n{tray_said()[-6000:]}"
            )
        time.sleep(0.1)


def test_the_tray_ships_containers_and_a_restart_of_the_tray_loses_and_doubles_nothing(
    on_engine: docker.DockerClient,
    engine_stack_name: str,
    printers: Printers,  # noqa: F811
    tmp_path: Path,
) -> None:
    client, name = on_engine, engine_stack_name
    config = config_toml(name) + f'\n[ship]\nlabels = ["{printers.mark}"]\n'
    with tray_beside_stack(client, name, tmp_path, config) as tray:
        desktop, env = tray.desktop, tray.env
        up = logtray("stack", "up", env=env, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        bootstrap = f"127.0.0.1:{published(client, name)}"
        printers.start("plain", "steady", count=TOTAL, delay_us=5000)
        app, _icon = start_tray(env, ARTIFACTS, "healthy")
        try:
            wait_log(f"shipping the chosen containers' output to {bootstrap}", timeout=60)
            printers.start("python", "billing", count=30)
            calls = desktop.wait_for(
                lambda: [c for c in desktop.notify_calls() if not _learned(c)],
                timeout=90,
                what="the spike's notification",
            )
            assert len(calls) == 1 and "payments.py" in str(calls[0]["title"]), calls
            _wait(lambda: _shipped("steady") >= 100, 120, "the steady container's first lines")
        finally:
            assert app.stop() == 0
        first = _shipped("steady")
        _status().unlink()  # the next tray's counts start from nothing
        assert first < TOTAL, "the tray's restart must come mid-stream: slow the printer"
        app, _icon = start_tray(env, ARTIFACTS, "healthy")
        try:
            _wait(lambda: first + _shipped("steady") >= TOTAL, 180, "every line shipped")
        finally:
            assert app.stop() == 0
        seqs: list[int] = []
        deadline = time.monotonic() + 120
        while len(seqs) < TOTAL and time.monotonic() < deadline:
            seqs = _seqs(bootstrap, "steady", TOTAL)
        assert sorted(seqs) == list(range(1, TOTAL + 1)), (
            f"{len(seqs)} records; missing {sorted(set(range(1, TOTAL + 1)) - set(seqs))[:20]}"
        )
        doctor = logtray("doctor", env=env, timeout=60).stdout
        line = next(x for x in doctor.splitlines() if " shipping: " in x)
        assert "steady (lt-ship-steady-" in line and "billing (lt-ship-billing-" in line, line
        calls = desktop.notify_calls()
        titles = [str(c["title"]) for c in calls if not _learned(c)]
        assert len(titles) == 1, titles  # one alert; nothing else told (no drops, no problem)
        # The error kinds of a service seen for the first time are learned, said at most once.
        assert len(calls) - len(titles) <= 1, calls


def _learned(call: dict[str, object]) -> bool:
    """The error kinds' "Learned N error kinds from billing" notice (docs/kinds.md)."""
    return str(call["title"]).startswith("Learned ")

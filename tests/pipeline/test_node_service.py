"""A Node service, end to end: its real logger (pino) and a real Kafka client of its language
(kafkajs) produce into the test broker, `logtray engine` reads them, one notification shows.

tests/languages/node holds the service and its locked dependencies; `.ci/run` installs them
with `npm ci` (run it there by hand to try this test locally)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import need
from tests.support.desktop import desktop_fixture
from tests.support.processes import Running

pytestmark = pytest.mark.desktop

SERVICE = Path(__file__).resolve().parents[1] / "languages" / "node"


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


def test_a_node_service_logging_with_pino_raises_one_notification(desktop, broker):
    node = shutil.which("node")
    need(node is not None, "node is not installed")
    need(
        (SERVICE / "node_modules" / "kafkajs").is_dir(),
        f"the Node service's packages are not installed: run `npm ci` in {SERVICE}",
    )
    engine = Running(
        "engine", "--bootstrap", broker.bootstrap, "--notifier", "desktop", env=desktop.child_env()
    )
    calls: list[dict[str, object]] = []
    try:
        engine.wait_stderr("engine on")
        # The engine starts reading at the topic's end once it has joined: a batch sent before
        # that is not seen, so send again until one is (a second batch within the throttle
        # cannot raise a second alert for the same group).
        deadline = time.monotonic() + 90
        while not calls and time.monotonic() < deadline:
            sent = subprocess.run(
                [str(node), "payments.js", broker.bootstrap, "program-logs", "40"],
                cwd=SERVICE,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr
            try:
                calls = desktop.wait_for(desktop.notify_calls, timeout=10, what="a Notify call")
            except AssertionError:
                continue
    finally:
        engine.stop()
    said = "".join(engine.stderr_lines)
    assert calls, f"no notification within 90 s; the engine said: {said}"
    assert len(calls) == 1, calls
    shown = f"{calls[0]['title']} {calls[0].get('body', '')}"
    assert "payments" in shown, shown
    assert "Traceback" not in said

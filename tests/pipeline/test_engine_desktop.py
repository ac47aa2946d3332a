"""The whole lite path with real processes: `logtray demo` -> tansu -> `logtray engine` ->
policy -> a real notification on dunst (Notify seen on the private D-Bus session bus)."""

from __future__ import annotations

import os
import time
import urllib.request

import pytest

from tests.conftest import free_port, need
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import Running

pytestmark = pytest.mark.desktop


@pytest.fixture
def desktop(tmp_path):
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)} (see .ci/run)")
    session = start_desktop(tmp_path / "desktop")
    yield session
    session.stop()


def test_demo_spike_becomes_a_desktop_notification(desktop, broker):
    keep = ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER", "NO_AT_BRIDGE", "XDG_RUNTIME_DIR")
    env = {**os.environ, **{k: desktop.env[k] for k in keep}}
    control = f"127.0.0.1:{free_port()}"
    engine = Running("engine", "--bootstrap", broker.bootstrap, "--notifier", "desktop", env=env)
    demo = Running("demo", "--bootstrap", broker.bootstrap, "--http", control, env=env)
    try:
        assert "notifications: desktop" in engine.wait_stderr("engine on")
        demo.stdout.get(timeout=15)  # "demo: logging to ..."
        time.sleep(2.0)  # baseline: below the threshold, nothing to show
        assert desktop.notify_calls() == []
        deadline = time.monotonic() + 30
        calls: list[dict[str, object]] = []
        while not calls and time.monotonic() < deadline:
            request = urllib.request.Request(f"http://{control}/spike", method="POST")
            with urllib.request.urlopen(request, timeout=5) as reply:
                assert reply.status == 202
            try:
                calls = desktop.wait_for(desktop.notify_calls, timeout=6, what="a Notify call")
            except AssertionError:
                continue  # the engine's first fetch may have come after this spike: again
    finally:
        demo.stop()
        engine.stop()
    assert calls, f"no notification; engine said: {''.join(engine.stderr_lines)}"
    assert len(calls) == 1  # one alert at the crossing, then throttled
    assert "payments.py" in str(calls[0]["title"])
    assert "Traceback" not in "".join(engine.stderr_lines + demo.stderr_lines)

"""The whole lite path with real processes: `logtray demo` -> tansu -> `logtray engine` ->
policy -> a real notification on dunst (Notify seen on the private D-Bus session bus)."""

from __future__ import annotations

import time

import pytest

from tests.support.desktop import desktop_fixture, engine_and_demo, spike_until_notified

pytestmark = pytest.mark.desktop


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


def test_demo_spike_becomes_a_desktop_notification(desktop, broker):
    with engine_and_demo(desktop, broker.bootstrap) as (engine, demo, control):
        time.sleep(2.0)  # baseline: below the threshold, nothing to show
        assert desktop.notify_calls() == []
        calls = spike_until_notified(desktop, control)
    assert calls, f"no notification; engine said: {''.join(engine.stderr_lines)}"
    assert len(calls) == 1  # one alert at the crossing, then throttled
    assert "payments.py" in str(calls[0]["title"])
    assert "Traceback" not in "".join(engine.stderr_lines + demo.stderr_lines)

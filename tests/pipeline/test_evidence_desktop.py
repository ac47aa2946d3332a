"""Issue 11 end to end with real processes: `logtray demo` spike -> tansu -> `logtray engine` ->
a popup on dunst showing the spike's message -> its "Show errors" action (dunst's context menu)
-> the error view page, rendered by a real headless Chromium (screenshot in test-artifacts/).
Hostile log messages produced straight to the topic stay text in that page."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import need
from tests.pipeline.kafka_util import produce
from tests.support.desktop import Desktop, desktop_fixture, engine_and_demo, spike_until_notified

pytestmark = pytest.mark.desktop

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "evidence"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


def chromium(*args: str, profile: Path) -> str:
    """Headless Chromium with no network at all (its own empty network namespace, when allowed).

    Its background services would otherwise try to reach Google: the page itself loads nothing.
    """
    binary = shutil.which("chromium")
    need(binary is not None, "chromium is missing (apt-get install chromium; see .ci/run)")
    assert binary is not None
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-pings",
        f"--user-data-dir={profile}",
        *args,
    ]
    isolated = subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
    if isolated:
        command = ["unshare", "--net", "--", *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "DISPLAY"))}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def show_errors(desktop: Desktop, title_part: str) -> Path:
    """Choose "Show errors" on the popup; the error view page the (recorded) browser got."""
    desktop.browser_log.write_text("")
    desktop.wait_displayed()  # dunst's menu offers the actions of what it shows
    desktop.invoke_action("Show errors")
    opened = desktop.wait_for(
        lambda: desktop.browser_log.read_text().strip(),
        timeout=15,
        what=f"the error view of {title_part} to be opened",
    )
    assert opened.startswith("file://"), opened
    page = Path(unquote(urlsplit(opened).path))
    assert page.is_file()
    return page


def test_spike_popup_show_errors_page_renders_and_hostile_text_stays_text(
    desktop, broker, tmp_path
):
    with engine_and_demo(desktop, broker.bootstrap) as (engine, demo, control):
        calls = spike_until_notified(desktop, control)
        assert calls, f"no notification; engine said: {''.join(engine.stderr_lines)}"
        [call] = calls
        assert "payments.py" in str(call["title"])
        assert "database connection refused" in str(call["body"])  # the top message
        assert "Show errors" in call["strings"]
        assert "Open in Kibana" not in call["strings"]  # no Kibana in the lite profile

        page = show_errors(desktop, "payments.py")
        html = page.read_text()
        assert "database connection refused" in html
        assert "error records of this file" in html and "<td>error</td>" in html

        # A stranger's records: markup in the message, the path and the traceback.
        desktop.reset()
        before = len(desktop.notify_calls())
        record = {
            "level": "error",
            "pathname": "/app/<b>evil</b>.py",
            "lineno": 6,
            "message": HOSTILE,
            "exception": f"Traceback (most recent call last):\nRuntimeError: {HOSTILE}",
        }
        asyncio.run(produce(broker.bootstrap, "program-logs", [json.dumps(record).encode()] * 30))
        desktop.wait_for(
            lambda: len(desktop.notify_calls()) > before, timeout=15, what="the hostile alert"
        )
        hostile_page = show_errors(desktop, "evil")
    assert "Traceback" not in "".join(engine.stderr_lines + demo.stderr_lines)

    hostile_html = hostile_page.read_text()
    assert "<script" not in hostile_html and "<img" not in hostile_html
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in hostile_html

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "chromium"
    doms = {}
    for name, shown in (("error-view", page), ("error-view-hostile", hostile_page)):
        dom = doms[name] = chromium("--dump-dom", shown.as_uri(), profile=profile)
        assert "<title>" in dom and "pwned" not in dom.split("</title>")[0]  # no script ran
        assert "<script" not in dom and "<img" not in dom
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        chromium("--window-size=1100,900", f"--screenshot={shot}", shown.as_uri(), profile=profile)
        assert shot.stat().st_size > 10_000  # a rendered page, not an empty image
    assert "database connection refused" in doms["error-view"]
    assert "&lt;script&gt;" in doms["error-view-hostile"]  # the sender's markup, as text

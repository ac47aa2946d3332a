"""tray.opener: only checked URLs reach a (recording) browser, and no child is left a zombie."""

import time
import webbrowser

import psutil
import pytest

from logtray.tray.delivery.opener import open_path, open_url

KIBANA = ("http://127.0.0.1:5601",)


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    """A browser and an xdg-open that only record their arguments."""
    log = tmp_path / "opened.log"
    log.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("browser", "xdg-open"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nprintf "{name} %s\\n" "$@" >> "{log}"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read $BROWSER
    monkeypatch.setattr(webbrowser, "_browsers", {})
    # Children this process had already (e.g. a session fixture's registry) are not ours.
    _EARLIER.clear()
    _EARLIER.update(c.pid for c in psutil.Process().children())
    return log, bin_dir


_EARLIER: set[int] = set()


def settled(log, lines):
    """Wait until `lines` lines were recorded and every child is reaped (no zombies)."""
    me = psutil.Process()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = [c for c in me.children() if c.pid not in _EARLIER]
        zombies = [c for c in children if c.status() == psutil.STATUS_ZOMBIE]
        if len(log.read_text().splitlines()) >= lines and not children and not zombies:
            return log.read_text().splitlines()
        time.sleep(0.02)
    children = [c for c in me.children() if c.pid not in _EARLIER]
    raise AssertionError(f"not settled: {log.read_text()!r}, children {children}")


def test_kibana_url_opens_through_browser_and_xdg_open_without_zombies(recorder, monkeypatch):
    log, bin_dir = recorder
    monkeypatch.setenv("BROWSER", str(bin_dir / "browser"))
    assert open_url("http://127.0.0.1:5601/app/discover#/", KIBANA)
    settled(log, 1)
    monkeypatch.delenv("BROWSER")
    assert open_url("http://127.0.0.1:5601/app/x", KIBANA)
    lines = settled(log, 2)
    assert lines == [
        "browser http://127.0.0.1:5601/app/discover#/",
        "xdg-open http://127.0.0.1:5601/app/x",
    ]


def test_unsafe_urls_never_reach_a_program(recorder, monkeypatch, caplog):
    log, bin_dir = recorder
    monkeypatch.setenv("BROWSER", str(bin_dir / "browser"))
    for url in ["--gpu-launcher=xcalc --", "file:///etc/passwd", "http://evil.example/"]:
        assert not open_url(url, KIBANA)
    assert "not opening" in caplog.text
    open_path(log)  # a local file still opens (with xdg-open), as an absolute path
    assert settled(log, 1) == [f"xdg-open {log}"]

"""Opening URLs and files with the user's own programs (the true edge of the app).

Every URL is checked by tray.links right here, just before it leaves the app: whatever path
it took (a notification click, the menu, a history entry), only an http(s) URL under an
allowed prefix reaches a browser, and never a string a browser could take as an option.
Launched programs are waited for in a daemon thread, so none is left behind as a zombie.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from logtray.tray.base.links import safe_url

log = logging.getLogger(__name__)


def open_url(url: str, allowed_prefixes: Sequence[str]) -> bool:
    """Open `url` in the browser if tray.links allows it; False (and a log line) if not."""
    safe = safe_url(url, allowed_prefixes)
    if safe is None:
        log.warning("not opening %.200r: not an http(s) URL under an allowed prefix", url)
        return False
    _in_background(_browse, safe)
    return True


def open_page(path: Path, wait: bool = False) -> None:
    """Open a page logtray wrote itself (the error view) in the browser; never a sender's URL.
    `wait` for a command that exits right after (the background thread would die with it)."""
    if wait:
        _browse(path.resolve().as_uri())
    else:
        _in_background(_browse, path.resolve().as_uri())


def open_configured_url(url: str) -> None:
    """Open a URL built from the user's own config (an editor URL template, checked at load)."""
    _in_background(_browse, url)


def open_path(path: Path) -> None:
    """Open a local file with its default application (a text editor, a log viewer)."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
    if opener:
        # An absolute path cannot be read as an option.
        _in_background(_run_and_reap, [opener, str(path.resolve())])
    else:
        _in_background(webbrowser.open, path.resolve().as_uri())


def _browse(url: str) -> None:
    # $BROWSER (what webbrowser honours first) runs in the foreground and is waited for by
    # webbrowser itself; xdg-open is launched here so that it is waited for as well
    # (webbrowser starts it in the background and never reaps it).
    if not os.environ.get("BROWSER") and sys.platform.startswith("linux"):
        opener = shutil.which("xdg-open")
        if opener:
            _run_and_reap([opener, url])
            return
    webbrowser.open(url)


def _run_and_reap(command: list[str]) -> None:
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("cannot run %s: %s", command[0], exc.strerror or exc)
        return
    process.wait()


def _in_background(target: Callable[[Any], object], argument: object) -> None:
    def run() -> None:
        try:
            target(argument)
        except Exception:
            log.exception("opening %.200r failed", argument)

    threading.Thread(target=run, name="logtray-open", daemon=True).start()

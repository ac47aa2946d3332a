"""Opening URLs and files with the user's own programs (the true edge of the app)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import webbrowser
from pathlib import Path


def open_url(url: str) -> None:
    webbrowser.open(url)


def open_path(path: Path) -> None:
    """Open a file with its default application (a text editor for the config)."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
    if opener:
        subprocess.Popen([opener, str(path)], start_new_session=True)
    else:
        webbrowser.open(path.as_uri())

"""A failure the tray shows: one sentence, the fix, and where it is kept for `logtray doctor`.

Pure apart from `save`/`load`/`clear`: the words come from the LogtrayError the CLI prints,
so the notification, the menu's short line and `doctor` say the same as the command line.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from logtray.tray.base import paths

MENU_LINE_CHARS = 48  # a GTK menu line this long stays about 300 px wide


@dataclass(frozen=True)
class Failure:
    key: str  # "stack" (a start/stop/repair) or "docker" (the engine went away)
    what: str  # "Start stack failed", "Docker went away"
    message: str  # the error's full text; the first line is the one sentence
    fix: str | None = None
    at: float = 0.0

    @property
    def sentence(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else self.what

    def notification(self) -> tuple[str, str]:
        """Title and body: the sentence and the fix, worded as the CLI words them."""
        body = self.sentence if not self.fix else f"{self.sentence}\nfix: {self.fix}"
        return f"logtray: {self.what}", body

    def menu_line(self) -> str:
        return short_line(f"{self.what}: {self.sentence}")

    def report(self) -> str:
        """For `logtray doctor`: when, what, and the whole message (log lines included)."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at)) if self.at else "?"
        return f"{self.what} at {when}: {self.message.strip()}"


def short_line(text: str, limit: int = MENU_LINE_CHARS) -> str:
    """The first line of `text`, cut at a word boundary to at most `limit` characters."""
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    # At a word boundary when one is near the end; a long token (an image name, a path) is
    # cut instead of dropped, so the line keeps what it is about.
    space = cut.rfind(" ")
    if space >= len(cut) - 12:
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def save(failure: Failure, path: Path | None = None) -> None:
    path = path or paths.tray_problem_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(failure)), encoding="utf-8")
    except OSError:
        pass  # the notification and the menu still say it; only doctor would miss it


def load(path: Path | None = None) -> Failure | None:
    path = path or paths.tray_problem_file()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Failure(**{k: raw[k] for k in ("key", "what", "message", "fix", "at")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear(key: str, path: Path | None = None) -> None:
    """Forget the kept failure once its cause is gone (the next start worked, Docker is back)."""
    path = path or paths.tray_problem_file()
    kept = load(path)
    if kept is not None and kept.key == key:
        path.unlink(missing_ok=True)

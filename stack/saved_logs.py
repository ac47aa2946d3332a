"""The last log lines of a service that failed to start, kept after its container is gone.

`up` removes what it created when a start fails, and with it the container's log; the error
tells the user to run `logtray stack logs <service>`. So the lines are saved first, to a file
per stack and service in the user's log directory, and `logs` shows them while the service has
no container. A new container of the service makes the saved lines stale: they are removed.

The lines of a service that stopped unexpectedly while the tray watched (stack/incidents.py)
are kept apart, as its incident file: a Repair may replace the container (and its log), and
`logs` shows them before the new container's lines until a later incident replaces them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

import platformdirs

KEEP_LINES = 500


def default_dir() -> Path:
    # The "stack" folder beside logtray's own log file (tray/base/paths.py log_dir(); a test
    # keeps the two the same).
    return Path(platformdirs.user_log_dir("logtray", appauthor=False)) / "stack"


class SavedLogs:
    def __init__(self, root: Path, stack_name: str) -> None:
        self.root = root
        self.stack = stack_name

    def path(self, service: str, incident: bool = False) -> Path:
        suffix = ".incident.log" if incident else ".log"
        return self.root / f"{self.stack}-{service}{suffix}"

    def save(
        self, service: str, reason: str, lines: Sequence[str], what: str = "failed to start"
    ) -> Path | None:
        """Write the lines with a header saying when and why; None if it cannot be written.
        Any `what` but "failed to start" is an incident: kept in the service's incident file."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        header = f"# logtray: {service} {what} at {stamp}: {reason}\n"
        incident = what != "failed to start"
        if incident:
            header += "# these are its last log lines from then\n"
        else:
            header += "# its container was removed; these are its last log lines\n"
        body = "".join(f"{line}\n" for line in lines[-KEEP_LINES:])
        target = self.path(service, incident)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(header + body, encoding="utf-8")
            tmp.replace(target)
        except OSError:
            return None  # saving is a courtesy: never hide the real failure behind it
        return target

    def saved_at(self, service: str, incident: bool = False) -> float | None:
        try:
            return self.path(service, incident).stat().st_mtime
        except OSError:
            return None

    def read(self, service: str, tail: int, incident: bool = False) -> bytes | None:
        try:
            text = self.path(service, incident).read_bytes()
        except OSError:
            return None
        lines = text.splitlines(keepends=True)
        head = [ln for ln in lines[:2] if ln.startswith((b"# logtray:", b"# its", b"# these"))]
        rest = lines[len(head) :]
        return b"".join(head + rest[-tail:] if tail > 0 else head + rest)

    def forget(self, service: str) -> None:
        with contextlib.suppress(OSError):
            self.path(service).unlink()

"""The open stack incidents, kept in a file for `logtray doctor` (the menu has room for a short
line only). Written by the tray on every change; a missing or broken file means none."""

from __future__ import annotations

import json
from pathlib import Path

from logtray.stack.incidents import Incident
from logtray.tray.base import paths

MAX_KEPT = 50  # one per service in practice; a bound for a file anyone could edit


def save(incidents: tuple[Incident, ...], path: Path | None = None) -> None:
    path = path or paths.stack_incidents_file()
    try:
        if not incidents:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([i.to_json() for i in incidents]), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # the notification and the menu still say it; only doctor would miss it


def load(path: Path | None = None) -> tuple[Incident, ...]:
    path = path or paths.stack_incidents_file()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if not isinstance(raw, list):
        return ()
    found = (Incident.from_json(item) for item in raw[:MAX_KEPT] if isinstance(item, dict))
    return tuple(i for i in found if i is not None)

"""The router's history marks and its memory of the alerts already taken, on a real history
file: what a restart reads again (its position not yet committed) is neither kept nor shown
twice, and what a start caught up is kept one by one and told in one summary."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.alerts.policy import CAUGHT_UP_KEY, AlertPolicy
from logtray.tray.base.config import AlertsConfig
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.router import AlertRouter


def run_router(path: Path, feed) -> list[dict]:
    out = io.StringIO()

    async def go() -> None:
        history = AlertHistory(path)
        router = AlertRouter(
            AlertPolicy(AlertsConfig(), lambda a, t: None),
            history,
            ConsoleNotifier(out),
            clock=lambda: 1000.0,
        )
        feed(router)
        await router.aclose()
        history.close()

    asyncio.run(go())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def alert(n: int) -> Alert:
    return Alert(pathname=f"/app/f{n}.py", lineno=n, count=30, id=f"id-{n}")


def test_a_restart_takes_no_alert_twice_and_marks_how_each_was_told(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    first = run_router(path, lambda r: r.accept(alert(1), "kafka:t"))
    # Started again: alert 1 is read again (not committed), alert 2 and 3 were missed.
    second = run_router(
        path, lambda r: r.accept_caught_up([alert(1), alert(2), alert(3)], "kafka:t", 600, 4)
    )
    third = run_router(path, lambda r: (r.accept(alert(3), "kafka:t"), r.accept(alert(4), "x")))

    assert [n["id"] for n in first] == ["id-1"]
    [summary] = second
    assert summary["key"] == CAUGHT_UP_KEY
    assert summary["title"] == "While you were away (10 min): 2 alerts — f2.py:2 …"
    assert summary["body"].endswith(
        "4 older records not read (past [alerts] catch_up_max_age or catch_up_max_records)"
    )
    assert [n["id"] for n in third] == ["id-4"]
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["id"], e["told"]) for e in entries] == [
        ("id-1", "live"),
        ("id-2", "caught up"),
        ("id-3", "caught up"),
        ("id-4", "live"),
    ]

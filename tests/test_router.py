"""The router's history marks and its memory of the alerts already taken, on a real history
file: what a restart reads again (its position not yet committed) is neither kept nor shown
twice, and what a start caught up is kept one by one and told in one summary."""

from __future__ import annotations

import asyncio
import io
import json
import time
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


class FailingNotifier:
    """A notification server that is gone: nothing is shown (as when killed before the popup)."""

    name = "failing"

    async def show(self, notice) -> None:
        raise RuntimeError("no notification server")

    async def aclose(self) -> None:
        return None


def run_router_with(path: Path, feed, notifier, clock=lambda: 1000.0, **config) -> AlertRouter:
    async def go() -> AlertRouter:
        history = AlertHistory(path)
        router = AlertRouter(
            AlertPolicy(AlertsConfig(**config), lambda a, t: None), history, notifier, clock
        )
        result = feed(router)
        if asyncio.iscoroutine(result):
            await result
        await router.aclose()
        history.close()
        return router

    return asyncio.run(go())


def test_an_alert_kept_but_never_shown_is_counted_in_the_next_start_summary_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    run_router_with(path, lambda r: r.accept(alert(1), "kafka:t"), FailingNotifier())
    # Started again: alert 2 was missed; alert 1 was kept but never shown.
    second = run_router(path, lambda r: r.accept_caught_up([alert(2)], "kafka:t", 600, 0))
    third = run_router(path, lambda r: (r.accept_caught_up([], "kafka:t", 60, 0), r.tell_untold()))

    [summary] = second
    assert summary["title"] == "While you were away (10 min): 2 alerts — f1.py:1 …"
    assert summary["ids"] == ["id-1", "id-2"]
    assert third == []  # told: not again


def test_untold_alerts_without_a_catch_up_get_a_summary_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    run_router_with(path, lambda r: r.accept(alert(1), "kafka:t"), FailingNotifier())
    [summary] = run_router(path, lambda r: r.tell_untold(90))
    assert summary["title"] == "While you were away (2 min): 1 alert — f1.py:1"
    assert summary["ids"] == ["id-1"] and summary["id"] is None


def test_untold_alerts_older_than_catch_up_max_age_are_not_told(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    run_router_with(path, lambda r: r.accept(alert(1), "kafka:t"), FailingNotifier())
    later = run_router_with(
        path,
        lambda r: r.tell_untold(),
        ConsoleNotifier(io.StringIO()),
        lambda: 1000.0 + 3601,
        catch_up_max_age=3600,
    )
    assert later.untold == [] and later.shown == 0


def test_an_alert_held_by_do_not_disturb_counts_as_told(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"

    def quiet(router: AlertRouter) -> None:
        router.set_do_not_disturb(True)
        router.accept(alert(1), "kafka:t")
        router.accept_caught_up([alert(2)], "kafka:t", 600, 0)

    held = run_router_with(path, quiet, ConsoleNotifier(io.StringIO()))
    assert held.shown == 0
    assert run_router(path, lambda r: r.tell_untold()) == []


def test_an_alert_folded_into_a_later_update_is_told_by_it_or_by_its_source_popup(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    again = Alert(pathname="/app/f1.py", lineno=1, count=31, id="id-1b")
    out = io.StringIO()

    def stopped_before_the_update(router: AlertRouter) -> None:
        router.accept(alert(1), "kafka:t")
        router.accept(again, "kafka:t")  # its update is due in update_interval_s

    # A quit before the update: the source's first popup told it, as when the policy lets an
    # update go; the next start says nothing of it.
    run_router_with(path, stopped_before_the_update, ConsoleNotifier(out))
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == ["id-1"]
    assert run_router(path, lambda r: r.tell_untold()) == []

    path2 = tmp_path / "other.jsonl"
    out2 = io.StringIO()

    async def until_the_update(router: AlertRouter) -> None:
        router.accept(alert(1), "kafka:t")
        router.accept(again, "kafka:t")
        for _ in range(400):  # bounded: the update is due after 0.05 s
            if len(out2.getvalue().splitlines()) == 2:
                break
            await asyncio.sleep(0.01)

    run_router_with(
        path2, until_the_update, ConsoleNotifier(out2), time.time, update_interval_s=0.05
    )
    assert len(out2.getvalue().splitlines()) == 2, out2.getvalue()
    assert run_router(path2, lambda r: r.tell_untold()) == []

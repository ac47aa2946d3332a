"""The alerts an earlier run kept but never told (it was killed between the two) are told on
the next start by the alert service: in the first catch-up summary, or in one of their own
when no reader catches up (none configured, or its Kafka does not answer in time)."""

from __future__ import annotations

import asyncio
import io
import json
import time

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.base import paths
from logtray.tray.base.config import load_config
from logtray.tray.delivery import service as service_module
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.conftest import free_port


def kept_but_never_told() -> None:
    """As a run killed between keeping alert `untold-1` and showing it leaves the history."""
    history = AlertHistory(paths.history_file())
    alert = Alert(pathname="/app/pay.py", lineno=3, count=30, id="untold-1")
    history.append({"received": round(time.time(), 3), "peer": "t", **alert.to_record()})
    history.close()


def notices_of_a_start(config_values: dict, bound_s: float = 20.0) -> list[dict]:
    out = io.StringIO()
    service = AlertService(load_config(config_values), notifier=ConsoleNotifier(out))

    async def scenario() -> None:
        await service.start(listen=False)
        deadline = time.monotonic() + bound_s
        try:
            while not out.getvalue() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)  # a bounded poll for the notice
        finally:
            await service.stop()

    asyncio.run(scenario())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_without_a_reader_they_are_told_at_once_in_a_summary_of_their_own() -> None:
    kept_but_never_told()
    [summary] = notices_of_a_start({})
    assert summary["key"] == "logtray:caught-up" and summary["ids"] == ["untold-1"]
    assert summary["title"].startswith("While you were away") and "pay.py:3" in summary["title"]
    assert notices_of_a_start({}, bound_s=1.0) == []  # told: not again


def test_a_reader_whose_kafka_never_answers_holds_them_only_so_long(monkeypatch) -> None:
    monkeypatch.setattr(service_module, "UNTOLD_WAIT_S", 0.5)
    kept_but_never_told()
    nothing_there = f"127.0.0.1:{free_port()}"
    [summary] = notices_of_a_start({"alerts_topic": {"enabled": True, "bootstrap": nothing_there}})
    assert summary["ids"] == ["untold-1"]


def test_older_than_catch_up_max_age_they_are_not_told() -> None:
    history = AlertHistory(paths.history_file())
    alert = Alert(pathname="/app/pay.py", lineno=3, count=30, id="old-1")
    history.append({"received": time.time() - 3601, "peer": "t", **alert.to_record()})
    history.close()
    assert notices_of_a_start({"alerts": {"catch_up_max_age": 3600}}, bound_s=1.0) == []

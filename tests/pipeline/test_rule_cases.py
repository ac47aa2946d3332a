"""The shared rule-case table (tests/rule_cases.json) against the lite profile's engine.

riemann.config runs the same cases in tests/stack/test_riemann_config.py: one rule, two
implementations, the same alerts.
"""

from __future__ import annotations

import pytest

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.base.config import EngineConfig
from tests.rule_cases import CASES, CONFIG, Case, relative


def run_engine(case: Case) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    clock = [case.deliveries[0].at]

    def accept(alert: Alert) -> None:
        assert alert.time is not None
        seen.append(
            relative(
                {
                    "pathname": alert.pathname,
                    "count": alert.count,
                    "at": clock[0],
                    "time": alert.time,
                }
            )
        )

    config = EngineConfig(
        threshold=CONFIG["threshold"],
        window_s=float(CONFIG["window_s"]),
        throttle_s=float(CONFIG["throttle_s"]),
    )
    engine = RuleEngine(config, accept, clock=lambda: clock[0])
    for delivery in case.deliveries:
        clock[0] = delivery.at
        engine.feed(list(delivery.values))
    assert engine.malformed == 0
    return seen


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_engine_alerts_as_the_table_says(case: Case) -> None:
    assert run_engine(case) == case.alerts


def test_the_table_has_the_cases_both_profiles_must_agree_on() -> None:
    names = {case.name for case in CASES}
    assert {
        "flushed backlog",
        "live spike",
        "producer an hour ahead",
        "records two hours old",
    } <= names

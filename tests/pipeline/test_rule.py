"""The spike rule and the malformed-message filter: pure, on an injected clock."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.alerts.engine import MAX_GROUPS, RuleEngine, SpikeRule, parse_event
from logtray.tray.alerts.event_time import StepWindow, own_time, parse_timestamp, rule_time, step_of
from logtray.tray.base.config import EngineConfig

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

CONFIG = EngineConfig(window_s=10.0, threshold=25, throttle_s=60.0)


def error(path: str = "/app/a.py", **more: object) -> dict[str, object]:
    return {"level": "error", "pathname": path, "message": "boom", "lineno": 3, **more}


def test_alerts_once_at_the_crossing_not_before():
    rule = SpikeRule(CONFIG)
    alerts = [rule.observe(error(), now=100.0 + i * 0.1) for i in range(40)]
    fired = [(i, a) for i, a in enumerate(alerts) if a]
    assert len(fired) == 1
    index, alert = fired[0]
    assert index == 25  # the 26th error: "more than 25"
    assert alert.count == 26 and alert.threshold == 25 and alert.window_s == 10.0
    assert alert.pathname == "/app/a.py" and alert.lineno == 3 and alert.message == "boom"


def test_errors_spread_wider_than_the_window_never_alert():
    rule = SpikeRule(CONFIG)
    # 2 errors/s for two minutes: 20 per 10 s window, never more than 25.
    assert not any(rule.observe(error(), now=i * 0.5) for i in range(240))


def test_other_levels_and_groups_count_apart():
    rule = SpikeRule(CONFIG)
    for i in range(100):
        assert rule.observe({"level": "info", "pathname": "/a.py"}, now=i * 0.01) is None
    for i in range(25):
        assert rule.observe(error("/a.py"), now=1 + i * 0.01) is None
        assert rule.observe(error("/b.py"), now=1 + i * 0.01) is None
    assert rule.observe(error("/b.py"), now=2.0) is not None
    assert rule.observe(error("/a.py"), now=2.0) is not None  # its own crossing


def test_throttled_per_group_then_alerts_again():
    rule = SpikeRule(CONFIG)
    times = [i * 0.1 for i in range(1200)]  # 10 errors/s for 120 s: always above threshold
    fired = [t for t in times if rule.observe(error(), now=t)]
    assert fired[0] == times[25]
    assert [round(b - a, 6) >= 60.0 for a, b in itertools.pairwise(fired)] == [True] * (
        len(fired) - 1
    )
    assert len(fired) == 2


def test_level_and_group_by_are_configurable():
    rule = SpikeRule(EngineConfig(group_by="service", level="warning", threshold=2))
    events = [{"level": "WARNING", "service": "billing"} for _ in range(3)]
    alerts = [rule.observe(e, now=1.0) for e in events]
    assert alerts[2] is not None and alerts[2].pathname == "billing"


def test_the_level_counts_and_everything_above_it():
    """level = "error" counts error and fatal in every spelling (critical, 60, panic...), not
    warnings; level = "warning" counts warnings too."""
    rule = SpikeRule(EngineConfig(threshold=100))
    for level in ("error", "ERROR", "err", "critical", "CRITICAL", "fatal", "panic", 50, 60):
        rule.observe({"level": level, "pathname": "/a.py"}, now=1.0)
    for level in ("warning", "WARN", "info", 40, 30, "debug"):
        rule.observe({"level": level, "pathname": "/a.py"}, now=1.0)
    assert rule.matched == 9
    warn = SpikeRule(EngineConfig(threshold=100, level="warning"))
    for level in ("warn", "error", "info"):
        warn.observe({"level": level, "pathname": "/a.py"}, now=1.0)
    assert warn.matched == 2


def test_sweep_forgets_groups_idle_as_long_as_riemann_does():
    rule = SpikeRule(CONFIG)
    assert rule.idle_s == 60.0 + 60.0  # max(window_s, throttle_s) + 60, riemann.config's idle-s
    for i in range(100):
        rule.observe(error(f"/f{i}.py"), now=0.0)
    rule.sweep(now=rule.idle_s - 1)
    assert rule.groups == 100
    rule.sweep(now=rule.idle_s)
    assert rule.groups == 0


def test_a_flood_of_files_keeps_the_most_recently_seen():
    rule = SpikeRule(CONFIG)
    for i in range(2500):
        rule.observe(error(f"/f{i}.py"), now=i * 0.001)
    assert rule.groups <= MAX_GROUPS
    # the newest file is still watched: 25 more errors cross its threshold
    alerts = [rule.observe(error("/f2499.py"), now=3.0) for _ in range(25)]
    assert alerts[-1] is not None and alerts[-1].count == 26


def test_malformed_messages_are_none():
    for raw in (
        None,
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"42",
        b'{"pathname": "/a.py"}',  # no level
        b'{"level": "loud", "pathname": "/a.py"}',  # no level it can read
        b'{"level": true, "pathname": "/a.py"}',
        b"\xff\xfe",
    ):
        assert parse_event(raw, "pathname") is None, raw
    assert parse_event(b'{"level":"error","pathname":"/a.py","time":1.5}', "pathname")
    # A string time is read (bunyan, slog, zerolog write one), or counts at arrival.
    assert parse_event(b'{"level":"error","pathname":"/a.py","time":"2024-01-01"}', "pathname")
    # Any of the loggers' level conventions (tests/shapes/README.md).
    assert parse_event(b'{"level": 50, "msg": "boom"}', "pathname")
    assert parse_event(b'{"levelname": "ERROR", "pathname": "/a.py"}', "pathname")


def test_errors_without_a_group_are_malformed_other_levels_are_not():
    """An error with neither a call site nor a message has no group: counted as malformed. A
    record at a level the rule does not count is not looked at further."""
    engine = RuleEngine(EngineConfig(threshold=2), lambda alert: None, clock=lambda: 1.0)
    engine.feed([b'{"level": "error"}', b'{"level": "error", "pathname": 3}', b'{"level": "info"}'])
    assert engine.malformed == 2 and engine.rule.ungrouped == 2 and engine.unreadable == 0


def test_engine_counts_malformed_and_keeps_going():
    alerts = []
    clock = iter(float(i) for i in range(1000))
    engine = RuleEngine(EngineConfig(threshold=2), alerts.append, clock=lambda: next(clock))
    good = json.dumps(error()).encode()
    engine.feed([b"garbage", good, b"[]", good, b'{"level": "error", "time": "x"}', good])
    assert engine.malformed == 3
    assert len(alerts) == 1 and alerts[0].count == 3


@given(st.lists(st.floats(min_value=0, max_value=500), max_size=300))
def test_never_more_than_one_alert_per_throttle_period(offsets):
    rule = SpikeRule(EngineConfig(threshold=3, throttle_s=30.0))
    fired = [t for t in sorted(offsets) if rule.observe(error(), now=t)]
    assert all(b - a >= 30.0 for a, b in itertools.pairwise(fired))


def test_event_times_are_read_as_riemann_config_reads_them():
    """The same readings tests/stack/test_riemann_config.py asks of riemann.config."""
    t0 = 1764000000.0
    stamps = [
        "2025-11-24T16:00:00.250Z",
        "2025-11-24T17:00:00.250+01:00",
        "2025-11-24T16:00:00.250",
        "yesterday",
        "+999999999-12-31T23:59:59Z",
    ]
    assert [own_time({"@timestamp": s}) for s in stamps] == [t0 + 0.25] * 3 + [None, None]
    for text in (
        "2025-11-24T16:00:00Z",
        "2025-11-24T16:00:00.1Z",
        "2025-11-24T16:00:00.123456789Z",
        "2025-11-24T16:00:01.999Z",
        "1999-01-01T00:00:00.5Z",
    ):
        general = (datetime.fromisoformat(text) - EPOCH) // timedelta(milliseconds=1) / 1000.0
        assert parse_timestamp(text) == general, text
    for text in ("2025-13-24T16:00:00Z", "24/11/2025 16:00", "2025-11-24T16:00:00.1234567890Z"):
        assert parse_timestamp(text) is None, text
    assert parse_timestamp(1764000000) is None
    # numbers: whole seconds (as Riemann's consumer rounds them), milliseconds, created
    assert own_time({"time": t0 + 0.5}) == t0 + 1
    assert own_time({"time": int(t0 * 1000) + 7}) == t0 + 0.007
    assert own_time({"created": t0 + 0.25, "time": 5}) == t0 + 0.25
    assert own_time({"time": True}) is None and own_time({}) is None
    # bounds on the arrival clock
    assert rule_time({"time": t0 * 1000}, t0) == t0
    assert rule_time({"@timestamp": "2026-11-24T16:00:00Z"}, t0) == t0  # a year ahead
    assert rule_time({"time": t0 + 4}, t0) == t0 + 4
    assert rule_time({"time": t0 - 7200}, t0) is None
    assert rule_time({"time": t0 - 1800}, t0) == t0 - 1800
    assert rule_time({}, t0) == t0


@given(st.lists(st.floats(min_value=-20, max_value=20), max_size=200))
def test_the_step_window_counts_what_a_list_would(offsets):
    window = StepWindow(10.0)
    kept: list[float] = []
    for offset in offsets:
        t = 1764000000.0 + offset
        if window.add(t):
            kept.append(t)
        top = max(step_of(k) for k in kept) if kept else 0
        assert window.n == sum(1 for k in kept if step_of(k) > top - 100)

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.policy import (
    CAUGHT_UP_KEY,
    SNOOZE_SUMMARY_KEY,
    STORM_KEY,
    AlertPolicy,
    away_text,
)
from logtray.tray.base.config import AlertsConfig


def link(alert, at):
    return f"kibana/{alert.pathname if alert else '*'}@{at:g}"


def make(**overrides):
    config = AlertsConfig(
        **{
            "cooldown_s": 60,
            "update_interval_s": 5,
            "storm_keys": 3,
            "storm_window_s": 10,
            **overrides,
        }
    )
    return AlertPolicy(config, link)


def spike(path, count=30):
    return Alert(pathname=path, count=count, window_s=10, threshold=25)


def test_first_alert_pops_with_a_kibana_link():
    [notice] = make().on_alert(spike("/app/a.py"), now=100)
    assert notice.title == "a.py — 30 errors in 10 s"
    assert notice.url == "kibana//app/a.py@100"
    assert not notice.replaces and notice.count == 1


def test_repeats_within_cooldown_update_one_notification_at_most_every_interval():
    policy = make()
    policy.on_alert(spike("/app/a.py"), now=100)
    assert policy.on_alert(spike("/app/a.py", 40), now=101) == []  # merged, update pending
    assert policy.next_wakeup() == 105
    assert policy.tick(104) == []
    [update] = policy.tick(105)
    assert update.replaces and update.count == 2
    assert update.title == "a.py — 40 errors in 10 s"
    [update] = policy.on_alert(spike("/app/a.py", 50), now=111)
    assert update.replaces and update.count == 3


def test_after_the_cooldown_a_repeat_pops_again():
    policy = make()
    policy.on_alert(spike("/app/a.py"), now=100)
    [notice] = policy.on_alert(spike("/app/a.py"), now=161)
    assert not notice.replaces and notice.count == 1


def test_key_falls_back_to_title():
    policy = make()
    policy.on_alert(Alert(title="disk full"), now=0)
    [update] = policy.on_alert(Alert(title="disk full"), now=6)
    assert update.replaces


def test_storm_of_new_keys_becomes_one_summary():
    policy = make(storm_keys=3)
    notices = []
    for i in range(50):
        notices += policy.on_alert(spike(f"/app/f{i}.py"), now=100 + i * 0.01)
    singles = [n for n in notices if n.key != STORM_KEY]
    storms = [n for n in notices if n.key == STORM_KEY]
    assert len(singles) == 3
    # a flood's sources (one pattern, f#.py) update the summary at most every update interval
    assert len(storms) == 1 and not storms[0].replaces
    [update] = [n for n in policy.tick(105.5) if n.key == STORM_KEY]
    assert update.replaces and update.title == "Alert storm: f49.py and 46 more sources"
    # calm for a window: the storm ends and a new key pops on its own again
    policy.tick(120)
    [single] = policy.on_alert(spike("/app/new.py"), now=121)
    assert single.key == "/app/new.py"


def test_snooze_records_nothing_shown_then_one_summary():
    policy = make()
    policy.snooze(until=1000, now=100)
    for i in range(4):
        assert policy.on_alert(spike(f"/app/f{i % 2}.py"), now=200 + i) == []
    assert policy.next_wakeup() == 1000
    [summary] = policy.tick(1000)
    assert summary.key == SNOOZE_SUMMARY_KEY
    assert summary.title == "While snoozed: 4 alerts from 2 sources"
    assert "f0.py ×2" in summary.body
    assert not policy.quiet


def test_resume_ends_snooze_early_and_dnd_holds_until_turned_off():
    policy = make()
    policy.snooze(until=1000, now=0)
    policy.on_alert(spike("/app/a.py"), now=1)
    [summary] = policy.resume(now=2)
    assert summary.count == 1
    assert policy.set_do_not_disturb(True, now=3) == []
    assert policy.on_alert(spike("/app/b.py"), now=4) == []
    [summary] = policy.set_do_not_disturb(False, now=5)
    assert summary.count == 1


def test_snooze_without_alerts_ends_silently():
    policy = make()
    policy.snooze(until=10, now=0)
    assert policy.tick(10) == []


def test_old_keys_are_forgotten():
    policy = make()
    for i in range(3):
        policy.on_alert(Alert(message=f"unique {i}"), now=i)
    policy.tick(1000)
    assert policy._keys == {}


def test_storm_names_real_sources_first_and_shows_a_new_one_soon():
    from logtray.tray.alerts.policy import NAMED_UPDATE_S

    policy = make(storm_keys=3)
    notices = []
    for i in range(30):  # a storm of unnamed text without a pattern, each line its own source
        text = f"garbage {chr(97 + i % 26)}{chr(97 + i // 26)}"
        notices += policy.on_alert(Alert(message=text), now=100 + i * 0.01)
    assert any(n.key == STORM_KEY for n in notices)
    [named] = [n for n in policy.on_alert(spike("/app/real.py", 40), now=101)] or [None]
    if named is None:  # merged: due at most NAMED_UPDATE_S after the last summary
        assert policy.next_wakeup() <= 100.3 + NAMED_UPDATE_S
        [named] = [n for n in policy.tick(policy.next_wakeup()) if n.key == STORM_KEY]
    assert named.key == STORM_KEY and "real.py" in named.title
    assert named.body.startswith("real.py ×1")


def test_storm_ends_when_new_sources_stop_even_if_old_ones_repeat():
    policy = make(storm_keys=3)
    for i in range(10):
        policy.on_alert(spike(f"/app/f{i}.py"), now=100 + i * 0.1)
    for t in range(20):  # repeats of known sources do not keep the storm alive
        policy.on_alert(spike("/app/f5.py"), now=102 + t)
        policy.tick(102 + t)
    [single] = policy.on_alert(spike("/app/new.py"), now=122.5)
    assert single.key == "/app/new.py"


def test_tracked_sources_and_tallies_are_bounded():
    from logtray.tray.alerts.policy import MAX_KEYS, MAX_TALLY_KEYS

    policy = make(storm_keys=3)
    for i in range(20_000):
        policy.on_alert(Alert(message=f"unique {i}"), now=100 + i * 0.0001)
    assert len(policy._keys) <= MAX_KEYS
    assert policy._storm is not None and len(policy._storm.tally._counts) <= MAX_TALLY_KEYS
    assert policy._storm.tally.total == 20_000 - 3
    policy.snooze(until=10_000, now=200)
    for i in range(5000):
        policy.on_alert(Alert(message=f"held {i}"), now=201)
    [summary] = [n for n in policy.tick(10_000) if n.key == SNOOZE_SUMMARY_KEY]
    assert summary.title == "While snoozed: 5000 alerts from 5000 sources"


alerts = st.builds(
    Alert,
    pathname=st.one_of(st.none(), st.sampled_from(["/a.py", "/b.py", "/c.py"]), st.text()),
    message=st.one_of(st.none(), st.text(max_size=30)),
    title=st.one_of(st.none(), st.text(max_size=10)),
    count=st.one_of(st.none(), st.integers(-5, 10**12)),
    window_s=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
events = st.lists(
    st.tuples(
        st.sampled_from(["alert", "alert", "alert", "tick", "snooze", "resume", "dnd"]),
        alerts,
        st.floats(0, 50),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(events, st.integers(1, 6), st.floats(0, 10), st.floats(0.1, 20))
def test_random_input_never_breaks_the_policy(steps, storm_keys, update_s, window_s):
    policy = make(storm_keys=storm_keys, update_interval_s=update_s, storm_window_s=window_s)
    now = 1000.0
    for kind, alert, advance in steps:
        now += advance
        if kind == "alert":
            notices = policy.on_alert(alert, now)
        elif kind == "tick":
            notices = policy.tick(now)
        elif kind == "snooze":
            policy.snooze(now + advance, now)
            notices = []
        elif kind == "resume":
            notices = policy.resume(now)
        else:
            notices = policy.set_do_not_disturb(not policy.do_not_disturb, now)
        for notice in notices:
            assert notice.title and notice.title != notice.body
            assert notice.count >= 1
        wake = policy.next_wakeup()
        assert wake is None or wake == wake  # never NaN
    # time passing far ahead settles everything: nothing pending, nothing tracked
    policy.resume(now)
    for _ in range(3):
        now += 10_000
        policy.tick(now)
    assert policy._keys == {} and policy._storm is None and not policy._pending


def test_a_real_alert_pops_on_its_own_during_a_flood_of_new_sources():
    # 50 new names a second, all /app/f_<n>.py, for 7 s; then /app/REAL.py: it pops at once,
    # and the flood's summary never takes its place.
    policy = make(storm_keys=5, storm_window_s=10, update_interval_s=5)
    shown = []
    now = 100.0
    for n in range(350):
        now = 100 + n * 0.02
        shown += policy.on_alert(spike(f"/app/f_{n}.py"), now, sender="127.0.0.1")
        shown += policy.tick(now)
    assert any(n.key == STORM_KEY for n in shown)
    assert policy.flood_of(spike("/app/f_999.py"), "127.0.0.1", now) == "/app/f_#.py"
    real = Alert(pathname="/app/REAL.py", lineno=5, count=40, message="real")
    [notice] = policy.on_alert(real, now + 0.01, sender="127.0.0.1")
    assert notice.key == "/app/REAL.py" and notice.title == "REAL.py:5 — 40 errors"
    assert policy.flood_of(real, "127.0.0.1", now) is None
    # the same pattern from another sender (Riemann on the bridge) is not the flood either
    [other] = policy.on_alert(spike("/app/f_3.py"), now + 0.02, sender="172.17.0.2")
    assert other.key == "/app/f_3.py"


def test_a_storm_without_a_pattern_names_the_source_outside_the_flood_in_its_title():
    # A flood of /app/f_<n>.py and, beside it, new sources of many shapes (a storm without a
    # pattern): a named one among those is in the title, never displaced by the flood.
    policy = make(storm_keys=3, update_interval_s=5)
    now = 100.0
    for n in range(100):
        now = 100 + n * 0.01
        policy.on_alert(spike(f"/app/f_{n}.py"), now)
        policy.on_alert(Alert(message=f"text {chr(97 + n % 26)}{chr(97 + n // 26)}"), now)
    policy.on_alert(spike("/app/real.py"), now)
    for n in range(100, 200):  # the flood goes on
        now = 100 + n * 0.01
        policy.on_alert(spike(f"/app/f_{n}.py"), now)
    [storm] = [n for n in policy.tick(now + 5) if n.key == STORM_KEY]
    assert storm.title.startswith("Alert storm: real.py and ")
    assert storm.body.startswith("real.py ×1")


def test_source_shapes():
    from logtray.tray.alerts.policy import source_shape

    assert source_shape("/app/f_17.py") == "/app/f_#.py"
    assert source_shape("/app/REAL.py") == "/app/REAL.py"
    assert source_shape("/app/real2.py") == "/app/real#.py"
    assert source_shape("12 3fa9c0deadbeef") == "# #"
    assert source_shape("/app/cafe.py") == "/app/cafe.py"  # a short hex-looking word stays


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_/", min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(names, names, st.integers(6, 3000), st.floats(0.0001, 0.2), st.sampled_from(["", "peer"]))
def test_a_real_alert_of_another_shape_always_pops_during_a_flood(
    flood_name, real_name, count, spacing, other_sender
):
    # Any flood of one pattern, at any rate: a real alert of another shape (or from another
    # sender) pops on its own at once, and the flood never takes it over.
    from logtray.tray.alerts.policy import source_shape

    flood_path = f"/app/{flood_name}%d.py"
    real_path = f"/srv/{real_name}.py"
    if source_shape(real_path) == source_shape(flood_path % 1) and not other_sender:
        return
    policy = make(storm_keys=5, storm_window_s=10)
    now = 100.0
    for n in range(count):
        now = 100 + n * spacing
        policy.on_alert(spike(flood_path % n), now, sender="flooder")
    notices = policy.on_alert(spike(real_path), now, sender=other_sender or "flooder")
    assert [n.key for n in notices] == [real_path]


def test_a_flood_that_started_the_storm_alone_does_not_hold_the_others_in_it():
    # calm.py, then a flood of /app/s<n>.py: its first sources look like a storm without a
    # pattern until the flood is recognised; then a real alert pops on its own again.
    policy = make(storm_keys=5)
    policy.on_alert(spike("/app/calm.py"), 100)
    for n in range(50):
        policy.on_alert(spike(f"/app/storm/s{n}.py"), 101 + n * 0.01)
    [notice] = policy.on_alert(spike("/app/named.py"), 102)
    assert notice.key == "/app/named.py"


def test_what_a_start_missed_is_one_notice_naming_the_sources_with_their_lines():
    policy = make()
    missed = [
        Alert(pathname="/app/payments.py", lineno=42, count=30),
        Alert(pathname="/app/orders.py", lineno=7, count=30),
        Alert(pathname="/app/payments.py", lineno=42, count=31),
    ]
    [notice] = policy.on_caught_up(missed, away_s=2 * 3600 + 10 * 60, skipped=0, now=100)
    assert notice.key == CAUGHT_UP_KEY and notice.count == 3
    assert notice.title == "While you were away (2 h 10 min): 3 alerts — payments.py:42 …"
    assert notice.body == "payments.py:42 ×2, orders.py:7 (all are in the history)"
    assert notice.url == "kibana/*@100"


def test_the_catch_up_notice_counts_what_was_skipped_and_says_nothing_when_nothing_was_missed():
    policy = make()
    [notice] = policy.on_caught_up([], away_s=None, skipped=5, now=0)
    assert notice.title == "While you were away: 0 alerts"
    assert notice.body == (
        "5 older records not read (past [alerts] catch_up_max_age or catch_up_max_records)"
    )
    assert policy.on_caught_up([], away_s=60, skipped=0, now=0) == []


def test_while_snoozed_what_a_start_missed_waits_for_the_snooze_summary():
    policy = make()
    policy.snooze(until=1000, now=0)
    assert policy.on_caught_up([spike("/app/a.py"), spike("/app/b.py")], 60, 0, now=1) == []
    [summary] = policy.tick(1000)
    assert summary.key == SNOOZE_SUMMARY_KEY and summary.count == 2


def test_away_is_said_to_the_minute():
    assert [away_text(s) for s in (10, 60, 3600, 7800, 86400, 90000 + 1800)] == [
        "1 min",
        "1 min",
        "1 h",
        "2 h 10 min",
        "1 d",
        "1 d 1 h",
    ]

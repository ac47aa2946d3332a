"""Error kinds in the lite profile: the engine tells a new kind at once, beside the spike rule
(which stays as it was); snooze holds them; the popup resolves one; the kinds are kept in a
Kafka topic (a real broker, tansu) and survive the engine's restart; `logtray kinds` lists,
resolves and mutes them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.kinds import KnownKind
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.kind_alerts import KindWatch
from logtray.tray.alerts.kinds_topic import KindKeeper, decode_kind, latest, read_kinds
from logtray.tray.alerts.policy import AlertPolicy
from logtray.tray.base.config import AlertsConfig, Config, EngineConfig, KindsSettings
from logtray.tray.delivery.actions import RESOLVE, AlertActions
from tests.kind_cases import RECORDS, kind_named
from tests.pipeline.kafka_util import produce
from tests.pipeline.test_record import RECORDS as ANY_RECORDS
from tests.support.processes import Running, logtray

T0 = 1764000000.0


def value(name: str, **changes: Any) -> bytes:
    return json.dumps({**RECORDS[name], **changes}).encode()


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def engine_with_kinds(
    clock: Clock, settings: KindsSettings | None = None, kept: list[KnownKind] | None = None
) -> tuple[RuleEngine, list[Alert], list[KnownKind]]:
    alerts: list[Alert] = []
    keep: list[KnownKind] = []
    watch = KindWatch(
        settings or KindsSettings(),
        alerts.append,
        lambda changed, gone: keep.extend(changed),
        clock,
    )
    watch.load(kept or [])
    return RuleEngine(EngineConfig(), alerts.append, clock, watch), alerts, keep


def test_a_first_start_learns_silently_then_a_new_kind_is_told_at_once() -> None:
    clock = Clock()
    engine, alerts, keep = engine_with_kinds(clock)
    engine.feed([value("python-logtray"), value("masked-message")])
    assert alerts == []  # payments is new: its kinds are learned
    clock.t += 30
    engine.feed([value("python-logtray-4722")])
    assert [(a.kind, a.title) for a in alerts] == [
        ("learned", "Learned 2 error kinds from payments")
    ]
    clock.t += 1
    engine.feed([value("node-pino")])  # payments (its logger), a kind never seen
    new = alerts[-1]
    assert new.kind == "new"
    assert new.title == "New error in payments: PaymentTimeoutError at payments.js:16"
    assert new.message == "gateway did not answer payment <n> within <n> ms"
    assert new.headline() == new.title and new.body() == new.message
    assert new.evidence is not None and new.evidence.lines == (16,)
    assert (
        new.evidence.traceback
        == "PaymentTimeoutError: gateway did not answer payment 4711 within 3000 ms"
    )
    assert new.pathname == "/srv/app/payments.js" and new.lineno == 16
    assert new.kind_id == kind_named("node-pino").id  # type: ignore[union-attr]
    engine.feed([value("node-winston"), value("node-bunyan")])  # the same kind: quiet
    assert len(alerts) == 2
    # Kept as they were learned and told (the kinds topic gets them).
    assert {k.kind.id for k in keep} >= {new.kind_id, kind_named("python-logtray").id}  # type: ignore[union-attr]


def test_records_that_come_while_the_kept_kinds_load_wait_for_them() -> None:
    """The engine reads the logs at once (spike rule, heartbeat); error records wait for the
    kept kinds, so a kind known before is not told as new because it came early."""
    clock = Clock()
    alerts: list[Alert] = []
    watch = KindWatch(KindsSettings(), alerts.append, clock=clock)
    engine = RuleEngine(EngineConfig(), alerts.append, clock, watch)
    watch.hold()
    engine.feed([value("node-pino"), value("python-logtray")])
    assert alerts == [] and watch.records == 0  # held, not looked at
    # What an earlier run kept: payments had both kinds (node-pino's now resolved) and is
    # past learning.
    known = KnownKind(kind_named("node-pino"), T0 - 99, T0 - 99, 3, "earlier", "resolved")
    other = KnownKind(kind_named("python-logtray"), T0 - 99, T0 - 99, 3, "earlier", "open")
    watch.load([known, other])
    watch.release(clock())
    assert [(a.kind, a.title) for a in alerts] == [
        ("regressed", "Regressed in payments: PaymentTimeoutError at payments.js:16")
    ]
    assert watch.records == 2


def spike_alerts(kinds: bool) -> list[Alert]:
    clock = Clock()
    alerts: list[Alert] = []
    watch = KindWatch(KindsSettings(), alerts.append, clock=clock) if kinds else None
    engine = RuleEngine(EngineConfig(), alerts.append, clock, watch)
    for second in range(3):
        clock.t = T0 + second / 3
        engine.feed([value("node-pino", msg=f"payment {4711 + i} failed") for i in range(12)])
    clock.t += 40
    engine.feed([value("masked-message-other")])
    return [a for a in alerts if a.kind is None]


def test_the_spike_rule_alerts_as_before_with_kinds_on() -> None:
    before, after = spike_alerts(kinds=False), spike_alerts(kinds=True)
    assert len(before) == 1 and before == after
    assert before[0].pathname == "payments · payment <n> failed"


def test_snooze_holds_a_new_kind_and_its_key_is_not_its_files() -> None:
    clock = Clock()
    engine, alerts, _ = engine_with_kinds(clock, kept=[known("python-logtray")])
    engine.feed([value("node-pino")])
    new = alerts[-1]
    policy = AlertPolicy(AlertsConfig(), lambda alert, at: None)
    spike = Alert(pathname=new.pathname, count=26, window_s=10)
    shown = policy.on_alert(spike, T0) + policy.on_alert(new, T0)
    assert [n.title for n in shown] == [spike.headline(), new.title]  # two notices, not one
    policy.snooze(T0 + 600, T0 + 1)
    assert policy.on_alert(new, T0 + 2) == []
    policy.set_do_not_disturb(True, T0 + 3)
    assert policy.on_alert(new, T0 + 4) == []


def known(name: str, state: str = "open") -> KnownKind:
    kind = kind_named(name)
    assert kind is not None
    return KnownKind(kind, T0 - 60, T0 - 60, 1, "", state)  # type: ignore[arg-type]


def test_a_resolved_kind_that_comes_back_is_regressed_and_the_popup_resolves() -> None:
    clock = Clock()
    engine, alerts, _ = engine_with_kinds(clock, kept=[known("node-pino", "resolved")])
    engine.feed([value("node-bunyan")])
    assert [(a.kind, a.title) for a in alerts] == [
        ("regressed", "Regressed in payments: PaymentTimeoutError at payments.js:16")
    ]
    watch = engine.kinds
    assert watch is not None
    policy = AlertPolicy(AlertsConfig(), lambda alert, at: None)
    (notice,) = policy.on_alert(alerts[0], T0)
    actions = AlertActions(Config(), lambda url: None, kibana_running=_no_kibana)
    actions.set_kinds(watch.set_state)
    labels = {a.label: a for a in asyncio.run(actions.for_notice(notice))}
    assert RESOLVE in labels
    labels[RESOLVE].run()
    engine.feed([value("node-pino")])
    assert [a.kind for a in alerts] == ["regressed", "regressed"]


async def _no_kibana() -> bool:
    return False


def test_a_burst_of_new_kinds_is_folded_into_one_notice() -> None:
    clock = Clock()
    engine, alerts, _ = engine_with_kinds(clock, kept=[known("cart-alice")])
    names = ["bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    engine.feed([value(f"cart-{name}") for name in names])
    assert [a.kind for a in alerts] == ["new"] * 5 + ["burst"] * 2
    policy = AlertPolicy(AlertsConfig(storm_keys=100), lambda alert, at: None)
    notices = [n for a in alerts for n in policy.on_alert(a, T0)]
    burst = [n for n in notices if n.key == alerts[-1].key]
    assert burst[0].title == "1 more new error kind in orders"
    assert "cart of customer grace is empty" in burst[0].body
    assert "does not mask" in burst[0].body


# ------------------------------------------------------------------- kept in Kafka (tansu)


def test_kinds_are_kept_in_the_topic_and_read_back(broker) -> None:
    topic = "logtray-kinds"
    pino, logtray_kind = known("node-pino"), known("python-logtray", "muted")

    async def scenario() -> list[KnownKind]:
        keeper = KindKeeper(broker.bootstrap, topic)
        stop = asyncio.Event()
        task = asyncio.create_task(keeper.run(stop))
        keeper.keep([pino, logtray_kind], [])
        keeper.keep([pino], [("payments", kind_named("python-logtray").id)])  # type: ignore[union-attr]
        await produce(broker.bootstrap, topic, [b"junk", b'{"service": 1}'])
        stop.set()
        await asyncio.wait_for(task, 30)
        return await read_kinds(broker.bootstrap, topic, {})

    assert asyncio.run(scenario()) == [pino]  # the tombstone deleted the other; junk skipped


def test_latest_per_key_whatever_the_messages() -> None:
    pino = known("node-pino")
    key = b"payments\n" + pino.kind.id.encode()
    good = json.dumps(pino.to_json()).encode()
    assert decode_kind(good) == pino
    assert latest([(key, good), (b"other\nkey", good), (None, good), (key, b"{")]) == []
    assert latest([(key, b"{"), (key, good)]) == [pino]


def test_the_engine_keeps_its_kinds_over_a_restart_and_the_command_resolves(broker) -> None:
    env_learn = {"LOGTRAY_KINDS_LEARN_S": "1"}
    args = ("engine", "--bootstrap", broker.bootstrap, "--notifier", "console")

    def start() -> Running:
        import os

        engine = Running(*args, env={**os.environ, **env_learn})
        engine.wait_stderr("engine on")
        return engine

    def send(*names: str) -> None:
        asyncio.run(produce(broker.bootstrap, "program-logs", [value(n) for n in names]))

    engine = start()
    try:
        # The consumer may join after the first record: send until the service is learned.
        told: list[dict[str, object]] = []
        for _ in range(10):
            send("python-logtray")
            try:
                told = engine.json_lines(1, timeout=6)
                break
            except AssertionError:
                continue
        assert [t["title"] for t in told] == ["Learned 1 error kind from payments"]
        send("node-pino")
        (new,) = engine.json_lines(1, timeout=15)
        assert new["title"] == "New error in payments: PaymentTimeoutError at payments.js:16"
    finally:
        engine.stop()
    engine = start()
    try:
        send("node-winston", "python-logtray", "java-logback")  # two known, one new
        (new,) = engine.json_lines(1, timeout=20)
        assert new["title"] == (
            "New error in payments: LogbackPayments$PaymentTimeoutException at "
            "LogbackPayments.java:11"
        )
        pino = kind_named("node-pino")
        assert pino is not None
        deadline = time.monotonic() + 60
        while True:  # a count alone is kept within KEEP_EVERY_S (new kinds at once)
            listed = logtray("kinds", "--json", "--bootstrap", broker.bootstrap)
            assert listed.returncode == 0, listed.stderr
            kinds = {k["id"]: k for k in json.loads(listed.stdout)}
            assert len(kinds) == 3 and kinds[pino.id]["state"] == "open"
            if kinds[pino.id]["count"] >= 2:
                break
            assert time.monotonic() < deadline, f"the count was never kept: {kinds[pino.id]}"
            time.sleep(0.5)
        done = logtray("kinds", "resolve", pino.id, "--bootstrap", broker.bootstrap)
        assert done.returncode == 0, done.stderr
        assert "is resolved" in done.stdout
        # The running engine takes the state over: the kind back is Regressed.
        regressed: list[dict[str, object]] = []
        for _ in range(10):
            send("node-bunyan")
            try:
                regressed = engine.json_lines(1, timeout=3)
                break
            except AssertionError:
                continue
        assert regressed and str(regressed[0]["title"]).startswith("Regressed in payments")
        missing = logtray("kinds", "mute", "000000000000", "--bootstrap", broker.bootstrap)
        assert missing.returncode == 1
        assert "no error kind '000000000000'" in missing.stderr
    finally:
        engine.stop()
    assert "Traceback" not in "".join(engine.stderr_lines)


@pytest.mark.parametrize("state", ["resolved", "muted", "open"])
def test_kinds_table_lists_every_state(broker, state: str) -> None:
    async def keep() -> None:
        keeper = KindKeeper(broker.bootstrap, "logtray-kinds")
        stop = asyncio.Event()
        task = asyncio.create_task(keeper.run(stop))
        keeper.keep([known("node-pino", state)], [])
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(keep())
    table = logtray("kinds", "--bootstrap", broker.bootstrap)
    assert table.returncode == 0, table.stderr
    assert "PaymentTimeoutError at payments.js:16" in table.stdout
    assert state in table.stdout


@settings(max_examples=300, deadline=None)
@given(st.lists(ANY_RECORDS, max_size=20), st.sampled_from(["error", 50, "FATAL", "warn"]))
def test_the_engine_with_kinds_takes_any_record(records: list[dict[str, Any]], level: Any) -> None:
    clock = Clock()
    engine, alerts, _ = engine_with_kinds(clock, KindsSettings(learn_s=0, burst_max=2))
    values: list[bytes | None] = []
    for record in records:
        try:
            values.append(orjson.dumps({**record, "level": level}, option=orjson.OPT_NON_STR_KEYS))
        except (orjson.JSONEncodeError, TypeError):
            continue  # integers beyond 64 bits: not what a producer writes
    engine.feed(values)
    clock.t += 1
    engine.feed(values)
    for alert in alerts:
        assert alert.kind in ("new", "regressed", "burst", "learned")
        assert alert.title is not None and len(alert.title) <= 1000
        assert alert.message is None or len(alert.message) <= 1000


def test_a_first_start_learns_the_kinds_of_the_last_hour(broker) -> None:
    import os

    names = ("python-logtray", "node-pino", "java-logback", "go-slog", "node-winston")
    asyncio.run(produce(broker.bootstrap, "program-logs", [value(n) for n in names]))
    engine = Running(
        "engine",
        "--bootstrap",
        broker.bootstrap,
        "--notifier",
        "console",
        env={**os.environ, "LOGTRAY_KINDS_LEARN_S": "1"},
    )
    try:
        engine.wait_stderr("engine on")
        learned = engine.json_lines(2, timeout=30)
        assert sorted(str(n["title"]) for n in learned) == [
            "Learned 1 error kind from an unnamed service",  # go-slog names no service
            "Learned 3 error kinds from payments",
        ]
        told: list[dict[str, object]] = []
        for _ in range(10):  # the live consumer may join after the first send
            asyncio.run(produce(broker.bootstrap, "program-logs", [value("rust-tracing")]))
            try:
                told = engine.json_lines(1, timeout=3)
                break
            except AssertionError:
                continue
        assert [n["title"] for n in told] == ["New error in payments: error at main.rs:23"]
    finally:
        engine.stop()
    assert "Traceback" not in "".join(engine.stderr_lines)


def test_kinds_without_kafka_say_so_in_one_sentence() -> None:
    from tests.conftest import free_port

    done = logtray("kinds", "--bootstrap", f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "cannot read the error kinds from logtray-kinds at 127.0.0.1:" in done.stderr
    assert "fix: start the stack" in done.stderr
    assert "Traceback" not in done.stderr and "Unclosed" not in done.stderr


def test_only_the_commands_states_are_taken_over() -> None:
    from logtray.tray.alerts.kinds_topic import COMMAND, commanded, encode_kind

    pino = known("node-pino")
    resolved = known("node-pino", "resolved")
    mine = encode_kind(pino)  # the engine's own write, older than the command's
    theirs = encode_kind(resolved, COMMAND)
    assert commanded([theirs, mine]) == [resolved]
    assert commanded([mine]) == []
    assert commanded([(theirs[0], b'{"set_by": "command"'), (None, None)]) == []

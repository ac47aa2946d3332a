"""Resolve from the popup in the full profile: Riemann's kind alert (a TCP line) reaches
`logtray listen` -> dunst with a Resolve action, though no engine runs in this process; choosing
it writes the resolved state to the kinds topic on the stack's Kafka (tansu here) exactly as
`logtray kinds resolve` does, which Riemann follows (tests/stack/test_riemann_config.py: the
command's message on the topic, then the kind told as Regressed). A Kafka that is down is told
in one sentence, never a traceback."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.kinds import Kind, KnownKind
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.kinds_topic import COMMAND, SET_BY, encode_kind, kind_key
from logtray.tray.alerts.policy import Notice
from logtray.tray.base.config import Config
from logtray.tray.delivery.actions import RESOLVE, AlertActions
from tests.conftest import free_port
from tests.kind_cases import kind_named
from tests.support.desktop import Desktop, desktop_fixture
from tests.support.processes import Running, logtray

TOPIC = "logtray-kinds"
T0 = 1764000000.0


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


def pino() -> Kind:
    kind = kind_named("node-pino")
    assert kind is not None
    return kind


def riemann_line(kind: Kind, told: str = "new") -> str:
    """A kind alert as riemann.config's kind-alert-map sends it (its fields: the harness test
    test_kind_alerts_are_lines_the_listener_takes_as_kind_alerts)."""
    label = kind.label()
    return json.dumps(
        {
            "kind": told,
            "time": "2025-11-24T16:00:00Z",
            "service": kind.service,
            "title": f"{'New error' if told == 'new' else 'Regressed'} in {kind.service}: {label}",
            "message": kind.template,
            "count": 1,
            "level": "error",
            "evidence": {"messages": [{"message": kind.template, "count": 1}], "lines": []},
            "id": f"kind-{told}-{kind.id}-{int(T0 * 1000)}",
            "kind_id": kind.id,
            "pathname": kind.path,
        }
    )


async def _keep_as_riemann(bootstrap: str, kept: list[KnownKind]) -> None:
    """The kinds topic as Riemann's book writes it (its own writes: no set_by)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for known in kept:
            key, value = encode_kind(known)
            await producer.send_and_wait(TOPIC, value, key=key)
    finally:
        await producer.stop()


async def _topic(bootstrap: str, at_least: int, timeout: float = 30.0) -> list[tuple[bytes, dict]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[tuple[bytes, dict]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < at_least:
            assert time.monotonic() < deadline, f"the kinds topic holds only {out}"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend((r.key, json.loads(r.value)) for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return out


def _listen(desktop: Desktop, tmp_path: Path, bootstrap: str) -> tuple[Running, str]:
    config = tmp_path / "config.toml"
    # The stack's Kafka as `[engine] bootstrap` (no container engine asked); no Kibana there.
    config.write_text(
        f'[kibana]\nurl = "http://127.0.0.1:9"\n[engine]\nbootstrap = "{bootstrap}"\n'
        '[stack]\nalerts_topic = ""\n'
    )
    env = desktop.child_env(LOGTRAY_CONFIG=str(config))
    port = str(free_port())
    listener = Running(
        "listen", "--port", port, "--host", "127.0.0.1", "--notifier", "desktop", env=env
    )
    listener.wait_stderr("listening on")
    return listener, port


def _popup(desktop: Desktop, listener: Running, port: str, line: str, title: str) -> None:
    sent = logtray("send", "--port", port, "--json", line, env=desktop.child_env())
    assert sent.returncode == 0, sent.stderr
    desktop.wait_for(
        lambda: any(c["title"] == title for c in desktop.notify_calls()),
        timeout=30,
        what=f"the popup {title!r}: {''.join(listener.stderr_lines)}",
    )
    [call] = [c for c in desktop.notify_calls() if c["title"] == title]
    assert "Resolve" in call["strings"] and "Show errors" in call["strings"]
    desktop.wait_displayed()
    desktop.invoke_action("Resolve")


def test_resolve_on_riemann_s_kind_alert_writes_the_command_s_state(
    desktop, broker, tmp_path: Path
) -> None:
    kind = pino()
    other = kind_named("python-logtray")
    assert other is not None
    kept = [KnownKind(kind, T0 - 60, T0 - 5, 4, "gateway did not answer payment 4711 within 30 ms")]
    kept.append(KnownKind(other, T0 - 60, T0 - 5, 2, "boom"))
    asyncio.run(_keep_as_riemann(broker.bootstrap, kept))
    listener, port = _listen(desktop, tmp_path, broker.bootstrap)
    try:
        title = f"New error in payments: {kind.label()}"
        _popup(desktop, listener, port, riemann_line(kind), title)
        written = asyncio.run(_topic(broker.bootstrap, 3))
    finally:
        listener.stop()
    key, value = written[-1]
    assert key == kind_key(kind.service, kind.id)
    # The kept kind whole, resolved, marked as the command's (what Riemann's book follows).
    assert value == {**kept[0].to_json(), "state": "resolved", SET_BY: COMMAND}
    assert [k for k, _ in written].count(kind_key(other.service, other.id)) == 1  # untouched
    assert "Traceback" not in "".join(listener.stderr_lines)


def test_resolve_with_kafka_down_is_told_in_one_sentence(desktop, tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    listener, port = _listen(desktop, tmp_path, down)
    try:
        kind = pino()
        _popup(desktop, listener, port, riemann_line(kind, "regressed"), _regressed(kind))
        told = "Could not resolve the error kind"
        desktop.wait_for(
            lambda: any(c["title"] == told for c in desktop.notify_calls()),
            timeout=60,
            what=f"the failure told: {''.join(listener.stderr_lines)}",
        )
    finally:
        listener.stop()
    [call] = [c for c in desktop.notify_calls() if c["title"] == told]
    body = str(call["body"])
    assert body.startswith(f"cannot read the error kinds from {TOPIC} at {down}: ")
    assert "\n" not in body.strip()
    stderr = "".join(listener.stderr_lines)
    assert "cannot resolve the error kind: cannot read the error kinds" in stderr
    assert "Traceback" not in stderr and "Unclosed" not in stderr


def _regressed(kind: Kind) -> str:
    return f"Regressed in payments: {kind.label()}"


# -------------------------------------------------------------- the alert's sender is a stranger


async def _no_kibana() -> bool:
    return False


@settings(max_examples=300, deadline=None)
@given(
    service=st.one_of(st.none(), st.text(max_size=300)),
    kind_id=st.one_of(
        st.none(), st.text(max_size=20), st.from_regex(r"[0-9a-fA-F]{10,14}", fullmatch=True)
    ),
    told=st.sampled_from(["new", "regressed", "burst", "learned", None]),
)
def test_nothing_is_read_or_written_for_an_alert_that_is_not_a_kind(
    service: str | None, kind_id: str | None, told: str | None
) -> None:
    """Any service and kind id an alert carries: Resolve is offered only for a New or Regressed
    kind alert with a 12-hex id, and a bad id or service is refused before Kafka is asked."""
    asked: list[str] = []
    told_user: list[tuple[str, str]] = []
    actions = AlertActions(Config(), lambda url: None, kibana_running=_no_kibana)
    actions.set_stack_kafka(lambda: asked.append("kafka") or None)
    actions.set_tell(lambda title, body: told_user.append((title, body)))
    alert = Alert(pathname="/app/a.js", service=service, kind=told, kind_id=kind_id)
    labels = [
        a.label
        for a in asyncio.run(actions.for_notice(Notice("k", "t", "b", None, 1, alert=alert)))
    ]
    good_id = (
        kind_id is not None and len(kind_id) == 12 and all(c in "0123456789abcdef" for c in kind_id)
    )
    assert (RESOLVE in labels) == (good_id and told in ("new", "regressed"))
    # The action itself, given the alert's raw fields: a stranger's are checked first.
    assert actions.resolve_kept(service or "", kind_id) is False
    good_service = service is None or len(service) <= 200
    assert asked == (["kafka"] if good_id and good_service else [])
    [(title, body)] = told_user
    assert title == "Could not resolve the error kind" and "\n" not in body

"""Error kinds on a real desktop: `logtray engine` on tansu -> dunst. A new kind pops up at once
with a Resolve action; choosing it resolves the kind (kept in the kinds topic), and the kind
back is told as Regressed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.kind_cases import RECORDS, kind_named
from tests.pipeline.kafka_util import produce
from tests.support.desktop import desktop_fixture
from tests.support.processes import Running, logtray

pytestmark = pytest.mark.desktop


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


def titles(desktop) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(call["title"]) for call in desktop.notify_calls()]


def test_a_new_kind_pops_up_and_its_resolve_action_resolves_it(desktop, broker, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[kibana]\nurl = "http://127.0.0.1:9"\n')  # no Kibana runs there
    env = desktop.child_env(LOGTRAY_CONFIG=str(config), LOGTRAY_KINDS_LEARN_S="1")

    def send(name: str) -> None:
        value = json.dumps(RECORDS[name]).encode()
        asyncio.run(produce(broker.bootstrap, "program-logs", [value]))

    engine = Running("engine", "--bootstrap", broker.bootstrap, "--notifier", "desktop", env=env)
    try:
        engine.wait_stderr("engine on")
        learned = "Learned 1 error kind from payments"
        deadline = time.monotonic() + 60
        while learned not in titles(desktop):  # until the engine reads: then it learns
            assert time.monotonic() < deadline, f"never learned: {''.join(engine.stderr_lines)}"
            send("python-logtray")
            try:
                desktop.wait_for(lambda: learned in titles(desktop), timeout=3, what=learned)
            except AssertionError:
                continue
        new = "New error in payments: PaymentTimeoutError at payments.js:16"
        send("node-pino")
        desktop.wait_for(lambda: new in titles(desktop), timeout=15, what="the new kind's popup")
        [call] = [c for c in desktop.notify_calls() if c["title"] == new]
        assert "gateway did not answer payment &lt;n&gt;" in str(call["body"]) or (
            "gateway did not answer payment <n>" in str(call["body"])
        )
        assert "Resolve" in call["strings"] and "Show errors" in call["strings"]
        desktop.wait_displayed()
        desktop.invoke_action("Resolve")
        pino = kind_named("node-pino")
        assert pino is not None
        deadline = time.monotonic() + 30
        while True:  # the action resolves it in the engine, which keeps it in the topic
            listed = logtray("kinds", "--json", "--bootstrap", broker.bootstrap, env=env)
            assert listed.returncode == 0, listed.stderr
            states = {k["id"]: k["state"] for k in json.loads(listed.stdout)}
            if states.get(pino.id) == "resolved":
                break
            assert time.monotonic() < deadline, f"never resolved: {states}"
            time.sleep(0.2)
        send("node-bunyan")  # the same kind, from another logger
        regressed = "Regressed in payments: PaymentTimeoutError at payments.js:16"
        desktop.wait_for(lambda: regressed in titles(desktop), timeout=15, what="Regressed")
    finally:
        engine.stop()
    assert "Traceback" not in "".join(engine.stderr_lines)

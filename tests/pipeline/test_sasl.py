"""SASL as far as anything here enforces it, and our side of it.

tansu 0.6 (the test broker) with --authentication answers every SCRAM login with the RFC 5802
server-error "e=unknown-user": `tansu user create` cannot reach a broker that requires
authentication, and its memory storage forgets users made before a restart. aiokafka reads that
server-error as KeyError 'v' (it expects only "v=" there). So a refused login is what can be
proven here, not an accepted one: that it is one clear sentence, said once, retried, and that
the password is never in a log line, a status or `config show`. That the settings reach
aiokafka is checked in tests/test_team_config.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from logtray.tray.alerts.kafka_diagnosis import probe
from logtray.tray.alerts.kafka_source import consume_forever, security_options
from logtray.tray.alerts.publisher import AlertPublisher
from logtray.tray.base.config import load_config
from logtray.tray.commands.doctor import check_team_kafka
from tests.pipeline.conftest import Broker

PASSWORD = "pw-never-shown-7f3a"


@pytest.fixture
def sasl_broker(tansu_binary: Path, tmp_path: Path):
    b = Broker(tansu_binary, tmp_path / "tansu.log", extra_args=("--authentication",))
    b.start()
    yield b
    b.stop()


def settings(mechanism: str) -> dict[str, str]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_username": "alice",
        "sasl_password": PASSWORD,
    }


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_refused_login_is_one_sentence_and_the_password_stays_secret(
    sasl_broker, caplog, mechanism
) -> None:
    config = load_config(
        {
            "alerts_topic": {
                "enabled": True,
                "bootstrap": sasl_broker.bootstrap,
                **settings(mechanism),
            },
            "engine": {"bootstrap": sasl_broker.bootstrap, "publish": True, **settings(mechanism)},
        }
    )
    options = security_options(config.alerts_topic)
    sentence = f"it refused the {mechanism} login of user 'alice'"
    problem = asyncio.run(probe(sasl_broker.bootstrap, options))
    assert problem is not None and problem.sentence == sentence
    assert "sasl_password" in problem.fix

    statuses: list[str] = []
    publisher = AlertPublisher(
        sasl_broker.bootstrap, "logtray-alerts", security_options(config.engine),
        retry_s=0.05, on_status=statuses.append,
    )  # fmt: skip

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                consume_forever(
                    "logtray-alerts", sasl_broker.bootstrap, lambda records: None, stop,
                    options=options, retry_s=0.05, on_status=statuses.append,
                )
            ),
            asyncio.create_task(publisher.run(stop)),
        ]  # fmt: skip
        try:
            for _ in range(300):
                if len(statuses) >= 2:
                    break
                await asyncio.sleep(0.05)
            assert not any(t.done() for t in tasks)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 20)

    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiokafka").setLevel(logging.DEBUG)  # what aiokafka logs, too
        try:
            asyncio.run(scenario())
        finally:
            logging.getLogger("aiokafka").setLevel(logging.NOTSET)
    assert len(statuses) == 2 and all(sentence in s for s in statuses), statuses
    said = [r for r in caplog.records if sentence in r.getMessage()]
    assert len(said) == 2  # the consumer's and the publisher's, once each
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("logtray"))
    assert PASSWORD not in caplog.text and all(PASSWORD not in s for s in statuses)
    checks = check_team_kafka(config)
    assert [c.name for c in checks] == ["team alerts", "publishing"]
    assert all(not c.ok and c.detail.endswith(sentence) for c in checks)
    assert all(PASSWORD not in c.detail + c.fix for c in checks)


def test_a_mechanism_the_broker_does_not_run_is_named(sasl_broker) -> None:
    keys = settings("PLAIN")
    options = security_options(load_config({"alerts_topic": keys}).alerts_topic)
    problem = asyncio.run(probe(sasl_broker.bootstrap, options))
    assert problem is not None
    assert problem.sentence == "it closed the connection during the SASL PLAIN login"

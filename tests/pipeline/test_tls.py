"""TLS that a real endpoint enforces (stunnel4 in front of the broker) and SASL as far as
anything here enforces it: each failure a user can meet is one sentence with a fix, in the log
(once, no traceback), in the menu's line and in `logtray doctor`; retried, never raised."""

from __future__ import annotations

import asyncio
import logging

import pytest

from logtray.tray.alerts.kafka_diagnosis import probe
from logtray.tray.alerts.kafka_source import consume_forever, security_options
from logtray.tray.base.config import load_config
from logtray.tray.commands.doctor import check_team_kafka
from tests.pipeline.kafka_util import produce, read_topic


def options(**keys: str) -> dict[str, object]:
    return security_options(load_config({"alerts_topic": keys}).alerts_topic)


def test_a_verified_tls_endpoint_passes(tls_kafka) -> None:
    assert asyncio.run(probe(tls_kafka.bootstrap, options(**tls_kafka.settings()))) is None
    config = load_config(
        {
            "alerts_topic": {
                "enabled": True,
                "bootstrap": tls_kafka.bootstrap,
                **tls_kafka.settings(),
            }
        }
    )
    [check] = check_team_kafka(config)
    assert check.ok and check.detail == f"Kafka at {tls_kafka.bootstrap} (SSL)"


@pytest.mark.parametrize(
    ("case", "ca", "sentence", "fix"),
    [
        ("good", "other", "its TLS certificate is not signed by a CA this computer trusts",
         "ssl_cafile"),
        ("good", "system", "its TLS certificate is not signed by a CA this computer trusts",
         "ssl_cafile"),
        ("wrong-host", "team", "its TLS certificate is for another host name, not 127.0.0.1",
         "host name"),
        ("expired", "team", "its TLS certificate has expired", "new certificate"),
    ],
)  # fmt: skip
def test_each_certificate_problem_is_one_sentence(tls_kafka, caplog, case, ca, sentence, fix):
    cafile = {"team": tls_kafka.pki.ca, "other": tls_kafka.pki.other_ca, "system": None}[ca]
    keys = {"security_protocol": "SSL", "ssl_cafile": str(cafile) if cafile else ""}
    bootstrap = tls_kafka.stunnel.bootstrap(case)
    problem = asyncio.run(probe(bootstrap, options(**keys)))
    assert problem is not None and problem.sentence == sentence and fix in problem.fix

    # The consumer says it once (log and status: the menu's line), and keeps retrying.
    statuses: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            consume_forever(
                "logtray-alerts", bootstrap, lambda records: None, stop,
                options=options(**keys), retry_s=0.05, on_status=statuses.append,
            )
        )  # fmt: skip
        try:
            for _ in range(200):  # bounded: until the sentence is out
                if statuses:
                    break
                await asyncio.sleep(0.05)
            assert not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)

    with caplog.at_level(logging.DEBUG, logger="logtray"):
        asyncio.run(scenario())
    assert len(statuses) == 1 and sentence in statuses[0] and "retrying" in statuses[0]
    said = [r for r in caplog.records if sentence in r.getMessage()]
    assert len(said) == 1 and not any(r.exc_info for r in caplog.records)
    # logtray doctor: the same sentence and its fix.
    config = load_config({"alerts_topic": {"enabled": True, "bootstrap": bootstrap, **keys}})
    [check] = check_team_kafka(config)
    assert not check.ok and check.detail == f"Kafka at {bootstrap}: {sentence}"
    assert fix in check.fix


def test_plaintext_to_a_tls_port_and_tls_to_a_plain_port(tls_kafka) -> None:
    plain_port = tls_kafka.broker.bootstrap
    problem = asyncio.run(probe(plain_port, options(**tls_kafka.settings())))
    assert problem is not None and problem.sentence.startswith("it did not finish a TLS handshake")
    plain_client = asyncio.run(probe(tls_kafka.bootstrap, {}))
    assert plain_client is not None
    assert plain_client.sentence == "it closed the connection at once (a TLS port?)"
    assert asyncio.run(probe("127.0.0.1:1", {})).sentence == (  # type: ignore[union-attr]
        "nothing listens there (connection refused)"
    )


def test_the_team_flow_runs_over_tls(tls_kafka) -> None:
    """Produce and read back through the TLS endpoint with the settings a desktop uses."""
    asyncio.run(
        produce(tls_kafka.bootstrap, "logtray-alerts", [b'{"pathname": "/srv/a.py"}'],
                **options(**tls_kafka.settings()))
    )  # fmt: skip
    values = read_topic(tls_kafka.bootstrap, "logtray-alerts", 1, **options(**tls_kafka.settings()))
    assert values == [b'{"pathname": "/srv/a.py"}']


def test_the_menu_line_names_the_problem(tls_kafka) -> None:
    """The service keeps each Kafka source's problem for the tray's menu (AppState.notices)."""
    import io

    from logtray.tray.delivery.notifiers.console import ConsoleNotifier
    from logtray.tray.delivery.service import AlertService
    from logtray.tray.desktop.menu import build_menu
    from logtray.tray.desktop.state import AppState

    changes: list[int] = []
    config = load_config(
        {
            "alerts_topic": {
                "enabled": True,
                "bootstrap": tls_kafka.stunnel.bootstrap("expired"),
                **tls_kafka.settings(),
            }
        }
    )
    service = AlertService(
        config, notifier=ConsoleNotifier(io.StringIO()), on_change=lambda: changes.append(1)
    )

    async def scenario() -> None:
        await service.start(listen=False)
        try:
            for _ in range(300):
                if service.kafka_problems:
                    break
                await asyncio.sleep(0.05)
        finally:
            await service.stop()

    asyncio.run(scenario())
    [(source, text)] = service.kafka_problems.items()
    assert source == "team alerts" and "its TLS certificate has expired" in text and changes
    notices = tuple(f"{s}: {t}" for s, t in service.kafka_problems.items())
    labels = [entry.text for entry in build_menu(AppState(notices=notices))]
    assert any("its TLS certificate has expired" in label for label in labels)


def test_a_broker_that_asks_for_a_client_certificate(tls_kafka) -> None:
    bootstrap = tls_kafka.stunnel.bootstrap("client-cert")
    without = asyncio.run(probe(bootstrap, options(**tls_kafka.settings())))
    assert without is not None and without.sentence.startswith("it asks for a client certificate")
    assert "ssl_certfile" in without.fix
    folder = tls_kafka.pki.ca.parent
    mine = {
        **tls_kafka.settings(),
        "ssl_certfile": str(folder / "client.pem"),
        "ssl_keyfile": str(folder / "client.key"),
    }
    assert asyncio.run(probe(bootstrap, options(**mine))) is None

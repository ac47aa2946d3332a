"""The stack's Kafka address in use, against real brokers (tansu on loopback): the engine
follows it to another address (a container recreated on another port), reading the logs there
from then on with the same rule, and no longer the old one; `logtray doctor` names the address,
where it came from, and whether Kafka answers there."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

from logtray.tray.base.config import Origin, load_config
from logtray.tray.base.kafka_address import choose_kafka
from logtray.tray.commands.doctor import check_kafka
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.conftest import free_port
from tests.pipeline.conftest import Broker
from tests.pipeline.kafka_util import produce


def _errors(path: str) -> list[bytes]:
    return [json.dumps({"level": "error", "pathname": path}).encode()] * 3


def test_the_engine_moves_to_the_kafka_it_is_told(tansu_binary: Path, tmp_path: Path) -> None:
    first = Broker(tansu_binary, tmp_path / "first.log")
    second = Broker(tansu_binary, tmp_path / "second.log")
    first.start()
    second.start()
    # [engine] bootstrap is left at its default: the addresses come from the caller (the tray).
    config = load_config({"engine": {"threshold": 2}}, path=tmp_path / "c.toml", environ={})
    out = io.StringIO()
    service = AlertService(config, notifier=ConsoleNotifier(out))

    async def alerted(bootstrap: str, path: str, alerts: int) -> None:
        engine = service.engine
        assert engine is not None
        deadline = time.monotonic() + 20
        while engine.rule.alerts < alerts and time.monotonic() < deadline:
            await produce(bootstrap, "program-logs", _errors(path))
            await asyncio.sleep(0.3)

    async def scenario() -> None:
        await service.start(listen=False)
        try:
            engine = service.start_engine(first.bootstrap)
            assert service.engine_bootstrap == first.bootstrap
            await alerted(first.bootstrap, "/app/before.py", 1)
            await service.move_engine(second.bootstrap)
            assert service.engine is engine and service.engine_bootstrap == second.bootstrap
            # Logs left on the old broker are not read any more; the new broker's are.
            await produce(first.bootstrap, "program-logs", _errors("/app/left.py") * 3)
            await alerted(second.bootstrap, "/app/after.py", 2)
            tasks = list(service._engine_tasks)
            await service.move_engine(second.bootstrap)  # the same address: nothing moves
            assert service._engine_tasks == tasks and not any(t.done() for t in tasks)
        finally:
            await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        first.stop()
        second.stop()
    text = out.getvalue()
    assert "before.py" in text and "after.py" in text, text
    assert "left.py" not in text, text
    assert service.engine is not None and service.engine.rule.alerts == 2


def test_doctor_names_the_address_its_source_and_whether_kafka_answers(broker: Broker) -> None:
    config = load_config(environ={})
    port = broker.port
    published = choose_kafka(config.engine.bootstrap, None, port, container="logtray-kafka")
    check = check_kafka(config, published)
    assert check.ok, check
    assert check.detail == (
        f"127.0.0.1:{port} (published by the stack's kafka container logtray-kafka); it answers"
    )
    written = Origin("environment", "LOGTRAY_ENGINE_BOOTSTRAP")
    check = check_kafka(config, choose_kafka(f"127.0.0.1:{port}", written, None))
    assert check.ok and check.detail == (
        f"127.0.0.1:{port} ([engine] bootstrap from the environment "
        "(LOGTRAY_ENGINE_BOOTSTRAP)); it answers"
    ), check
    # Written, and nothing there: a failure with the sentence and its fix.
    nothing = f"127.0.0.1:{free_port()}"
    check = check_kafka(config, choose_kafka(nothing, written, None))
    assert not check.ok and check.detail.startswith(f"{nothing} ([engine] bootstrap from "), check
    assert check.fix, check
    # The default with no stack running: nothing is expected there, nothing is knocked on.
    check = check_kafka(config, choose_kafka(config.engine.bootstrap, None, None))
    assert check.ok and check.detail == (
        "127.0.0.1:9094 (the default: [engine] bootstrap is not set and the stack's kafka is "
        "not running); not checked"
    ), check

"""The tray reads the stack's Kafka where the container engine published it, on every engine
(tests/stack/engines.py): the lite stack's Kafka on "any free port" (0) and then recreated on
another port, `[engine] bootstrap` not written. The tray adopts the running stack, its engine
and heartbeat go to the published address, a spike there is one desktop notification (the
Notify call on the private session bus); after the recreation they move, and `logtray
doctor` names the new address and where it came from."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import docker
import pytest

from logtray.tray.alerts.heartbeat import heartbeat_mark
from tests.conftest import free_port
from tests.stack.test_cli_docker import config_toml
from tests.support.desktop import Desktop
from tests.support.processes import Running, logtray
from tests.support.tray import start_tray
from tests.support.tray_stack import published, tray_beside_stack, tray_log, tray_said, wait_log

pytestmark = [pytest.mark.docker, pytest.mark.desktop]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "tray-kafka-port"
ANY_FREE_PORT = 'ports = { "9094" = 0 }'


def _config(name: str, kafka_port: int) -> str:
    """The lite stand-in stack (tests/stack/test_cli_docker.py), Kafka on `kafka_port`."""
    text = config_toml(name)
    assert ANY_FREE_PORT in text
    text = text.replace(ANY_FREE_PORT, f'ports = {{ "9094" = {kafka_port} }}')
    # A heartbeat whose first record comes before the new Kafka takes records (where the
    # tray sees its container start, not turn healthy) sends the next one within the wait.
    text = text.replace("ready_timeout_s = 60\n", "ready_timeout_s = 60\nheartbeat_s = 10\n")
    assert "heartbeat_s = 10" in text
    return text


def _heartbeat_written(bootstrap: str, timeout: float = 45) -> None:
    """A heartbeat record is in program-logs at `bootstrap` (read from the start)."""
    from aiokafka import AIOKafkaConsumer

    async def read() -> bool:
        consumer = AIOKafkaConsumer(
            "program-logs",
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    if any(heartbeat_mark(r.value) for r in records):
                        return True
        finally:
            await consumer.stop()
        return False

    said = tray_said()
    assert asyncio.run(read()), f"no heartbeat in program-logs at {bootstrap}; the tray:\n{said}"


def _spike_until(
    desktop: Desktop, control: str, source: str, calls: int
) -> list[dict[str, object]]:
    """POST spikes of `source` to the demo at `control` until there are `calls` Notify calls
    (the engine's first fetch may come after a spike: then another one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://{control}/spike?source={source}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 202
        try:
            return desktop.wait_for(
                lambda: (seen := desktop.notify_calls()) and len(seen) >= calls and seen,
                timeout=6,
                what=f"{calls} Notify call(s)",
            )
        except AssertionError:
            continue
    raise AssertionError(f"fewer than {calls} notifications: {desktop.notify_calls()}")


def _spike(desktop: Desktop, bootstrap: str, source: str, calls: int) -> list[dict[str, object]]:
    control = f"127.0.0.1:{free_port()}"
    demo = Running("demo", "--bootstrap", bootstrap, "--http", control, env=desktop.child_env())
    try:
        demo.stdout.get(timeout=15)  # "demo: logging to ..."
        return _spike_until(desktop, control, source, calls)
    finally:
        demo.stop()


def test_the_tray_reads_kafka_where_the_stack_published_it(
    on_engine: docker.DockerClient, engine_stack_name: str, tmp_path: Path
) -> None:
    client, name = on_engine, engine_stack_name
    # Any free port; [engine] bootstrap not written.
    with tray_beside_stack(client, name, tmp_path, _config(name, 0)) as tray:
        desktop, env = tray.desktop, tray.env
        up = logtray("stack", "up", env=env, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        first = published(client, name)
        assert first != 9094
        assert f"kafka: clients on this machine connect to 127.0.0.1:{first}" in up.stdout
        container = f"published by the stack's kafka container {name}-kafka"

        app, _icon = start_tray(env, ARTIFACTS, "healthy")  # it adopts the running stack
        try:
            wait_log(f"Kafka for the engine and the heartbeat: 127.0.0.1:{first} ({container})")
            wait_log(f"reading program-logs from Kafka at 127.0.0.1:{first}")
            _heartbeat_written(f"127.0.0.1:{first}")
            calls = _spike(desktop, f"127.0.0.1:{first}", "/app/payments.py", 1)
            assert len(calls) == 1 and "payments.py" in str(calls[0]["title"]), calls

            # Kafka recreated on another port (its spec changed): the tray sees it start again.
            second = free_port()
            tray.config.write_text(_config(name, second))
            up = logtray("stack", "up", env=env, timeout=120)
            assert up.returncode == 0, up.stdout + up.stderr
            assert "kafka recreated" in up.stdout, up.stdout
            assert published(client, name) == second
            wait_log(f"Kafka for the engine and the heartbeat: 127.0.0.1:{second} ({container})")
            wait_log(f"the engine moves from Kafka at 127.0.0.1:{first} to 127.0.0.1:{second}")
            wait_log(f"reading program-logs from Kafka at 127.0.0.1:{second}")
            _heartbeat_written(f"127.0.0.1:{second}")
            doctor = logtray("doctor", env=env, timeout=60).stdout
            assert f"ok    kafka: 127.0.0.1:{second} ({container}); it answers" in doctor, doctor
            # `logtray engine` without --bootstrap: the same address, read at its start.
            engine = Running("engine", "--notifier", "console", env=env)
            try:
                line = engine.wait_stderr("engine on", timeout=30)
            finally:
                engine.stop()
            assert f"engine on program-logs at 127.0.0.1:{second} ({container}):" in line, line
            calls = _spike(desktop, f"127.0.0.1:{second}", "/app/orders.py", 2)
        finally:
            assert app.stop() == 0
        # The tray stopped: every notification it sent is on the bus by now. One per spike,
        # nothing else (no "alerts are not proven", no stack event).
        calls = desktop.notify_calls()
        titles = [str(c["title"]) for c in calls]
        assert len(calls) == 2 and "payments.py" in titles[0] and "orders.py" in titles[1], titles
        said = tray_log().read_text()
        assert "127.0.0.1:9094" not in said and "Traceback" not in said, said

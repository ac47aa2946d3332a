"""A spike -> alert -> notification on every engine (tests/stack/engines.py): the lite stack's
Kafka (the tansu stand-in in a container, published on 127.0.0.1) takes `logtray demo`'s
error spike from the host; `logtray engine` reads it through the same published port and
notifies on a real desktop (dunst; the Notify call seen on the private session bus).

The other half of the alert path, a container reaching the host's listener, is proven per
engine by the canary tests (test_canary.py); this one is the host's Kafka path through each
engine's port publishing (rootlessport under rootless Podman)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from logtray.stack.config import StackConfig
from logtray.stack.labels import stack_filter
from logtray.stack.manager import StackManager
from logtray.stack.specs import resolve
from logtray.tray.base.config import ListenerConfig
from tests.conftest import free_port
from tests.support.desktop import (
    Desktop,
    desktop_fixture,
    engine_and_demo,
    spike_until_notified,
)

pytestmark = [pytest.mark.docker, pytest.mark.desktop]


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    yield from desktop_fixture(tmp_path / "desktop")


def lite_stack(name: str, kafka_port: int) -> StackConfig:
    """The lite profile of the stand-ins, Kafka published on a fixed free port: what Kafka
    advertises to host clients is that port (a published port of 0 would leave 9094)."""
    from tests.stack.standins import standin_services

    services = standin_services()
    kafka = dataclasses.replace(services["kafka"], ports={"9094": kafka_port})
    return StackConfig(
        profile="lite",
        services={"kafka": kafka, "demo": services["demo"]},
        name=name,
        pull=False,
        ready_timeout_s=60.0,
    )


def test_a_spike_into_the_stacks_kafka_is_one_desktop_notification(
    on_engine: docker.DockerClient, engine_stack_name: str, desktop: Desktop
) -> None:
    client, name = on_engine, engine_stack_name
    port = free_port()
    cfg = lite_stack(name, port)
    manager = StackManager(
        client, name, resolve(cfg, ListenerConfig()), pull=False, ready_timeout_s=60.0
    )
    try:
        manager.up()
        # Published where asked, on loopback only (the engine's own report of it).
        assert manager.published_url("kafka", "9094/tcp") == f"http://127.0.0.1:{port}"
        with engine_and_demo(desktop, f"127.0.0.1:{port}") as (engine, demo, control):
            spike_until_notified(desktop, control)
        # Both stopped: every notification they sent is on the bus by now.
        calls = desktop.notify_calls()
        said = "".join(engine.stderr_lines + demo.stderr_lines)
        assert len(calls) == 1, f"{len(calls)} notifications: {calls}; the engine said: {said}"
        assert "payments.py" in str(calls[0]["title"]), calls[0]
        assert "Traceback" not in said, said
    finally:
        manager.down(volumes=True)
    assert client.containers.list(all=True, filters=stack_filter(name)) == []

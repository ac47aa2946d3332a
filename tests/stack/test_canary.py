"""The canary alert: from inside the stack (the riemann container) to logtray's real listener,
on the real engine. The listener answers it and neither notifies nor stores it; when no
answer comes, one sentence names the likely cause.

Where the listener binds follows docker-testing.md's table: host.docker.internal (host-gateway)
reaches a listener on the docker0 gateway, not one on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import docker
import pytest

from logtray.stack.alert_route import alert_address, bridge_addresses
from logtray.stack.canary import Attempt, bridge_gateway, check_stack, diagnose, engine_kind
from logtray.stack.config import ServiceOverride
from logtray.stack.engine_info import inspect_engine
from logtray.stack.manager import StackManager
from logtray.stack.specs import resolve
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.listener import AlertListener
from logtray.tray.base.config import ListenerConfig
from tests.stack.engines import EngineUnderTest
from tests.stack.standins import standin_stack

TOKEN = "canary-test-token"


@pytest.fixture
def docker_client(on_engine: docker.DockerClient) -> docker.DockerClient:
    """These tests run on every engine (tests/stack/engines.py): Docker, rootful and rootless
    Podman."""
    return on_engine


class ListenerThread:
    """logtray's real AlertListener on its own asyncio loop in a thread."""

    def __init__(self, hosts: Sequence[str], port: int = 0, token: str = TOKEN) -> None:
        self.alerts: list[Alert] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        config = ListenerConfig(port=port, token=token)
        self.listener = AlertListener(config, lambda alert, peer, t: self.alerts.append(alert))
        asyncio.run_coroutine_threadsafe(self.listener.start(list(hosts)), self.loop).result(30)
        self.port = self.listener.addresses[0][1]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


# -- the listener's side, on loopback -------------------------------------------------------------


def test_listener_answers_a_canary_and_keeps_it_out_of_the_alert_path() -> None:
    lt = ListenerThread(["127.0.0.1"])
    try:
        with socket.create_connection(("127.0.0.1", lt.port), timeout=10) as conn:
            conn.sendall(b'{"canary": "n1", "token": "whatever"}\n')  # loopback is trusted
            reply = conn.makefile("rb").readline()
            conn.sendall(b'{"pathname": "/app/a.py", "count": 30}\n')
        assert json.loads(reply) == {"canary": "n1", "ok": True}
        # The real alert after it is delivered; the canary is not.
        deadline = threading.Event()
        for _ in range(600):
            if lt.alerts:
                break
            deadline.wait(0.05)
        assert [a.pathname for a in lt.alerts] == ["/app/a.py"], lt.alerts
        assert lt.listener.stats.canaries == 1
    finally:
        lt.close()


# -- the sentence for each cause (pure) ----------------------------------------------------


def say(attempt: Attempt, **kw: object) -> str:
    args: dict[str, object] = {
        "host": "host.docker.internal",
        "port": 10000,
        "timeout_s": 10,
        "kind": "engine",
        "gateway": "172.17.0.1",
        "on_loopback": True,
    }
    args.update(kw)
    result = diagnose(attempt, "n", **args)  # type: ignore[arg-type]
    assert not result.ok and result.fix
    return result.message


def test_diagnoses() -> None:
    ok = diagnose(
        Attempt(0, '{"canary": "n", "ok": true}'),
        "n",
        host="h",
        port=1,
        timeout_s=1,
        kind="engine",
        gateway=None,
        on_loopback=True,
    )
    assert ok.ok
    refused = Attempt(3, "bash: connect: Connection refused")
    assert "not bound to the Docker gateway (172.17.0.1)" in say(refused)
    assert "no logtray listener runs on port 10000" in say(refused, on_loopback=False)
    assert "on Colima" in say(refused, kind="colima")
    assert "rootless Docker" in say(Attempt(None, ""), kind="rootless")
    assert "firewall" in say(Attempt(4, ""))
    assert "firewall" in say(Attempt(124, ""))
    assert "does not resolve" in say(
        Attempt(3, "bash: host.docker.internal: Name or service not known")
    )
    assert "another token" in say(Attempt(0, '{"canary": "n", "ok": false}'))
    assert "no bash" in say(Attempt(127, "exec: timeout: not found"))
    assert engine_kind({"SecurityOptions": ["name=seccomp", "name=rootless"]}) == "rootless"
    assert engine_kind({"Name": "colima"}) == "colima"
    assert engine_kind({"OperatingSystem": "Docker Desktop"}) == "desktop"
    assert engine_kind({"Name": "debian", "OperatingSystem": "Debian GNU/Linux 12"}) == "engine"


# -- the whole path on the real engine ----------------------------------------------------


@pytest.fixture
def gateway(docker_client: docker.DockerClient, engine: EngineUnderTest) -> str:
    """Where host.docker.internal leads: Docker's bridge gateway (host-gateway); on Podman the
    bridge address logtray maps it to (stack/alert_route.py)."""
    if engine.podman:
        gw = alert_address(inspect_engine(docker_client), bridge_addresses())
        assert gw, "no Podman or Docker bridge on this machine"
        return gw
    gw = bridge_gateway(docker_client)
    assert gw, "the default bridge network has no gateway"
    return gw


def not_bound(gateway: str, engine: EngineUnderTest) -> str:
    """The canary's sentence for a listener bound to loopback only, per engine."""
    if engine.podman:
        return f"on Podman, host.docker.internal leads to {gateway}, where logtray's listener"
    return f"its listener is not bound to the Docker gateway ({gateway})"


def riemann_stack(client: docker.DockerClient, name: str, port: int) -> StackManager:
    cfg = standin_stack(name)
    off = ServiceOverride(enabled=False)
    services = {**cfg.services, **{s: off for s in ("kafka", "elasticsearch", "kibana", "demo")}}
    specs = resolve(dataclasses.replace(cfg, services=services), ListenerConfig(port, token=TOKEN))
    return StackManager(client, name, specs, pull=False)


@pytest.fixture
def listeners() -> Iterator[list[ListenerThread]]:
    started: list[ListenerThread] = []
    yield started
    for lt in started:
        lt.close()


@pytest.mark.docker
def test_canary_from_the_stack_proves_the_path_or_names_the_cause(
    docker_client: docker.DockerClient,
    stack_name: str,
    gateway: str,
    listeners: list[ListenerThread],
    engine: EngineUnderTest,
) -> None:
    # What logtray binds by default on Linux: loopback plus the docker0 gateway.
    lt = ListenerThread(["127.0.0.1", gateway])
    listeners.append(lt)
    port = lt.port
    manager = riemann_stack(docker_client, stack_name, port)
    manager.up()
    try:
        result = check_stack(manager)
        assert result is not None and result.ok, result
        assert f"host.docker.internal:{port}" in result.message
        assert lt.listener.stats.canaries == 1
        assert lt.alerts == []  # no popup, nothing in the history: the sink never saw it

        # The listener holds another token.
        lt.close()
        listeners.remove(lt)
        other = ListenerThread(["127.0.0.1", gateway], port, token="another")
        listeners.append(other)
        result = check_stack(manager)
        assert result is not None and not result.ok and "another token" in result.message
        other.close()
        listeners.remove(other)

        # Bound to loopback only: the container cannot reach it.
        local = ListenerThread(["127.0.0.1"], port)
        listeners.append(local)
        result = check_stack(manager)
        assert result is not None and not result.ok
        assert not_bound(gateway, engine) in result.message

        # Something takes the connection on the gateway but never answers (as a firewall that
        # drops packets would leave it): the bound is kept and the sentence names the firewall.
        with socket.socket() as silent:
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            silent.bind((gateway, port))
            silent.listen()
            result = check_stack(manager, timeout_s=2)
        assert result is not None and not result.ok and "firewall" in result.message
        local.close()
        listeners.remove(local)

        # No listener at all.
        result = check_stack(manager, timeout_s=2)
        assert result is not None and not result.ok
        assert f"no logtray listener runs on port {port}" in result.message
    finally:
        manager.down(volumes=True)


@pytest.mark.docker
def test_no_riemann_no_canary(docker_client: docker.DockerClient, stack_name: str) -> None:
    cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
    manager = StackManager(docker_client, stack_name, resolve(cfg, ListenerConfig()), pull=False)
    assert check_stack(manager) is None  # nothing to prove: the rule engine runs in logtray


def riemann_only_toml(name: str, port: int) -> str:
    from tests.stack.standins import RIEMANN_BASE_IMAGE, http_command

    command = ", ".join(json.dumps(c) for c in http_command(5555, {"/ok": "ok"}))
    off = "\n".join(
        f"[stack.services.{s}]\nenabled = false"
        for s in ("kafka", "elasticsearch", "kibana", "demo")
    )
    return f"""
[listener]
port = {port}
token = "{TOKEN}"

[stack]
name = "{name}"
pull = false
ready_timeout_s = 120

[stack.services.riemann]
image = "{RIEMANN_BASE_IMAGE}"
command = [{command}]
healthcheck = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:5555/ok"]
healthcheck_interval_s = 0.25

{off}
"""


@pytest.mark.docker
def test_stack_up_and_doctor_say_why_alerts_cannot_arrive(
    docker_client: docker.DockerClient,
    stack_name: str,
    gateway: str,
    listeners: list[ListenerThread],
    tmp_path: Path,
    engine: EngineUnderTest,
) -> None:
    from tests.stack.test_cli_docker import run

    with socket.socket() as s:  # a free port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "config.toml").write_text(riemann_only_toml(stack_name, port))
    try:
        # No listener at all: the stack is up, and up says in one sentence why alerts are lost.
        up = run(tmp_path, "stack", "up")
        assert up.returncode == 0, up.stderr + up.stdout
        assert "riemann: healthy" in up.stdout and "is up" in up.stdout
        assert (
            "warning: alerts from the stack cannot reach logtray: "
            f"no logtray listener runs on port {port}" in up.stderr
        )
        assert "fix: start `logtray`" in up.stderr

        # doctor runs the same check: loopback only fails and names the gateway ...
        local = ListenerThread(["127.0.0.1"], port)
        listeners.append(local)
        doctor = run(tmp_path, "doctor")
        assert (
            "FAIL  alert path: alerts from the stack cannot reach logtray: "
            + not_bound(gateway, engine)
            in doctor.stdout
        ), doctor.stdout
        local.close()
        listeners.remove(local)

        # ... and with the gateway bound it passes; up says so too.
        both = ListenerThread(["127.0.0.1", gateway], port)
        listeners.append(both)
        doctor = run(tmp_path, "doctor")
        assert (
            "ok    alert path: a canary alert from the stack reached logtray at "
            f"host.docker.internal:{port}" in doctor.stdout
        ), doctor.stdout
        up = run(tmp_path, "stack", "up")
        assert up.returncode == 0 and "alert path: a canary alert" in up.stdout, up.stderr
        assert both.alerts == []
    finally:
        down = run(tmp_path, "stack", "down", "--volumes")
        assert down.returncode == 0, down.stderr


@pytest.mark.docker
def test_the_tray_gets_the_sentence_from_its_stack_link(
    docker_client: docker.DockerClient,
    stack_name: str,
    gateway: str,
    listeners: list[ListenerThread],
) -> None:
    from logtray.tray.base.config import Config
    from logtray.tray.desktop.stack_link import StackLink

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = standin_stack(stack_name)
    off = ServiceOverride(enabled=False)
    services = {**cfg.services, **{s: off for s in ("kafka", "elasticsearch", "kibana", "demo")}}
    config = Config(
        listener=ListenerConfig(port=port, token=TOKEN),
        stack=dataclasses.replace(cfg, services=services),
    )
    link = StackLink(config)
    assert link.connect() is None
    try:
        problem = link.up(lambda services: None)
        assert problem is not None
        assert problem.message.startswith("alerts from the stack cannot reach logtray")
        assert problem.fix
        listeners.append(ListenerThread(["127.0.0.1", gateway], port))
        assert link.up(lambda services: None) is None
    finally:
        link.down()
        link.close()

"""The stack manager against a real Docker engine, with locally built stand-in images."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from logtray.stack.alert_route import alert_address, bridge_addresses
from logtray.stack.config import ServiceOverride, StackConfig
from logtray.stack.kibana import ensure_data_view
from logtray.stack.labels import LABEL_HASH, LABEL_SERVICE, LABEL_STACK, stack_filter
from logtray.stack.manager import PortTaken, ServiceFailed, StackError, StackManager
from logtray.stack.preflight import PreflightFailed
from logtray.stack.specs import HttpReadiness, ServiceSpec, resolve
from logtray.stack.status import ServiceStatus
from logtray.tray.base.config import ListenerConfig
from tests.stack.standins import (
    BUSYBOX_IMAGE,
    TEST_LABEL,
    build_offline,
    http_command,
    standin_services,
    standin_stack,
)

pytestmark = pytest.mark.docker

LISTENER = ListenerConfig(port=10000, token="test-token")


@pytest.fixture
def docker_client(on_engine: docker.DockerClient) -> docker.DockerClient:
    """These tests run on every engine (tests/stack/engines.py): Docker, rootful and rootless
    Podman."""
    return on_engine


class Recorder:
    """Status changes in arrival order, with a monotonic timestamp."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, ServiceStatus]] = []
        self.lock = threading.Lock()

    def __call__(self, service: str, status: ServiceStatus) -> None:
        with self.lock:
            self.events.append((time.monotonic(), service, status))

    def seen(self, service: str) -> bool:
        with self.lock:
            return any(svc == service for _, svc, _ in self.events)

    def first(self, service: str, pred: Callable[[ServiceStatus], bool]) -> float:
        for t, svc, st in self.events:
            if svc == service and pred(st):
                return t
        raise AssertionError(f"{service}: no such status in {self.events}")


def make(
    client: docker.DockerClient,
    cfg: StackConfig,
    rec: Recorder | None = None,
) -> StackManager:
    return StackManager(
        client,
        cfg.name,
        resolve(cfg, LISTENER),
        pull=cfg.pull,
        ready_timeout_s=cfg.ready_timeout_s,
        on_status=rec,
    )


def with_override(cfg: StackConfig, service: str, **changes: object) -> StackConfig:
    services = dict(cfg.services)
    services[service] = dataclasses.replace(services.get(service, ServiceOverride()), **changes)  # type: ignore[arg-type]
    return dataclasses.replace(cfg, services=services)


def owned(client: docker.DockerClient, name: str) -> dict[str, list[str]]:
    f = stack_filter(name)
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True, filters=f)),
        "networks": sorted(n.name for n in client.networks.list(filters=f)),
        "volumes": sorted(v.name for v in client.volumes.list(filters=f)),
    }


def docker_healthy(manager: StackManager, service: str, timeout: float = 60) -> ServiceStatus:
    """`up` returns once the healthcheck test passed (run by logtray); Docker's own status
    follows at its next interval (0.25 s here, much later on a busy machine)."""
    deadline = time.monotonic() + timeout
    while True:
        status = manager.status()[service]
        if status.state == "healthy":
            return status
        assert time.monotonic() < deadline, (
            f"Docker did not call {service} healthy within {timeout:.0f} s: {status.describe()}"
        )
        time.sleep(0.05)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    """A bounded poll that fails with a message."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.02)


def test_up_gates_on_health_adopts_recreates_and_down_keeps_data(docker_client, stack_name):
    # Elasticsearch's stand-in answers only once demo has been started: Kibana and Riemann
    # must wait for it, and demo (which needs only Kafka) must not.
    cfg = standin_stack(stack_name)
    services = dict(cfg.services)
    es = services["elasticsearch"]
    from tests.stack.standins import ES_HEALTH, http_command, open_gate

    services["elasticsearch"] = dataclasses.replace(
        es, command=http_command(9200, {"/_cluster/health": ES_HEALTH}, gated=True)
    )
    cfg = dataclasses.replace(cfg, services=services)
    rec = Recorder()
    manager = make(docker_client, cfg, rec)

    def release_es() -> None:
        wait_for("demo's start", lambda: rec.seen("demo"), timeout=120)
        open_gate(docker_client, f"{stack_name}-elasticsearch")

    releaser = threading.Thread(target=release_es, daemon=True)
    releaser.start()
    result = manager.up()
    releaser.join(timeout=60)
    assert result.actions == dict.fromkeys(
        ["kafka", "elasticsearch", "riemann", "kibana", "demo"], "created"
    )
    for svc in ("kafka", "elasticsearch", "riemann", "kibana"):
        docker_healthy(manager, svc)
    assert {s: st.state for s, st in manager.status().items()} == {
        "kafka": "healthy",
        "elasticsearch": "healthy",
        "riemann": "healthy",
        "kibana": "healthy",
        "demo": "running",
    }

    # Ordering: no dependent was created before its dependencies were ready.
    def healthy(st: ServiceStatus) -> bool:
        return st.state == "healthy"

    def seen(st: ServiceStatus) -> bool:
        return True

    es_ready = rec.first("elasticsearch", healthy)
    kafka_ready = rec.first("kafka", healthy)
    assert rec.first("kibana", seen) >= es_ready
    assert rec.first("riemann", seen) >= max(es_ready, kafka_ready), rec.events
    assert rec.first("demo", seen) >= kafka_ready
    # Independent services start in parallel: demo did not wait for Elasticsearch.
    assert rec.first("demo", seen) < es_ready

    # Everything is labelled, named by the stack, published on loopback only.
    containers = docker_client.containers.list(filters=stack_filter(stack_name))
    assert sorted(c.name for c in containers) == sorted(
        f"{stack_name}-{s}" for s in ["kafka", "elasticsearch", "riemann", "kibana", "demo"]
    )
    for c in containers:
        assert c.labels[LABEL_STACK] == stack_name
        assert c.labels[LABEL_HASH]
        assert c.attrs["HostConfig"]["Init"] is True
        for bindings in (c.attrs["NetworkSettings"]["Ports"] or {}).values():
            for b in bindings or []:
                assert b["HostIp"] == "127.0.0.1"
    riemann = docker_client.containers.get(f"{stack_name}-riemann")
    env = dict(e.split("=", 1) for e in riemann.attrs["Config"]["Env"])
    assert env["ALERT_PORT"] == "10000" and env["ALERT_TOKEN"] == "test-token"
    # Docker: host-gateway; Podman (which has none): a bridge address of this machine.
    address = alert_address(manager.engine, bridge_addresses())
    if address is None:
        assert env["ALERT_HOST"] == "host.containers.internal"
    else:
        assert f"host.docker.internal:{address}" in riemann.attrs["HostConfig"]["ExtraHosts"]

    # The Kibana stand-in takes the data view request on its published port.
    url = manager.published_url("kibana", "5601/tcp")
    assert url is not None and url.startswith("http://127.0.0.1:")
    ensure_data_view(url)

    # Warm: re-running up on a healthy stack is a no-op, and fast.
    ids = {c.name: c.id for c in containers}
    again = make(docker_client, cfg).up()
    assert set(again.actions.values()) == {"adopted"}
    assert {
        c.name: c.id for c in docker_client.containers.list(filters=stack_filter(stack_name))
    } == ids

    # A changed spec recreates only that service.
    changed = with_override(cfg, "demo", env={"DEMO_MODE": "spiky"})
    third = make(docker_client, changed).up()
    assert third.actions["demo"] == "recreated"
    assert {s for s, a in third.actions.items() if a != "adopted"} == {"demo"}
    assert docker_client.containers.get(f"{stack_name}-demo").id != ids[f"{stack_name}-demo"]

    # A disabled service is removed by the next up.
    fewer = with_override(changed, "kibana", enabled=False)
    make(docker_client, fewer).up()
    assert f"{stack_name}-kibana" not in owned(docker_client, stack_name)["containers"]

    # down: containers and network gone, data volumes kept.
    down = make(docker_client, cfg).down()
    assert len(down.containers) == 4
    left = owned(docker_client, stack_name)
    assert left["containers"] == [] and left["networks"] == []
    assert left["volumes"] == sorted([f"{stack_name}-es-data", f"{stack_name}-kafka-data"])

    # down --volumes (the reset) deletes the data as well.
    reset = make(docker_client, cfg).down(volumes=True)
    assert sorted(reset.volumes) == left["volumes"]
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}


def _kafka_sh(client: docker.DockerClient, stack_name: str, script: str) -> str:
    """Run `script` in the Kafka container as its own user, with `$dir` = the broker's data
    directory as apache/kafka resolves it (KAFKA_LOG_DIRS, else /tmp/kafka-logs)."""
    c = client.containers.get(f"{stack_name}-kafka")
    code, out = c.exec_run(["sh", "-c", "dir=${KAFKA_LOG_DIRS:-/tmp/kafka-logs}; " + script])
    assert code == 0, out
    return out.decode()


SEGMENT = "program-logs-0/00000000000000000000.log"


def test_kafka_data_survives_down_and_up(docker_client, stack_name):
    cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
    make(docker_client, cfg).up()
    # Written where the broker keeps a partition's log, as the broker's (non-root) user.
    _kafka_sh(
        docker_client,
        stack_name,
        f'mkdir -p "$dir/program-logs-0" && printf "m1\\nm2\\n" >> "$dir/{SEGMENT}"',
    )
    make(docker_client, cfg).down()
    result = make(docker_client, cfg).up()
    assert result.actions["kafka"] == "created"
    assert _kafka_sh(docker_client, stack_name, f'cat "$dir/{SEGMENT}"') == "m1\nm2\n"
    # Not formatted again: the new container found the cluster's storage as it was left.
    logs = docker_client.containers.get(f"{stack_name}-kafka").logs().decode()
    assert "formatted" not in logs
    assert "cluster.id=" in _kafka_sh(docker_client, stack_name, 'cat "$dir/meta.properties"')
    make(docker_client, cfg).down(volumes=True)


def test_without_kafka_log_dirs_the_data_is_lost(docker_client, stack_name):
    # The control: configured from env only without KAFKA_LOG_DIRS, apache/kafka writes to
    # /tmp/kafka-logs in the container, so a down + up loses everything (the bug).
    cfg = with_override(
        dataclasses.replace(standin_stack(stack_name), profile="lite"),
        "kafka",
        env={"KAFKA_LOG_DIRS": ""},
    )
    make(docker_client, cfg).up()
    _kafka_sh(
        docker_client, stack_name, f'mkdir -p "$dir/program-logs-0" && echo m1 >> "$dir/{SEGMENT}"'
    )
    make(docker_client, cfg).down()
    make(docker_client, cfg).up()
    assert _kafka_sh(docker_client, stack_name, 'ls "$dir"') == "meta.properties\n"
    assert "formatted /tmp/kafka-logs" in (
        docker_client.containers.get(f"{stack_name}-kafka").logs().decode()
    )
    make(docker_client, cfg).down(volumes=True)


def test_lite_profile_and_stopped_container_is_started_again(docker_client, stack_name):
    cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
    manager = make(docker_client, cfg)
    assert [s.name for s in manager.specs] == ["kafka", "demo"]
    manager.up()
    docker_client.containers.get(f"{stack_name}-demo").stop(timeout=1)
    result = make(docker_client, cfg).up()
    assert result.actions == {"kafka": "adopted", "demo": "started"}
    assert make(docker_client, cfg).status()["demo"].state == "running"
    manager.down(volumes=True)
    assert owned(docker_client, stack_name)["containers"] == []


def test_never_healthy_fails_with_logs_and_leaves_nothing(docker_client, stack_name):
    cfg = with_override(
        standin_stack(stack_name),
        "riemann",
        command=("sh", "-c", "echo riemann stand-in cannot start; exec sleep 1000"),
    )
    cfg = dataclasses.replace(cfg, ready_timeout_s=2.0)
    with pytest.raises(ServiceFailed) as info:
        make(docker_client, cfg).up()
    err = info.value
    assert err.service == "riemann"
    assert "not ready within 2 s" in err.message
    assert "riemann stand-in cannot start" in err.message
    # Rolled back: nothing this up created is left, not even the network or volumes.
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_unhealthy_container_fails_fast(docker_client, stack_name):
    # Riemann has no host probe: its healthcheck test gates it, and Docker's verdict ends the wait.
    cfg = with_override(
        standin_stack(stack_name),
        "riemann",
        healthcheck=("CMD", "false"),
        healthcheck_interval_s=0.1,
    )
    services = resolve(cfg, LISTENER)
    # Few retries, no start period: Docker calls it unhealthy after 3 failed checks.
    services = [
        dataclasses.replace(
            s, healthcheck=dataclasses.replace(s.healthcheck, retries=3, start_period_s=0)
        )
        if s.name == "riemann" and s.healthcheck
        else s
        for s in services
    ]
    # The timeout is far away: up fails on Docker's "unhealthy", not on the timeout.
    manager = StackManager(docker_client, stack_name, services, pull=False, ready_timeout_s=600)
    with pytest.raises(ServiceFailed, match="riemann never became healthy"):
        manager.up()
    assert owned(docker_client, stack_name)["containers"] == []


def _with_kibana_bound(specs: list[ServiceSpec], bound_s: float) -> list[ServiceSpec]:
    out = []
    for s in specs:
        if s.name == "kibana":
            assert isinstance(s.readiness, HttpReadiness)
            s = dataclasses.replace(
                s, readiness=dataclasses.replace(s.readiness, tolerate_after_s=bound_s)
            )
        out.append(s)
    return out


def test_kibana_degraded_is_ready_after_the_bound_and_said_in_status(docker_client, stack_name):
    degraded = (
        '{"status":{"overall":{"level":"degraded","summary":"1 plugin is degraded"},'
        '"plugins":{"alerting":{"level":"available"}}}}'
    )
    cfg = with_override(
        standin_stack(stack_name),
        "kibana",
        command=http_command(5601, {"/api/status": degraded}),
    )
    specs = resolve(cfg, LISTENER)
    messages: list[str] = []
    manager = StackManager(
        docker_client,
        stack_name,
        _with_kibana_bound(specs, 1.0),
        pull=False,
        ready_timeout_s=30,
        on_message=messages.append,
    )
    manager.up()
    assert any(m.startswith("kibana is ready:") and "accepted after" in m for m in messages)
    status = manager.status()["kibana"]
    assert status.detail.startswith("degraded:") and "1 plugin is degraded" in status.detail
    # Degraded for less than the bound is not ready: up says what it saw.
    strict = StackManager(
        docker_client, stack_name, _with_kibana_bound(specs, 600.0), pull=False, ready_timeout_s=2
    )
    with pytest.raises(ServiceFailed, match="kibana was not ready within 2 s") as info:
        strict.up()
    assert "'degraded' (1 plugin is degraded)" in info.value.message
    manager.down(volumes=True)


def test_exit_while_starting_shows_last_log_lines(docker_client, stack_name):
    cfg = with_override(
        standin_stack(stack_name),
        "elasticsearch",
        command=(
            "sh",
            "-c",
            "echo 'max virtual memory areas "
            "vm.max_map_count [65530] is too low, increase to at least "
            "[262144]'; exit 78",
        ),
    )
    with pytest.raises(ServiceFailed) as info:
        make(docker_client, cfg).up()
    text = str(info.value)
    assert "elasticsearch exited with code 78" in text
    assert "vm.max_map_count [65530]" in text
    assert "sysctl -w vm.max_map_count=262144" in text  # the fix names the sysctl
    assert owned(docker_client, stack_name)["containers"] == []
    # The container is gone, its last lines are not: `stack logs` shows them.
    saved = b"".join(make(docker_client, cfg).logs("elasticsearch", tail=10)).decode()
    assert "elasticsearch failed to start" in saved and "exited (78)" in saved
    assert "vm.max_map_count [65530]" in saved
    # A new container of the service makes them stale.
    fixed = make(docker_client, standin_stack(stack_name))
    fixed.up()
    assert "failed to start" not in b"".join(fixed.logs("elasticsearch")).decode()
    fixed.down(volumes=True)


def test_recreate_and_down_leave_no_anonymous_volume(docker_client, stack_name, tmp_path):
    # An image that declares a VOLUME, as apache/kafka does: each container gets an anonymous
    # volume, which must go with the container.
    tag = f"logtray-test/anon-volume-{stack_name}:1"
    (tmp_path / "Dockerfile").write_text(
        f'FROM {BUSYBOX_IMAGE}\nVOLUME /scratch\nCMD ["sh", "-c", "exec sleep 1000"]\n'
    )
    build_offline(docker_client, tmp_path, tag)

    def anonymous_volume(manager: StackManager) -> str:
        mounts = manager.containers()["demo"].attrs["Mounts"]
        names = [
            m["Name"] for m in mounts if m["Type"] == "volume" and m["Destination"] == "/scratch"
        ]
        assert len(names) == 1, mounts
        return str(names[0])

    def exists(volume: str) -> bool:
        try:
            docker_client.volumes.get(volume)
            return True
        except docker.errors.NotFound:
            return False

    spec = ServiceSpec(name="demo", image=tag)
    try:
        manager = StackManager(docker_client, stack_name, [spec], pull=False)
        manager.up()
        first = anonymous_volume(manager)
        changed = StackManager(
            docker_client, stack_name, [dataclasses.replace(spec, env={"X": "1"})], pull=False
        )
        assert changed.up().actions == {"demo": "recreated"}
        second = anonymous_volume(changed)
        assert second != first and not exists(first)
        changed.down()
        assert not exists(second)
    finally:
        docker_client.images.remove(tag, force=True)


def test_port_taken_names_port_and_holder_and_removes_container(docker_client, stack_name):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        cfg = with_override(standin_stack(stack_name), "kibana", ports={"5601": port})
        with pytest.raises(PortTaken) as info:
            make(docker_client, cfg).up()
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert "python" in text.lower()  # the holder: this test process
    assert "[stack.services.kibana.ports]" in text
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_missing_image_is_never_pulled_implicitly(docker_client, stack_name):
    cfg = with_override(standin_stack(stack_name), "demo", image="logtray-test/not-here:0")
    with pytest.raises(StackError) as info:
        make(docker_client, cfg).up()
    assert "logtray-test/not-here:0" in info.value.message
    assert "pulling is turned off" in info.value.message
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get("logtray-test/not-here:0")


def test_builds_a_service_image_from_its_directory(docker_client, stack_name, tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(
        f'FROM {BUSYBOX_IMAGE}\nCMD ["sh", "-c", "echo built; exec sleep 1000"]\n'
    )
    tag = f"logtray-test/built-{stack_name}:1"
    spec = ServiceSpec(name="demo", image=tag, build=str(tmp_path))
    manager = StackManager(docker_client, stack_name, [spec], pull=False, ready_timeout_s=20)
    try:
        assert manager.up().actions == {"demo": "created"}
        image = docker_client.images.get(tag)
        assert image.labels[LABEL_STACK] == stack_name
        assert image.labels[LABEL_SERVICE] == "demo"
    finally:
        manager.down()
        docker_client.images.remove(tag, force=True)


def test_status_is_fed_by_the_events_stream(docker_client, stack_name):
    cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
    manager = make(docker_client, cfg)
    manager.up()
    rec = Recorder()
    watcher = manager.watch(rec)
    try:
        assert watcher.get("demo").state == "running"
        # From here on the watcher may not inspect anything: only events move it.
        calls: list[str] = []
        real_list = docker_client.containers.list
        real_get = docker_client.containers.get

        def spy_list(*a: object, **k: object) -> object:
            calls.append("list")
            return real_list(*a, **k)  # type: ignore[arg-type]

        def spy_get(*a: object, **k: object) -> object:
            calls.append("get")
            return real_get(*a, **k)  # type: ignore[arg-type]

        docker_client.containers.list = spy_list  # type: ignore[method-assign]
        docker_client.containers.get = spy_get  # type: ignore[method-assign]
        try:
            demo = real_get(f"{stack_name}-demo")
            demo.kill()
            wait_for("the die event", lambda: watcher.get("demo").state == "exited")
            st = watcher.get("demo")
            assert st.state == "exited" and st.exit_code == 137
            demo.remove()
            wait_for("the destroy event", lambda: watcher.get("demo").state == "absent")
            assert watcher.get("demo").state == "absent"
            # An unrelated container without our label is not seen.
            other = docker_client.containers.create(
                BUSYBOX_IMAGE, ["true"], labels={TEST_LABEL: "1"}
            )
            other.remove()
            assert all(svc in ("kafka", "demo") for _, svc, _ in rec.events)
        finally:
            docker_client.containers.list = real_list  # type: ignore[method-assign]
            docker_client.containers.get = real_get  # type: ignore[method-assign]
        assert calls == []
        assert [st.state for _, svc, st in rec.events if svc == "demo"][-2:] == ["exited", "absent"]
    finally:
        watcher.close()
    manager.down(volumes=True)


def test_foreign_container_with_our_name_is_not_touched(docker_client, stack_name):
    foreign = docker_client.containers.create(
        BUSYBOX_IMAGE, ["true"], name=f"{stack_name}-demo", labels={TEST_LABEL: "1"}
    )
    try:
        cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
        with pytest.raises(StackError, match="logtray did not create"):
            make(docker_client, cfg).up()
        foreign.reload()  # still there
        assert owned(docker_client, stack_name)["containers"] == []
    finally:
        foreign.remove(force=True)


def test_logs_tail(docker_client, stack_name):
    cfg = dataclasses.replace(standin_stack(stack_name), profile="lite")
    manager = make(docker_client, cfg)
    manager.up()
    try:
        text = b"".join(manager.logs("demo", tail=10)).decode()
        assert "demo stand-in" in text
        with pytest.raises(StackError, match="not running"):
            list(manager.logs("kibana"))
    finally:
        manager.down(volumes=True)


def test_standin_overrides_cover_every_service() -> None:
    assert set(standin_services()) == {"kafka", "elasticsearch", "riemann", "kibana", "demo"}


def test_dead_riemann_consumer_is_reported_and_restarted(docker_client, stack_name):
    from tests.stack.standins import http_command

    serve = http_command(5555, {"/ok": "ok"})[2]
    # The first run logs what Riemann logs when its Kafka consumer dies; a restart does not.
    once = (
        "mkdir -p /tmp && { [ -e /tmp/ran ] || { touch /tmp/ran; "
        "echo 'ERROR [riemann.kafka] Interrupted consumption'; }; } && "
    )
    cfg = with_override(standin_stack(stack_name), "riemann", command=("sh", "-c", once + serve))
    manager = make(docker_client, cfg)
    manager.up()
    status = docker_healthy(manager, "riemann")
    assert "Kafka consumer stopped" in status.detail
    again = make(docker_client, cfg).up()
    assert again.actions["riemann"] == "restarted"
    assert {a for s, a in again.actions.items() if s != "riemann"} == {"adopted"}
    # Docker: its own healthy, no detail; Podman: logtray's check, said as such.
    assert "Kafka consumer" not in docker_healthy(manager, "riemann").detail
    manager.down(volumes=True)


def test_not_enough_memory_is_refused_before_anything_is_created(docker_client, stack_name):
    cfg = with_override(standin_stack(stack_name), "elasticsearch", mem_limit="100000g")
    with pytest.raises(PreflightFailed, match="not enough memory") as info:
        make(docker_client, cfg).up()
    assert info.value.fix is not None and "--profile lite" in info.value.fix
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_no_wait_starts_everything_in_order_without_waiting(docker_client, stack_name):
    # Elasticsearch's stand-in never answers: --no-wait returns all the same (no timing bound:
    # a busy machine may take seconds to start five containers).
    from tests.stack.standins import ES_HEALTH, http_command

    cfg = with_override(
        standin_stack(stack_name),
        "elasticsearch",
        command=http_command(9200, {"/_cluster/health": ES_HEALTH}, delay_s=3600),
    )
    cfg = dataclasses.replace(cfg, ready_timeout_s=600)
    manager = make(docker_client, cfg)
    result = manager.up(wait=False)
    assert set(result.actions.values()) == {"created"}
    assert len(owned(docker_client, stack_name)["containers"]) == 5
    assert manager.status()["elasticsearch"].state in ("starting", "unhealthy")
    manager.down(volumes=True)


def test_one_failure_stops_the_other_waits(docker_client, stack_name):
    # Kafka exits at once while Elasticsearch never answers and the timeout is 600 s: up
    # fails now, about Kafka (a wait that was not woken would hold it for 600 s).
    from tests.stack.standins import ES_HEALTH, http_command

    cfg = with_override(
        standin_stack(stack_name),
        "elasticsearch",
        command=http_command(9200, {"/_cluster/health": ES_HEALTH}, delay_s=100000),
    )
    cfg = with_override(cfg, "kafka", command=("/tansu", "topic", "no-such-command"))
    cfg = dataclasses.replace(cfg, ready_timeout_s=600)
    t0 = time.monotonic()
    with pytest.raises(ServiceFailed) as info:
        make(docker_client, cfg).up()
    assert time.monotonic() - t0 < 300
    assert info.value.service == "kafka" and "exited with code" in info.value.message
    assert owned(docker_client, stack_name) == {"containers": [], "networks": [], "volumes": []}

"""Where `host.docker.internal` leads per engine (pure)."""

from __future__ import annotations

from logtray.stack.alert_route import HOST_GATEWAY, adapt, alert_address
from logtray.stack.config import StackConfig
from logtray.stack.engine_info import EngineInfo
from logtray.stack.specs import resolve
from logtray.tray.base.config import ListenerConfig

DOCKER = EngineInfo("Docker Engine", "20.10.24", False, "unix:///var/run/docker.sock")
PODMAN = EngineInfo("Podman", "4.3.1", False, "unix:///run/podman/podman.sock")
ROOTLESS = EngineInfo("Podman", "4.3.1", True, "unix:///run/user/1000/podman/podman.sock")


def riemann() -> object:
    specs = resolve(StackConfig(profile="full"), ListenerConfig())
    return next(s for s in specs if s.name == "riemann")


def test_docker_keeps_host_gateway() -> None:
    bridges = {"docker0": "172.17.0.1"}
    assert alert_address(DOCKER, bridges) == HOST_GATEWAY
    assert alert_address(None, {}) == HOST_GATEWAY  # the engine could not say: as before
    spec = riemann()
    assert adapt(spec, HOST_GATEWAY) is spec  # type: ignore[arg-type]


def test_podman_maps_the_name_to_a_bridge_the_listener_binds() -> None:
    both = {"cni-podman0": "10.88.0.1", "docker0": "172.17.0.1"}
    assert alert_address(PODMAN, both) == "10.88.0.1"
    assert alert_address(ROOTLESS, {"docker0": "172.17.0.1"}) == "172.17.0.1"
    assert alert_address(ROOTLESS, {"podman0": "10.88.0.1", **both}) == "10.88.0.1"
    spec = adapt(riemann(), "10.88.0.1")  # type: ignore[arg-type]
    assert spec.extra_hosts == {"host.docker.internal": "10.88.0.1"}
    assert spec.env["ALERT_HOST"] == "host.docker.internal"


def test_podman_without_a_bridge_uses_its_own_name() -> None:
    assert alert_address(PODMAN, {}) is None
    spec = adapt(riemann(), None)  # type: ignore[arg-type]
    assert spec.extra_hosts == {}
    assert spec.env["ALERT_HOST"] == "host.containers.internal"

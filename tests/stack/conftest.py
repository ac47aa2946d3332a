"""Docker fixtures: a running engine (started here when we may), locally built stand-in
images, and a unique, labelled stack per test that is removed whatever happens.

Under CI=true a missing engine FAILS the Docker tests instead of skipping them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import docker
import docker.errors
import pytest
import requests

from logtray.stack.labels import LABEL_STACK
from tests.stack.engines import EngineUnderTest, chosen_engines, known_engines, ping
from tests.stack.standins import build_standins

# Every stack a test creates is named with this prefix: the leftover check looks for it. It is
# unique per test session, so that two sessions on one engine (parallel runs) never see, or
# remove, each other's stacks.
PREFIX = f"lt-test-{uuid.uuid4().hex[:4]}-"


DOCKER = known_engines()["docker"]
ENGINES = chosen_engines()


def _ping() -> bool:
    return ping(DOCKER)


def _start_dockerd() -> None:
    """docker-testing.md: start Debian's dockerd detached when we are root and it is there."""
    if os.environ.get("DOCKER_HOST") or os.geteuid() != 0 or not shutil.which("dockerd"):
        return
    with open("/tmp/dockerd.log", "ab") as log:
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    for _ in range(300):
        if _ping():
            return
        time.sleep(0.1)


@contextlib.contextmanager
def _engine_session(engine: EngineUnderTest) -> Iterator[docker.DockerClient]:
    """A client for one engine with the stand-ins built on it; at the end, everything the
    session created there is removed, and the session fails if tests left anything behind."""
    if not ping(engine.host):
        hint = "run .ci/podman-setup.sh" if engine.podman else "start dockerd, or run "
        hint += "" if engine.podman else ".ci/docker-setup.sh"
        msg = f"no {engine.name} engine at {engine.host} ({hint})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    client = docker.DockerClient(base_url=engine.host, timeout=120)
    build_standins(client)
    yield client
    leftovers = _leftovers(client)
    _remove_all(client)
    _remove_stale_build_containers(client)
    client.close()
    assert not leftovers, f"tests left these behind on {engine.name}: {leftovers}"


@pytest.fixture(scope="session")
def docker_session() -> Iterator[docker.DockerClient]:
    if not _ping():
        _start_dockerd()
    with _engine_session(EngineUnderTest("docker", DOCKER)) as client:
        yield client


@pytest.fixture(scope="session")
def docker_client(docker_session: docker.DockerClient) -> docker.DockerClient:
    """Docker Engine (the tests that are about Docker itself: pulls, registries, the CLI)."""
    return docker_session


@pytest.fixture(scope="session", params=ENGINES, ids=[e.name for e in ENGINES])
def engine(request: pytest.FixtureRequest) -> EngineUnderTest:
    """Each engine the stack, canary and tray-with-stack tests run on (tests/stack/engines.py)."""
    chosen: EngineUnderTest = request.param
    return chosen


@pytest.fixture(scope="session")
def engine_client(
    engine: EngineUnderTest, request: pytest.FixtureRequest
) -> Iterator[docker.DockerClient]:
    if engine.name == "docker":
        yield request.getfixturevalue("docker_session")
        return
    with _engine_session(engine) as client:
        yield client


@pytest.fixture
def on_engine(
    engine: EngineUnderTest, engine_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> docker.DockerClient:
    """The chosen engine's client, with DOCKER_HOST pointing logtray's subprocesses at it. A
    module that runs on every engine overrides `docker_client` with this."""
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    return engine_client


def _ours(labels: dict[str, str] | None) -> bool:
    return (labels or {}).get(LABEL_STACK, "").startswith(PREFIX)


def _leftovers(client: docker.DockerClient) -> list[str]:
    out = [
        f"container {c.name}"
        for c in client.containers.list(all=True, ignore_removed=True)
        if _ours(c.labels)
    ]
    out += [f"network {n.name}" for n in client.networks.list() if _ours(n.attrs.get("Labels"))]
    out += [f"volume {v.name}" for v in client.volumes.list() if _ours(v.attrs.get("Labels"))]
    return out


def _remove_stale_build_containers(client: docker.DockerClient, age_s: float = 600) -> None:
    """Remove the classic builder's step containers that test image builds left behind (an
    interrupted build, or builds racing another run on the same engine). Only old ones: a
    build of another run in progress owns its fresh ones."""
    from tests.stack.standins import TEST_LABEL

    now = time.time()
    for c in client.containers.list(
        all=True, ignore_removed=True, filters={"label": TEST_LABEL, "status": "created"}
    ):
        created = _epoch(c.attrs.get("Created", ""))
        if LABEL_STACK not in (c.labels or {}) and created and now - created > age_s:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                c.remove(force=True)


def _epoch(rfc3339: str) -> float:
    from logtray.stack.watcher import parse_docker_time

    return parse_docker_time(rfc3339) / 1e9


def _remove_all(client: docker.DockerClient, name: str | None = None) -> None:
    def match(labels: dict[str, str] | None) -> bool:
        value = (labels or {}).get(LABEL_STACK, "")
        return value == name if name else value.startswith(PREFIX)

    gone = contextlib.suppress(docker.errors.NotFound)
    for c in client.containers.list(all=True, ignore_removed=True):
        if match(c.labels):
            with gone:
                c.remove(force=True, v=True)
    for n in client.networks.list():
        if match(n.attrs.get("Labels")):
            with gone:
                n.remove()
    for v in client.volumes.list():
        if match(v.attrs.get("Labels")):
            with gone:
                v.remove(force=True)


@pytest.fixture
def stack_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A fresh stack name; whatever the test leaves under it is removed afterwards (by label),
    and the test fails if it left anything a `down --volumes` should have removed."""
    name = PREFIX + uuid.uuid4().hex[:6]
    yield name
    _remove_all(docker_client, name)


@pytest.fixture(scope="session")
def local_registry(
    docker_client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A Docker registry on 127.0.0.1 (Debian's docker-registry), so pulls can be tested
    without reaching any outside registry. The engine trusts 127.0.0.0/8 over plain HTTP."""
    binary = shutil.which("docker-registry")
    if binary is None:
        msg = "docker-registry not installed (apt-get install docker-registry)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path_factory.mktemp("registry")
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except requests.exceptions.RequestException:
                time.sleep(0.05)
        else:
            pytest.fail("the local registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def engine_stack_name(on_engine: docker.DockerClient) -> Iterator[str]:
    """stack_name for a test on the chosen engine (`on_engine`): removed there afterwards."""
    name = PREFIX + uuid.uuid4().hex[:6]
    yield name
    _remove_all(on_engine, name)

"""Pulling on purpose, with progress, from a registry on 127.0.0.1 (never from outside)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import docker
import docker.errors
import pytest

from logtray.stack.manager import StackError, StackManager
from logtray.stack.specs import ServiceSpec
from logtray.stack.status import ServiceStatus
from tests.stack.standins import BUSYBOX_IMAGE, build_offline

pytestmark = pytest.mark.docker


def push_fresh_image(client: docker.DockerClient, tag: str) -> None:
    """An image with its own 2 MB layer (so the pull really downloads), pushed, then
    removed locally."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "blob").write_bytes(os.urandom(2 * 1024 * 1024))
        (Path(tmp) / "Dockerfile").write_text(
            f'FROM {BUSYBOX_IMAGE}\nCOPY blob /blob\nCMD ["sh", "-c", "exec sleep 1000"]\n'
        )
        build_offline(client, tmp, tag)
    for line in client.images.push(tag, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(tag, force=True)


def test_missing_image_is_pulled_with_progress(docker_client, stack_name, local_registry):
    tag = f"{local_registry}/logtray-test/pulled-{stack_name}:1"
    push_fresh_image(docker_client, tag)
    seen: list[ServiceStatus] = []
    spec = ServiceSpec(name="demo", image=tag)
    manager = StackManager(
        docker_client,
        stack_name,
        [spec],
        pull=True,
        ready_timeout_s=20,
        on_status=lambda svc, st: seen.append(st),
    )
    try:
        assert manager.up().actions == {"demo": "created"}
        pulling = [st.percent for st in seen if st.state == "pulling"]
        assert pulling, seen
        known = [p for p in pulling if p is not None]
        assert known == sorted(known) and known[-1] == 100.0
        docker_client.images.get(tag)
        # The image is there now: a second up pulls nothing.
        seen.clear()
        manager.up()
        assert not [st for st in seen if st.state == "pulling"]
    finally:
        manager.down()
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_image_missing_from_the_registry_fails_clearly(docker_client, stack_name, local_registry):
    tag = f"{local_registry}/logtray-test/never-pushed:1"
    manager = StackManager(
        docker_client,
        stack_name,
        [ServiceSpec(name="demo", image=tag)],
        pull=True,
        ready_timeout_s=20,
    )
    with pytest.raises(StackError) as info:
        manager.up()
    assert f"cannot pull {tag}" in info.value.message
    assert info.value.fix is not None and "docker load" in info.value.fix
    assert (
        docker_client.containers.list(
            all=True, filters={"label": [f"io.logtray.stack={stack_name}"]}
        )
        == []
    )


def test_every_image_that_cannot_be_pulled_is_named(docker_client, stack_name, local_registry):
    tags = [f"{local_registry}/logtray-test/never-pushed-{n}:1" for n in ("a", "b")]
    specs = [
        ServiceSpec(name="kafka", image=tags[0]),
        ServiceSpec(name="demo", image=tags[1]),
        ServiceSpec(name="kibana", image=BUSYBOX_IMAGE, command=("sleep", "1000")),
    ]
    manager = StackManager(docker_client, stack_name, specs, pull=True, ready_timeout_s=20)
    with pytest.raises(StackError) as info:
        manager.up()
    text = info.value.message
    assert "2 images could not be obtained" in text
    assert f"cannot pull {tags[0]} for kafka" in text and f"cannot pull {tags[1]} for demo" in text
    assert info.value.fix is not None and "docker load" in info.value.fix
    assert (
        docker_client.containers.list(
            all=True, filters={"label": [f"io.logtray.stack={stack_name}"]}
        )
        == []
    )


def test_a_build_pulls_its_missing_base_on_purpose(
    docker_client, stack_name, local_registry, tmp_path
):
    base = f"{local_registry}/logtray-test/base-{stack_name}:1"
    push_fresh_image(docker_client, base)
    (tmp_path / "Dockerfile").write_text(f'FROM {base}\nCMD ["sh", "-c", "exec sleep 1000"]\n')
    tag = f"logtray-test/on-base-{stack_name}:1"
    spec = ServiceSpec(name="demo", image=tag, build=str(tmp_path))
    seen: list[ServiceStatus] = []
    offline = StackManager(docker_client, stack_name, [spec], pull=False, ready_timeout_s=20)
    with pytest.raises(StackError, match="pulling is turned off"):
        offline.up()
    manager = StackManager(
        docker_client,
        stack_name,
        [spec],
        pull=True,
        ready_timeout_s=20,
        on_status=lambda svc, st: seen.append(st),
    )
    try:
        assert manager.up().actions == {"demo": "created"}
        assert any(st.state == "pulling" for st in seen)
        docker_client.images.get(base)
    finally:
        manager.down()
        for image in (tag, base):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(image, force=True)

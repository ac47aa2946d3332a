"""riemann.config reaches the container inside a locally built image, not by a bind mount."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path

import docker
import docker.errors
import pytest

from logtray.stack.config import ServiceOverride
from logtray.stack.manager import StackManager
from logtray.stack.riemann_image import overlay_tag
from logtray.stack.specs import RIEMANN_CONFIG, resolve
from logtray.tray.base.config import ListenerConfig
from tests.stack.standins import standin_stack

LISTENER = ListenerConfig(port=10000, token="test-token")


def test_the_tag_follows_the_files_and_the_base(tmp_path: Path) -> None:
    shutil.copytree(RIEMANN_CONFIG.parent, tmp_path / "ctx")
    ctx = tmp_path / "ctx"
    tag = overlay_tag("riemann", "sha256:1", ctx)
    assert tag.startswith("logtray/riemann:") and tag == overlay_tag("riemann", "sha256:1", ctx)
    assert overlay_tag("riemann", "sha256:2", ctx) != tag  # a re-pulled base
    (ctx / "riemann.config").write_text("(streams)")
    assert overlay_tag("riemann", "sha256:1", ctx) != tag  # a changed config


def riemann_only(client: docker.DockerClient, stack_name: str, context: Path) -> StackManager:
    """A stack of Riemann's stand-in alone, its overlay built from `context`."""
    cfg = standin_stack(stack_name)
    off = ServiceOverride(enabled=False)
    services = {**cfg.services, **{s: off for s in ("kafka", "elasticsearch", "kibana", "demo")}}
    specs = resolve(dataclasses.replace(cfg, services=services), LISTENER)
    specs = [dataclasses.replace(s, overlay=str(context)) for s in specs]
    assert [s.name for s in specs] == ["riemann"]
    return StackManager(client, stack_name, specs, pull=False)


def config_in(container: docker.models.containers.Container) -> bytes:
    code, out = container.exec_run(["cat", "/etc/riemann.config"])
    assert code == 0, out
    return bytes(out)


@pytest.mark.docker
def test_config_is_copied_in_and_a_change_rebuilds_and_recreates(
    docker_client: docker.DockerClient, stack_name: str, tmp_path: Path
) -> None:
    context = tmp_path / "riemann"
    shutil.copytree(RIEMANN_CONFIG.parent, context)
    built: list[str] = []
    try:
        manager = riemann_only(docker_client, stack_name, context)
        assert manager.up().actions == {"riemann": "created"}
        container = manager.containers()["riemann"]
        # No bind mount of any kind: the file is in the image.
        assert not container.attrs["HostConfig"].get("Binds")
        assert [m for m in container.attrs["Mounts"] if m["Type"] == "bind"] == []
        assert config_in(container) == (context / "riemann.config").read_bytes()
        first_image = container.attrs["Config"]["Image"]
        assert first_image.startswith("logtray/riemann:")

        # Unchanged: adopted as it is, nothing rebuilt.
        assert riemann_only(docker_client, stack_name, context).up().actions == {
            "riemann": "adopted"
        }

        # A changed config: a new image, and the container is recreated from it.
        changed = (context / "riemann.config").read_text() + f"\n; changed for {stack_name}\n"
        (context / "riemann.config").write_text(changed)
        again = riemann_only(docker_client, stack_name, context)
        assert again.up().actions == {"riemann": "recreated"}
        container = again.containers()["riemann"]
        second_image = container.attrs["Config"]["Image"]
        built.append(second_image)
        assert second_image != first_image
        assert config_in(container) == changed.encode()
        again.down(volumes=True)
    finally:
        for tag in built:  # unique to this test; the unchanged config's image is shared
            with contextlib.suppress(docker.errors.APIError):
                docker_client.images.remove(tag, force=True)

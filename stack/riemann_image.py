"""A service image with files copied in, built locally on top of the service's own image.

Riemann reads its rules from /etc/riemann.config. Bind-mounting that file from where logtray
is installed fails on Docker Desktop (only some host directories are shared with its VM),
Colima and remote engines; a small image `FROM <the riemann image>` with the file copied in
works on all of them. The image is tagged by what it is made of (the base image's id and the
build directory's files), so a changed riemann.config, or a re-pulled base, gives a new tag:
it is built once, and the container is recreated because its image id changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import docker

# Marks the images built here. Earlier builds are kept: each holds only its own copy of the
# files (a few KB; the base layers are shared), and removing them could race another `up`.
LABEL_OVERLAY = "io.logtray.overlay"


def overlay_repo(service: str) -> str:
    return f"logtray/{service}"


def overlay_tag(service: str, base_image_id: str, context: Path) -> str:
    """`logtray/<service>:<hash>` of the base image's id and every file of the build context."""
    digest = hashlib.sha256(base_image_id.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(b"\0" + str(path.relative_to(context)).encode() + b"\0")
        digest.update(path.read_bytes())
    return f"{overlay_repo(service)}:{digest.hexdigest()[:12]}"


def build_overlay(
    client: docker.DockerClient,
    base: str,
    context: Path,
    tag: str,
) -> str:
    """Build `tag` from the Dockerfile in `context` with ARG BASE=`base`; the image id.

    Nothing is pulled and no network is used: the base is already here (the manager pulled
    it on purpose) and the build only copies files. Raises docker.errors.BuildError.
    The image carries no stack labels: the builder's temporary container would inherit them
    and show up in the stack's events as if the service had started.
    """
    image, _ = client.images.build(
        path=str(context),
        tag=tag,
        buildargs={"BASE": base},
        labels={LABEL_OVERLAY: tag.rsplit(":", 1)[0]},
        pull=False,
        network_mode="none",
        rm=True,
        forcerm=True,
    )
    return str(image.id)

"""Checks before `up` pulls gigabytes: the engine's disk against Elasticsearch's watermarks,
the engine's memory against the services' limits. Each failure is one sentence and its fix.

Pure functions over numbers (`disk_finding`, `memory_finding`) and one function that reads the
engine (`run`). Skipped with `logtray stack up --skip-preflight` or `[stack] preflight = false`.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from logtray.stack.errors import LogtrayError
from logtray.stack.specs import (
    ES_IMAGE,
    KAFKA_IMAGE,
    KIBANA_IMAGE,
    PROFILES,
    RIEMANN_IMAGE,
    ServiceSpec,
    parse_mem,
)

GIB = 1024**3
# Elasticsearch's default disk watermarks: above the high one it assigns no shard to the node
# (on a single node: Kibana's system indices stay unassigned, Kibana never becomes ready);
# above the flood stage it makes every index read-only.
ES_HIGH_WATERMARK = 0.90
ES_FLOOD_STAGE = 0.95
# What the engine and its VM need beside the containers' limits.
MEMORY_HEADROOM = 0.10
# Approximate unpacked sizes of the shipped images (linux/amd64), for the disk estimate before
# a pull; any other image counts as 1 GiB.
IMAGE_SIZES: dict[str, int] = {
    KAFKA_IMAGE: int(0.45 * GIB),
    ES_IMAGE: int(1.4 * GIB),
    KIBANA_IMAGE: int(1.3 * GIB),
    RIEMANN_IMAGE: int(0.4 * GIB),
}
OTHER_IMAGE_SIZE = 1 * GIB

SKIP = "`logtray stack up --skip-preflight` (or `[stack] preflight = false`) skips this check"


class PreflightFailed(LogtrayError):
    """The engine cannot run this stack as configured; nothing was pulled or created."""


@dataclass(frozen=True)
class Finding:
    message: str
    fix: str


def pull_size(images: Iterable[str]) -> int:
    return sum(IMAGE_SIZES.get(image, OTHER_IMAGE_SIZE) for image in set(images))


def disk_finding(
    root: str, free: int, total: int, pulling: int, elasticsearch: bool
) -> Finding | None:
    """Too little disk where Docker keeps images and volumes, after pulling `pulling` bytes."""
    if total <= 0:
        return None
    after = free - pulling
    used = 1 - after / total
    gib = f"{pulling / GIB:.1f} GiB of images"
    if after <= 0:
        return Finding(
            f"not enough disk for this stack: pulling {gib} needs more than the "
            f"{free / GIB:.1f} GiB free where Docker keeps its data ({root})",
            f"free space there (`docker system prune` removes unused images); {SKIP}",
        )
    if elasticsearch and used >= ES_HIGH_WATERMARK:
        stage = "read-only indices" if used >= ES_FLOOD_STAGE else "no shard assigned"
        return Finding(
            f"the disk where Docker keeps its data ({root}) would be {used:.0%} full after "
            f"pulling {gib} ({free / GIB:.1f} GiB free now): above "
            f"{ES_HIGH_WATERMARK:.0%} Elasticsearch assigns no shard, so Kibana never becomes "
            f"ready, and above {ES_FLOOD_STAGE:.0%} it makes every index read-only ({stage})",
            "free space there (`docker system prune` removes unused images and containers), or "
            f"use `--profile lite` (no Elasticsearch); {SKIP}",
        )
    return None


def memory_finding(specs: Sequence[ServiceSpec], engine_mem: int) -> Finding | None:
    """The services' memory limits against what the engine has (minus a headroom)."""
    need = sum(parse_mem(s.mem_limit) for s in specs if s.mem_limit)
    usable = engine_mem * (1 - MEMORY_HEADROOM)
    if not engine_mem or need <= usable:
        return None
    lite = [s for s in specs if s.name in PROFILES["lite"]]
    lite_need = sum(parse_mem(s.mem_limit) for s in lite if s.mem_limit)
    suggest = ""
    if len(lite) < len(specs) and lite_need <= usable:
        suggest = f"use `--profile lite` ({lite_need / GIB:.2f} GiB: Kafka and the demo), or "
    return Finding(
        f"not enough memory for this stack: its services' limits add up to {need / GIB:.2f} GiB, "
        f"the Docker engine has {engine_mem / GIB:.1f} GiB",
        f"{suggest}disable services or lower their mem_limit in [stack.services.<name>], or give "
        f"Docker more memory (Docker Desktop: Settings > Resources); {SKIP}",
    )


def _local_disk(
    info: dict[str, Any], disk_usage: Callable[[str], Any], hostname: str
) -> tuple[str, int, int] | None:
    """(root, free, total) of Docker's data root when the engine runs on this machine; None
    for an engine in a VM or elsewhere (Docker Desktop, Colima, a remote host): its disk is
    not ours to see, and the check is left out."""
    root = str(info.get("DockerRootDir") or "")
    if not root or info.get("Name") != hostname or not os.path.isdir(root):
        return None
    try:
        usage = disk_usage(root)
    except OSError:
        return None
    return root, int(usage.free), int(usage.total)


def engine_disk(info: dict[str, Any]) -> tuple[str, int, int] | None:
    """(root, free, total) of Docker's data root, when the engine runs on this machine."""
    return _local_disk(info, shutil.disk_usage, socket.gethostname())


def run(
    info: dict[str, Any],
    specs: Sequence[ServiceSpec],
    missing_images: Iterable[str],
    disk_usage: Callable[[str], Any] = shutil.disk_usage,
    hostname: str | None = None,
) -> None:
    """Raise PreflightFailed with every finding; `info` is the engine's `docker info`."""
    findings: list[Finding] = []
    disk = _local_disk(info, disk_usage, hostname or socket.gethostname())
    if disk is not None:
        root, free, total = disk
        es = any(s.name == "elasticsearch" for s in specs)
        found = disk_finding(root, free, total, pull_size(missing_images), es)
        if found:
            findings.append(found)
    found = memory_finding(specs, int(info.get("MemTotal") or 0))
    if found:
        findings.append(found)
    if not findings:
        return
    if len(findings) == 1:
        raise PreflightFailed(findings[0].message, fix=findings[0].fix)
    raise PreflightFailed(
        "\n".join(f.message for f in findings), fix="\n".join(f.fix for f in findings)
    )

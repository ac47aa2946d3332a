"""Preflight: disk against Elasticsearch's watermarks, memory against the profile. Pure."""

from __future__ import annotations

import argparse
import socket
from collections import namedtuple
from pathlib import Path

import pytest

from logtray.stack import preflight
from logtray.stack.config import StackConfig
from logtray.stack.preflight import GIB, PreflightFailed, disk_finding, memory_finding, pull_size
from logtray.stack.specs import ES_IMAGE, KIBANA_IMAGE, resolve
from logtray.tray.base.config import ListenerConfig

LISTENER = ListenerConfig(port=10123, token="t")
FULL = resolve(StackConfig(), LISTENER)
LITE = resolve(StackConfig(profile="lite"), LISTENER)
Usage = namedtuple("Usage", "total used free")


def test_full_profile_on_docker_desktops_default_vm_suggests_lite() -> None:
    # An 8 GB Mac: Docker Desktop's VM gets half. The full profile's limits are 3.75 GiB.
    found = memory_finding(FULL, 4 * GIB)
    assert found is not None
    assert "3.75 GiB" in found.message and "4.0 GiB" in found.message
    assert found.fix.startswith("use `--profile lite`") and "--skip-preflight" in found.fix
    assert memory_finding(FULL, 16 * GIB) is None
    assert memory_finding(LITE, 4 * GIB) is None
    # Where even lite does not fit, lite is not suggested.
    tiny = memory_finding(FULL, 1 * GIB)
    assert tiny is not None and "--profile lite" not in tiny.fix
    assert memory_finding(FULL, 0) is None  # the engine did not say: no verdict


def test_disk_against_elasticsearch_watermarks() -> None:
    total = 100 * GIB
    assert disk_finding("/var/lib/docker", 50 * GIB, total, 3 * GIB, elasticsearch=True) is None
    high = disk_finding("/var/lib/docker", 12 * GIB, total, 3 * GIB, elasticsearch=True)
    assert high is not None
    assert "/var/lib/docker" in high.message and "91% full" in high.message
    assert "Kibana never becomes ready" in high.message and "no shard assigned" in high.message
    assert "docker system prune" in high.fix and "--profile lite" in high.fix
    flood = disk_finding("/var/lib/docker", 6 * GIB, total, 2 * GIB, elasticsearch=True)
    assert flood is not None and "read-only indices" in flood.message
    # Without Elasticsearch the watermarks do not matter; running out of disk does.
    assert disk_finding("/d", 6 * GIB, total, 2 * GIB, elasticsearch=False) is None
    full = disk_finding("/d", 1 * GIB, total, 2 * GIB, elasticsearch=False)
    assert full is not None and "not enough disk" in full.message


def test_pull_size_counts_each_image_once() -> None:
    assert pull_size([ES_IMAGE, ES_IMAGE]) == pull_size([ES_IMAGE])
    assert pull_size([ES_IMAGE, KIBANA_IMAGE]) > 2 * GIB
    assert pull_size(["someone/else:1"]) == preflight.OTHER_IMAGE_SIZE


def test_run_reads_the_engines_data_root_only_when_it_is_local(tmp_path: Path) -> None:
    seen: list[str] = []

    def usage(path: str) -> Usage:
        seen.append(path)
        return Usage(100 * GIB, 95 * GIB, 5 * GIB)

    info = {"Name": socket.gethostname(), "DockerRootDir": str(tmp_path), "MemTotal": 16 * GIB}
    with pytest.raises(PreflightFailed) as err:
        preflight.run(info, FULL, [ES_IMAGE], disk_usage=usage)
    assert seen == [str(tmp_path)] and str(tmp_path) in err.value.message
    # Docker Desktop / Colima / remote: the data root is in a VM or elsewhere: not checked.
    seen.clear()
    preflight.run({**info, "Name": "docker-desktop"}, FULL, [ES_IMAGE], disk_usage=usage)
    preflight.run({**info, "DockerRootDir": str(tmp_path / "nope")}, FULL, [], disk_usage=usage)
    assert seen == []
    # Both findings at once: two sentences, two fixes.
    with pytest.raises(PreflightFailed) as both:
        preflight.run({**info, "MemTotal": 2 * GIB}, FULL, [ES_IMAGE], disk_usage=usage)
    assert "not enough memory" in both.value.message and "full after" in both.value.message
    assert both.value.fix is not None and both.value.fix.count("--skip-preflight") == 2


def test_skip_preflight_flag_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from logtray.tray.commands.stack_cmd import _config

    monkeypatch.setenv("LOGTRAY_CONFIG", str(tmp_path / "none.toml"))
    assert _config(argparse.Namespace(profile=None, skip_preflight=False)).stack.preflight
    flagged = _config(argparse.Namespace(profile="lite", skip_preflight=True)).stack
    assert flagged.preflight is False and flagged.profile == "lite"
    (tmp_path / "c.toml").write_text("[stack]\npreflight = false\n")
    monkeypatch.setenv("LOGTRAY_CONFIG", str(tmp_path / "c.toml"))
    assert _config(argparse.Namespace(profile=None)).stack.preflight is False

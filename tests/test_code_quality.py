"""ruff and mypy on the package, so CI keeps the code clean and typed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff():
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "tray", "stack", "pipeline", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy(tmp_path):
    # The folders are installed as logtray.tray / logtray.stack / logtray.icons /
    # logtray.pipeline (pyproject.toml maps them); mypy reads them under those names through a
    # tree of links.
    package = tmp_path / "logtray"
    package.mkdir()
    for name in ("tray", "stack", "icons", "pipeline"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    command = [str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml")]
    command += [
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        "-p",
        "logtray.tray",
        "-p",
        "logtray.stack",
        "-p",
        "logtray.pipeline",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts():
    # The rooms' contracts in pyproject.toml: stack/ stands alone, tray/ in layers, and the
    # alert path never reaches the Docker SDK (docs/architecture.md).
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_a_forbidden_import_breaks_the_contracts(tmp_path):
    # The contracts must bite: a copy of the code in which stack/ imports tray/, the alert
    # path imports the desktop and pipeline/ imports stack/, is refused with the contracts named.
    package = tmp_path / "logtray"
    package.mkdir()
    for name in ("tray", "stack", "pipeline"):
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    labels = package / "stack" / "labels.py"
    labels.write_text(labels.read_text() + "\nfrom logtray.tray.base import paths  # noqa\n")
    policy = package / "tray" / "alerts" / "policy.py"
    policy.write_text(policy.read_text() + "\nfrom logtray.tray.desktop import menu  # noqa\n")
    record = package / "pipeline" / "record.py"
    record.write_text(record.read_text() + "\nfrom logtray.stack import labels  # noqa\n")
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "stack/ stands alone: it imports nothing from tray/ BROKEN" in result.stdout
    assert "logtray.stack.labels -> logtray.tray.base.paths" in result.stdout
    assert "logtray.tray.alerts.policy -> logtray.tray.desktop.menu" in result.stdout
    assert "pipeline/ is the lowest room: it imports neither tray/ nor stack/ BROKEN" in (
        result.stdout
    )
    assert "logtray.pipeline.record -> logtray.stack.labels" in result.stdout

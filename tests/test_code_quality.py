"""ruff and mypy on the package, so CI keeps the code clean and typed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff():
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "tray", "stack", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy(tmp_path):
    # The folders are installed as logtray.tray / logtray.stack / logtray.icons (pyproject.toml
    # maps them); mypy reads them under those names through a tree of links.
    package = tmp_path / "logtray"
    package.mkdir()
    for name in ("tray", "stack", "icons"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    command = [str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml")]
    command += [
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        "-p",
        "logtray.tray",
        "-p",
        "logtray.stack",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""The README's install-and-run command works as written: run it in a clean venv.

The command is taken from README.md itself (so the two cannot drift apart), with the venv in a
temporary directory and `logtray --version` in place of the tray. pip answers from its cache
when the test command's own install ran before (as in .ci/run), so this takes a minute or so.
The apt line above it must name only packages .ci/run installs (in CI: that are installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def _code_lines(text: str) -> list[str]:
    return [line[4:] for line in text.splitlines() if line.startswith("    ") and line.strip()]


def install_command() -> str:
    lines = [
        line for line in _code_lines(_section("The two commands")) if "pip install '.[gtk]'" in line
    ]
    assert len(lines) == 1, lines
    return lines[0]


def apt_packages() -> list[str]:
    """The packages of the apt line right before the install command."""
    lines = _code_lines(_section("The two commands"))
    before = lines[: lines.index(install_command())]
    apt = [line for line in before if line.startswith("sudo apt install ")]
    assert apt, "no apt line before the install command"
    return sorted(apt[-1].split()[3:])


def test_the_apt_line_names_what_ci_installs():
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    listed = re.search(r"packages=\((.*?)\)", ci_run, re.S)
    assert listed is not None
    ci_packages = set(listed.group(1).split())
    missing = [pkg for pkg in apt_packages() if pkg not in ci_packages]
    assert not missing, f"README's apt line names {missing}, which .ci/run does not install"


def test_the_install_command_works_in_a_clean_venv(tmp_path):
    command = install_command()
    assert command.startswith("python3 -m venv .venv && ") and command.endswith(
        "&& .venv/bin/logtray"
    ), command
    venv = tmp_path / "venv"
    # Same words, another place for the venv, and --version instead of staying in the tray.
    runnable = command.replace(".venv", str(venv)) + " --version"
    if sys.platform.startswith("linux") and shutil.which("dpkg-query"):
        for pkg in apt_packages():
            status = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
            ).stdout
            if "install ok installed" not in status:
                need(False, f"{pkg} (README's apt line) is not installed; `bash .ci/run` does it")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # pip's own cache, not the test's empty XDG_CACHE_HOME: .ci/run's install just filled it
    # (the PyGObject wheel built there takes minutes to build again).
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    # The interpreter of the README's words, `python3`, as found on PATH (not this venv's).
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != Path(sys.executable).parent
    )
    result = subprocess.run(
        ["bash", "-c", runnable],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("logtray "), result.stdout[-500:]
    # The installed package, not this source tree, answered; and the GTK binding is there.
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import gi, importlib.util, logtray.tray as t; "
            # only names this project owns: no generic top-level `tray`, `stack` or `icons`
            "assert not any(importlib.util.find_spec(n) for n in ('tray', 'stack', 'icons')); "
            "print(t.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert str(venv) in check.stdout


def test_the_commands_table_names_every_command():
    import argparse

    from logtray.tray.commands.cli import build_parser

    sub = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    table = _section("Commands")
    missing = [name for name in sub.choices if f"`logtray {name}" not in table]
    assert not missing, f"README's Commands table lacks {missing}"

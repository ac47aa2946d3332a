"""Open in editor: container paths mapped to local files, never outside the mapped folder."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.base.config import ConfigError, EditorConfig, load_config
from logtray.tray.delivery.editor import EditorTarget, map_path, open_target, resolve


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "payments"
    (root / "billing").mkdir(parents=True)
    (root / "billing" / "pay.py").write_text("x = 1\n")
    (root / "payments.py").write_text("y = 2\n")
    return root


def test_maps_the_longest_prefix(source: Path, tmp_path: Path):
    paths = {"/app": str(source), "/app/vendor": str(tmp_path / "vendor")}
    assert map_path(paths, "/app/billing/pay.py") == source / "billing" / "pay.py"
    assert map_path(paths, "/app/vendor/lib.py") == tmp_path / "vendor" / "lib.py"
    assert "no [editor] paths mapping matches" in str(map_path(paths, "/application/x.py"))
    assert "no [editor] paths mapping in the config" in str(map_path({}, "/app/x.py"))


def test_home_is_expanded(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert map_path({"/app": "~/src/payments"}, "/app/a.py") == tmp_path / "src/payments/a.py"


@pytest.mark.parametrize(
    "pathname",
    [
        "/app/../etc/passwd",
        "/app/billing/../../x",
        "/app/./x.py",
        "/app",
        "/app/",
        "/app\\..\\..\\x",
        "/app/x\x00.py",
        "/app/x\n.py",
    ],
)
def test_paths_that_would_leave_the_folder_are_refused(source: Path, pathname: str):
    assert isinstance(map_path({"/app": str(source)}, pathname), str)


@given(st.text(max_size=60))
def test_any_path_stays_inside_the_mapped_folder(tail):
    root = Path("/home/dev/src/payments")
    mapped = map_path({"/app": str(root)}, "/app/" + tail)
    if isinstance(mapped, Path):
        assert mapped.is_relative_to(root) and mapped != root
        assert ".." not in mapped.parts


def test_url_template(source: Path):
    config = EditorConfig(paths={"/app": str(source)}, url="vscode://file/{path}:{line}")
    target = resolve(config, "/app/billing/pay.py", 88)
    assert isinstance(target, EditorTarget)
    assert target.url == f"vscode://file{source}/billing/pay.py:88"
    missing = resolve(config, "/app/missing.py", 1)
    assert isinstance(missing, str) and "does not exist" in missing


def test_command_gets_plus_line_and_an_absolute_file(source: Path):
    config = EditorConfig(paths={"/app": str(source)})
    target = resolve(
        config, "/app/payments.py", 12, environ={"EDITOR": "vim", "VISUAL": "emacs -nw"}
    )
    assert isinstance(target, EditorTarget)
    assert target.argv == ("emacs", "-nw", "+12", str(source / "payments.py"))
    no_line = resolve(config, "/app/payments.py", -5, environ={"EDITOR": "nano"})
    assert isinstance(no_line, EditorTarget) and no_line.argv == (
        "nano",
        str(source / "payments.py"),
    )
    none = resolve(config, "/app/payments.py", 1, environ={})
    assert isinstance(none, str) and "$VISUAL" in none
    # A file named like an option stays a path.
    (source / "-rf").write_text("")
    odd = resolve(config, "/app/-rf", 1, environ={"EDITOR": "vi"})
    assert isinstance(odd, EditorTarget) and odd.argv[-1].startswith("/")


def test_open_target_runs_the_editor_for_real(source: Path, tmp_path: Path):
    out = tmp_path / "editor-args"
    script = tmp_path / "fake-editor"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{out}"\n')
    script.chmod(0o755)
    config = EditorConfig(paths={"/app": str(source)}, command=str(script))
    target = resolve(config, "/app/billing/pay.py", 3)
    assert isinstance(target, EditorTarget)
    open_target(target, open_url=lambda url: pytest.fail(f"opened {url}"))
    deadline = time.monotonic() + 10
    while not (out.exists() and out.read_text().count("\n") == 2):
        assert time.monotonic() < deadline, "the editor was not started"
        time.sleep(0.02)
    assert out.read_text().splitlines() == ["+3", str(source / "billing" / "pay.py")]


def test_url_template_is_checked_at_load(tmp_path: Path):
    for bad in ("javascript:alert('{path}')", "https://evil.example/{path}", "vscode://file"):
        (tmp_path / "c.toml").write_text(f"[editor]\nurl = {json.dumps(bad)}\n")
        with pytest.raises(ConfigError, match=r"\[editor\] url"):
            load_config(path=tmp_path / "c.toml", environ={})
    (tmp_path / "c.toml").write_text(
        '[editor]\nurl = "vscode://file/{path}:{line}"\npaths = {"/app" = "~/src/payments"}\n'
    )
    config = load_config(path=tmp_path / "c.toml", environ={})
    assert config.editor.paths == {"/app": "~/src/payments"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_relative_local_folder_is_refused():
    assert "not an absolute folder" in str(map_path({"/app": "src/x"}, "/app/a.py"))
    assert os.path.isabs(str(map_path({"/app": "/src/x"}, "/app/a.py")))


def test_a_name_the_file_system_refuses_disables_the_editor_with_the_reason(source: Path):
    # A sender's path segment longer than NAME_MAX raises ENAMETOOLONG from is_file().
    config = EditorConfig(paths={"/app": str(source)})
    reason = resolve(config, "/app/" + "x" * 300 + ".py", 1)
    assert isinstance(reason, str) and "too long" in reason.lower()

"""Open in editor: container paths mapped to local files, never outside the mapped folder."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.base.config import ConfigError, EditorConfig, load_config
from logtray.tray.delivery.editor import (
    EditorTarget,
    find_local,
    map_path,
    open_target,
    resolve,
)


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


# ------------------------------------------------------------------------- [editor] roots


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout as a developer has it: Go, Node and Java sources, and links in and out."""
    root = tmp_path / "src" / "shop"
    (root / "go-zap").mkdir(parents=True)
    (root / "go-zap" / "payments.go").write_text("package main\n")
    (root / "payments.js").write_text("// pay\n")
    java = root / "src" / "main" / "java" / "com" / "shop" / "payments"
    java.mkdir(parents=True)
    (java / "PaymentService.java").write_text("class PaymentService {}\n")
    (root / "folder.py").mkdir()  # a folder named like a file is not opened
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours\n")
    (root / "escape.py").symlink_to(outside)
    (root / "linked").symlink_to(tmp_path)  # a link to a folder above the root
    (root / "alias.js").symlink_to(root / "payments.js")  # a link that stays inside
    return root


def roots(*folders: Path | str, **more: str) -> EditorConfig:
    return EditorConfig(roots=tuple(str(f) for f in folders), command="vi", **more)


def test_a_container_path_opens_by_its_longest_trailing_components(checkout: Path):
    config = roots(checkout)
    # /srv/app/go-zap/payments.go: srv/app/go-zap/payments.go, app/go-zap/…, go-zap/payments.go
    target = resolve(config, "/srv/app/go-zap/payments.go", 23)
    assert isinstance(target, EditorTarget)
    assert target.argv == ("vi", "+23", str(checkout / "go-zap" / "payments.go"))
    # zap's caller is relative to the module: the same file.
    assert resolve(config, "go-zap/payments.go", 23) == target
    # Only the file name in common: still found, and the longest match wins over it.
    (checkout / "payments.go").write_text("package other\n")
    assert resolve(config, "/srv/app/go-zap/payments.go", 23) == target
    assert find_local(config, "/elsewhere/payments.go") == checkout / "payments.go"


def test_roots_are_tried_in_turn(checkout: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_local(roots(empty, checkout), "/srv/app/payments.js") == checkout / "payments.js"


def test_a_java_class_s_file_is_found_under_its_package(checkout: Path):
    found = find_local(
        roots(checkout), "PaymentService.java", "com.shop.payments.PaymentService.charge"
    )
    assert found == checkout / "src/main/java/com/shop/payments/PaymentService.java"
    # Without the package, a bare class file is only looked for at the roots' top.
    assert isinstance(find_local(roots(checkout), "PaymentService.java"), str)


def test_not_found_names_what_was_tried_and_how_to_set_roots(checkout: Path):
    reason = find_local(roots(checkout), "/srv/app/billing/refund.py")
    assert isinstance(reason, str)
    assert str(checkout / "srv/app/billing/refund.py") in reason
    assert str(checkout / "refund.py") in reason and "more" not in reason
    two = find_local(roots(checkout, checkout / "go-zap"), "/srv/app/billing/refund.py")
    assert isinstance(two, str) and "and 4 more" in two
    assert "[editor] roots" in reason and "~/src/" in reason
    unset = resolve(EditorConfig(), "/srv/app/payments.js", 3)
    assert isinstance(unset, str) and 'roots = ["~/src/' in unset


@pytest.mark.parametrize(
    "pathname",
    [
        "/srv/app/escape.py",  # a link to a file outside the root
        "linked/secret.txt",  # through a link to a folder above it
        "../secret.txt",
        "/srv/app/../../secret.txt",
        "folder.py",
        "/srv/app/pay\nments.js",
        "",
    ],
)
def test_only_a_regular_file_inside_a_root_is_opened(checkout: Path, pathname: str):
    found = find_local(roots(checkout), pathname)
    assert isinstance(found, str), found


def test_a_link_that_stays_inside_the_root_is_followed(checkout: Path):
    assert find_local(roots(checkout), "/srv/app/alias.js") == checkout / "payments.js"


def test_paths_are_tried_before_roots(checkout: Path, tmp_path: Path):
    mapped = tmp_path / "mapped"
    mapped.mkdir()
    (mapped / "payments.js").write_text("// mapped\n")
    config = roots(checkout, paths={"/srv/app": str(mapped)})
    assert find_local(config, "/srv/app/payments.js") == mapped / "payments.js"
    # The mapping names no existing file: the roots still find it.
    assert find_local(config, "/srv/app/go-zap/payments.go") == checkout / "go-zap/payments.go"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["srv", "app", "go-zap", "payments.go", "..", ".", "linked", "escape.py"])
        | st.text(max_size=12),
        max_size=8,
    ),
    st.sampled_from(["/", "", "C:/", "file:///", "\\"]),
    st.none() | st.text(max_size=40) | st.just("com.shop.payments.PaymentService.charge"),
)
def test_any_sender_path_opens_a_regular_file_inside_a_root_or_says_why(
    tmp_path_factory, parts, lead, function
):
    base = tmp_path_factory.getbasetemp() / "roots"
    root = base / "shop"
    if not root.exists():
        (root / "go-zap").mkdir(parents=True)
        (root / "go-zap" / "payments.go").write_text("package main\n")
        (base / "secret.txt").write_text("x\n")
        (root / "escape.py").symlink_to(base / "secret.txt")
        (root / "linked").symlink_to(base)
    found = find_local(roots(root), lead + "/".join(parts), function)
    if isinstance(found, Path):
        real = Path(os.path.realpath(root))
        assert found.is_relative_to(real) and found.is_file() and not found.is_symlink()
    else:
        assert found and "\n" not in found


def test_roots_are_read_and_checked_at_load(tmp_path: Path):
    (tmp_path / "c.toml").write_text('[editor]\nroots = ["src/relative"]\n')
    with pytest.raises(ConfigError, match=r"\[editor\] roots"):
        load_config(path=tmp_path / "c.toml", environ={})
    (tmp_path / "c.toml").write_text('[editor]\nroots = ["~/src/shop", "/opt/src"]\n')
    config = load_config(path=tmp_path / "c.toml", environ={})
    assert config.editor.roots == ("~/src/shop", "/opt/src")

"""Open in editor: a container path (from a stranger's alert) to a local file, opened at the line.

`[editor] paths` maps container path prefixes to local source folders, e.g.
`{"/app" = "~/src/payments"}`; `/app/billing/pay.py` then opens `~/src/payments/billing/pay.py`.
The alert's path is untrusted: the mapped file must stay inside the mapped folder (no `..`),
and what we run never sees anything that could be read as an option (the file is always an
absolute path, the line an integer). `resolve` is pure; `open_target` is the edge.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from logtray.tray.alerts.evidence import MAX_LINENO
from logtray.tray.base.config import EditorConfig
from logtray.tray.base.errors import LogtrayError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditorTarget:
    """Where to open, and how: a URL (template configured) or a command line."""

    path: Path
    line: int | None
    url: str | None = None
    argv: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.url or shlex.join(self.argv)


def map_path(paths: Mapping[str, str], pathname: str) -> Path | str:
    """The local file for a container path, or the reason there is none."""
    if not paths:
        return 'no [editor] paths mapping in the config (e.g. paths = {"/app" = "~/src/app"})'
    if not pathname or any(ord(c) < 0x20 or c == "\x7f" for c in pathname):
        return "the alert's path is empty or has control characters"
    normal = pathname.replace("\\", "/")
    # The longest matching prefix wins: /app/vendor before /app.
    for prefix in sorted(paths, key=len, reverse=True):
        root = prefix.replace("\\", "/").rstrip("/")
        if normal != root and not normal.startswith(root + "/"):
            continue
        parts = [part for part in normal[len(root) :].split("/") if part]
        if not parts or any(part in ("..", ".") for part in parts):
            return f"{pathname!r} is not a file inside {prefix!r}"
        local_root = Path(os.path.normpath(os.path.expanduser(paths[prefix])))
        if not local_root.is_absolute():
            return f"[editor] paths: {paths[prefix]!r} is not an absolute folder"
        target = Path(os.path.normpath(local_root.joinpath(*parts)))
        if os.path.commonpath([local_root, target]) != str(local_root):
            return f"{pathname!r} leaves {paths[prefix]!r}"
        return target
    return f"no [editor] paths mapping matches {pathname!r} (mapped: {', '.join(sorted(paths))})"


def resolve(
    config: EditorConfig,
    pathname: str | None,
    line: int | None,
    environ: Mapping[str, str] | None = None,
    exists: Callable[[Path], bool] = Path.is_file,
) -> EditorTarget | str:
    """How to open `pathname` at `line`, or the sentence saying why it cannot be opened."""
    if not pathname:
        return "the alert names no file"
    mapped = map_path(config.paths, pathname)
    if isinstance(mapped, str):
        return mapped
    try:
        found = exists(mapped)
    except OSError as exc:  # a sender's name too long for the file system, a folder we cannot read
        return f"{mapped}: {exc.strerror or exc}"
    if not found:
        return f"{mapped} does not exist (check [editor] paths)"
    if not (isinstance(line, int) and not isinstance(line, bool) and 1 <= line <= MAX_LINENO):
        line = None
    if config.url:
        quoted = quote(mapped.as_posix(), safe="/:")
        if "/{path}" in config.url:  # vscode://file/{path}: one slash before the path, not two
            quoted = quoted.lstrip("/")
        url = config.url.replace("{path}", quoted).replace("{line}", str(line or 1))
        return EditorTarget(mapped, line, url=url)
    environ = os.environ if environ is None else environ
    command = config.command or environ.get("VISUAL") or environ.get("EDITOR") or ""
    try:
        argv = shlex.split(command)
    except ValueError:
        return f"the editor command {command!r} cannot be split into words"
    if not argv:
        return "no editor: set [editor] url or command, or $VISUAL / $EDITOR"
    # `+LINE file` is understood by vi, vim, nvim, emacs, nano, micro, kak, gedit, kate...
    # The file is absolute (it starts with "/"), so it can never be taken for an option.
    return EditorTarget(mapped, line, argv=(*argv, *([f"+{line}"] if line else []), str(mapped)))


def open_target(target: EditorTarget, open_url: Callable[[str], object]) -> None:
    """Open it (the true edge: the user's editor). Raises LogtrayError with the reason."""
    if target.url:
        open_url(target.url)
        return
    try:
        process = subprocess.Popen(
            target.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise LogtrayError(
            f"cannot start the editor {target.argv[0]!r}: {exc.strerror}",
            fix="set [editor] command (or $VISUAL) to an editor that is installed",
        ) from None
    # Waited for in a daemon thread, so no editor is left behind as a zombie.
    threading.Thread(target=process.wait, name="logtray-editor", daemon=True).start()

"""Open in editor: a path from a container or another machine (a stranger's alert) to a local
file, opened at the line.

Two ways to say where the sources are:
- `[editor] roots`, folders holding checkouts, e.g. `["~/src/payments"]`: the path's trailing
  components are tried under each, longest first, so `/srv/app/go-zap/payments.go` opens
  `~/src/payments/go-zap/payments.go` (or `~/src/payments/payments.go`), and a Java class's
  `PaymentService.java` is looked for under its package's folders too;
- `[editor] paths`, container prefixes mapped to folders, e.g. `{"/app" = "~/src/payments"}`:
  `/app/billing/pay.py` opens `~/src/payments/billing/pay.py` (tried first).
The alert's path is untrusted: only a regular file that exists is opened, inside its folder
once every symbolic link is followed (no `..`, no link out), and what we run never sees
anything that could be read as an option (the file is always an absolute path, the line an
integer). `resolve` reads the file system only to check; `open_target` is the edge.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
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
    """The local file for a container path by [editor] paths, or the reason there is none."""
    mapped = _map(paths, pathname)
    return mapped if isinstance(mapped, str) else mapped[1]


def _map(paths: Mapping[str, str], pathname: str) -> tuple[Path, Path] | str:
    """(the local folder, the file in it) for a container path, or the reason there is none."""
    if not paths:
        return 'no [editor] paths mapping in the config (e.g. paths = {"/app" = "~/src/app"})'
    if _unplain(pathname):
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
        local_root = Path(_local(paths[prefix]))
        if not local_root.is_absolute():
            return f"[editor] paths: {paths[prefix]!r} is not an absolute folder"
        target = Path(os.path.normpath(local_root.joinpath(*parts)))
        if os.path.commonpath([local_root, target]) != str(local_root):
            return f"{pathname!r} leaves {paths[prefix]!r}"
        return local_root, target
    return f"no [editor] paths mapping matches {pathname!r} (mapped: {', '.join(sorted(paths))})"


def _unplain(pathname: str) -> bool:
    return not pathname or any(ord(c) < 0x20 or c == "\x7f" for c in pathname)


# Where a Java, Kotlin or Scala class's sources usually are under a checkout: a stack names
# only the class's file (PaymentService.java); its package says the folders below these.
_SOURCE_SETS = ("src/main/java", "src/main/kotlin", "src/main/scala", "src/test/java", "src", "")
_CLASS_FILES = (".java", ".kt", ".scala")
MAX_PARTS = 32  # trailing components tried of a path (a deeper one is cut to its last ones)
SHOWN_TRIED = 4  # the paths a refusal names


def candidates(pathname: str, function: str | None = None) -> list[tuple[str, ...]] | str:
    """The relative paths a sender's path may have under a local root, longest first: its
    trailing components (`/srv/app/go-zap/payments.go`: `srv/app/go-zap/payments.go` …
    `payments.go`), and for a class file the package's folders (`com/shop/PaymentService.java`
    in the usual source sets). A reason instead when the path is not a plain relative one."""
    if _unplain(pathname):
        return "the alert's path is empty or has control characters"
    parts = [part for part in pathname.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return f"{pathname!r} is not a plain file path"
    parts = parts[-MAX_PARTS:]
    if ":" in parts[0]:  # C:, file: — a drive or a scheme is never under a root
        parts = parts[1:]
    tails = [tuple(parts[start:]) for start in range(len(parts))]
    if len(parts) == 1 and function and parts[0].endswith(_CLASS_FILES):
        # com.shop.payments.PaymentService.charge (Java), or Class$Inner.method: the package.
        names = function.split("(", 1)[0].split(".")
        package = [n for n in names[:-2] if n.isidentifier()]
        if package and len(package) == len(names) - 2:
            below = [
                (*source_set.split("/"), *package, parts[0]) if source_set else (*package, parts[0])
                for source_set in _SOURCE_SETS
            ]
            tails = below + tails
    return tails


def _inside(root: str, relative: tuple[str, ...]) -> Path | None:
    """The regular file `relative` names under `root`, when it is one and it stays inside the
    root once every symbolic link is followed; else None. Raises OSError for what the file
    system refuses other than a missing file (a name too long, a folder we cannot read)."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, *relative))
    if os.path.commonpath([real_root, target]) != real_root:
        return None
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Path(target) if stat.S_ISREG(mode) else None


def find_local(config: EditorConfig, pathname: str, function: str | None = None) -> Path | str:
    """The local file for a path from a container or another machine: by [editor] paths
    (a prefix mapped to a folder), else under [editor] roots (the path's trailing components,
    longest first); or the one sentence saying which paths were tried and what to set."""
    if _unplain(pathname):
        return "the alert's path is empty or has control characters"
    if config.paths:
        mapped = _map(config.paths, pathname)
        if isinstance(mapped, str):
            if not config.roots:
                return mapped
        else:
            local_root, target = mapped
            try:
                found = _inside(str(local_root), target.relative_to(local_root).parts)
            except OSError as exc:
                return f"{target}: {exc.strerror or exc}"
            if found is not None:
                return found
            if not config.roots:
                return f"{target} does not exist (check [editor] paths, or set [editor] roots)"
    if not config.roots:
        return (
            f"{pathname!r} is a path on the service's machine: set [editor] roots to the "
            'folders holding your checkouts, e.g. roots = ["~/src/payments"]'
        )
    tails = candidates(pathname, function)
    if isinstance(tails, str):
        return tails
    roots = [_local(root) for root in config.roots]
    tried: list[str] = []
    refused = ""
    for tail in tails:
        for root in roots:
            try:
                found = _inside(root, tail)
            except OSError as exc:
                found, refused = None, f"; {exc.strerror or exc}"
            if found is not None:
                return found
            tried.append(os.path.join(root, *tail))
    more = len(tried) - SHOWN_TRIED
    shown = ", ".join(tried[:SHOWN_TRIED]) + (f" and {more} more" if more > 0 else "")
    return (
        f"no file for {pathname!r} under [editor] roots (tried {shown}{refused}): add the "
        'folder holding that checkout to [editor] roots, e.g. roots = ["~/src/payments"]'
    )


def _local(folder: str) -> str:
    return os.path.normpath(os.path.expanduser(folder))


def resolve(
    config: EditorConfig,
    pathname: str | None,
    line: int | None,
    environ: Mapping[str, str] | None = None,
    function: str | None = None,
) -> EditorTarget | str:
    """How to open `pathname` at `line`, or the sentence saying why it cannot be opened."""
    if not pathname:
        return "the alert names no file"
    mapped = find_local(config, pathname, function)
    if isinstance(mapped, str):
        return mapped
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

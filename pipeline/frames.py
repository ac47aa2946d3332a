"""Where in the user's own code an error happened: the frames of a stack, and whose they are.

`frames(stack)` reads the stack text of the major runtimes into `Frame`s, innermost first:

- Python tracebacks (`File "x.py", line 3, in f`; innermost last, so read backwards),
- V8 / Node stacks (`at f (/srv/app/x.js:16:9)`, `at /srv/app/x.js:10:5`),
- Java traces (`at com.shop.Pay.charge(Pay.java:42)`, modules and `~[app.jar:?]` too), and the
  frame lines `pipeline/record.py` renders from Log4j 2's and zerolog's frame arrays,
- Go panics, `debug.Stack()`, zap's `stacktrace` and pkg/errors' `%+v` (a function line, then
  a tab-indented `path:line +0x1d` line),
- Rust backtraces (`  2: payments::process` then `at ./src/main.rs:14:5`),
- .NET (`at Shop.Pay.Charge() in /src/Pay.cs:line 42`).

`is_own(frame)` says whether a frame is the user's code rather than a library's or the
runtime's (site-packages, node_modules, `node:internal`, /usr/lib, `java.`, `jdk.internal`,
Go's standard library and GOROOT, Rust's `/rustc/` and std crates, cargo's registry…), and
`first_own(stack)` is the innermost such frame: where the user's code met the error.

Pure and total: any text in, never an exception; at most MAX_STACK code points are read and
at most MAX_FRAMES frames returned, each part bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

MAX_STACK = 8000  # as pipeline/record.py keeps a stack
MAX_FRAMES = 50
MAX_FILE = 500
MAX_FUNCTION = 200
MAX_LINE = 10_000_000
RUNTIMES = ("python", "node", "java", "go", "rust", "dotnet")
_LINE_CHARS = 2000  # a longer line is not a frame line (and is not scanned)


class Frame(NamedTuple):
    """One stack frame: the file as the stack writes it, the line, the function (or None)."""

    file: str
    line: int | None
    function: str | None
    runtime: str  # python, node, java, go, rust, dotnet: which notation it was read from

    def label(self) -> str:
        """'payments.js:16 in processPayment' (the file as written, line and function if known)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} in {self.function}" if self.function else where


_PYTHON = re.compile(r'\s*File "(?P<file>[^"]+)", line (?P<line>[0-9]+)(?:, in (?P<fn>.+))?')
# Java and logtray's rendering of frame arrays: `at name(place)`, no space before "(".
_JAVA = re.compile(r"\s*at (?P<fn>[^\s()]+)\((?P<place>[^()]*)\)(?:\s.*)?")
_DOTNET = re.compile(r"\s*at (?P<fn>.+?) in (?P<file>.+):line (?P<line>[0-9]+)\s*")
# V8 and Rust's "at" lines: `at [async] [fn (]place[)]`, place `file:line[:col]`.
_AT = re.compile(r"\s*at (?P<rest>.+)")
_PLACE = re.compile(r"(?P<file>.+?):(?P<line>[0-9]+)(?::[0-9]+)?")
# Go: the function line, then `\t/path/file.go:23 +0x1d` (the offset and fp= parts optional).
_GO_PLACE = re.compile(r"\t(?P<file>[^\t ]+?):(?P<line>[0-9]+)(?: .*)?")
_GO_CREATED = re.compile(r"created by (?P<fn>\S+)(?: in goroutine [0-9]+)?")
_RUST_FUNCTION = re.compile(r"\s*[0-9]+: (?P<fn>\S.*)")


def _line(text: str | None) -> int | None:
    if text is None or len(text) > 8:
        return None
    number = int(text)
    return number if number <= MAX_LINE else None


def _frame(file: str, line: str | None, function: str | None, runtime: str) -> Frame | None:
    file = file.strip()
    if not file:
        return None
    name = function.strip()[:MAX_FUNCTION] if function else ""
    return Frame(file[:MAX_FILE], _line(line), name or None, runtime)


def _java(function: str, place: str) -> Frame | None:
    match = _PLACE.fullmatch(place)
    file, line = (match.group("file"), match.group("line")) if match else (place, None)
    if not file or file in ("Native Method", "Unknown Source") or " " in file:
        return None
    runtime = "go" if file.endswith((".go", ".s")) else "java"
    if runtime == "java":
        # `java.base/java.lang.Thread.run`, `app//com.shop.Pay.charge`: the module or loader
        # goes. A Go function keeps its import path (`net/http.serve`): it tells the standard
        # library from a module (`github.com/...`), as in a panic's frames.
        function = function[function.rfind("/") + 1 :]
    return _frame(file, line, function, runtime)


def _node(rest: str, previous: str | None) -> Frame | None:
    """A V8 frame (`fn (place)` or `place`), or Rust's `at place` under its function line."""
    function = None
    if rest.endswith(")") and " (" in rest:
        cut = rest.rindex(" (")
        function, rest = rest[:cut], rest[cut + 2 : -1]
        function = function.removeprefix("async ").removeprefix("new ")
    match = _PLACE.fullmatch(rest)
    if match is None:
        return None
    file = match.group("file").removeprefix("file://")
    if function is None and previous is not None:
        rust = _RUST_FUNCTION.fullmatch(previous)
        if rust is not None:
            return _frame(file, match.group("line"), rust.group("fn"), "rust")
    return _frame(file, match.group("line"), function, "node")


def _go_function(text: str) -> str | None:
    """`main.(*T).f(0x1, {0x2})` -> `main.(*T).f`; `created by main.serve in goroutine 1` too."""
    created = _GO_CREATED.fullmatch(text)
    if created is not None:
        return created.group("fn")
    if text.endswith(")") and "(" in text:
        text = text[: text.rindex("(")]
    return None if not text or " " in text else text


def frames(stack: str) -> list[Frame]:
    """The frames of a stack, innermost first; [] when it names none."""
    return list(islice(_frames(stack), MAX_FRAMES))


def _frames(stack: str) -> Iterator[Frame]:
    """The frames, innermost first, read as they are asked for (`first_own` stops early)."""
    if not isinstance(stack, str):
        return
    lines = [line.rstrip("\r") for line in stack[:MAX_STACK].split("\n")]
    yield from _other_frames(lines)
    # A Python traceback lists the innermost call last (chained ones: the last is the raise).
    for line in reversed(lines):
        if len(line) <= _LINE_CHARS and line.lstrip().startswith("File "):
            match = _PYTHON.match(line)
            if match is not None:
                py = _frame(match.group("file"), match.group("line"), match.group("fn"), "python")
                if py is not None:
                    yield py


def _other_frames(lines: list[str]) -> Iterator[Frame]:
    """The frames of every notation but Python's, in the stack's order (innermost first)."""
    previous: str | None = None
    for line in lines:
        if len(line) > _LINE_CHARS:
            previous = None
            continue
        frame: Frame | None = None
        stripped = line.lstrip()
        if stripped.startswith("File "):
            pass  # Python's: read backwards by the caller
        elif line.startswith("\t") and previous is not None and not stripped.startswith("at "):
            match = _GO_PLACE.fullmatch(line)
            if match is not None:
                function = _go_function(previous.strip())
                frame = _frame(match.group("file"), match.group("line"), function, "go")
        elif stripped.startswith("at "):
            # Only a .NET line says ":line N" (its pattern backtracks: tried only then).
            if ":line " in line and (match := _DOTNET.fullmatch(line)) is not None:
                frame = _frame(
                    match.group("file"), match.group("line"), match.group("fn"), "dotnet"
                )
            elif (match := _JAVA.fullmatch(line)) is not None:
                frame = _java(match.group("fn"), match.group("place"))
            elif (match := _AT.fullmatch(line)) is not None:
                frame = _node(match.group("rest").strip(), previous)
        if frame is not None:
            yield frame
        previous = line


# Paths that are never the user's own code, wherever they appear (separators as "/").
_LIBRARY_PARTS = (
    "/site-packages/",
    "/dist-packages/",
    "/node_modules/",
    "/usr/lib/",
    "/usr/local/lib/",
    "/usr/share/",
    "/usr/local/go/",
    "/rustc/",
    "/.cargo/registry/",
    "/.cargo/git/",
    "/.rustup/",
    "/pkg/mod/",  # Go's module cache
    "/src/runtime/",  # Go's runtime in any GOROOT
    "/lib/python",
)
_LIBRARY_STARTS = (
    "node:",  # node:internal/…, node:events
    "internal/",  # Node before 16 wrote its own modules so
    "<frozen ",  # Python's frozen importlib
    "<",  # <string>, <anonymous>, <stdin>: no file to open
    "/rustc/",
)
_JAVA_LIBRARY = (
    *("java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala."),
    *("org.junit.", "org.springframework.", "org.apache.", "io.netty."),
)
_DOTNET_LIBRARY = ("System.", "Microsoft.")
_RUST_LIBRARY = (
    *("std::", "core::", "alloc::", "<std::", "<core::", "<alloc::", "__rust", "rust_"),
    *("tokio::", "<tokio::", "futures::", "<futures"),
)
_GO_STD = frozenset(
    (
        *("runtime", "testing", "reflect", "sync", "syscall", "os", "fmt", "net", "io", "time"),
        *("context", "errors", "log", "bufio", "bytes", "strings", "strconv", "sort", "flag"),
    )
)


def _go_library(function: str) -> bool:
    """Go's standard library: an import path whose first element has no dot (net/http.x),
    or one of its one-word packages (runtime.main); a module's path starts with a domain
    (github.com/…) and the program's own package is `main`."""
    if "/" in function:
        return "." not in function.split("/", 1)[0]
    return "." in function and function.split(".", 1)[0] in _GO_STD


def is_own(frame: Frame) -> bool:
    """True when the frame is the user's code (not a library's, not the runtime's)."""
    path = frame.file.replace("\\", "/")
    if path.startswith(_LIBRARY_STARTS) or any(part in path for part in _LIBRARY_PARTS):
        return False
    function = frame.function or ""
    if frame.runtime == "java":
        return not function.startswith(_JAVA_LIBRARY)
    if frame.runtime == "dotnet":
        return not function.startswith(_DOTNET_LIBRARY)
    if frame.runtime == "rust":
        return not function.startswith(_RUST_LIBRARY)
    if frame.runtime == "go":
        return not (path.endswith(".s") or _go_library(function))
    return True


def first_own(stack: str | None) -> Frame | None:
    """The innermost frame of the user's own code in `stack`; None when there is none."""
    if not stack:
        return None
    return next((frame for frame in islice(_frames(stack), MAX_FRAMES) if is_own(frame)), None)

"""A container's output lines as log records: multi-line entries joined, plain text read.

`Joiner` joins one container stream's lines into `Entry`s: a Python traceback, a Java stack
trace, a Go or Rust panic or a Node error stack becomes one entry, a JSON object line is an entry of
its own, any other line starts a new entry. `record_from_entry` turns an entry into the record
shipped to "program-logs"; `plain_level` reads the level of a plain-text line. The exact rules
are stated in docs/shipping.md; this module and that page change together.

Pure and total: any text in (control characters, lone surrogates, lines of any length), bounded
entries and records out, never an exception. A line cut or left out to keep an entry within its
bounds is counted and marked (`Entry.truncated`, a "[… N lines cut …]" line in the text), never
dropped silently.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from logtray.pipeline.record import MAX_FILE, MAX_LINE, service_of, time_of

# What a plain-text line's level is read from: its first characters (a level is written near
# the start; a long message is not searched through).
LEVEL_SCAN = 300

# ---------------------------------------------------------------------------- the patterns

_ANSI = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")

# A line that begins with a time begins an entry (the usual log line prefixes).
_STAMP = (
    r"\[?(?:"
    r"\d{4}[-/.]\d{2}[-/.]\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}"  # syslog: "Dec  7 13:00:00"
    r"|1\d{9}(?:\.\d+)?(?=\s)"  # epoch seconds (zap's console encoder)
    r")\]?"
)
_TIMESTAMPED = re.compile(
    rf"(?:{_STAMP}|[IWEF]\d{{4}} \d{{2}}:\d{{2}}:\d{{2}}|(?:time|ts|t)=\"?\d)", re.ASCII
)

_PY_TRACEBACK = "Traceback (most recent call last):"
_PY_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# A frame, also inside an exception group's drawing ("  |   File …", "    |   File …").
_PY_FRAME = re.compile(r'(?:[ |]*\| )?  File "(.*)", line (\d{1,9})', re.ASCII)
_PY_GROUP = "Exception Group Traceback (most recent call last):"
# An exception group's own exception line: "  | ExceptionGroup: … (2 sub-exceptions)".
_PY_GROUP_HEAD = re.compile(r"  \| ([A-Za-z_].*)")
# An exception's line: "pkg.Type: message" or a bare "Type" (KeyboardInterrupt).
_EXCEPTION_HEAD = re.compile(r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?:: (.*))?", re.ASCII)
# A throwable named on its own line (Java's, and any "SomeError: message"): a class name.
_JAVA_HEAD = re.compile(
    r'(?:Exception in thread "[^"]*" )?((?:[A-Za-z_$][\w$]*\.)*(?:[A-Za-z_$][\w$]*)?'
    r"(?:Exception|Error|Throwable|Failure))(?:: (.*))?",
    re.ASCII,
)
_JAVA_FRAME = re.compile(r"\s+at (?:[\w$./]+/)?[\w$.<>]+\(([^():]+):(\d{1,9})\)", re.ASCII)
# A JavaScript error's first line: "TypeError: x", "Error [ERR_X]: y".
_JS_HEAD = re.compile(
    r"((?:[A-Za-z_$][\w$]*)?(?:Error|Exception))(?: \[[\w.-]+\])?: (.*)", re.ASCII
)
# ... also after what console.error printed before it ("payment 4711 failed: Error: …").
_JS_HEAD_IN = re.compile(
    r"(?:^|(?<=[\s:]))((?:[A-Za-z_$][\w$]*)?(?:Error|Exception))(?: \[[\w.-]+\])?: (.*)", re.ASCII
)
# Where a Node frame points: "(/app/x.js:7:9)" at its end, or all after "at ".
_JS_PLACE = re.compile(r"((?:file://)?/[^():]*|[A-Za-z]:[^():]*):(\d{1,9}):\d{1,9}")
_CARET = re.compile(r" *\^+ *")
_GO_GOROUTINE = re.compile(r"goroutine \d+ \[[^\]]*\]:", re.ASCII)
_GO_NAME = re.compile(r"[\w./*()\[\]{}%-]+", re.ASCII)  # main.(*T).m, main.main.func1
_GO_FILE = re.compile(r"\t(/.*?\.go):(\d{1,9})(?: \+0x[0-9a-f]+)?", re.ASCII)
# Rust: "thread 'main' (42) panicked at src/main.rs:7:9:" and the message on the next line
# (since 1.73; before: "thread 'main' panicked at 'message', src/main.rs:7:9").
_RUST_PANIC = re.compile(
    r"thread '[^']*'(?: \(\d+\))? panicked at (?:'(.*)', )?([^:]+):(\d{1,9}):\d{1,9}:?"
)
# Frame lines are short; longer ones are not read as frames (and cost no regex time).
_FRAME_CHARS = 2000

# --------------------------------------------------------------------------- plain levels

# The level words as programs print them in capitals, with the four-letter forms of logrus.
_LEVEL_WORDS = {
    "debug": ("TRACE", "DEBUG", "DBG", "TRC", "DEBU", "TRAC", "FINE", "FINER", "FINEST"),
    "info": ("INFO", "INF", "NOTICE"),
    "warn": ("WARN", "WARNING", "WRN"),
    "error": ("ERROR", "ERR", "ERRO", "SEVERE"),
    "fatal": ("FATAL", "FTL", "FATA", "CRITICAL", "CRIT", "PANIC", "PANI", "ALERT", "EMERG"),
}
_UPPER = {word: level for level, words in _LEVEL_WORDS.items() for word in words}
# Spelled in any case, in a form that says it is a level: "[warn]", "level=warn", "warn:" at
# the start, or right after a leading time.
_ANY_CASE = {
    **{n.lower(): lv for n, lv in _UPPER.items() if n not in ("FINE", "FINER", "FINEST", "ALERT")},
    "warning": "warn",
    "information": "info",
}
_PLAIN = re.compile(
    r"(?P<glog>^[IWEF](?=\d{4} \d{2}:\d{2}:\d{2}))"
    r"|^(?P<start>Traceback \(most recent call last\):|Exception in thread "
    r"|(?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(?:Error|Exception)(?:: |:?$))"
    r"|^(?P<fatal>panic: |fatal error: |thread '[^']*'(?: \(\d+\))? panicked at )"
    r"|(?<![\w.-])(?:level|lvl|severity|loglevel|log\.level)\s*[=:]\s*[\"']?(?P<key>[A-Za-z]+)"
    r"|^(?P<word>[A-Za-z]+)(?=:)"
    rf"|^{_STAMP}[\s\]:|-]*(?P<after>[A-Za-z]+)(?=[\s:\]|]|$)"
    r"|[\[<(]\s*(?P<bracket>[A-Za-z]+)\s*[\]>)]"
    r"|(?<![A-Za-z0-9_])(?P<upper>[A-Z]{3,8})(?![A-Za-z0-9_=])",
    re.ASCII,
)
_GLOG = {"I": "info", "W": "warn", "E": "error", "F": "fatal"}


def plain_level(text: str) -> str | None:
    """The level a plain-text line states (debug, info, warn, error, fatal), or None.

    Read from the line's first 300 characters (colour codes aside), the first of these, left
    to right, that names a level wins: a glog prefix (`E1207 13:00:00.000000`); a line that
    starts an error (`Traceback (most recent call last):`, `Exception in thread`,
    `pkg.SomeError: …`; `panic: `, `fatal error: `, `thread 'main' panicked at` are fatal); a
    key (`level=error`, `severity: "warn"`); a first word followed by a colon (`error: …`,
    `WARNING:root:…`); the word right after a leading time (`2026-12-07T13:00:00Z error …`);
    a word in brackets (`[error]`, `<warn>`); a word in capitals standing alone (`ERROR`,
    `WARN`, logrus's `ERRO`). Lower-case words inside a sentence ("no errors found",
    "error_count=0") are not levels. docs/shipping.md lists the words.
    """
    head = _ANSI.sub("", text[:LEVEL_SCAN]) if "\x1b" in text[:LEVEL_SCAN] else text[:LEVEL_SCAN]
    for match in _PLAIN.finditer(head):
        kind = match.lastgroup
        word = match.group(kind) if kind else None
        if word is None:
            continue
        if kind == "glog":
            return _GLOG[word]
        if kind == "start":
            return "error"
        if kind == "fatal":
            return "fatal"
        level = _UPPER.get(word) if kind == "upper" else _ANY_CASE.get(word.lower())
        if level is not None:
            return level
    return None


# --------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Entry:
    """One log entry of a container's output."""

    text: str  # a single line, or joined lines separated by "\n", bounded
    time: float  # epoch seconds Docker stamped on the entry's first line
    lines: int  # how many lines were joined (before truncation)
    truncated: bool  # True if lines or bytes were cut to the bounds


# What the held entry is, which decides the lines it takes on.
_PLAIN_LINE, _PYTHON, _PYTHON_DONE, _PYTHON_CHAIN, _THROWN, _GO, _RUST = range(7)
_MARKER_ROOM = 64  # bytes kept free for the "[… N lines cut …]" line


def _clean(line: str) -> str:
    """The line without its line end and colour codes, lone surrogates as U+FFFD."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = line.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return line


def _size(line: str) -> int:
    return len(line) if line.isascii() else len(line.encode("utf-8"))


def _cut(line: str, limit: int) -> str:
    """The longest start of `line` within `limit` UTF-8 bytes, whole characters only."""
    return line[:limit].encode("utf-8")[:limit].decode("utf-8", "ignore")


class Joiner:
    """Joins one container's lines into entries; one Joiner per container stream.

    An entry keeps at most `max_lines` lines and `max_bytes` bytes of UTF-8: the first lines,
    then (for a longer entry) its last lines, with one line saying how many were cut between.
    It spans at most `max_span` seconds of the lines' times.
    """

    def __init__(self, max_lines: int = 500, max_bytes: int = 65536, max_span: float = 5.0) -> None:
        if max_lines < 1 or max_bytes < 2 * _MARKER_ROOM:
            raise ValueError(
                f"an entry needs at least 1 line and {2 * _MARKER_ROOM} bytes "
                f"(given {max_lines} lines, {max_bytes} bytes)"
            )
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        # A stack is printed at once; a line this many seconds after its entry's first one
        # starts a new entry, so a stream of indented lines is never held for ever.
        self._max_span = max_span
        # The last quarter of the bounds keeps an entry's end (a Python traceback's exception).
        self._tail_lines = max_lines // 4
        self._head_lines = max_lines - self._tail_lines
        self._tail_bytes = (max_bytes - _MARKER_ROOM) // 4
        self._head_bytes = max_bytes - _MARKER_ROOM - self._tail_bytes
        self._reset()
        self._last_time = 0.0

    def _reset(self) -> None:
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self._kind = _PLAIN_LINE
        self._time = 0.0
        self._lines = 0
        self._blanks = 0  # blank lines seen after the last kept one, kept if the entry goes on
        self._tail_used = False  # the head is full: lines go to the tail from here on
        self._dropped = 0  # lines left out between the head and the tail
        self._line_cut = False  # a line's end was cut to the bytes bound
        self._last = ""  # the last line taken, cleaned
        self._open = False  # a line taken ended with "{" (an object printed over lines)

    @property
    def holding(self) -> bool:
        """True while an entry is held (lines that may still go on)."""
        return self._lines > 0

    def feed(self, line: str, time: float) -> list[Entry]:
        """The entries this line completes (0, 1 or 2), in order. Text holding newlines is
        taken as the lines it holds (which may complete more entries)."""
        if not math.isfinite(time):
            time = self._last_time  # a clock that says nothing usable: the line's neighbour's
        self._last_time = time
        if line.endswith("\n"):
            line = line[:-1]
        if "\n" in line:
            return [entry for part in line.split("\n") for entry in self._line(part, time)]
        return self._line(line, time)

    def _line(self, line: str, time: float) -> list[Entry]:
        text = _clean(line)
        if not text.strip():
            if self._lines:
                self._blanks += 1
            return []
        if _is_json_object(text):  # a whole entry by itself, which ends the held one
            done = self.flush()
            if _size(text) < self._head_bytes:
                done.append(Entry(text, time, 1, False))
            else:
                self._start(text, time, _PLAIN_LINE)
                done.extend(self.flush())
            return done
        if self._lines and time - self._time <= self._max_span and self._continues(text):
            self._take(text)
            return []
        done = self.flush()
        self._start(text, time, _kind_of_first(text))
        return done

    def flush(self) -> list[Entry]:
        """The held entry, if any (when the stream has been quiet a while, or has ended)."""
        if not self._lines:
            return []
        parts = self._head
        if self._dropped:
            parts = [*parts, f"[… {self._dropped} lines cut …]"]
        parts = [*parts, *self._tail]
        truncated = self._line_cut or self._dropped > 0
        entry = Entry("\n".join(parts), self._time, self._lines, truncated)
        self._reset()
        return [entry]

    # ------------------------------------------------------------------------------ joining

    def _start(self, text: str, time: float, kind: int) -> None:
        self._time = time
        self._kind = kind
        self._take(text)

    def _take(self, text: str) -> None:
        blanks, self._blanks = self._blanks, 0
        for _ in range(blanks):
            self._keep("")
        self._keep(text)
        self._last = text
        if text.endswith("{"):
            self._open = True
        kind = self._kind
        if kind == _PYTHON and not text.startswith((" ", "\t")) and text != _PY_TRACEBACK:
            self._kind = _PYTHON_DONE
        elif kind == _PYTHON_DONE and text in _PY_CHAIN:
            self._kind = _PYTHON_CHAIN
        elif kind in (_PYTHON_CHAIN, _PLAIN_LINE) and text == _PY_TRACEBACK:
            self._kind = _PYTHON
        elif kind == _PLAIN_LINE and (_JAVA_HEAD.fullmatch(text) or _JS_HEAD.fullmatch(text)):
            self._kind = _THROWN

    def _keep(self, text: str) -> None:
        self._lines += 1
        size = _size(text) + 1
        if (
            not self._tail_used
            and len(self._head) < self._head_lines
            and self._head_size + size <= self._head_bytes
        ):
            self._head.append(text)
            self._head_size += size
            return
        if not self._head:  # the first line alone is over the bounds: its start is kept
            self._head.append(_cut(text, self._head_bytes - 8) + " […]")
            self._head_size = self._head_bytes
            self._line_cut = True
            return
        self._tail_used = True
        if self._tail_lines == 0:
            self._dropped += 1
            return
        if size > self._tail_bytes:
            text = _cut(text, self._tail_bytes - 8) + " […]"
            size = _size(text) + 1
            self._line_cut = True
        self._tail.append(text)
        self._tail_size += size
        while len(self._tail) > self._tail_lines or self._tail_size > self._tail_bytes:
            self._tail_size -= _size(self._tail.popleft()) + 1
            self._dropped += 1

    def _continues(self, text: str) -> bool:
        """Whether `text` goes on the held entry (a line that starts an entry never does)."""
        if _TIMESTAMPED.match(text):
            return False
        if text[0] in " \t":
            return True
        kind = self._kind
        after_blank = self._blanks > 0
        if text in _CLOSING and self._open:
            return True  # the end of an object Node printed after a stack ("{ code: … }")
        if kind == _PLAIN_LINE:
            if after_blank and _CARET.fullmatch(self._last) and _JS_HEAD.fullmatch(text):
                return True  # Node's uncaught error, after its source line
            # The exception a log line introduces, right after that one line (Spring Boot's
            # pattern puts a blank line between them).
            if self._lines == 1:
                if _JAVA_HEAD.fullmatch(text) is not None:
                    return True
                return text == _PY_TRACEBACK and not after_blank
            return False
        if kind == _PYTHON:
            return not after_blank  # the exception's line after the frames
        if kind == _PYTHON_DONE:
            return text in _PY_CHAIN
        if kind == _PYTHON_CHAIN:
            return text == _PY_TRACEBACK
        if kind == _THROWN:
            if after_blank:
                return text.startswith("Node.js v")  # what Node adds after an uncaught error
            return text.startswith(("Caused by: ", "Suppressed: "))
        if kind == _RUST:
            if after_blank:
                return False
            if self._lines == 1 and self._last.endswith(":"):
                return True  # the panic's message
            return text.startswith(("note: ", "stack backtrace:"))
        if kind == _GO:
            if after_blank:
                return _GO_GOROUTINE.fullmatch(text) is not None
            return (
                _go_function(text) is not None
                or _GO_GOROUTINE.fullmatch(text) is not None
                or text.startswith(("created by ", "exit status ", "[signal ", "panic: "))
            )
        return False


_CLOSING = ("}", "]")


def _kind_of_first(text: str) -> int:
    if text == _PY_TRACEBACK or (text.startswith("  File") and _PY_FRAME.match(text)):
        return _PYTHON  # a traceback, or a SyntaxError's (no "Traceback" line)
    if text.startswith("thread '") and _RUST_PANIC.fullmatch(text[:_FRAME_CHARS]):
        return _RUST
    if text.startswith(("panic: ", "fatal error: ")):
        return _GO
    if text.startswith("Exception in thread ") or _JAVA_HEAD.fullmatch(text):
        return _THROWN
    if _JS_HEAD.fullmatch(text):
        return _THROWN
    return _PLAIN_LINE


def _is_json_object(text: str) -> bool:
    """Whether `text` looks like one JSON object: "{" first, "}" last (trailing blanks aside).
    An indented "{…}" is not one: it is part of a stack or an object dump."""
    return text[0] == "{" and (text[-1] == "}" or text.rstrip()[-1:] == "}")


# --------------------------------------------------------------------------------- records


def _iso(time: float) -> str:
    try:
        return datetime.fromtimestamp(time, timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):  # before year 1 or after 9999
        return "1970-01-01T00:00:00.000+00:00"


def record_from_entry(entry: Entry, service: str, container: str) -> dict[str, Any]:
    """The record shipped to "program-logs" for one entry of container `container` of service
    `service` (docs/shipping.md says which fields, exactly)."""
    text = entry.text
    if not entry.truncated and _is_json_object(text):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:  # not JSON after all, or nested deeper than 1024
            value = None
        if isinstance(value, dict):
            return _object_record(value, entry, service, container)
    return _plain_record(entry, service, container)


def _object_record(
    value: dict[str, Any], entry: Entry, service: str, container: str
) -> dict[str, Any]:
    # The logger's own fields are never overwritten: ours only fill what it leaves out.
    if "service" not in value and service_of(value) is None:
        value["service"] = service
    value.setdefault("container", container)
    if "@timestamp" not in value and time_of(value) is None:
        value["@timestamp"] = _iso(entry.time)
    return value


def _plain_record(entry: Entry, service: str, container: str) -> dict[str, Any]:
    text = entry.text
    first = text.split("\n", 1)[0]
    stated = plain_level(first)
    record: dict[str, Any] = {
        "@timestamp": _iso(entry.time),
        "message": text,
        "level": stated or "info",
        "service": service,
        "container": container,
    }
    if entry.lines > 1 or entry.truncated:
        record["entry"] = {"lines": entry.lines, "truncated": entry.truncated}
    if "\n" in text:
        found = _stack_of(text)
        if found is not None:
            kind, message, file, line = found
            if stated is None:  # a level the line states wins (a traceback logged at INFO)
                record["level"] = "error"
            error: dict[str, Any] = {"type": kind, "stack_trace": text}
            if message is not None:
                error["message"] = message
            record["error"] = error
            if file is not None:
                origin: dict[str, Any] = {"name": file[:MAX_FILE]}
                if line is not None and 0 <= line <= MAX_LINE:
                    origin["line"] = line
                record["log"] = {"origin": {"file": origin}}
    return record


def _stack_of(text: str) -> tuple[str, str | None, str | None, int | None] | None:
    """(error type, message, file, line) of a stack trace in `text`; None when it holds none."""
    lines = text.split("\n")
    if (
        _PY_TRACEBACK in lines
        or (lines[0].startswith("  File") and _PY_FRAME.match(lines[0][:_FRAME_CHARS]))
        or any(line.endswith(_PY_GROUP) for line in lines)
    ):
        return _python_stack(lines)
    rust = _RUST_PANIC.fullmatch(lines[0][:_FRAME_CHARS])
    if rust is not None:
        said, file, line = rust.groups()
        if said is None and len(lines) > 1:
            said = lines[1]
        return "panic", said, file, int(line)
    # Where the last frame of each kind is: a head counts when frames follow it.
    java_end = node_end = -1
    for index, line in enumerate(lines):
        if line.startswith("\tat "):
            java_end = index
        elif line.startswith("    at "):
            node_end = index
    for index, line in enumerate(lines):
        if line.startswith(("panic: ", "fatal error: ")):
            return _go_stack(lines, index)
        if index < java_end:
            java = _JAVA_HEAD.fullmatch(line)
            if java is not None:
                return java.group(1), java.group(2), *_first(_JAVA_FRAME, lines[index + 1 :])
        if index < node_end:
            js = _JS_HEAD_IN.search(line)
            if js is not None:
                place = next(filter(None, map(_js_place, lines[index + 1 :])), None)
                return js.group(1), js.group(2), *(place or (None, None))
    return None


def _first(pattern: re.Pattern[str], lines: list[str]) -> tuple[str | None, int | None]:
    for line in lines:
        match = pattern.match(line[:_FRAME_CHARS])
        if match is not None:
            return match.group(1), int(match.group(2))
    return None, None


def _python_stack(lines: list[str]) -> tuple[str, str | None, str | None, int | None]:
    file = number = None
    head = None
    for line in lines:
        frame = _PY_FRAME.match(line[:_FRAME_CHARS])
        if frame is not None:
            file, number = frame.group(1), int(frame.group(2))
        elif line and not line.startswith((" ", "\t", "[… ")) and not _py_marker(line):
            head = line
        elif line.startswith("  | "):  # an exception group's, which is indented
            group = _PY_GROUP_HEAD.fullmatch(line[:_FRAME_CHARS])
            if group is not None:
                head = group.group(1)
    match = _EXCEPTION_HEAD.fullmatch(head) if head else None
    if match is None:
        return "Exception", head, file, number
    return match.group(1), match.group(2), file, number


def _go_function(line: str) -> str | None:
    """The function a Go frame line calls ("main.(*T).m(0x1)" -> "main.(*T).m"), or None."""
    if len(line) > _FRAME_CHARS or not line.endswith(")"):
        return None
    name = line[: line.rfind("(")]
    return name if name and _GO_NAME.fullmatch(name) else None


def _js_place(line: str) -> tuple[str, int] | None:
    """The file and line a Node frame ("    at f (/app/x.js:7:9)") points at, or None."""
    if len(line) > _FRAME_CHARS or not line.startswith("    at "):
        return None
    line = line.removesuffix(" {")
    place = line[line.rfind("(") + 1 : -1] if line.endswith(")") else line[7:]
    match = _JS_PLACE.fullmatch(place)
    if match is None or match.group(1).startswith("node:"):
        return None
    return match.group(1), int(match.group(2))


def _py_marker(line: str) -> bool:
    return line == _PY_TRACEBACK or line in _PY_CHAIN


def _go_stack(lines: list[str], index: int) -> tuple[str, str | None, str | None, int | None]:
    kind, _, message = lines[index].partition(": ")
    message = message.removesuffix(" [recovered]")
    # The first frame outside the Go runtime is where the program panicked.
    for at in range(index + 1, len(lines) - 1):
        name = _go_function(lines[at])
        if name is None or name.startswith("runtime.") or name == "panic":
            continue
        where = _GO_FILE.fullmatch(lines[at + 1][:_FRAME_CHARS])
        if where is not None:
            return kind, message, where.group(1), int(where.group(2))
    return kind, message, None, None

"""Error kinds: what kind of error a record is (`kind_of`), and what to tell about it (`KindBook`).

A kind is a fingerprint of an error record that stays the same across restarts, instances and
deploys that only move lines: the error's type, its message's template and the file of the
innermost frame of the user's own code (else the call site). The exact rule is stated in
tests/kind_cases.md, which riemann.config re-implements in Clojure; a change here is a change
there (tests/kind_cases.json runs against both).

`KindBook` is the pure state machine over kinds (the caller passes the clock): the kinds known
per service; a new service's (or a first start's) kinds learned silently for `learn_s` and
told once as a summary; the first occurrence of a kind never seen -> New; a resolved kind seen
again -> Regressed; more than `burst_max` new kinds of one service within `burst_s` folded
into one Burst; muted kinds never told; at most `max_kinds` kept, the least recently seen
forgotten first.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from logtray.pipeline.record import (
    _ERROR_MESSAGE_KEYS,
    _ERROR_TYPE_KEYS,
    _STACK_KEYS,
    RANK,
    ErrorInfo,
    NormalizedRecord,
    call_site,
    error_of,
    logger_of,
    message_of,
    service_of,
    template,
)

# Bounds, in code points.
MAX_TEMPLATE = 1000
MAX_PLACE = 200
MAX_PATH = 500
MAX_STACK_LINES = 200
MAX_EXAMPLE = 500
ID_CHARS = 12

# ASCII whitespace only, as record.py strips (Python's and Java's Unicode notions differ).
_BLANK = " \t\n\r\f\v"
# A Python traceback frame line (stripped): File "<path>", line <n>[, in <function>]
_PY_FRAME = re.compile(r'File "(.*)", line ([0-9]+)(?:, in .*)?', re.ASCII | re.DOTALL)
# What an "at" frame names as its place, a full match (as the call site's "path:line[:col]").
_LOCATION = re.compile(r"(.*?):([0-9]+)(?::[0-9]+)?", re.ASCII | re.DOTALL)
# The top-level keys `error_of` can read an error from: each path itself (ECS writes dotted
# keys) and its first part; plus the arrays of frames and the plain error strings.
_ERROR_HEADS = frozenset(
    name
    for path in (
        *_ERROR_TYPE_KEYS,
        *_ERROR_MESSAGE_KEYS,
        *_STACK_KEYS,
        *("error", "err", "fields.error", "thrown.extendedStackTrace", "stack"),
    )
    for name in (path, path.split(".")[0])
)
_NO_ERROR = ErrorInfo()
# Not the user's own code: a frame whose file holds one of these …
_LIBRARY_PATHS = (
    "/site-packages/",
    "/dist-packages/",
    "/node_modules/",
    "/lib/python",
    "/usr/lib/",
    "/usr/local/lib/",
    "/usr/local/go/",
    "/.cargo/registry/",
    "/rustc/",
)
# … or starts with one of these …
_LIBRARY_STARTS = ("node:", "internal/", "<")
# … or whose function (an "at" line's name, after its last "/") starts with one of these.
_LIBRARY_NAMES = ("java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "scala.")


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of error: its parts and its id (a hash of the parts, without the service)."""

    id: str
    service: str  # the record's service, else its logger, else "" (who it is known for)
    type: str  # the error's type, "" when the record names none
    template: str  # the error's message (else the record's) with its variable parts masked
    file: str  # the file name of the user's frame (else the call site), "" when none
    line: int | None  # that frame's line: shown, never part of the id (a deploy moves lines)
    path: str = ""  # that frame's file as written (for the editor), never part of the id

    @property
    def where(self) -> str:
        """ "payments.py:31" (or "payments.py", or "")."""
        if not self.file:
            return ""
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def label(self) -> str:
        """ "PaymentTimeoutError at payments.py:31" (the parts it has)."""
        what = self.type or "error"
        return f"{what} at {self.where}" if self.where else what


def kind_id(error_type: str, shape: str, file: str) -> str:
    """The first 12 hex digits of sha1(UTF-8 of type + "\\n" + template + "\\n" + file)."""
    text = f"{error_type}\n{shape}\n{file}"
    # A lone surrogate (JSON allows "\ud800") becomes "?", as Java's getBytes(UTF_8) does.
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:ID_CHARS]


def kind_of(record: NormalizedRecord) -> Kind | None:
    """The kind of an error record; None below the error level, or when it says nothing
    (no type, no message, no place)."""
    if record.level is None or RANK[record.level] < RANK["error"]:
        return None
    return kind_of_record(record.raw)


def kind_of_record(raw: dict[str, Any]) -> Kind | None:
    """`kind_of` for a record (as `record_of` gives it) the caller knows is an error: read
    for its parts alone (the engine's path: no group key, no time)."""
    # Most records carry no error: none of the keys the error is read from (record.py's
    # error_of looks up nothing else), so it is not looked for.
    error = _NO_ERROR if _ERROR_HEADS.isdisjoint(raw) else error_of(raw)
    error_type = (error.type or "").strip(_BLANK)
    text = error.message if error.message and error.message.strip(_BLANK) else message_of(raw)
    shape = template(text).strip(_BLANK)[:MAX_TEMPLATE] if text else ""
    frame = user_frame(error.stack) if error.stack else None
    if frame is None:
        site = call_site(raw)
        if site[0] is not None:
            frame = (site[0], site[1])
    path, line = frame if frame is not None else ("", None)
    file = base_name(path)
    if not (error_type or shape or file):
        return None
    who = service_of(raw) or logger_of(raw) or ""
    return Kind(
        kind_id(error_type, shape, file), who, error_type, shape, file, line, path[:MAX_PATH]
    )


def base_name(path: str) -> str:
    """The file name: what follows the last "/" or "\\" (bounded)."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[cut + 1 :][:MAX_PLACE]


def user_frame(stack: str) -> tuple[str, int | None] | None:
    """(file, line) of the innermost frame of the user's own code in a stack; None when no
    frame line names one. Python tracebacks list the innermost frame last; V8, Java and the
    rendered frames ("at name(place)") list it first."""
    python: tuple[str, int | None] | None = None
    for raw in stack.split("\n")[:MAX_STACK_LINES]:
        line = raw.strip(_BLANK)
        match = _PY_FRAME.fullmatch(line)
        if match is not None:
            if _users(match.group(1), ""):
                python = (match.group(1), _line(match.group(2)))
            continue
        if python is None and line.startswith("at "):
            found = _at_frame(line[3:].strip(_BLANK))
            if found is not None and _users(found[0], found[2]):
                return found[0], found[1]
    return python


def _at_frame(rest: str) -> tuple[str, int | None, str] | None:
    """An "at" line's (file, line, function): "fn (path:12:9)", "Cls.m(File.java:12)",
    "path:12:9"; None when its place names no line ("Native Method")."""
    name = ""
    if rest.endswith(")") and "(" in rest:
        cut = rest.rindex("(")
        name, rest = rest[:cut].strip(_BLANK), rest[cut + 1 : -1]
    match = _LOCATION.fullmatch(rest)
    if match is None or not match.group(1):
        return None
    return match.group(1), _line(match.group(2)), name


def _users(file: str, function: str) -> bool:
    path = file.replace("\\", "/")
    if any(part in path for part in _LIBRARY_PATHS) or path.startswith(_LIBRARY_STARTS):
        return False
    return not function[function.rfind("/") + 1 :].startswith(_LIBRARY_NAMES)


def _line(text: str) -> int | None:
    return int(text) if len(text) <= 8 else None


# ------------------------------------------------------------------------------ the book

State = Literal["open", "resolved", "muted"]
STATES: tuple[State, ...] = ("open", "resolved", "muted")
Told = Literal["new", "regressed", "burst", "learned"]


@dataclass(slots=True)
class KnownKind:
    """A kind as the book keeps it (and the kinds topic carries it). The book updates its
    own in place (a record of a known kind costs no new object); `load` copies what it is
    given."""

    kind: Kind
    first_seen: float
    last_seen: float
    count: int
    example: str  # the first record's message (bounded): what it looked like
    state: State = "open"

    @property
    def key(self) -> tuple[str, str]:
        return self.kind.service, self.kind.id

    def to_json(self) -> dict[str, Any]:
        k = self.kind
        return {
            "service": k.service,
            "id": k.id,
            "type": k.type,
            "template": k.template,
            "file": k.file,
            "line": k.line,
            "path": k.path,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "example": self.example,
            "state": self.state,
        }


def known_from_json(value: Any) -> KnownKind | None:
    """A KnownKind from what `to_json` wrote (read back from a topic: a stranger's bytes);
    None for anything else. The id is recomputed, never trusted."""
    if not isinstance(value, dict):
        return None
    texts = [value.get(name) for name in ("service", "type", "template", "file", "example")]
    if not all(isinstance(t, str) for t in texts):
        return None
    service, error_type, shape, file, example = (str(t) for t in texts)
    numbers = []
    for name in ("first_seen", "last_seen", "count"):
        number = value.get(name)
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            return None
        try:
            numbers.append(float(number))
        except OverflowError:  # an integer too big for a float
            return None
    first, last, count = numbers
    if not all(abs(n) < 1e12 for n in (first, last)) or not 0 <= count < 1e15:
        return None
    line = value.get("line")
    if not (isinstance(line, int) and not isinstance(line, bool) and 0 <= line <= 10_000_000):
        line = None
    path = value.get("path")
    path = path[:MAX_PATH] if isinstance(path, str) else ""
    state = value.get("state")
    shape, file = shape[:MAX_TEMPLATE], file[:MAX_PLACE]
    error_type, service = error_type[:200], service[:200]
    kind = Kind(kind_id(error_type, shape, file), service, error_type, shape, file, line, path)
    return KnownKind(
        kind,
        first,
        last,
        int(count),
        example[:MAX_EXAMPLE],
        state if state in STATES else "open",
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What the book tells: a kind New or Regressed, a Burst of new kinds folded, or the kinds
    Learned from a service (`count`: how many so far in the burst, or learned)."""

    told: Told
    service: str
    kind: KnownKind | None = None
    count: int = 1
    examples: tuple[str, ...] = ()  # a burst's templates (its likely cause)


@dataclass(frozen=True, slots=True)
class KindsConfig:
    learn_s: float = 30.0
    burst_max: int = 5
    burst_s: float = 60.0
    max_kinds: int = 10_000


class KindBook:
    """The kinds known per service and what their occurrences tell (pure: `now` is the
    arrival clock, `t` the record's own time)."""

    def __init__(self, config: KindsConfig | None = None) -> None:
        self.config = config or KindsConfig()
        self._kinds: OrderedDict[tuple[str, str], KnownKind] = OrderedDict()  # LRU: oldest first
        self._per_service: dict[str, int] = {}
        self._learning: dict[str, tuple[float, int]] = {}  # service -> (until, learned)
        self._new: dict[str, deque[float]] = {}  # service -> arrival times of its New kinds
        self._burst: dict[str, tuple[int, list[str]]] = {}  # service -> (folded, templates)
        # What changed since the last `drain` (to keep: the kinds topic); `urgent` when a kind
        # was added or its state changed (a count or a time alone can wait).
        self._dirty: dict[tuple[str, str], None] = {}
        self._gone: dict[tuple[str, str], None] = {}  # forgotten since the last drain
        self.urgent = False
        self.forgotten = 0

    # ------------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._kinds)

    def kinds(self) -> list[KnownKind]:
        return list(self._kinds.values())

    def get(self, service: str, kind_id: str) -> KnownKind | None:
        return self._kinds.get((service, kind_id))

    def learning(self, service: str) -> bool:
        return service in self._learning

    # -------------------------------------------------------------------- the rule

    def observe(
        self, kind: Kind, now: float, t: float | None = None, example: str = ""
    ) -> Decision | None:
        """One error record of `kind` arrived at `now`; what to tell, if anything."""
        t = now if t is None else t
        key = (kind.service, kind.id)
        known = self._kinds.get(key)
        if known is not None:
            self._kinds.move_to_end(key)
            regressed = known.state == "resolved"
            if t > known.last_seen:
                known.last_seen = t
            known.count += 1
            if regressed:
                known.state = "open"
            self._dirty[key] = None
            if regressed:
                self.urgent = True
                return Decision("regressed", kind.service, known)
            return None
        known = KnownKind(kind, t, t, 1, example[:MAX_EXAMPLE])
        self._add(known)
        service = kind.service
        learning = self._learning.get(service)
        if learning is None and self._per_service.get(service, 0) == 1:
            # The service's first kind: its kinds are learned for learn_s, told once.
            learning = self._learning[service] = (now + self.config.learn_s, 0)
        if learning is not None:
            self._learning[service] = (learning[0], learning[1] + 1)
            return None
        return self._new_kind(known, now)

    def _new_kind(self, known: KnownKind, now: float) -> Decision:
        service = known.kind.service
        times = self._new.setdefault(service, deque())
        while times and now - times[0] >= self.config.burst_s:
            times.popleft()
        times.append(now)
        if len(times) <= self.config.burst_max:
            self._burst.pop(service, None)
            return Decision("new", service, known)
        folded, shapes = self._burst.get(service, (0, []))
        if len(shapes) < 3:
            shapes = [*shapes, known.kind.template]
        self._burst[service] = (folded + 1, shapes)
        return Decision("burst", service, known, count=folded + 1, examples=tuple(shapes))

    def due(self, now: float) -> list[Decision]:
        """The learning windows that ended by `now`: one Learned summary per service."""
        told = []
        for service, (until, learned) in list(self._learning.items()):
            if now >= until:
                del self._learning[service]
                told.append(Decision("learned", service, count=learned))
        return told

    def _add(self, known: KnownKind) -> None:
        self._kinds[known.key] = known
        service = known.kind.service
        self._per_service[service] = self._per_service.get(service, 0) + 1
        self._dirty[known.key] = None
        self._gone.pop(known.key, None)
        self.urgent = True
        while len(self._kinds) > self.config.max_kinds:
            _, gone = self._kinds.popitem(last=False)
            self.forgotten += 1
            self._dirty.pop(gone.key, None)
            self._gone[gone.key] = None
            service = gone.kind.service
            left = self._per_service[service] - 1
            if left:
                self._per_service[service] = left
            else:  # a service with no kind left is new again (bounded: no state without kinds)
                del self._per_service[service]
                self._learning.pop(service, None)
                self._new.pop(service, None)
                self._burst.pop(service, None)

    # ------------------------------------------------------------------ the user's say

    def set_state(self, service: str, kind_id: str, state: State) -> KnownKind | None:
        """Resolve, mute or reopen a known kind; None when it is not known."""
        known = self._kinds.get((service, kind_id))
        if known is None:
            return None
        known.state = state
        self._dirty[known.key] = None
        self.urgent = True
        return known

    def load(self, kept: Iterable[KnownKind]) -> None:
        """Kinds kept from earlier runs (oldest seen first): known, their services not
        learning. A later entry of the same key replaces an earlier one."""
        for known in sorted(kept, key=lambda k: k.last_seen):
            known = replace(known)
            if known.key in self._kinds:
                self._kinds.pop(known.key)
                self._per_service[known.kind.service] -= 1
            self._add(known)
        self._dirty.clear()  # kept already (those forgotten at once stay to be deleted)
        self.urgent = False

    def drain(self) -> tuple[list[KnownKind], list[tuple[str, str]]]:
        """What changed since the last drain, each kind once as it is now, and the (service,
        id) of the kinds forgotten since (to delete from what is kept). Both bounded by
        max_kinds."""
        changed = [self._kinds[key] for key in self._dirty]
        gone = list(self._gone)
        self._dirty.clear()
        self._gone.clear()
        self.urgent = False
        return changed, gone

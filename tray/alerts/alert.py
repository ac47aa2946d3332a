"""The Alert model and the pure parsing of one received message into an Alert.

A message is one of: the original Riemann config's plain text `FOUND PROBLEM IN <path>:<line>`,
a JSON object (our riemann.config), mostly printable text, or junk. Junk (random bytes, a
binary protocol, JSON nested past MAX_JSON_DEPTH) is not an alert: `parse_message` returns
None and the listener only counts it. Everything else is bounded here (field lengths, the
size of the extras, the URL checked by tray.links), so nothing a sender writes can grow the
policy's or the history's memory, or reach a browser unchecked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

import orjson

from logtray.pipeline.frames import Frame
from logtray.pipeline.record import GROUP_SEPARATOR
from logtray.tray.alerts.evidence import Evidence, parse_evidence
from logtray.tray.base.links import safe_url

KNOWN_FIELDS = (
    "title",
    "message",
    "pathname",
    "lineno",
    "count",
    "window_s",
    "threshold",
    "level",
    "service",
    "time",
    "url",
    "token",
    "id",
    "kind",
    "kind_id",
)

# What an error kind's alert tells (pipeline/kinds.py's decisions), and a kind's id.
KIND_TOLD = ("new", "regressed", "burst", "learned")
_KIND_ID = re.compile(r"[0-9a-f]{12}")
_ORIGINAL_FORMAT = re.compile(r"^\s*FOUND PROBLEM IN (?P<path>.+?)(?::(?P<line>\d{1,9}))?\s*$")

# Bounds on what one alert may carry (a sender's 60 KB line must not become 60 KB kept per
# source in the policy and per entry in the history).
MAX_FIELD_CHARS = 1000
MAX_EXTRA_CHARS = 4000
MAX_JSON_DEPTH = 32
MAX_ID_CHARS = 128
# Numbers a sender may give; outside these, the field is dropped.
MAX_LINENO = 2**31 - 1
MAX_COUNT = 10**15
MAX_WINDOW_S = 365 * 86400.0
_NUMBERS = ("lineno", "count", "window_s", "threshold")
# Alert times further than this from the receipt are a sender's mistake (or worse): the
# receipt time is used instead, the raw value is kept as `time_raw`.
SANE_TIME_S = 86400.0
# Text with less than this share of printable characters is junk, not a message.
MIN_PRINTABLE = 0.75
_SAMPLE_CHARS = 4096
# Unprintable: replacement characters (from bad UTF-8) and ASCII controls other than tab,
# counted with str.count and bytes.translate (a regex over a junk line costs ten times more).
_CONTROLS = bytes([*range(0, 9), *range(10, 32), 127])
_NOT_CONTROLS = bytes(b for b in range(256) if b not in _CONTROLS)


@dataclass(frozen=True, slots=True)
class Alert:
    """One received alert. `time` is seconds since the epoch (when it happened, if known)."""

    title: str | None = None
    message: str | None = None
    pathname: str | None = None
    lineno: int | None = None
    count: int | None = None
    window_s: float | None = None
    threshold: float | None = None
    level: str | None = None
    service: str | None = None
    time: float | None = None
    url: str | None = None
    token: str | None = None
    # The sender's stable id of this alert: the same alert over TCP and over the alerts topic
    # carries the same one, and is shown once (tray/alerts/dedupe.py).
    id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # A bounded sample of what failed (tray/alerts/evidence.py); None from senders without one.
    evidence: Evidence | None = None
    # An error kind's alert (tray/alerts/kind_alerts.py): what it tells (KIND_TOLD) and the
    # kind's id; None for the spike rule's alerts.
    kind: str | None = None
    kind_id: str | None = None

    @property
    def key(self) -> str:
        """What repeats coalesce on: an error kind's own key, else the source file, else the
        title, else the text."""
        if self.kind is not None:
            # A kind never coalesces with its file's spike; a service's bursts are one notice.
            return f"kind:{self.kind}:{self.service or ''}:{self.kind_id or ''}"
        return self.pathname or self.title or self.message or ""

    @property
    def file(self) -> str | None:
        """The call site's file the alert is about; None when its group is "<service> ·
        <template>" (a logger without a call site: pino, winston) or it names none."""
        return self.pathname if self.pathname and names_a_file(self.pathname) else None

    @property
    def short_name(self) -> str:
        if self.pathname:
            return file_label(self.pathname)
        return self.title or "logtray"

    def where(self) -> str:
        """Where the errors are: "/app/payments.py:42", else the group ("payments · payment
        <n> failed"), else ""."""
        if self.file:
            return self.file + (f":{self.lineno}" if self.lineno is not None else "")
        return self.pathname or ""

    @property
    def error_type(self) -> str | None:
        """The error's type (PaymentTimeoutError, java.net.SocketTimeoutException), as the
        evidence names it, else as its error line ("Type: message") begins."""
        evidence = self.evidence
        if evidence is None:
            return None
        if evidence.error_type:
            return evidence.error_type
        head = _ERROR_HEAD.fullmatch(evidence.traceback or "")
        return head.group(1) if head else None

    @property
    def frame(self) -> Frame | None:
        """The first frame of the user's own code in the errors' stack, when the sender gave it."""
        return self.evidence.frame if self.evidence else None

    def detail(self) -> str:
        """The popup's second line: 'PaymentTimeoutError at payments.js:16 in processPayment'
        (the type and the user's own frame, those known), else ""."""
        parts = [self.error_type or ""]
        frame = self.frame
        if frame is not None:
            parts.append("at " + frame_label(frame))
        return _first_line(" ".join(p for p in parts if p))

    def headline(self) -> str:
        """The title: 'payments.py:42 — 312 errors in 10 s' (missing parts left out)."""
        title = _first_line(self.title or "")
        if title:
            return title
        where = ""
        if self.pathname:
            where = self.short_name + (f":{self.lineno}" if self.lineno is not None else "")
        what = ""
        if self.count is not None:
            noun = "error" if self.count == 1 else "errors"
            window = f" in {_num(self.window_s)} s" if self.window_s else ""
            what = f"{self.count} {noun}{window}"
        if where and what:
            return f"{where} — {what}"
        if where:
            return f"Problem in {where}"
        return what or "Received Message"

    def body(self) -> str:
        """The alert's message (first line, trimmed, bounded), else the path; never the title."""
        text = _first_line(self.message or "")
        if not text and self.pathname:
            text = self.pathname + (f":{self.lineno}" if self.lineno is not None else "")
        return "" if text == self.headline() else text

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict without the token (history and console output must not leak it)."""
        record: dict[str, Any] = {
            name: getattr(self, name)
            for name in KNOWN_FIELDS
            if name != "token" and getattr(self, name) is not None
        }
        if self.extra:
            record["extra"] = self.extra
        if self.evidence:
            record["evidence"] = self.evidence.to_json()
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], url_prefixes: Sequence[str] = ()) -> Alert:
        """An alert from a history record; its url is checked again (dropped unless allowed)."""
        extra = record.get("extra")
        return from_json_object(
            {**record, **(extra if isinstance(extra, dict) else {})}, url_prefixes
        )

    def with_sane_time(self, now: float) -> Alert:
        """This alert with `time` replaced by `now` when it is more than a day away from it."""
        if self.time is None or abs(self.time - now) <= SANE_TIME_S:
            return self
        return dataclasses.replace(self, time=now, extra={**self.extra, "time_raw": self.time})


# A path holding these is not a plain path: its "file name" could be taken from inside markup
# (<a href="/x/pay.py">…), so the whole path is shown instead (escaped by the notifier).
_MARKUP_CHARS = frozenset("<>&\"'")
LABEL_CHARS = 60


def names_a_file(pathname: str) -> bool:
    """Whether an alert's pathname (the rule's group key) is a call site's file rather than
    "<service or logger> · <message template>" (pipeline/record.py's group key)."""
    return GROUP_SEPARATOR not in pathname


def group_label(key: str) -> str:
    """A group key that is not a file, cut to LABEL_CHARS (its "/" are the message's)."""
    return key if len(key) <= LABEL_CHARS else key[: LABEL_CHARS - 1] + "…"


def frame_label(frame: Frame) -> str:
    """'payments.js:16 in processPayment': the frame's file name, line and function."""
    name = PurePath(frame.file.replace("\\", "/")).name or frame.file
    where = name if frame.line is None else f"{name}:{frame.line}"
    return f"{where} in {frame.function}" if frame.function else where


# An error line's type: "payments.PaymentTimeoutError: ...", "*errors.errorString: ...".
_ERROR_HEAD = re.compile(r"(\*?[A-Za-z_$][A-Za-z0-9_$.*/\[\]-]*)(?:: .*)?", re.DOTALL)


def file_label(key: str) -> str:
    """What a title calls a source: the file name of a plain path, else the key itself (cut
    to LABEL_CHARS): a "<service> · <template>" group whole (its "/" are the message's)."""
    if not names_a_file(key):
        return group_label(key)
    if not _MARKUP_CHARS.isdisjoint(key):
        return key if len(key) <= LABEL_CHARS else key[: LABEL_CHARS - 1] + "…"
    name = PurePath(key.replace("\\", "/")).name or key
    return name[:LABEL_CHARS]


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bounded(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_text(value: Any) -> str | None:
    """A sender's value as the bounded string field the parser would keep (None for None)."""
    return _as_str(value)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _bounded(value)
    if isinstance(value, (dict, list)):
        try:
            return _bounded(orjson.dumps(value).decode())
        except (TypeError, ValueError):  # too deep, or an integer beyond 64 bits
            return "…"
    return _bounded(str(value))


def _in_range(convert: Any, low: float, high: float) -> Any:
    """`convert`, then None unless the number is within [low, high]."""

    def checked(value: Any) -> Any:
        number = convert(value)
        return number if number is not None and low <= number <= high else None

    return checked


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except (ValueError, OverflowError):  # "inf", "1e999": not a number we can use
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def parse_time(value: Any) -> float | None:
    """Epoch seconds (or milliseconds), or an ISO 8601 string, to epoch seconds."""
    number = _as_float(value) if not isinstance(value, str) else None
    if number is not None:
        return number / 1000.0 if number > 1e11 else number  # 1e11 s is the year 5138
    if isinstance(value, str):
        text = value.strip()
        number = _as_float(text)
        if number is not None:
            return parse_time(number)
        try:
            moment = datetime.fromisoformat(text[:64].replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
        except (ValueError, OverflowError, OSError):  # e.g. year 1 with a positive offset
            return None
    return None


_CONVERTERS: dict[str, Any] = {
    "title": _as_str,
    "message": _as_str,
    "pathname": _as_str,
    # Numbers outside these ranges are dropped (the raw value kept as `<field>_raw`).
    "lineno": _in_range(_as_int, 1, MAX_LINENO),
    "count": _in_range(_as_int, 0, MAX_COUNT),
    "window_s": _in_range(_as_float, 0, MAX_WINDOW_S),
    "threshold": _in_range(_as_float, 0, MAX_COUNT),
    "level": _as_str,
    "service": _as_str,
    "time": parse_time,
    "url": lambda v: v,  # checked in from_json_object against the allowed prefixes
    "token": lambda v: v if isinstance(v, str) else None,
    "id": lambda v: v if isinstance(v, str) and 0 < len(v) <= MAX_ID_CHARS else None,
    "evidence": parse_evidence,
    "kind": lambda v: v if v in KIND_TOLD else None,
    "kind_id": lambda v: v if isinstance(v, str) and _KIND_ID.fullmatch(v) else None,
}


def from_json_object(obj: dict[str, Any], url_prefixes: Sequence[str] = ()) -> Alert:
    """Known keys to typed fields, the rest to `extra` (bounded). `url` must be under one of
    `url_prefixes` (tray.links); otherwise it is dropped (kept, cut short, as `url_rejected`)."""
    # Only the keys present are looked at: this runs once per received line.
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        convert = _CONVERTERS.get(key)
        if convert is None:
            if key != "extra":
                extra[key] = value
        elif value is not None:
            fields[key] = convert(value)
            if fields[key] is None and key in _NUMBERS:
                extra[f"{key}_raw"] = _bounded(str(value), 100)
            elif fields[key] is None and key == "kind":
                # Not what an error kind tells: kept as sent (the stack's own "pipeline"
                # messages are told apart by it, tray/alerts/pipeline.py).
                extra[key] = value
    evidence = fields.get("evidence")
    if evidence and not fields.get("message") and evidence.top_message:
        fields["message"] = evidence.top_message  # the popup shows the top message
    url = fields.get("url")
    if url is not None:
        fields["url"] = safe_url(url, url_prefixes)
        if fields["url"] is None:
            extra["url_rejected"] = _bounded(str(url), 200)
    if extra and _too_big(extra):
        extra = {"extra_dropped": f"over {MAX_EXTRA_CHARS} bytes"}
    return Alert(**fields, extra=extra)


def _too_big(extra: dict[str, Any]) -> bool:
    try:
        return len(orjson.dumps(extra, default=str)) > MAX_EXTRA_CHARS
    except (TypeError, ValueError, RecursionError):  # e.g. an integer beyond 64 bits
        return True


def _too_deep(text: str) -> bool:
    """True when the JSON text nests deeper than MAX_JSON_DEPTH (cheap for flat objects)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def is_junk(text: str) -> bool:
    """Less than MIN_PRINTABLE of the (first 4 KiB of the) text is printable."""
    sample = text[:_SAMPLE_CHARS]
    if not sample or sample.isprintable():
        return False
    controls = len(sample.encode("utf-8", "replace").translate(None, _NOT_CONTROLS))
    unprintable = controls + sample.count("\ufffd")
    return unprintable > (1 - MIN_PRINTABLE) * len(sample)


def _lenient_json(text: str) -> Any:
    """JSON that orjson refuses only for its numbers (NaN, Infinity, 1e400, 10**400) or lone
    surrogates, with such numbers as None and surrogates replaced; None if not JSON at all."""
    try:
        obj = json.loads(
            text,
            parse_constant=lambda _: None,
            parse_int=lambda digits: int(digits) if len(digits) <= 20 else None,
            parse_float=lambda digits: _as_float(digits),
        )
    except (ValueError, RecursionError):
        return None
    return _no_surrogates(obj)


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    return value


def parse_message(text: str, url_prefixes: Sequence[str] = ()) -> Alert | None:
    """One received message (decoded, framing removed) to an Alert, or None for junk.

    Never raises. The forms, in order: a JSON object (nesting at most MAX_JSON_DEPTH; deeper
    is junk), the original `FOUND PROBLEM IN <path>:<line>`, mostly printable text, junk.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        if _too_deep(stripped):
            return None
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:  # also NaN, 1e400 and integers beyond 64 bits
            obj = _lenient_json(stripped)
        if isinstance(obj, dict):
            return from_json_object(obj, url_prefixes)
    if is_junk(stripped):
        return None
    match = _ORIGINAL_FORMAT.match(stripped)
    if match:
        line = match.group("line")
        return Alert(pathname=_bounded(match.group("path")), lineno=int(line) if line else None)
    return Alert(message=_bounded(stripped))

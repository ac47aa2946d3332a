"""The Alert model and the pure parsing of one received message into an Alert.

A message is a JSON object or plain text. The original Riemann config sends plain text
`FOUND PROBLEM IN <path>:<line>`; our riemann.config sends a JSON object.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

import orjson

from tray.evidence import Evidence, parse_evidence

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
)

_ORIGINAL_FORMAT = re.compile(r"^\s*FOUND PROBLEM IN (?P<path>.+?)(?::(?P<line>\d+))?\s*$")


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
    extra: dict[str, Any] = field(default_factory=dict)
    # A bounded sample of what failed (tray/evidence.py); None from senders without one.
    evidence: Evidence | None = None

    @property
    def key(self) -> str:
        """What repeats coalesce on: the source file, else the title, else the text."""
        return self.pathname or self.title or self.message or ""

    @property
    def short_name(self) -> str:
        if self.pathname:
            return PurePath(self.pathname.replace("\\", "/")).name or self.pathname
        return self.title or "logtray"

    def headline(self) -> str:
        """The notification title: 'payments.py: 312 errors in 10 s'."""
        if self.title:
            return self.title
        if self.pathname and self.count is not None:
            window = f" in {_num(self.window_s)} s" if self.window_s else ""
            noun = "error" if self.count == 1 else "errors"
            return f"{self.short_name}: {self.count} {noun}{window}"
        if self.pathname:
            where = f":{self.lineno}" if self.lineno is not None else ""
            return f"Problem in {self.short_name}{where}"
        return "Received Message"

    def body(self) -> str:
        parts = []
        if self.message:
            parts.append(self.message)
        if self.pathname:
            where = f":{self.lineno}" if self.lineno is not None else ""
            parts.append(f"{self.pathname}{where}")
        if self.threshold is not None and self.count is not None:
            parts.append(f"threshold {_num(self.threshold)}")
        if self.service:
            parts.append(f"service {self.service}")
        return "\n".join(parts)

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
    def from_record(cls, record: dict[str, Any]) -> Alert:
        extra = record.get("extra")
        return from_json_object({**record, **(extra if isinstance(extra, dict) else {})})


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


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
        except ValueError:
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
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return None


_CONVERTERS: dict[str, Any] = {
    "title": _as_str,
    "message": _as_str,
    "pathname": _as_str,
    "lineno": _as_int,
    "count": _as_int,
    "window_s": _as_float,
    "threshold": _as_float,
    "level": _as_str,
    "service": _as_str,
    "time": parse_time,
    "url": _as_str,
    "token": _as_str,
    "evidence": parse_evidence,
}


def from_json_object(obj: dict[str, Any]) -> Alert:
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
    evidence = fields.get("evidence")
    if evidence and not fields.get("message") and evidence.top_message:
        fields["message"] = evidence.top_message  # the popup shows the top message
    return Alert(**fields, extra=extra)


def parse_message(text: str) -> Alert:
    """One received message (already decoded, framing removed) to an Alert. Never raises."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:  # also NaN and integers beyond 64 bits: kept as text
            obj = None
        if isinstance(obj, dict):
            return from_json_object(obj)
    match = _ORIGINAL_FORMAT.match(stripped)
    if match:
        line = match.group("line")
        return Alert(pathname=match.group("path"), lineno=int(line) if line else None)
    return Alert(message=stripped)

"""Pipeline messages: what the stack says about its own plumbing, not about your code.

riemann.config sends one when Elasticsearch refuses writes ({"kind": "pipeline", "source":
"elasticsearch", "problem": "flood_stage", ...}, with the token). The listener hands it here
instead of to the alert path: it is never an alert, never in the history, never snoozed. Every
field comes from a stranger: bounded and validated, or the message is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KIND_FIELD = "kind"
PIPELINE_KIND = "pipeline"
SOURCES = frozenset({"elasticsearch"})
PROBLEMS = frozenset({"flood_stage", "blocked", "closed", "mapping", "overloaded", "rejected"})
MAX_TEXT = 300
MAX_INDEX = 255


@dataclass(frozen=True)
class PipelineMessage:
    source: str
    problem: str
    status: int | None = None
    error: str = ""
    reason: str = ""
    index: str | None = None
    failed: int | None = None
    of: int | None = None


def is_pipeline(extra: Mapping[str, Any]) -> bool:
    return extra.get(KIND_FIELD) == PIPELINE_KIND


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())  # one line: it goes into a menu and a notification
    return text[:limit]


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        return None
    return value


def from_extra(extra: Mapping[str, Any]) -> PipelineMessage | None:
    """The message in an accepted line's extra fields; None when it is not a valid one."""
    if not is_pipeline(extra):
        return None
    source, problem = extra.get("source"), extra.get("problem")
    # isinstance first: a list or a dict is unhashable, and a stranger may send one.
    if not isinstance(source, str) or not isinstance(problem, str):
        return None
    if source not in SOURCES or problem not in PROBLEMS:
        return None
    status = _count(extra.get("status"))
    index = _text(extra.get("index"), MAX_INDEX) or None
    return PipelineMessage(
        source=str(source),
        problem=str(problem),
        status=status if status is not None and 100 <= status <= 599 else None,
        error=_text(extra.get("error"), 100),
        reason=_text(extra.get("reason"), MAX_TEXT),
        index=index,
        failed=_count(extra.get("failed")),
        of=_count(extra.get("of")),
    )

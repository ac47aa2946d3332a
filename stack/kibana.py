"""Kibana setup through its API: the `program-logs` data view and Discover's default columns
(idempotent).

Every indexed record carries the normalized reading under `logtray` (riemann.config's ES
document: level, service, group, message… whichever logger wrote the record), while the
record's own fields differ by logger. So the data view labels the `logtray.*` fields and ranks
them first in Discover's field list (popularity), and Discover opens with level, service, group
and message as its columns (Kibana's `defaultColumns` setting: it has none per data view),
unless the user chose their own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from logtray.stack.errors import LogtrayError

DATA_VIEW_ID = "program-logs"

# The normalized fields (riemann.config's es-fields) as Discover lists them: label, and the
# order of the field list's popular fields (first is most popular).
NORMALIZED_FIELDS = (
    ("logtray.level", "Level"),
    ("logtray.service", "Service"),
    ("logtray.group", "Group"),
    ("logtray.message", "Message"),
    ("logtray.logger", "Logger"),
    ("logtray.file", "File"),
    ("logtray.line", "Line"),
    ("logtray.template", "Message template"),
    ("logtray.error_type", "Error type"),
    ("logtray.error_message", "Error message"),
    ("logtray.traceback", "Stack trace"),
)
# What Discover shows of every record, whichever logger wrote it.
DEFAULT_COLUMNS = ("logtray.level", "logtray.service", "logtray.group", "logtray.message")


def field_attrs() -> dict[str, dict[str, object]]:
    """The data view's `fieldAttrs`: a label for each normalized field and a popularity count
    that lists them first, in NORMALIZED_FIELDS' order."""
    top = len(NORMALIZED_FIELDS)
    return {
        name: {"customLabel": label, "count": top - i}
        for i, (name, label) in enumerate(NORMALIZED_FIELDS)
    }


def data_view_body(view_id: str = DATA_VIEW_ID) -> dict[str, object]:
    return {
        # override: re-running replaces the view with the same id instead of failing.
        "override": True,
        "data_view": {
            "id": view_id,
            "title": "program-logs-*",
            "name": "Program logs",
            "timeFieldName": "@timestamp",
            "allowNoIndex": True,
            "fieldAttrs": field_attrs(),
        },
    }


def columns_body() -> dict[str, object]:
    """Kibana's advanced setting for Discover's first columns (`POST /api/kibana/settings`)."""
    return {"changes": {"defaultColumns": list(DEFAULT_COLUMNS)}}


def _call(
    base_url: str, path: str, body: dict[str, object] | None, timeout: float, what: str
) -> Any:
    """One Kibana API call (a POST when `body` is given), its JSON answer; LogtrayError when
    Kibana refuses or cannot be reached."""
    req = urllib.request.Request(
        base_url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"kbn-xsrf": "true", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = resp.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise LogtrayError(
            f"Kibana refused to {what}: {exc.code} {detail}",
            fix="check Kibana's log (`logtray stack logs kibana`) and run `logtray stack up` again",
        ) from None
    except OSError as exc:
        raise LogtrayError(
            f"cannot reach Kibana at {base_url} to {what}: {exc}",
            fix="check `logtray stack status`, then run `logtray stack up` again",
        ) from None
    try:
        return json.loads(answer)
    except ValueError:
        return None


def ensure_data_view(base_url: str, view_id: str = DATA_VIEW_ID, timeout: float = 30.0) -> None:
    """Create (or replace) the data view and set Discover's default columns to the normalized
    fields, unless the user set their own; raises LogtrayError when Kibana refuses."""
    _call(
        base_url,
        "/api/data_views/data_view",
        data_view_body(view_id),
        timeout,
        f"create the {view_id!r} data view",
    )
    what = "set Discover's default columns"
    settings = _call(base_url, "/api/kibana/settings", None, timeout, what)
    if not user_chose_columns(settings):
        _call(base_url, "/api/kibana/settings", columns_body(), timeout, what)


def user_chose_columns(settings: Any) -> bool:
    """Whether Kibana's user-provided settings (`GET /api/kibana/settings`) hold default columns
    other than logtray's: those stay."""
    if not isinstance(settings, dict):
        return False
    chosen = settings.get("settings")
    entry = chosen.get("defaultColumns") if isinstance(chosen, dict) else None
    value = entry.get("userValue") if isinstance(entry, dict) else None
    return value is not None and value != list(DEFAULT_COLUMNS)


def prepare_stack_kibana(
    manager: Any, fallback_url: str, view_id: str = DATA_VIEW_ID
) -> str | None:
    """After `up`: create the data view on the stack's Kibana (if the stack has one).

    Returns the Kibana URL used, or None when the stack runs without Kibana.
    """
    if "kibana" not in manager.by_name:
        return None
    url = manager.published_url("kibana", "5601/tcp") or fallback_url
    ensure_data_view(url, view_id)
    return str(url)

"""Kibana Discover links: the logs of one source file around the time of an alert.

Kibana keeps Discover's state in the URL hash as Rison (`_g` global: time range; `_a` app:
data view and query). We encode with a Rison library, then percent-encode what a URL needs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import prison

from logtray.tray.alerts.alert import Alert
from logtray.tray.base.config import KibanaConfig

# Characters Rison uses that are safe to leave readable in a URL fragment.
_SAFE = "!'()*,:-_.~/@$"


# Times outside what datetime (and Kibana) can show are clamped: a link must never fail.
_EARLIEST, _LATEST = 0.0, 253402300799.0  # 1970-01-01 .. 9999-12-31T23:59:59Z


def _iso(epoch: float) -> str:
    epoch = min(max(epoch, _EARLIEST), _LATEST) if epoch == epoch else _EARLIEST
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def kql_quote(value: str) -> str:
    """A KQL quoted string: backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# What Discover shows of each record: the normalized fields every indexed record carries.
DISCOVER_COLUMNS = (
    "logtray.level",
    "logtray.group",
    "logtray.line",
    "logtray.message",
    "logtray.error_type",
    "logtray.kind",
)

# Level names whose normalized spelling differs (the common ones an alert may carry).
_CANONICAL = {"warning": "warn", "err": "error", "critical": "fatal", "crit": "fatal"}


def discover_query(
    pathname: str | None, level: str | None = "error", kind_id: str | None = None
) -> str:
    """KQL over the fields every indexed record carries, whichever logger wrote it: the
    normalized `logtray.group` (the alert's pathname: a file, or "service · template") and
    `logtray.level` (debug, info, warn, error, fatal). An error alert shows fatal records too:
    the rule counts both. An error kind's alert filters on the records' `logtray.kind` (its
    id, pipeline/kinds.py) instead of the group."""
    clauses = []
    if kind_id:
        clauses.append(f"logtray.kind:{kql_quote(kind_id)}")
    elif pathname:
        clauses.append(f"logtray.group:{kql_quote(pathname)}")
    if level:
        name = level.lower()
        name = _CANONICAL.get(name, name)
        if name == "error":
            clauses.append('logtray.level:("error" or "fatal")')
        else:
            clauses.append(f"logtray.level:{kql_quote(name)}")
    return " and ".join(clauses)


def discover_url(config: KibanaConfig, alert: Alert | None, at: float) -> str:
    """Discover filtered to the alert's pathname (if any) and errors, around time `at`."""
    level = (alert.level if alert and alert.level else "error") if alert else "error"
    global_state = {"time": {"from": _iso(at - config.before_s), "to": _iso(at + config.after_s)}}
    app_state = {
        "columns": list(DISCOVER_COLUMNS),
        "dataSource": {"dataViewId": config.data_view, "type": "dataView"},
        "query": {
            "language": "kuery",
            "query": discover_query(
                alert.pathname if alert else None, level, alert.kind_id if alert else None
            ),
        },
    }
    g = quote(prison.dumps(global_state), safe=_SAFE)
    a = quote(prison.dumps(app_state), safe=_SAFE)
    return f"{config.url.rstrip('/')}/app/discover#/?_g={g}&_a={a}"

"""Kibana setup through its API: the `program-logs` data view (idempotent)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from logtray.stack.errors import LogtrayError

DATA_VIEW_ID = "program-logs"


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
        },
    }


def ensure_data_view(base_url: str, view_id: str = DATA_VIEW_ID, timeout: float = 30.0) -> None:
    """Create (or replace) the data view; raises LogtrayError when Kibana refuses."""
    req = urllib.request.Request(
        base_url.rstrip("/") + "/api/data_views/data_view",
        data=json.dumps(data_view_body(view_id)).encode(),
        headers={"kbn-xsrf": "true", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise LogtrayError(
            f"Kibana refused to create the {view_id!r} data view: {exc.code} {detail}",
            fix="check Kibana's log (`logtray stack logs kibana`) and run `logtray stack up` again",
        ) from None
    except OSError as exc:
        raise LogtrayError(
            f"cannot reach Kibana at {base_url} to create the data view: {exc}",
            fix="check `logtray stack status`, then run `logtray stack up` again",
        ) from None


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

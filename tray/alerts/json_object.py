"""A JSON object from a line of bytes, or None: the one decoding of a log record, a heartbeat
mark or a kept report (senders are strangers: anything else is None, never raised)."""

from __future__ import annotations

from typing import Any

import orjson


def json_object(raw: bytes | None) -> dict[str, Any] | None:
    """`raw` as a JSON object, or None when it is empty, not JSON, or JSON but not an object."""
    if not raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None

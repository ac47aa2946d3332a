"""Labels on everything logtray creates: it lists, stops and removes by these only."""

from __future__ import annotations

from typing import Any

LABEL_STACK = "io.logtray.stack"
LABEL_SERVICE = "io.logtray.service"
LABEL_HASH = "io.logtray.spec-hash"


def stack_filter(stack_name: str) -> dict[str, Any]:
    """A Docker API `filters` value selecting what belongs to one stack."""
    return {"label": [f"{LABEL_STACK}={stack_name}"]}

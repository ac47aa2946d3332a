"""Labels on everything logtray creates: it lists, stops and removes by these only."""

from __future__ import annotations

from typing import Any

LABEL_STACK = "io.logtray.stack"
LABEL_SERVICE = "io.logtray.service"
LABEL_HASH = "io.logtray.spec-hash"


def stack_filter(stack_name: str) -> dict[str, Any]:
    """A Docker API `filters` value selecting what belongs to one stack."""
    return {"label": [f"{LABEL_STACK}={stack_name}"]}


def owned_labels(
    stack_name: str, service: str | None = None, spec_hash_: str | None = None
) -> dict[str, str]:
    """The labels on something logtray creates for a stack (and one of its services)."""
    labels = {LABEL_STACK: stack_name}
    if service:
        labels[LABEL_SERVICE] = service
    if spec_hash_:
        labels[LABEL_HASH] = spec_hash_
    return labels

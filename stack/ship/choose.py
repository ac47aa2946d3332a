"""Which containers are followed, and the service name their records carry (pure)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from logtray.stack.labels import LABEL_SERVICE, LABEL_STACK
from logtray.stack.ship.config import SHIP_LABEL, ShipConfig

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
# A container may name its service itself (else: its compose service, else its name).
SERVICE_LABEL = "logtray.service"
# Service and container names are bounded: they come from whoever created the container.
MAX_NAME = 200


def _label_matches(wanted: str, labels: Mapping[str, str]) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def chosen(name: str, labels: Mapping[str, str] | None, config: ShipConfig) -> bool:
    """Whether the container `name` with `labels` is followed. `logtray.logs=false` always
    keeps one out; the stack's own containers only by a glob in `names` (they log to Kafka
    themselves, or are Kafka)."""
    labels = labels or {}
    name = name.lstrip("/")
    if labels.get(SHIP_LABEL, "").strip().lower() == "false":
        return False
    if any(fnmatch.fnmatchcase(name, glob) for glob in config.names):
        return True
    if LABEL_STACK in labels:
        return False
    if any(_label_matches(wanted, labels) for wanted in config.labels):
        return True
    if labels.get(COMPOSE_PROJECT) in config.compose_projects:
        return True
    return labels.get(COMPOSE_SERVICE) in config.compose_services


def service_of(name: str, labels: Mapping[str, str] | None) -> str:
    """The `service` of the container's records: its logtray.service label, its compose
    service, logtray's own service label, else its name."""
    labels = labels or {}
    for key in (SERVICE_LABEL, COMPOSE_SERVICE, LABEL_SERVICE):
        value = str(labels.get(key) or "").strip()
        if value:
            return value[:MAX_NAME]
    return name.lstrip("/")[:MAX_NAME] or "container"

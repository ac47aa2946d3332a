"""The diagnosis of a service that failed to start, and of Riemann's stopped consumer, from logs.

Readiness probes are in stack/probes.py."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A log line -> what to tell the user. Checked newest line first.
_DIAGNOSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"max virtual memory areas vm\.max_map_count \[\d+\] is too low"),
        "raise the kernel limit Elasticsearch needs: `sudo sysctl -w vm.max_map_count=262144` "
        "(persist it in /etc/sysctl.d/99-elasticsearch.conf); on Docker Desktop run it in the VM",
    ),
    (
        re.compile(r"OutOfMemoryError|Cannot allocate memory|insufficient memory", re.I),
        "the service ran out of memory: raise its mem_limit in [stack.services.<name>] or give "
        "Docker more memory, or use the lite profile",
    ),
    (
        re.compile(r"AccessDeniedException|Permission denied", re.I),
        "a data directory is not writable by the service: `logtray stack down --volumes` resets "
        "its data volume",
    ),
)

# Riemann's Kafka consumer loop exits for good on one undigestible message (riemann#1016,
# #991) and logs this; only a restart of Riemann recovers it.
_DEAD_CONSUMER = re.compile(r"Interrupted consumption|kafka.*consum\w* (?:stopped|exited)", re.I)


def diagnose(log_lines: Sequence[str]) -> str | None:
    """A hint for a known cause of failure found in a service's last log lines."""
    for line in reversed(log_lines):
        for pattern, hint in _DIAGNOSES:
            if pattern.search(line):
                return hint
    return None


def riemann_consumer_dead(log_lines: Sequence[str]) -> bool:
    """True when Riemann's log says its Kafka consumer stopped (after the last start)."""
    for line in reversed(log_lines):
        if _DEAD_CONSUMER.search(line):
            return True
        if "Hyperspace core online" in line:  # Riemann's start banner: a fresh consumer
            return False
    return False

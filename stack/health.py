"""Readiness probes from the host, and the diagnosis of a service that failed to start."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from stack.specs import HttpReadiness

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


def _json_at(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def probe_http(check: HttpReadiness, host_port: int, timeout: float = 2.0) -> tuple[bool, str]:
    """One readiness probe: (ready, what was seen)."""
    url = f"http://127.0.0.1:{host_port}{check.path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read(1_000_000)
            status = resp.status
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"
    if status != 200:
        return False, f"{url} answered {status}"
    if not check.json_path:
        return True, f"{url} answered 200"
    try:
        value = _json_at(json.loads(body), check.json_path)
    except ValueError:
        return False, f"{url} did not answer JSON"
    if value == check.json_value:
        return True, f"{url}: {'.'.join(check.json_path)} = {value}"
    where = ".".join(check.json_path)
    return False, f"{url}: {where} = {value!r}, waiting for {check.json_value!r}"

"""Writes Elasticsearch refuses, in words: the cause, which disk watermark was crossed, and
the fix — and the one call that clears the read-only block (offered as Repair).

riemann.config reports a refused _bulk (tests/stack/test_riemann_config.py); the tray turns the
report into these words. Pure apart from `clear_read_only_block`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from logtray.stack.errors import LogtrayError
from logtray.stack.preflight import ES_FLOOD_STAGE, ES_HIGH_WATERMARK, GIB

# The setting Elasticsearch puts at its flood-stage watermark, and the body that removes it.
UNBLOCK_SETTINGS = {"index.blocks.read_only_allow_delete": None}
BLOCKABLE = frozenset({"flood_stage", "blocked"})


@dataclass(frozen=True)
class Disk:
    """The filesystem where Docker keeps its data (Elasticsearch's volume), when local."""

    root: str
    free: int
    total: int

    @property
    def used(self) -> float:
        return 1 - self.free / self.total if self.total > 0 else 0.0


def unblock_command(es_url: str) -> str:
    body = json.dumps(UNBLOCK_SETTINGS, separators=(",", ":"))
    return (
        f"curl -X PUT '{es_url.rstrip('/')}/_all/_settings' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


def _watermark(disk: Disk | None) -> str:
    """Which of Elasticsearch's disk watermarks the disk is past now, in words."""
    if disk is None:
        return (
            f"the disk of Docker's data passed Elasticsearch's flood-stage watermark "
            f"({ES_FLOOD_STAGE:.0%})"
        )
    now = f"{disk.root} is {disk.used:.0%} full, {disk.free / GIB:.1f} GiB free"
    if disk.used >= ES_FLOOD_STAGE:
        return f"{now}: past Elasticsearch's flood-stage watermark ({ES_FLOOD_STAGE:.0%})"
    if disk.used >= ES_HIGH_WATERMARK:
        return (
            f"{now}: the flood-stage watermark ({ES_FLOOD_STAGE:.0%}) was crossed; it is below "
            f"that now but still past the high watermark ({ES_HIGH_WATERMARK:.0%}), so the "
            "block stays"
        )
    return (
        f"{now}: the flood-stage watermark ({ES_FLOOD_STAGE:.0%}) was crossed; it is below both "
        "watermarks now"
    )


def explain(
    problem: str,
    *,
    reason: str = "",
    index: str | None = None,
    failed: int | None = None,
    of: int | None = None,
    status: int | None = None,
    disk: Disk | None = None,
    es_url: str = "http://127.0.0.1:9200",
) -> tuple[str, str, str]:
    """(title, cause, fix) for a refused _bulk reported by riemann.config."""
    refused = f"{failed} of {of} events" if failed is not None and of else "events"
    where = f" to {index}" if index else ""
    logs = "`logtray stack logs riemann` shows every refused batch"
    if problem == "flood_stage":
        cause = (
            f"Elasticsearch made its indices read-only and refuses writes ({refused}{where} "
            f"refused): {_watermark(disk)}. New logs are not stored; Kibana shows none"
        )
        fix = (
            "free disk where Docker keeps its data (`docker system prune` removes unused images "
            f"and containers); below {ES_HIGH_WATERMARK:.0%} Elasticsearch lifts the block by "
            f"itself, or Repair clears it now ({unblock_command(es_url)})"
        )
        return "Elasticsearch refuses writes: disk full", cause, fix
    if problem == "blocked":
        cause = f"an index block refuses writes ({refused}{where} refused): {reason}"
        fix = f"Repair clears the read-only block ({unblock_command(es_url)}); {logs}"
        return "Elasticsearch refuses writes: index blocked", cause, fix
    if problem == "closed":
        name = index or "<index>"
        cause = f"the index{where.replace(' to', '')} is closed ({refused} refused)"
        fix = f"open it: curl -X POST '{es_url.rstrip('/')}/{name}/_open'; {logs}"
        return "Elasticsearch refuses writes: index closed", cause, fix
    if problem == "mapping":
        cause = f"Elasticsearch cannot index some events ({refused}{where} refused): {reason}"
        fix = (
            "a log field changes type between records (e.g. a number, then an object): keep "
            f"each field one type; {logs}"
        )
        return "Elasticsearch refuses some events", cause, fix
    if problem == "overloaded":
        cause = f"Elasticsearch is overloaded (HTTP 429) and refused {refused}: {reason}"
        fix = (
            "give it more memory ([stack.services.elasticsearch] mem_limit and ES_JAVA_OPTS) or "
            f"log less; {logs}"
        )
        return "Elasticsearch refuses writes: overloaded", cause, fix
    code = f"HTTP {status}" if status else "an error"
    cause = f"Elasticsearch answered {code} and refused {refused}: {reason or 'no reason given'}"
    return "Elasticsearch refuses writes", cause, f"`logtray stack logs elasticsearch`; {logs}"


def clear_read_only_block(es_url: str, timeout: float = 10.0) -> None:
    """Remove the read-only-allow-delete block from every index (what Repair does)."""
    url = es_url.rstrip("/") + "/_all/_settings"
    try:
        resp = requests.put(url, json=UNBLOCK_SETTINGS, timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise LogtrayError(
            f"cannot reach Elasticsearch at {es_url} to clear its read-only block: {exc}",
            fix="check that the stack's elasticsearch runs (`logtray stack status`)",
        ) from None
    if resp.status_code >= 300:
        raise LogtrayError(
            f"Elasticsearch refused to clear its read-only block (HTTP {resp.status_code}): "
            f"{resp.text[:200]}",
            fix=f"run it by hand: {unblock_command(es_url)}",
        )

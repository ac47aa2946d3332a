"""The error kinds' shared cases (tests/kind_cases.json), read into records and a runner.

The table's records are JSON objects (or lines of the real loggers' fixtures in tests/shapes/);
`run_book` plays a case against the pure `KindBook` exactly as the table's "about" says, and
`for_harness` hands the same records and steps to riemann.config's Clojure harness.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logtray.pipeline.kinds import Kind, KindBook, KindsConfig, KnownKind, kind_of
from logtray.pipeline.record import normalize

TABLE_PATH = Path(__file__).with_name("kind_cases.json")
SHAPES = Path(__file__).with_name("shapes")
TABLE: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
NOW: float = float(TABLE["now"])


def record_value(spec: dict[str, Any]) -> dict[str, Any]:
    """A named record as the Kafka message's JSON object."""
    if "fixture" in spec and "line" in spec:
        lines = (SHAPES / spec["fixture"]).read_text(encoding="utf-8").splitlines()
        value: dict[str, Any] = json.loads(lines[spec["line"] - 1])
        return value
    return spec


RECORDS: dict[str, dict[str, Any]] = {
    name: record_value(spec) for name, spec in TABLE["records"].items()
}


def kind_named(name: str) -> Kind | None:
    record = normalize(RECORDS[name])
    return None if record is None else kind_of(record)


def kind_json(kind: Kind | None) -> dict[str, Any] | None:
    if kind is None:
        return None
    return {
        "id": kind.id,
        "service": kind.service,
        "type": kind.type,
        "template": kind.template,
        "file": kind.file,
        "line": kind.line,
    }


def config_of(case: dict[str, Any]) -> KindsConfig:
    merged = {**TABLE["config"], **case.get("config", {})}
    return KindsConfig(
        learn_s=float(merged["learn_s"]),
        burst_max=int(merged["burst_max"]),
        burst_s=float(merged["burst_s"]),
        max_kinds=int(merged["max_kinds"]),
    )


def run_book(case: dict[str, Any]) -> list[dict[str, Any]]:
    """What the book tells over a case, in the table's terms."""
    book = KindBook(config_of(case))
    kept = []
    for entry in case["known"]:
        kind = kind_named(entry["record"])
        assert kind is not None, entry
        seen = NOW + entry.get("seen", -60)
        message = normalize(RECORDS[entry["record"]])
        example = (message.message if message else None) or ""
        kept.append(KnownKind(kind, seen, seen, 1, example, entry.get("state", "open")))
    book.load(kept)
    told: list[dict[str, Any]] = []
    for step in case["steps"]:
        at = step["at"]
        now = NOW + at
        for decision in book.due(now):
            told.append(
                {
                    "at": at,
                    "told": decision.told,
                    "service": decision.service,
                    "count": decision.count,
                }
            )
        for state in ("resolve", "mute", "reopen"):
            for name in step.get(state, []):
                kind = kind_named(name)
                assert kind is not None, name
                new_state = {"resolve": "resolved", "mute": "muted", "reopen": "open"}[state]
                assert book.set_state(kind.service, kind.id, new_state) is not None, name
        for name in step.get("records", []):
            record = normalize(RECORDS[name])
            kind = None if record is None else kind_of(record)
            if kind is None or record is None:
                continue
            decision = book.observe(kind, now, record.time, record.message or "")
            if decision is not None:
                told.append(
                    {
                        "at": at,
                        "told": decision.told,
                        "service": decision.service,
                        "kind": decision.kind.kind.id if decision.kind else None,
                        "count": decision.count,
                    }
                )
    return told


def for_harness() -> str:
    """The records (as Kafka message values) and the cases, as the Clojure harness reads them."""
    return json.dumps(
        {
            "now": NOW,
            "config": TABLE["config"],
            "records": {name: json.dumps(value) for name, value in RECORDS.items()},
            "cases": TABLE["cases"],
        }
    )

"""The error-spike rule's shared cases (tests/rule_cases.json), expanded into Kafka message values.

One expansion for both implementations: the engine's test feeds these values to `RuleEngine`
on a clock set to each delivery's moment; the riemann.config test hands the same values to the
Clojure harness, which feeds them to the config's streams with Riemann's clock set the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("rule_cases.json")
TABLE: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
NOW: float = float(TABLE["now"])
CONFIG: dict[str, Any] = TABLE["config"]


@dataclass(frozen=True)
class Delivery:
    at: float  # the arrival clock, epoch seconds
    values: list[bytes]


@dataclass(frozen=True)
class Case:
    name: str
    deliveries: list[Delivery]
    alerts: list[dict[str, Any]]  # as in the table: pathname, count, at and time from NOW


def iso(seconds: float) -> str:
    millis = round(seconds * 1000)
    moment = datetime.fromtimestamp(millis // 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"


def record(series: dict[str, Any], true_time: float) -> bytes:
    stated = NOW + true_time + series.get("ahead", 0)
    out: dict[str, Any] = {
        "level": series.get("level", "error"),
        "message": "boom",
        "pathname": series.get("pathname", "/app/a.py"),
        "lineno": 12,
    }
    field = series["field"]
    if field == "@timestamp":
        out["@timestamp"] = iso(stated)
    elif field == "time":
        out["time"] = stated
    elif field == "time_ms":
        out["time"] = round(stated * 1000)
    elif field == "created":
        out["created"] = stated
    elif field != "none":
        raise ValueError(f"unknown time field {field!r}")
    return json.dumps(out).encode()


def expand(case: dict[str, Any]) -> Case:
    timed: list[tuple[float, int, bytes]] = []  # (arrival, order, value)
    order = 0
    for series in case["series"]:
        for i in range(series["n"]):
            true_time = series["from"] + i * series["every"]
            at = true_time + series.get("lag", 0) if series.get("live") else series["at"]
            timed.append((NOW + at, order, record(series, true_time)))
            order += 1
    timed.sort(key=lambda item: (item[0], item[1]))
    deliveries: list[Delivery] = []
    for at, _, value in timed:
        if deliveries and deliveries[-1].at == at:
            deliveries[-1].values.append(value)
        else:
            deliveries.append(Delivery(at, [value]))
    return Case(case["name"], deliveries, case["alerts"])


CASES: list[Case] = [expand(case) for case in TABLE["cases"]]


def relative(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert seen (absolute times) in the table's terms (times from NOW, to the ms)."""
    return {
        "pathname": alert["pathname"],
        "count": alert["count"],
        "at": round(alert["at"] - NOW, 3),
        "time": round(alert["time"] - NOW, 3),
    }


def for_harness() -> str:
    """The cases as the Clojure harness reads them (RULE_CASES)."""
    return json.dumps(
        [
            {
                "name": case.name,
                "deliveries": [
                    {"at": d.at, "values": [v.decode() for v in d.values]} for d in case.deliveries
                ],
            }
            for case in CASES
        ]
    )

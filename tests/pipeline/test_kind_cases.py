"""The shared error-kind table (tests/kind_cases.json) against the lite profile's KindBook.

riemann.config is to run the same table (tests/kind_cases.md states the rules it implements):
one rule, two implementations, the same kinds and the same decisions.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.kind_cases import TABLE, kind_json, kind_named, run_book

CASES: list[dict[str, Any]] = TABLE["cases"]
PRINTS: list[dict[str, Any]] = TABLE["fingerprints"]


@pytest.mark.parametrize("entry", PRINTS, ids=[entry["record"] for entry in PRINTS])
def test_each_record_has_the_kind_the_table_says(entry: dict[str, Any]) -> None:
    assert kind_json(kind_named(entry["record"])) == entry["kind"]


@pytest.mark.parametrize("entry", [e for e in PRINTS if e["kind"]], ids=lambda e: e["record"])
def test_the_ids_are_the_stated_hash_of_the_parts(entry: dict[str, Any]) -> None:
    kind = entry["kind"]
    text = f"{kind['type']}\n{kind['template']}\n{kind['file']}".encode()
    assert kind["id"] == hashlib.sha1(text).hexdigest()[:12]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_book_tells_what_the_table_says(case: dict[str, Any]) -> None:
    assert run_book(case) == case["told"]


def test_the_table_covers_every_decision_and_every_fixture() -> None:
    told = {t["told"] for case in CASES for t in case["told"]}
    assert told == {"new", "regressed", "burst", "learned"}
    fixtures = {spec["fixture"] for spec in TABLE["records"].values() if "fixture" in spec}
    assert len(fixtures) == 14
    assert any(case.get("config") for case in CASES)  # the bound

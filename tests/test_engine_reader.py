"""The engine reader's gates, without a broker: what the warm-up's records raise is dropped,
the rest passes, and a spike an earlier run told (the history) is not told again."""

from __future__ import annotations

from dataclasses import dataclass

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine_reader import EngineReader


@dataclass
class Record:
    partition: int
    offset: int
    value: bytes


def test_records_before_the_committed_offset_only_warm_up() -> None:
    reader = EngineReader(window_s=10, throttle_s=30)
    told: list[Alert] = []
    accept = reader.accepting(told.append)
    reader._warm_until = {0: 3}  # as on_start leaves it for partition 0, committed at 3
    # What the warm-up's records raised before is in the history.
    reader.told_before("/app/1.py", 1001.0)
    reader.told_before("/app/2.py", 1002.0)

    def feed(records: list[Record]) -> None:
        for record in records:  # every record raises an alert, as a spike's might
            accept(Alert(pathname=f"/app/{record.offset}.py", time=1000.0 + record.offset))

    on_records = reader.feeding(feed)
    on_records([Record(0, 1, b""), Record(0, 2, b""), Record(0, 3, b""), Record(0, 4, b"")])
    on_records([Record(1, 0, b"")])
    on_records([Record(0, 5, b"")])
    assert [a.pathname for a in told] == ["/app/3.py", "/app/4.py", "/app/0.py", "/app/5.py"]
    assert reader.warmed == 2 and reader.dropped == 2


def test_a_spike_first_crossing_in_the_warm_up_is_told() -> None:
    """A spike spread over partitions: its newer records on one partition were counted first,
    so it crosses while another partition's older records warm up; the history never had it."""
    reader = EngineReader(window_s=10, throttle_s=30)
    told: list[Alert] = []
    accept = reader.accepting(told.append)
    reader._warm_until = {0: 3}
    reader.told_before("/app/told.py", 1000.0)

    def feed(records: list[Record]) -> None:
        for record in records:
            name = "told" if record.offset == 1 else "spread"
            accept(Alert(pathname=f"/app/{name}.py", time=1000.5))

    reader.feeding(feed)([Record(0, 1, b""), Record(0, 2, b"")])
    assert [a.pathname for a in told] == ["/app/spread.py"]
    assert reader.dropped == 1


def test_a_spike_an_earlier_run_told_is_not_told_again() -> None:
    reader = EngineReader(window_s=10, throttle_s=30)
    told: list[Alert] = []
    accept = reader.accepting(told.append)
    reader.told_before("/app/pay.py", 1000.0)
    accept(Alert(pathname="/app/pay.py", time=1000.4))  # the same spike, crossing elsewhere
    accept(Alert(pathname="/app/pay.py", time=1031.0))  # a later spike
    accept(Alert(pathname="/app/other.py", time=1000.0))
    assert [(a.pathname, a.time) for a in told] == [
        ("/app/pay.py", 1031.0),
        ("/app/other.py", 1000.0),
    ]
    assert reader.repeats == 1

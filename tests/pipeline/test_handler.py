"""KafkaJSONHandler: the JSON shape (pure), and its behaviour against a real broker."""

from __future__ import annotations

import datetime
import json
import logging
import sys
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from logtray.stack.kafka_handler import KafkaJSONHandler, iso_utc, record_to_dict
from tests.pipeline.kafka_util import read_topic


def make_record(msg: str = "boom %s", args: tuple[object, ...] = (1,), **extra: object):
    record = logging.LogRecord("app.db", logging.ERROR, "/app/db.py", 42, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_shape():
    doc = record_to_dict(make_record(user="ann", request_id=7), "billing", "laptop")
    assert doc["@timestamp"].endswith("Z") and "T" in doc["@timestamp"]
    assert {k: doc[k] for k in ("level", "message", "pathname", "lineno", "logger")} == {
        "level": "error",
        "message": "boom 1",
        "pathname": "/app/db.py",
        "lineno": 42,
        "logger": "app.db",
    }
    assert (doc["service"], doc["host"], doc["user"], doc["request_id"]) == (
        "billing",
        "laptop",
        "ann",
        7,
    )
    assert "time" not in doc and "msg" not in doc and "args" not in doc


def test_never_a_string_time_and_extras_do_not_override():
    doc = record_to_dict(make_record(time="yesterday", level="fake"), "s", "h")
    assert "time" not in doc and doc["time_text"] == "yesterday"
    assert doc["level"] == "error"
    assert record_to_dict(make_record(time=12.5), "s", "h")["time"] == 12.5


def test_exception_text_is_kept():
    try:
        raise ValueError("bad")
    except ValueError:
        record = make_record()
        record.exc_info = sys.exc_info()
    assert "ValueError: bad" in record_to_dict(record, "s", "h")["exception"]


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_records_reach_the_broker_and_close_flushes(broker):
    handler = KafkaJSONHandler(broker.bootstrap, "handler-ok", service="svc")
    logger = logger_with(handler, "t.ok")
    for i in range(500):
        logger.error("error %d", i, extra={"n": i})
    handler.close()
    assert handler.sent == 500 and handler.dropped == 0
    docs = [json.loads(v) for v in read_topic(broker.bootstrap, "handler-ok", 500)]
    assert sorted(d["n"] for d in docs) == list(range(500))
    assert all(d["service"] == "svc" and d["level"] == "error" for d in docs)


def test_broker_down_bounded_buffer_one_warning_then_resumes(tansu_binary, tmp_path, capfd):
    from tests.pipeline.conftest import Broker

    broker = Broker(tansu_binary, tmp_path / "tansu.log")  # not started yet: the port is closed
    handler = KafkaJSONHandler(broker.bootstrap, "handler-down", max_buffer=1000, retry_s=0.2)
    logger = logger_with(handler, "t.down")
    try:
        # emit() never waits for the broker: it starts only after these 5,000 emits have all
        # returned, so an emit() that waited for it would never return. The join's bound is
        # far, not a speed check: the emits take ~0.05 s (~1 s on a busy machine); emits that
        # each waited 6 ms or more on the network would miss it. How long one emit() takes is
        # measured by bench/pipeline_bench.py (docs/pipeline-benchmarks.md, broker down).
        def caller() -> None:
            for i in range(5000):
                logger.error("while down %d", i)

        thread = threading.Thread(target=caller, name="caller", daemon=True)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "emit() is waiting for the broker that is down"
        assert len(handler._buffer) == 1000 and handler.dropped == 4000
        warnings = [line for line in capfd.readouterr().err.splitlines() if "kafka handler" in line]
        assert len(warnings) <= 2 and "Traceback" not in "".join(warnings)

        broker.start()  # the broker comes back: the buffer drains by itself
        deadline = time.monotonic() + 20
        while handler.sent < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handler.sent == 1000
        logger.error("after the return")
        handler.close()
        assert handler.sent == 1001
        assert len(read_topic(broker.bootstrap, "handler-down", 1001)) == 1001
        assert "is back" in capfd.readouterr().err
    finally:
        handler.close()
        broker.stop()


def test_broker_lost_mid_stream_never_raises(broker):
    handler = KafkaJSONHandler(broker.bootstrap, "handler-lost", max_buffer=500, retry_s=0.2)
    logger = logger_with(handler, "t.lost")
    try:
        logger.error("first")
        deadline = time.monotonic() + 10
        while handler.sent < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        broker.stop()
        for i in range(2000):
            logger.error("into the void %d", i)
        assert len(handler._buffer) <= 500
        broker.start()
        deadline = time.monotonic() + 30
        while handler.sent < 50 and time.monotonic() < deadline:
            logger.error("back")
            time.sleep(0.05)
        assert handler.sent >= 50
    finally:
        handler.close()


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_iso_timestamp_matches_datetime(created):
    reference = datetime.datetime.fromtimestamp(created, tz=datetime.timezone.utc)
    assert iso_utc(created) == reference.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_aiokafka_own_records_are_not_fed_back(tmp_path):
    from tests.conftest import free_port

    handler = KafkaJSONHandler(f"127.0.0.1:{free_port()}", "t", flush_timeout_s=0.1)
    try:
        handler.handle(
            logging.LogRecord("aiokafka.conn", 40, "x.py", 1, "cannot connect", (), None)
        )
        handler.handle(make_record())
        assert len(handler._buffer) == 1
    finally:
        handler.close()

"""The rule's cost per record in both profiles, in one run: riemann.config's Clojure (full
profile) beside the lite profile's Python engine, on the same records.

    .venv/bin/python -m bench.profiles_bench      # 2-8 min by the load; --events N --rounds N

The records are the real loggers' of tests/shapes/ (14 loggers, 2 INFO + 12 ERROR each),
repeated to `--events`, on a clock just after their own times (bench/shapes_bench.py's mix).
Two figures a side, best of `--rounds` after warm-up rounds, records per second of wall time
and per CPU-second of the reading thread:

- decode: a message value to its full normalized reading (level, message, template, call site,
  group, time, error). Full profile: riemann.config's `record-of`, its Kafka value deserializer
  (cheshire's JSON, then the rules of tests/shapes/README.md), which Riemann runs on every
  message, since every record is indexed with its reading. Lite: `orjson.loads` then
  `normalize` with the template and the error, the same reading in Python.
- rule: the whole per-record path to a decision. Full: `record-of`, Riemann's event, the
  config's streams (the spike rule and the index batch). Lite: `RuleEngine.feed`, which reads
  only what the rule needs (level, group, time) and nothing of a record below the level.

The Clojure side runs on the JVM with Riemann 0.3.12's functions the config uses mirrored by
tests/stack/riemann_harness.clj (its batch and async queues record events instead of sending
them), loaded with Debian's clojure, cheshire, clj-http and tools.logging (`/usr/share/java`);
not Riemann itself, which cannot run here (no image registry).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.shapes_bench import measure, mix_values

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "stack" / "riemann_harness.clj"
CONFIG = ROOT / "stack" / "riemann" / "riemann.config"
BENCH = Path(__file__).with_name("riemann_rule_bench.clj")
# Where the harness's scenarios start: what comes before is Riemann's functions, mirrored.
SCENARIOS = (
    "; ---------------------------------------------------------------------------------- scenarios"
)
# Loads the mirrored functions, the config and the bench in the config's namespace, read as the
# harness's own text (its *file*: it loads riemann_stubs.clj from its own folder).
LOADER = (
    '(let [h (slurp (System/getenv "HARNESS")) '
    'p (subs h 0 (.indexOf h (System/getenv "SCENARIOS")))] '
    "(clojure.lang.Compiler/load (java.io.StringReader. "
    '(str p "\\n(load-file (System/getenv \\"RIEMANN_CONFIG\\"))'
    '\\n(load-file (System/getenv \\"BENCH\\"))")) '
    '(System/getenv "HARNESS") "riemann_harness.clj"))'
)


def clojure_side(values: list[bytes], clock: float, rounds: int, warmup: int) -> dict[str, Any]:
    if not shutil.which("clojure"):
        raise SystemExit(
            "clojure is not installed (Debian: apt install clojure libcheshire-clojure "
            "libclj-http-clojure libtools-logging-clojure)"
        )
    with tempfile.TemporaryDirectory(prefix="logtray-profiles-bench-") as tmp:
        path = Path(tmp) / "values.jsonl"
        path.write_bytes(b"\n".join(values) + b"\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CLASSPATH": "/usr/share/java/*",
            "HARNESS": str(HARNESS),
            "SCENARIOS": SCENARIOS,
            "RIEMANN_CONFIG": str(CONFIG),
            "BENCH": str(BENCH),
            "VALUES": str(path),
            "ROUNDS": str(rounds),
            "WARMUP": str(warmup),
            "CLOCK": repr(clock),
        }
        done = subprocess.run(
            ["clojure", "-e", LOADER], env=env, capture_output=True, text=True, timeout=1800
        )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"the Clojure side failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    return result


def decode_python(values: list[bytes]) -> dict[str, float]:
    import orjson

    from logtray.pipeline.record import normalize

    start, start_cpu = time.perf_counter(), time.process_time()
    kept = 0
    for raw in values:
        try:
            record = normalize(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
        if record is not None:
            kept += 1
            _ = record.template, record.error  # read when asked: riemann.config reads them all
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {"per_s": len(values) / wall, "per_cpu_s": len(values) / cpu, "decoded": kept}


def python_side(values: list[bytes], clock: float, rounds: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        decode_python(values)
    decodes = [decode_python(values) for _ in range(rounds)]
    rules = [measure(values, clock) for _ in range(rounds)]
    return {
        "decode": {k: max(r[k] for r in decodes) for k in ("per_s", "per_cpu_s")},
        "rule": {k: max(r[k] for r in rules) for k in ("per_s", "per_cpu_s")},
        "decoded": decodes[0]["decoded"],
        "alerts": rules[0]["alerts"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds a side")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first (the JIT)")
    args = parser.parse_args(argv)
    values, clock = mix_values(args.events)
    lite = python_side(values, clock, args.rounds, args.warmup)
    full = clojure_side(values, clock, args.rounds, args.warmup)
    print(
        f"{args.events:,} records of the 14 loggers' mix, best of {args.rounds} rounds after "
        f"{args.warmup} warm-up; Python {platform.python_version()}, Java {full['java']}, "
        f"Clojure {full['clojure']}"
    )
    print(f"{'path':7} {'profile':24} {'records/s':>10} {'records/CPU-s':>14}")
    for part in ("decode", "rule"):
        for name, side in (("full (riemann.config)", full), ("lite (Python engine)", lite)):
            r = side[part]
            print(f"{part:7} {name:24} {r['per_s']:10,.0f} {r['per_cpu_s']:14,.0f}")
        ratio = full[part]["per_cpu_s"] / lite[part]["per_cpu_s"]
        print(f"{part:7} full / lite per CPU-s: {ratio:.2f}×")
    print(
        f"decoded: full {full['decoded']:,}, lite {lite['decoded']:,}; "
        f"alerts: full {full['alerts']:,}, lite {lite['alerts']:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

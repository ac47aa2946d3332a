"""The spike rule's cost per record shape, before and after reading every logger's shape.

    .venv/bin/python -m bench.shapes_bench --rounds 5    # ~1.5 min; --baseline REV --events N

Events per CPU-second of `RuleEngine.feed` alone (decode, read the record, count; no broker),
the engine's hot path, on two inputs:

- python: the records logtray's own handler writes (the shape the rule was written for, as
  bench/pipeline_bench.py's engine part builds them: 1 in 3 an error, 50 files, live times);
- mix: the real loggers' records of tests/shapes/ (14 loggers, 2 INFO + 12 ERROR each),
  repeated, on a clock just after their own times.

Each is run on this tree (after) and on `--baseline` (default: the commit before the shapes
work, 0d4fc12), extracted with `git archive` and imported under the installed names through a
tree of links, each in a child process, interleaved, best of `--rounds` kept (the machine's
noise is large). Before, most of the mix is unreadable to the rule (skipped early): its figure
there is the cost of ignoring those records, not of counting them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "tests" / "shapes"
BASELINE = "0d4fc12"


def iso(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def python_values(events: int) -> list[bytes]:
    """`events` records of logtray's own (Python) shape, a third of them errors over 50 files,
    timed from now on (bench/pipeline_bench.py's engine figures use them too)."""
    paths = [f"/app/mod{i}.py" for i in range(50)]
    start = time.time()
    return [
        json.dumps(
            {
                "@timestamp": iso(start + i * 1e-5),
                "level": "error" if i % 3 == 0 else "info",
                "message": f"event {i}",
                "pathname": paths[i % len(paths)],
                "lineno": 10,
                "service": "bench",
            }
        ).encode()
        for i in range(events)
    ]


def mix_values(events: int) -> tuple[list[bytes], float]:
    """The shape fixtures' records, repeated to `events`; and a clock just after their times."""
    lines = [
        line.encode()
        for path in sorted(SHAPES.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    values = (lines * (events // len(lines) + 1))[:events]
    # Read the clock from the fixtures themselves (any decoder would do; json: both trees have it).
    latest = 0.0
    for line in lines:
        record = json.loads(line)
        for key in ("@timestamp", "timestamp", "time"):
            value = record.get(key)
            if isinstance(value, str) and value.endswith("Z"):
                moment = datetime.fromisoformat(value[:23].rstrip("Z") + "+00:00")
                latest = max(latest, moment.timestamp())
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                latest = max(latest, value / 1000 if value > 1e11 else value)
    return values, latest + 1.0


def timed_feed(engine: Any, values: list[bytes]) -> dict[str, float]:
    """`engine.feed(values)` once: events per CPU-second and per second."""
    start, start_cpu = time.perf_counter(), time.process_time()
    engine.feed(values)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {"per_cpu_s": len(values) / cpu, "per_s": len(values) / wall}


def measure(values: list[bytes], clock: float | None) -> dict[str, float]:
    from logtray.tray.alerts.engine import RuleEngine
    from logtray.tray.base.config import EngineConfig

    now = (lambda: clock) if clock is not None else time.time
    engine = RuleEngine(EngineConfig(evidence_records=0), lambda alert: None, clock=now)
    return {
        **timed_feed(engine, values),
        "counted": engine.rule.matched,
        "malformed": engine.malformed,
        "alerts": engine.rule.alerts,
    }


def child(events: int, repeats: int) -> None:
    """One tree's figures (best of `repeats` in this process), as JSON on stdout."""
    python = python_values(events)
    mix, clock = mix_values(events)
    out: dict[str, Any] = {}
    for name, values, now in (("python", python, None), ("mix", mix, clock)):
        runs = [measure(values, now) for _ in range(repeats)]
        best = max(runs, key=lambda r: r["per_cpu_s"])
        best["per_s"] = max(r["per_s"] for r in runs)
        out[name] = best
    import logtray.tray.alerts.engine as engine

    out["engine"] = engine.__file__
    print(json.dumps(out))


def link_tree(source: Path, into: Path) -> Path:
    package = into / "logtray"
    package.mkdir(parents=True)
    for name in ("tray", "stack", "icons", "pipeline"):
        if (source / name).is_dir():
            (package / name).symlink_to(source / name, target_is_directory=True)
    return into


def run_child(links: Path, events: int, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(links)}
    command = [sys.executable, "-m", "bench.shapes_bench", "--child", "--events", str(events)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="child runs per tree, interleaved")
    parser.add_argument("--repeats", type=int, default=3, help="runs within each child")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.events, args.repeats)
        return 0
    with tempfile.TemporaryDirectory(prefix="logtray-shapes-bench-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.baseline], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        trees = {
            "before": link_tree(base, Path(tmp) / "before"),
            "after": link_tree(ROOT, Path(tmp) / "after"),
        }
        best: dict[str, dict[str, dict[str, Any]]] = {"before": {}, "after": {}}
        for _ in range(args.rounds):
            for name, links in trees.items():
                result = run_child(links, args.events, args.repeats)
                assert result["engine"].startswith(str(links)), result["engine"]
                for shape in ("python", "mix"):
                    kept = best[name].get(shape)
                    if kept is None or result[shape]["per_cpu_s"] > kept["per_cpu_s"]:
                        best[name][shape] = result[shape]
    print(f"rule alone, {args.events:,} records, best of {args.rounds}×{args.repeats} per tree")
    print(f"{'shape':8} {'tree':7} {'events/CPU-s':>13} {'events/s':>10} counted malformed alerts")
    for shape in ("python", "mix"):
        for name in ("before", "after"):
            r = best[name][shape]
            print(
                f"{shape:8} {name:7} {r['per_cpu_s']:13,.0f} {r['per_s']:10,.0f} "
                f"{r['counted']:7,} {r['malformed']:9,} {r['alerts']:6,}"
            )
        ratio = best["after"][shape]["per_cpu_s"] / best["before"][shape]["per_cpu_s"]
        print(f"{shape:8} after/before: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())

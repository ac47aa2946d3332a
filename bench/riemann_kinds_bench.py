"""The cost of error kinds in the full profile: riemann.config's consumer path with kinds on and
off, in one run.

    .venv/bin/python -m bench.riemann_kinds_bench --rounds 3     # ~2 min; --events N

Events per CPU-second (the consuming thread's) of riemann.config's consumer path: each Kafka
message value decoded and read (record-of), then streamed (the Elasticsearch batch, the spike
rule and, with kinds on, each error record's kind and the book), with Riemann 0.3.12's stream
code mirrored from its source (tests/stack/riemann_stubs.clj; Riemann itself cannot run here),
in a JVM per run (clojure, warmed up by one pass, best of 3 passes), KINDS_ENABLED false and
true interleaved, best of `--rounds` kept, on bench/shapes_bench.py's two inputs: python
(logtray's handler's records, 1 in 3 an error, 50 files) and mix (the 14 real loggers' records
of tests/shapes/, 12 of every 14 errors).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.shapes_bench import mix_values, python_values

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "riemann_kinds_bench.clj"
CONFIG = ROOT / "stack" / "riemann" / "riemann.config"


def run(values_file: Path, kinds: bool) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CLASSPATH": "/usr/share/java/*",
        "RIEMANN_CONFIG": str(CONFIG),
        "BENCH_VALUES": str(values_file),
        "KINDS_ENABLED": "true" if kinds else "false",
        "ALERT_HOST": "127.0.0.1",
        "ALERT_PORT": "1",
        "ES_URL": "http://127.0.0.1:1",
    }
    out = subprocess.run(
        ["clojure", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=1800
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"the bench's JVM failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    mix, clock = mix_values(args.events)
    inputs = [
        {"name": "python", "values": [v.decode() for v in python_values(args.events)]},
        {"name": "mix", "values": [v.decode() for v in mix], "clock": clock},
    ]
    best: dict[tuple[str, bool], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        values_file = Path(tmp) / "values.json"
        values_file.write_text(json.dumps({"inputs": inputs, "repeats": 3}), encoding="utf-8")
        for round_ in range(args.rounds):
            for kinds in (False, True) if round_ % 2 == 0 else (True, False):
                for name, figures in run(values_file, kinds).items():
                    key = (name, kinds)
                    if key not in best or figures["per_cpu_s"] > best[key]["per_cpu_s"]:
                        best[key] = figures
                print(
                    f"round {round_ + 1}, kinds {'on' if kinds else 'off'}: done", file=sys.stderr
                )
    print(f"{args.events:,} records per input, best of {args.rounds} rounds")
    print("| input | kinds off (events/CPU-s) | kinds on | on / off | kinds known |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in ("python", "mix"):
        off, on = best[(name, False)], best[(name, True)]
        ratio = on["per_cpu_s"] / off["per_cpu_s"]
        print(
            f"| {name} | {off['per_cpu_s']:,.0f} | {on['per_cpu_s']:,.0f} | "
            f"**{ratio:.2f}×** | {on['kinds']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

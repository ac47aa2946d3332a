"""The cost of turning a container's output lines into records, beside reading the same lines.

    .venv/bin/python -m bench.lines_bench --rounds 5     # ~1 min; --lines N

Lines per CPU-second (time.process_time, in this process) of `Joiner.feed` and
`record_from_entry` for every entry it completes (logtray.pipeline.lines: what the shipper runs
for each line of a container's output), on two inputs:

- plain: the real programs' plain-text output of tests/shapes/lines/ (Python, Node, Java
  with logback, Go: log lines, tracebacks, stack traces, panics), repeated;
- json: the real loggers' JSON lines of tests/shapes/ (14 loggers), repeated.

Beside them: a bare loop over the same lines (what `python -c 'for l in sys.stdin: pass'`
costs beyond reading), and `json.loads` of each of the json input's lines (the least a reader
of JSON lines does; both inputs are set beside it). The three are interleaved in each round,
best of `--rounds` kept (the machine's noise is large).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from logtray.pipeline.lines import Joiner, record_from_entry

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "tests" / "shapes"


def plain_lines(count: int) -> list[str]:
    one = [
        line
        for path in sorted((SHAPES / "lines").glob("*.log"))
        for line in path.read_text(encoding="utf-8").split("\n")
    ]
    return (one * (count // len(one) + 1))[:count]


def json_lines(count: int) -> list[str]:
    one = [
        line
        for path in sorted(SHAPES.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return (one * (count // len(one) + 1))[:count]


def ship(lines: list[str]) -> int:
    joiner = Joiner()
    records = 0
    time = 1765112400.0
    for line in lines:
        for entry in joiner.feed(line, time):
            record_from_entry(entry, "payments", "payments-1")
            records += 1
        time += 1e-4
    for entry in joiner.flush():
        record_from_entry(entry, "payments", "payments-1")
        records += 1
    return records


def loop(lines: list[str]) -> int:
    count = 0
    for _ in lines:
        count += 1
    return count


def loads(lines: list[str]) -> int:
    count = 0
    for line in lines:
        json.loads(line)
        count += 1
    return count


def cpu_rate(work: Callable[[list[str]], int], lines: list[str]) -> float:
    start = time.process_time()
    work(lines)
    return len(lines) / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    inputs = {"plain": plain_lines(args.lines), "json": json_lines(args.lines)}
    works: dict[str, Callable[[list[str]], int]] = {"ship": ship, "loop": loop, "loads": loads}
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for shape, lines in inputs.items():
            for name, work in works.items():
                if name == "loads" and shape == "plain":
                    continue  # plain text is not JSON
                rate = cpu_rate(work, lines)
                best[shape, name] = max(best.get((shape, name), 0.0), rate)
    entries = {shape: ship(lines) for shape, lines in inputs.items()}
    print(f"{args.lines:,} lines per input, best of {args.rounds} rounds, lines per CPU-second")
    loaded = best["json", "loads"]
    print("| input | entries | ship | bare loop | json.loads (json input) | ship / json.loads |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for shape in inputs:
        shipped, bare = best[shape, "ship"], best[shape, "loop"]
        print(
            f"| {shape} | {entries[shape]:,} | {shipped:,.0f} | {bare:,.0f} | {loaded:,.0f} "
            f"| {shipped / loaded:.2f}× |"
        )


if __name__ == "__main__":
    main()

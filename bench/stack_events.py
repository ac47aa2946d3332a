"""Stack events: seconds from a fault in a stack service to its desktop notification.

    bash .ci/docker-setup.sh                          # the engine (stand-ins are built locally)
    .venv/bin/python -m bench.stack_events --runs 4   # ~45 s a run; needs the desktop tools

Runs the scenario of tests/stack/test_stack_events.py `--runs` times on Docker (stand-in
services on the real engine, the tray on a private Xvfb + D-Bus + dunst desktop: an OOM kill,
an unhealthy turn, a SIGKILL and a restart loop), one pytest process a run, and reads what each
run measured (test-artifacts/stack-events/measured.txt): from the fault to the Notify call on
the session bus. The test itself only waits for each notification with a far bound; these
are the figures. Prints each run and the range per fault (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = (
    "tests/stack/test_stack_events.py::test_stack_events_are_told_once_each_and_a_clean_stop_is_not"
)
MEASURED = ROOT / "test-artifacts" / "stack-events" / "measured.txt"
FAULTS = {
    "oom": "OOM kill",
    "unhealthy": "unhealthy (0.25 s check interval)",
    "sigkill": "SIGKILL",
    "loop": "restart loop",
}


def one_run() -> dict[str, float]:
    MEASURED.unlink(missing_ok=True)
    env = {**os.environ, "LOGTRAY_TEST_ENGINES": os.environ.get("LOGTRAY_TEST_ENGINES", "docker")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise SystemExit(f"the scenario failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    found = re.findall(r"^(\w+): told ([\d.]+) s", MEASURED.read_text(), re.MULTILINE)
    return {name: float(seconds) for name, seconds in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        runs.append(one_run())
        print(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()))
    print("\n| fault | told after (min – max over the runs) |\n|---|---|")
    for key, label in FAULTS.items():
        seen = [run[key] for run in runs if key in run]
        if seen:
            print(f"| {label} | {min(seen):.2f} – {max(seen):.2f} s |")


if __name__ == "__main__":
    main()

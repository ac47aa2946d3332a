"""Stack manager benchmark: `logtray stack up` (cold, warm) and `down` against Debian's
docker-compose 1.29 running the output of `logtray stack compose`, on the same 5 stand-in
services (healthchecks every 0.25 s; kafka+elasticsearch, then riemann+kibana+demo).

    PYTHONPATH=. python bench/stack_bench.py --runs 3

It also measures the stack's idle cost (`--idle 60`, 0 to skip): the CPU seconds Docker's
healthchecks and any probes use over 60 s of a healthy stand-in stack, started by logtray and by
docker-compose from the same `stack compose` output, at the real stack's 30 s interval and at 1 s
(to resolve the cost of one check): the containers' own CPU (cgroup: the checks' processes),
their containerd-shims' (runc runs each exec; its CPU is reaped into the shim's), and the
engine's (dockerd + containerd: shared with whatever else runs on this engine).

Both sides run as CLI subprocesses (interpreter start-up included). "Cold" is from nothing (no
container, network or volume; images local) to every service ready: logtray's `up` returns
then; for docker-compose, `up -d` (which gates dependents on `service_healthy`) is followed by
waiting until every healthchecked container is healthy. Each command is bounded by a timeout
and everything is removed at the end. Needs a Docker engine (.ci/docker-setup.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import docker
import tomlkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logtray.stack.labels import LABEL_STACK, stack_filter  # noqa: E402
from tests.stack.standins import build_standins, standin_services  # noqa: E402

LT_NAME = "lt-bench-logtray"
DC_NAME = "lt-bench-compose"
TIMEOUT_S = 120


def write_config(path: Path, name: str, interval_s: float) -> None:
    doc = tomlkit.document()
    doc["listener"] = {"token": "bench-token"}
    stack = tomlkit.table()
    stack["profile"] = "full"
    stack["name"] = name
    stack["pull"] = False
    stack["ready_timeout_s"] = 60
    services = tomlkit.table()
    for svc, override in standin_services(interval_s=interval_s).items():
        table = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(override).items()
            if v not in (None, {}, ())
        }
        services[svc] = table
    stack["services"] = services
    doc["stack"] = stack
    path.write_text(tomlkit.dumps(doc))


def run(cmd: list[str], env: dict[str, str], timeout: float = TIMEOUT_S) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return elapsed


def wait_healthy(
    client: docker.DockerClient, name: str, count: int, t0: float, timeout: float = TIMEOUT_S
) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        containers = client.containers.list(filters=stack_filter(name), ignore_removed=True)
        ready = 0
        for c in containers:
            health = (c.attrs["State"].get("Health") or {}).get("Status")
            if c.attrs["State"]["Status"] == "running" and health in (None, "healthy"):
                ready += 1
        if ready == count:
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise SystemExit(f"{name}: not healthy within {timeout} s")


def proc_cpu_s(pid: int) -> float:
    """utime + stime + reaped children's, in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of stat): utime..cstime are fields 14-17.
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def engine_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("dockerd", "containerd"):
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def idle_sample(client: docker.DockerClient, name: str) -> dict[str, float]:
    containers = shims = 0.0
    for c in client.containers.list(filters=stack_filter(name), ignore_removed=True):
        stats = c.stats(stream=False, one_shot=True)
        containers += stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
        shims += proc_cpu_s(ppid(int(c.attrs["State"]["Pid"])))
    engine = sum(proc_cpu_s(pid) for pid in engine_pids())
    return {"containers": containers, "shims": shims, "engine": engine, "t": time.time()}


def idle_cost(client: docker.DockerClient, name: str, seconds: float) -> dict[str, float]:
    """CPU used over `seconds` by a running, healthy stack; `checks`: execs Docker ran."""
    a = idle_sample(client, name)
    time.sleep(seconds)  # the measurement window itself: nothing to wait for
    b = idle_sample(client, name)
    execs = client.events(
        since=int(a["t"]),
        until=int(b["t"]) + 1,
        filters={"label": f"{LABEL_STACK}={name}", "event": "exec_start"},
        decode=True,
    )
    checks = sum(1 for e in execs if a["t"] <= e.get("timeNano", 0) / 1e9 <= b["t"])
    out = {k: b[k] - a[k] for k in ("containers", "shims", "engine")}
    out["checks"] = checks
    return out


Sides = tuple[list[str], dict[str, str], list[str], dict[str, str]]


@contextlib.contextmanager
def two_stacks(interval: float) -> Iterator[Sides]:
    """The same two stacks for every measurement: `logtray stack` and docker-compose 1.29 on the
    compose file logtray writes, each with its own config, in a temporary folder.

    Yields (logtray command, its env, docker-compose command, its env); afterwards both stacks
    are taken down with their volumes, whatever happened, and the folder is removed.
    """
    tmp = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_STATE_HOME": str(tmp / "state"),
        "LOGTRAY_LISTENER_TOKEN": "bench-token",
    }
    lt_env = {**env, "LOGTRAY_CONFIG": str(tmp / "lt.toml")}
    dc_env = {**env, "LOGTRAY_CONFIG": str(tmp / "dc.toml")}
    write_config(tmp / "lt.toml", LT_NAME, interval)
    write_config(tmp / "dc.toml", DC_NAME, interval)
    compose_file = tmp / "docker-compose.yml"
    compose_file.write_text(
        subprocess.run(
            [sys.executable, "-m", "logtray.tray", "stack", "compose"],
            env=dc_env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    logtray = [sys.executable, "-m", "logtray.tray", "stack"]
    compose = ["docker-compose", "-p", DC_NAME, "-f", str(compose_file)]
    try:
        yield logtray, lt_env, compose, dc_env
    finally:
        subprocess.run(
            [*compose, "down", "--volumes"], env=dc_env, capture_output=True, timeout=TIMEOUT_S
        )
        subprocess.run(
            [*logtray, "down", "--volumes"], env=lt_env, capture_output=True, timeout=TIMEOUT_S
        )
        shutil.rmtree(tmp, ignore_errors=True)


def bench_idle(
    client: docker.DockerClient, interval: float, seconds: float
) -> dict[str, dict[str, float]]:
    costs: dict[str, dict[str, float]] = {}
    with two_stacks(interval) as (logtray, lt_env, compose, dc_env):
        t0 = time.perf_counter()
        run([*logtray, "up"], lt_env)
        wait_healthy(client, LT_NAME, 5, t0, timeout=max(TIMEOUT_S, 3 * interval))
        costs["logtray"] = idle_cost(client, LT_NAME, seconds)
        run([*logtray, "down", "--volumes"], lt_env)
        t0 = time.perf_counter()
        run([*compose, "up", "-d"], dc_env, timeout=max(TIMEOUT_S, 8 * interval))
        wait_healthy(client, DC_NAME, 5, t0, timeout=max(TIMEOUT_S, 3 * interval))
        costs["compose"] = idle_cost(client, DC_NAME, seconds)
    lt, dc = costs["logtray"], costs["compose"]
    print(f"\n### Idle {seconds:g} s, healthchecks every {interval:g} s (4 services)\n")
    print("| CPU seconds over the window | stack started by logtray | by docker-compose 1.29 |")
    print("|---|---|---|")
    print(f"| healthchecks run (exec_start events) | {lt['checks']:.0f} | {dc['checks']:.0f} |")
    for key, label in (
        ("containers", "containers (the checks' own processes)"),
        ("shims", "containerd-shims (runc exec)"),
        ("engine", "dockerd + containerd (shared engine: noisy)"),
    ):
        print(f"| {label} | {lt[key]:.3f} s | {dc[key]:.3f} s |")
    for side, c in (("logtray", lt), ("docker-compose", dc)):
        own = c["containers"] + c["shims"]
        print(
            f"\n{side}: {own:.3f} CPU-s in containers + shims over {seconds:g} s "
            f"({own / seconds * 100:.2f}% of one core; the services' own idle work included)"
        )
    return costs


def print_marginal(runs: dict[float, dict[str, dict[str, float]]]) -> None:
    """What one check adds: the difference between the most and the fewest checks run, divided
    by the difference in checks (the containers' own idle work cancels out)."""
    if len(runs) < 2:
        return
    print("\n### What one healthcheck costs (between the idle runs)\n")
    for side in ("logtray", "compose"):
        few = min(runs.values(), key=lambda r: r[side]["checks"])[side]
        many = max(runs.values(), key=lambda r: r[side]["checks"])[side]
        n = many["checks"] - few["checks"]
        if n <= 0:
            continue
        per = {k: (many[k] - few[k]) / n * 1000 for k in ("containers", "shims", "engine")}
        print(
            f"- {side}: {per['containers']:.1f} ms in the container + {per['shims']:.1f} ms "
            f"in its shim per check ({n:.0f} checks apart); engine {per['engine']:.1f} ms "
            "(shared, noisy)"
        )


def bench(client: docker.DockerClient, runs: int, interval: float) -> None:
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "logtray cold up",
            "logtray cold up, Docker says healthy",
            "logtray warm up",
            "logtray down",
            "compose cold up",
            "compose warm up",
            "compose down",
        )
    }
    with two_stacks(interval) as (logtray, lt_env, compose, dc_env):
        for i in range(runs):
            t0 = time.perf_counter()
            results["logtray cold up"].append(run([*logtray, "up"], lt_env))
            # logtray returns when every healthcheck test passed (it runs them right away);
            # Docker's own status follows at its next interval: measured too, for fairness.
            results["logtray cold up, Docker says healthy"].append(
                wait_healthy(client, LT_NAME, 5, t0)
            )
            results["logtray warm up"].append(run([*logtray, "up"], lt_env))
            results["logtray down"].append(run([*logtray, "down", "--volumes"], lt_env))

            t0 = time.perf_counter()
            run([*compose, "up", "-d"], dc_env)
            results["compose cold up"].append(wait_healthy(client, DC_NAME, 5, t0))
            t0 = time.perf_counter()
            run([*compose, "up", "-d"], dc_env)
            results["compose warm up"].append(wait_healthy(client, DC_NAME, 5, t0))
            results["compose down"].append(run([*compose, "down", "--volumes"], dc_env))
            print(f"interval {interval} s: run {i + 1}/{runs} done", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in results.items()}
    cold = med["logtray cold up"] / med["compose cold up"]
    cold_docker = med["logtray cold up, Docker says healthy"] / med["compose cold up"]
    print(f"\n### Healthcheck interval {interval:g} s (median of {runs})\n")
    print("| step | logtray | docker-compose 1.29 | target |")
    print("|---|---|---|---|")
    print(
        f"| cold up, until `up` returns (all ready) | {med['logtray cold up']:.2f} s | "
        f"{med['compose cold up']:.2f} s | <= 0.8x: {cold:.2f}x "
        f"{'met' if cold <= 0.8 else 'NOT met'} |"
    )
    print(
        f"| cold up, until Docker reports all healthy | "
        f"{med['logtray cold up, Docker says healthy']:.2f} s | "
        f"{med['compose cold up']:.2f} s | {cold_docker:.2f}x |"
    )
    print(
        f"| warm up (running stack) | {med['logtray warm up']:.2f} s | "
        f"{med['compose warm up']:.2f} s | < 1 s: "
        f"{'met' if med['logtray warm up'] < 1 else 'NOT met'} |"
    )
    print(
        f"| down | {med['logtray down']:.2f} s | {med['compose down']:.2f} s | < 3 s: "
        f"{'met' if med['logtray down'] < 3 else 'NOT met'} |"
    )
    print(
        "\nall runs (s): "
        + "; ".join(f"{k}: {', '.join(f'{x:.2f}' for x in v)}" for k, v in results.items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--intervals",
        type=float,
        nargs="+",
        default=[0.25, 2.0],
        help="healthcheck intervals to run with (s); 2-3 s is the real stack's",
    )
    parser.add_argument(
        "--idle", type=float, default=60.0, help="idle-cost window in s (0: skip the idle runs)"
    )
    parser.add_argument(
        "--idle-intervals",
        type=float,
        nargs="+",
        default=[30.0, 1.0],
        help="healthcheck intervals for the idle runs (s); 30 s is the real stack's",
    )
    parser.add_argument("--only-idle", action="store_true", help="skip the up/down runs")
    args = parser.parse_args()
    if not shutil.which("docker-compose"):
        raise SystemExit("docker-compose not found: apt-get install docker-compose")
    client = docker.from_env(timeout=120)
    build_standins(client)
    if not args.only_idle:
        for interval in args.intervals:
            bench(client, args.runs, interval)
    if args.idle > 0:
        idle = {i: bench_idle(client, i, args.idle) for i in args.idle_intervals}
        print_marginal(idle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

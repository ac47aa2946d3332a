"""Shipping a container's output: lines shipped per CPU-second, beside `docker logs -f` of the
same container to /dev/null, in the same run.

    PYTHONPATH=. python bench/ship_bench.py --lines 200000 --runs 3
    DOCKER_HOST=unix:///run/podman/podman.sock PYTHONPATH=. python bench/ship_bench.py \
        --read poll --lines 100000 --runs 3 --latency 100

`--read` picks how the log is read whatever the engine: `follow` (one followed stream, what
Docker gets), `poll` (reads to the log's end again and again, what Podman gets), `auto` (by
the engine). `--latency N` also times N lines printed 100 ms apart, from the line's print
(its /proc/uptime, the host's) to Kafka's acknowledgement of its record (the shipper's count,
sampled every 5 ms), leaving out the first 10 (the container being found); this includes the
joiner's wait for the next line. `--engine-pid PID` also counts the engine's CPU (dockerd's,
or `podman system service`'s), `--idle S` the CPU both spend during S seconds after the flood
was shipped, the container quiet and its whole log kept.

A busybox container prints `--lines` lines (a short plain-text log line with a sequence
number; `--shape traceback` prints a 12-line Python traceback per entry instead) and then
waits. Once the engine holds them all:

- logtray: a `Shipper` in this process follows the container from its first line, joins,
  makes the records and hands them to aiokafka, to a tansu broker on loopback (a
  subprocess), until Kafka has acknowledged every record. Its CPU is this process's (all its
  threads: the follower, the sender loop, aiokafka), measured with `time.process_time`.
- `docker logs -f`: the Docker CLI reads the same container's whole log and writes it to
  /dev/null; the container is stopped first so the follow ends at the last line. Its CPU is
  the child's user + system time (`os.wait4`).

Neither side counts the engine's own CPU (dockerd reads the log file and sends it to both) nor
the broker's. Needs a Docker engine, the `docker` CLI and the `test` extra (tansu).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import docker.models.containers
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logtray.stack.ship.shipper as shipper_module  # noqa: E402
from logtray.stack.ship.config import ShipConfig  # noqa: E402
from logtray.stack.ship.shipper import Shipper  # noqa: E402
from tests.pipeline.conftest import Broker, tansu_path  # noqa: E402
from tests.pipeline.kafka_util import read_topic  # noqa: E402
from tests.stack.standins import BUSYBOX_IMAGE, TEST_LABEL, build_standins  # noqa: E402

TRACEBACK = r"""Traceback (most recent call last):
  File "/srv/app/payments.py", line 9, in <module>
    pay()
  File "/srv/app/payments.py", line 6, in pay
    charge(1)
  File "/srv/app/payments.py", line 2, in charge
    raise TimeoutError(f"gateway did not answer payment {n} within 3000 ms")
TimeoutError: gateway did not answer payment $i within 3000 ms"""

PLAIN = "2026-12-07 13:00:00,123 INFO payments: payment $i handled in 12 ms"


def entries_of(lines: int, shape: str) -> tuple[int, int]:
    """How many entries the container prints, and how many lines each."""
    text = TRACEBACK if shape == "traceback" else PLAIN
    per_entry = text.count("\n") + 1
    return max(1, lines // per_entry), per_entry


def script(lines: int, shape: str) -> str:
    """The container's program: print the entries, say so on its last line, wait."""
    text = TRACEBACK if shape == "traceback" else PLAIN
    entries, _ = entries_of(lines, shape)
    body = text.replace('"', '\\"').replace("\n", "\\n")
    return (
        f'i=0; while [ $i -lt {entries} ]; do i=$((i+1)); printf "{body}\\n"; done; '
        "echo done-printing; exec sleep 100000"
    )


def engine_cpu(pid: int) -> float:
    """The engine process's CPU so far (0 without --engine-pid)."""
    if not pid:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def one_run(
    client: docker.DockerClient, host: str, lines: int, shape: str, pid: int = 0, idle: float = 0
) -> dict[str, float]:
    mark = f"io.logtray.bench.ship={uuid.uuid4().hex[:8]}"
    key, _, value = mark.partition("=")
    container = client.containers.create(
        BUSYBOX_IMAGE,
        ["sh", "-c", script(lines, shape)],
        labels={key: value, TEST_LABEL: "1"},
        init=True,
        network_mode="none",
    )
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(tansu_path() or Path("tansu"), Path(tmp) / "tansu.log")
        broker.start()
        try:
            container.start()
            deadline = time.monotonic() + 600
            while b"done-printing" not in _last_line(container):
                if time.monotonic() > deadline:
                    raise SystemExit("the container did not finish printing in 600 s")
                time.sleep(0.2)
            entries, per_entry = entries_of(lines, shape)
            printed = entries * per_entry
            shipper = Shipper(
                lambda: docker.DockerClient(base_url=host, timeout=120),
                ShipConfig(labels=(mark,)),
                broker.bootstrap,
                Path(tmp) / "ship",
            )
            me = psutil.Process()
            rss0 = peak = me.memory_info().rss
            cpu0, wall0, eng0 = time.process_time(), time.perf_counter(), engine_cpu(pid)
            shipper.start()
            while not (
                sum(s.lines for s in shipper.snapshot()) >= printed + 1 and _settled(shipper)
            ):
                peak = max(peak, me.memory_info().rss)
                if time.perf_counter() - wall0 > 600:
                    raise SystemExit(f"shipping did not finish in 600 s: {shipper.snapshot()}")
                time.sleep(0.05)
            ship_cpu = time.process_time() - cpu0
            ship_wall = time.perf_counter() - wall0
            eng1 = engine_cpu(pid)
            shipped = sum(s.shipped for s in shipper.snapshot())
            dropped = sum(s.dropped for s in shipper.snapshot())
            # The container quiet, its whole log kept: what following it costs meanwhile.
            idle0 = time.process_time()
            if idle:
                time.sleep(idle)
            idle_cpu, idle_engine = time.process_time() - idle0, engine_cpu(pid) - eng1
            shipper.stop()
            container.stop(timeout=10)
            cli_cpu, cli_wall = docker_logs_cpu(container.id)
        finally:
            broker.stop()
            container.remove(force=True)
    return {
        "lines": printed,
        "records": shipped,
        "dropped": dropped,
        "ship_cpu": ship_cpu,
        "ship_wall": ship_wall,
        "cli_cpu": cli_cpu,
        "cli_wall": cli_wall,
        "engine_cpu": eng1 - eng0,
        "idle_cpu": idle_cpu,
        "idle_engine_cpu": idle_engine,
        # How much the process's resident memory grew while shipping (sampled every 50 ms).
        "rss_growth_mib": (peak - rss0) / 2**20,
    }


def _last_line(container: docker.models.containers.Container) -> bytes:
    try:
        return bytes(container.logs(tail=1))
    except docker.errors.APIError:
        return b""  # Podman's tail reader met a line half written: ask again


def _settled(shipper: Shipper) -> bool:
    """Every line taken, acknowledged, and no entry held."""
    return not shipper.buffered_bytes() and not shipper.in_flight() and not shipper.holding()


def docker_logs_cpu(cid: str) -> tuple[float, float]:
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(["docker", "logs", "-f", cid], stdout=null, stderr=null)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"docker logs -f failed ({proc.returncode})")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def latency_run(client: docker.DockerClient, host: str, ticks: int) -> list[float]:
    """Seconds from each tick's print to Kafka's acknowledgement of its record."""
    mark = f"io.logtray.bench.ship={uuid.uuid4().hex[:8]}"
    key, _, value = mark.partition("=")
    program = (
        f"i=0; while [ $i -lt {ticks} ]; do i=$((i+1)); read up _ < /proc/uptime; "
        'echo "tick $i $up"; usleep 100000; done; exec sleep 100000'
    )
    container = client.containers.create(
        BUSYBOX_IMAGE,
        ["sh", "-c", program],
        labels={key: value, TEST_LABEL: "1"},
        init=True,
        network_mode="none",
    )
    acked: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(tansu_path() or Path("tansu"), Path(tmp) / "tansu.log")
        broker.start()
        shipper = Shipper(
            lambda: docker.DockerClient(base_url=host, timeout=120),
            ShipConfig(labels=(mark,)),
            broker.bootstrap,
            Path(tmp) / "ship",
        )
        try:
            shipper.start()
            container.start()
            deadline = time.monotonic() + 60 + ticks * 0.5
            while len(acked) < ticks:
                shipped = sum(s.shipped for s in shipper.snapshot())
                acked += [uptime()] * (shipped - len(acked))
                if time.monotonic() > deadline:
                    raise SystemExit(f"the ticks were not shipped in time: {shipper.snapshot()}")
                time.sleep(0.005)
            printed = {}
            for raw in read_topic(broker.bootstrap, "program-logs", ticks, timeout=60):
                _, n, up = json.loads(raw)["message"].split()
                printed[int(n)] = float(up)
        finally:
            shipper.stop()
            broker.stop()
            container.remove(force=True)
    # The first ticks wait for the container to be seen (its start event, the follower's start).
    return [acked[n - 1] - printed[n] for n in sorted(printed) if n > WARM_UP]


WARM_UP = 10


def uptime() -> float:
    """The host's uptime, as the container's /proc/uptime reads it."""
    with open("/proc/uptime") as file:
        return float(file.read().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shape", choices=("plain", "traceback"), default="plain")
    parser.add_argument("--read", choices=("auto", "follow", "poll"), default="auto")
    parser.add_argument("--latency", type=int, default=0, metavar="N")
    parser.add_argument("--engine-pid", type=int, default=0, help="dockerd's or Podman's")
    parser.add_argument("--idle", type=float, default=0, metavar="S")
    args = parser.parse_args()
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    client = docker.DockerClient(base_url=host, timeout=120)
    build_standins(client)
    if args.read != "auto":
        forced = args.read == "poll"
        shipper_module.is_podman = lambda _client: forced  # type: ignore[assignment]
    print(f"engine {host}, read: {args.read}")
    if args.latency:
        waits = sorted(latency_run(client, host, args.latency))
        p95 = waits[min(len(waits) - 1, int(len(waits) * 0.95))]
        print(
            f"latency print -> Kafka ack ({len(waits)} lines, 100 ms apart): median "
            f"{statistics.median(waits) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {waits[-1] * 1000:.0f} ms"
        )
    runs = [
        one_run(client, host, args.lines, args.shape, args.engine_pid, args.idle)
        for _ in range(args.runs)
    ]
    ship = [r["lines"] / r["ship_cpu"] for r in runs]
    cli = [r["lines"] / r["cli_cpu"] for r in runs]
    print(f"shape {args.shape}: {runs[0]['lines']:.0f} lines -> {runs[0]['records']:.0f} records")
    for r in runs:
        print(
            f"  logtray ship: {r['ship_cpu']:.2f} CPU-s ({r['ship_wall']:.2f} s wall), "
            f"{r['dropped']:.0f} dropped, RSS +{r['rss_growth_mib']:.0f} MiB; "
            f"docker logs -f: {r['cli_cpu']:.2f} CPU-s ({r['cli_wall']:.2f} s wall)"
        )
        if args.engine_pid:
            print(f"    the engine meanwhile: {r['engine_cpu']:.2f} CPU-s")
        if args.idle:
            print(
                f"    then {args.idle:g} s quiet: logtray {r['idle_cpu']:.3f} CPU-s, "
                f"the engine {r['idle_engine_cpu']:.3f} CPU-s"
            )
    print(
        f"lines per CPU-second (median of {len(runs)}): logtray ship {statistics.median(ship):,.0f}"
        f", docker logs -f > /dev/null {statistics.median(cli):,.0f}; "
        f"ratio {statistics.median(cli) / statistics.median(ship):.1f}x"
    )


if __name__ == "__main__":
    main()

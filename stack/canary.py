"""The proven alert path: a canary alert from inside the stack to logtray's listener.

After `up`, and in `logtray doctor`, the riemann container itself (its network, its
/etc/hosts with host.docker.internal, its ALERT_HOST/ALERT_PORT/ALERT_TOKEN) sends one line
`{"canary": "<nonce>", "token": ...}` with bash's /dev/tcp (the real image has bash, no curl
or nc) and reads one line back. logtray's listener answers a canary with
`{"canary": "<nonce>", "ok": true}` (false when the token is wrong) and neither shows nor
stores it. So the check needs no coordination with the process that runs the listener: the
answer is the proof. When no answer comes, `diagnose` turns what was seen into one sentence
with the likely cause and its fix.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import Container

CANARY_FIELD = "canary"
CANARY_TIMEOUT_S = 10.0
SENDER_SERVICE = "riemann"

# Exit codes of the script: the connection failed / no answer within the bound.
_CONNECT_FAILED = 3
_NO_ANSWER = 4
_SCRIPT = (
    'exec 3<>"/dev/tcp/$ALERT_HOST/$ALERT_PORT" || exit 3; '
    'printf "%s\\n" "$LOGTRAY_CANARY" >&3; '
    'IFS= read -r -t "$LOGTRAY_CANARY_WAIT" reply <&3 || exit 4; '
    'printf "%s\\n" "$reply"'
)


@dataclass(frozen=True)
class CanaryResult:
    ok: bool
    message: str  # one sentence
    fix: str = ""


@dataclass(frozen=True)
class Attempt:
    """What the sender saw: its exit code (None: it did not finish in time) and output."""

    exit_code: int | None
    output: str


def canary_line(nonce: str, token: str) -> str:
    return json.dumps({CANARY_FIELD: nonce, "token": token})


def send(container: Container, nonce: str, timeout_s: float) -> Attempt:
    """Run the sender in the container; never waits much longer than `timeout_s`."""
    env = _env(container)
    wait = max(1, int(timeout_s))
    # `timeout` bounds the connect too (a dropped SYN would hang for two minutes).
    cmd = ["timeout", str(wait + 1), "bash", "-c", _SCRIPT]
    line = canary_line(nonce, env.get("ALERT_TOKEN", ""))
    box: dict[str, Attempt] = {}

    def run() -> None:
        try:
            code, out = container.exec_run(
                cmd, environment={"LOGTRAY_CANARY": line, "LOGTRAY_CANARY_WAIT": str(wait)}
            )
            text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
            box["attempt"] = Attempt(code, text.strip())
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            box["attempt"] = Attempt(-1, str(exc))

    thread = threading.Thread(target=run, name="canary", daemon=True)
    thread.start()
    thread.join(wait + 5)
    return box.get("attempt", Attempt(None, ""))


def _env(container: Container) -> dict[str, str]:
    pairs = (e.split("=", 1) for e in container.attrs.get("Config", {}).get("Env") or [])
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def _reply(output: str, nonce: str) -> bool | None:
    """True/False for the listener's answer to this nonce; None when there is none."""
    for line in reversed(output.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get(CANARY_FIELD) == nonce:
            return data.get("ok") is True
    return None


def engine_kind(info: Mapping[str, Any]) -> str:
    """'colima', 'rootless', 'desktop' or 'engine': where host-gateway does (not) reach us
    (from Docker's /info alone; engine_info.EngineInfo.kind also knows Podman)."""
    security = " ".join(str(s) for s in info.get("SecurityOptions") or [])
    if "rootless" in security:
        return "rootless"
    if str(info.get("Name", "")).lower().startswith("colima"):
        return "colima"
    if "docker desktop" in str(info.get("OperatingSystem", "")).lower():
        return "desktop"
    return "engine"


def loopback_listening(port: int) -> bool:
    """Does anything accept TCP connections on 127.0.0.1:port on this machine?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def diagnose(
    attempt: Attempt,
    nonce: str,
    *,
    host: str,
    port: int,
    timeout_s: float,
    kind: str,
    gateway: str | None,
    on_loopback: bool,
) -> CanaryResult:
    """One sentence for what the canary saw (pure)."""
    where = f"{host}:{port}"
    answer = _reply(attempt.output, nonce) if attempt.exit_code == 0 else None
    if answer is True:
        return CanaryResult(True, f"a canary alert from the stack reached logtray at {where}")
    if answer is False:
        return CanaryResult(
            False,
            f"alerts from the stack reach logtray at {where} but carry another token",
            "`logtray stack up` recreates Riemann with the current [listener] token",
        )
    text = attempt.output.lower()
    if not on_loopback:
        return CanaryResult(
            False,
            f"alerts from the stack cannot reach logtray: no logtray listener runs on port {port}",
            "start `logtray` (or `logtray listen`), then `logtray doctor` checks the path "
            "again; or make [listener] port match",
        )
    if kind in ("colima", "rootless"):
        name = "Colima" if kind == "colima" else "rootless Docker"
        return CanaryResult(
            False,
            f"alerts from the stack cannot reach logtray: on {name}, {host} does not lead to "
            "this machine",
            "bind the listener where the Docker VM reaches this machine ([listener] hosts) and "
            "point Riemann at it ([stack.services.riemann] env ALERT_HOST), or use "
            "`--profile lite`, whose rule engine runs inside logtray",
        )
    if attempt.exit_code == _CONNECT_FAILED and (
        "not known" in text or "resolution" in text or "invalid argument" in text
    ):
        return CanaryResult(
            False,
            f"alerts from the stack cannot reach logtray: {host} does not resolve inside the "
            "riemann container",
            "Docker Engine 20.10 or newer maps it (host-gateway); with another engine set "
            "[stack.services.riemann] env ALERT_HOST to an address of this machine",
        )
    if attempt.exit_code == _CONNECT_FAILED and "refused" in text and kind.startswith("podman"):
        where_to = gateway or "the address it names"
        return CanaryResult(
            False,
            f"alerts from the stack cannot reach logtray: on Podman, {host} leads to "
            f"{where_to}, where logtray's listener is not bound",
            f"add {where_to} to [listener] hosts and restart logtray (on rootless Podman that "
            "address is reachable from your network: the token guards it), or use "
            "`--profile lite`, whose rule engine runs inside logtray",
        )
    if attempt.exit_code == _CONNECT_FAILED and "refused" in text:
        gw = f" ({gateway})" if gateway else ""
        return CanaryResult(
            False,
            f"alerts from the stack cannot reach logtray: its listener is not bound to the "
            f"Docker gateway{gw}, only to 127.0.0.1",
            f"leave [listener] hosts empty (loopback plus the Docker gateway) or add "
            f"{gateway or 'the docker0 address'} to it, then restart logtray",
        )
    if attempt.exit_code == 126 or attempt.exit_code == 127:
        return CanaryResult(
            False,
            "the alert path was not checked: the riemann image has no bash or timeout to "
            "send the canary with",
            "use the riemannio/riemann image (or one based on it)",
        )
    return CanaryResult(
        False,
        f"alerts from the stack cannot reach logtray: nothing answered at {where} within "
        f"{timeout_s:.0f} s (a host firewall dropping traffic from containers?)",
        f"allow TCP port {port} in from the Docker bridge (e.g. `sudo ufw allow in on docker0 "
        f"to any port {port} proto tcp`), then `logtray doctor`",
    )


def check(
    client: docker.DockerClient, container: Container, timeout_s: float = CANARY_TIMEOUT_S
) -> CanaryResult:
    """Send a canary from `container` (Riemann's) and say whether logtray answered."""
    nonce = secrets.token_hex(8)
    container.reload()
    env = _env(container)
    host = env.get("ALERT_HOST", "host.docker.internal")
    try:
        port = int(env.get("ALERT_PORT", "0"))
    except ValueError:
        port = 0
    attempt = send(container, nonce, timeout_s)
    if attempt.exit_code == 0 and _reply(attempt.output, nonce) is True:
        kind, gateway, on_loopback = "engine", None, True  # no need to ask
    else:
        kind = _quiet_kind(client)
        gateway = hosts_entry(container, host) or bridge_gateway(client)
        on_loopback = loopback_listening(port) if port else False
    return diagnose(
        attempt,
        nonce,
        host=host,
        port=port,
        timeout_s=timeout_s,
        kind=kind,
        gateway=gateway,
        on_loopback=on_loopback,
    )


def _quiet_kind(client: docker.DockerClient) -> str:
    from logtray.stack.engine_info import inspect_engine

    try:
        return inspect_engine(client).kind
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return "engine"


def bridge_gateway(client: docker.DockerClient) -> str | None:
    """The default bridge's gateway (docker0): what host-gateway resolves to. Engine 20.10
    often lists only the subnet, whose first address docker0 then has."""
    try:
        configs = client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None
    for cfg in configs:
        if cfg.get("Gateway"):
            return str(cfg["Gateway"])
        try:
            network = ipaddress.ip_network(str(cfg.get("Subnet")))
        except ValueError:
            continue
        if network.version == 4:
            return str(network[1])
    return None


def hosts_entry(container: Container, name: str) -> str | None:
    """The address `name` has in the container's /etc/hosts (host-gateway's resolution)."""
    try:
        code, out = container.exec_run(["cat", "/etc/hosts"])
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None
    if code != 0 or not isinstance(out, bytes):
        return None
    for line in out.decode("utf-8", "replace").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and name in fields[1:]:
            return fields[0]
    return None


def check_stack(manager: Any, timeout_s: float = CANARY_TIMEOUT_S) -> CanaryResult | None:
    """The canary for a stack manager's stack; None when it has no running Riemann (the lite
    profile's rule engine runs inside logtray: there is no network path to prove)."""
    container = manager.containers().get(SENDER_SERVICE)
    if container is None or container.attrs.get("State", {}).get("Status") != "running":
        return None
    result: CanaryResult = check(manager.client, container, timeout_s)
    return result

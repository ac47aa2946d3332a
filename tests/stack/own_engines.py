"""Container engines a test owns, to stop and start them without touching the machine's own.

- `OwnDockerd`: a second dockerd in a network namespace of its own, with its own data root,
  exec root (and so its own managed containerd), pid file, socket and containerd namespace, no
  bridge and no iptables rules; all of it under one short folder in /tmp (containerd's socket
  path must stay under 108 bytes).
- `OwnPodmanService`: a second `podman system service` on a socket of its own, rootful or as the
  rootless user (tests/stack/engines.py), over the same storage as the machine's service: the
  containers stay with their conmon when it goes away, as they do when the user's service dies.

Every process here is started in a session of its own and ended by its id; `close` removes
what the engine made (its containers, mounts and folder).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from tests.stack.engines import PODMAN_USER, ping

START_S = 60.0
STOP_S = 60.0


def _wait(
    predicate: Callable[[], object], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            said = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{said}")
        time.sleep(0.05)


def _end(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send `sig` to the session `proc` leads (it and its children), wait for it to exit, and
    kill the session if it has not exited within `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


class OwnDockerd:
    """A dockerd of the test's own (root only), stopped with SIGTERM and started again at will.
    With `live_restore`, its containers keep running while it is down."""

    def __init__(self, live_restore: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lt-dd-", dir="/tmp"))
        self.host = f"unix://{self.root}/docker.sock"
        self.log = self.root / "dockerd.log"
        self.live_restore = live_restore
        self.proc: subprocess.Popen[bytes] | None = None
        # containerd's names are letters and digits joined by single "-", "." or "_" (not
        # what mkdtemp picks: it may end with "_").
        namespace = f"logtray-test-{uuid.uuid4().hex[:12]}"
        # Its own daemon.json: the machine's /etc/docker/daemon.json is the machine's engine's.
        (self.root / "daemon.json").write_text("{}")
        # In a network namespace of its own: a dockerd with --bridge=none deletes the bridge
        # named docker0 at start (moby's removeDefaultBridgeInterface), which in the machine's
        # namespace is the machine's engine's bridge (its containers' gateway).
        self.args = [
            "unshare",
            "--net",
            "--",
            "dockerd",
            f"--config-file={self.root / 'daemon.json'}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--host={self.host}",
            f"--containerd-namespace={namespace}",
            f"--containerd-plugins-namespace={namespace}-plugins",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            *(["--live-restore"] if live_restore else []),
        ]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,
            )
        _wait(lambda: ping(self.host), START_S, f"the test's dockerd at {self.host}", self.log)

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does: without live restore it stops the
        containers first (a restart policy starts them again at the next start)."""
        if self.proc is not None and self.proc.poll() is None:
            _end(self.proc, signal.SIGTERM, STOP_S)
        self.proc = None

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=60)

    def close(self) -> None:
        """Remove its containers, stop it and its containerd, unmount and remove its folder."""
        if self.proc is None and (self.root / "data").exists():
            # A test that failed while it was down: its containers may still run (live
            # restore), and only it removes them.
            with contextlib.suppress(Exception):
                self.start()
        if self.proc is not None:
            with contextlib.suppress(Exception):
                client = self.client()
                for container in client.containers.list(all=True):
                    with contextlib.suppress(docker.errors.APIError):
                        container.remove(force=True, v=True)
                client.close()
        self.stop()
        # Its managed containerd ends with it; one left (a dockerd killed) is ended by its id.
        pid_file = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            if Path(f"/proc/{pid}/cmdline").read_bytes().find(str(self.root).encode()) >= 0:
                os.kill(pid, signal.SIGTERM)
                _wait(lambda: not Path(f"/proc/{pid}").exists(), STOP_S, "its containerd")
        for mount in reversed(self._mounts()):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _mounts(self) -> list[str]:
        """What is mounted under its folder (dockerd bind-mounts its data root onto itself)."""
        prefix = str(self.root) + "/"
        out = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 1 and (fields[1] + "/").startswith(prefix):
                out.append(fields[1])
        return out


class OwnPodmanService:
    """`podman system service` on a socket of the test's own, rootful or as the rootless user;
    `stop` ends it as `systemctl stop podman.socket podman` does (SIGTERM: no SIGKILL, which
    could leave a lock of the storage it shares with the machine's service held), `start` runs
    it again on the same socket."""

    def __init__(self, rootless: bool) -> None:
        self.rootless = rootless
        self.root = Path(tempfile.mkdtemp(prefix="lt-podman-", dir="/tmp"))
        self.socket = self.root / "podman.sock"
        self.host = f"unix://{self.socket}"
        self.log = self.root / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None
        command = ["podman", "system", "service", "--time=0", self.host]
        if rootless:
            user = pwd.getpwnam(PODMAN_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            runtime = f"/run/user/{user.pw_uid}"
            command = [
                "runuser",
                "-u",
                PODMAN_USER,
                "--",
                "env",
                "-i",
                f"HOME={user.pw_dir}",
                f"USER={PODMAN_USER}",
                "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                f"XDG_RUNTIME_DIR={runtime}",
                *command,
            ]
        self.command = command

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()  # left by a killed service
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # From /: conmon keeps the service's working directory (see podman-setup.sh).
                cwd="/",
                start_new_session=True,
            )
        what = f"the test's {'rootless ' if self.rootless else ''}podman service at {self.host}"
        _wait(lambda: ping(self.host), START_S, what, self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _end(self.proc, signal.SIGTERM, STOP_S)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

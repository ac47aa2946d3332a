"""The real `logtray` command: listen, send, config, doctor, and the error boundary."""

import contextlib
import json
import os
import socket
import subprocess
import threading

import pytest

from logtray.tray.base.paths import config_file, history_file
from tests.conftest import free_port, need
from tests.support.processes import LOGTRAY, Running, logtray


def test_version():
    result = logtray("--version")
    assert result.returncode == 0 and result.stdout.startswith("logtray ")


def test_listen_console_receives_two_senders_at_once_and_keeps_history():
    port = str(free_port())
    listener = Running("listen", "--notifier", "console", "--port", port, "--host", "127.0.0.1")
    try:
        listener.wait_stderr("listening on 127.0.0.1:" + port)
        senders = [
            ["send", "--port", port, "FOUND PROBLEM IN /app/a.py:12"],
            [
                "send",
                "--port",
                port,
                "--json",
                '{"pathname": "/app/b.py", "count": 31, "window_s": 10}',
            ],
        ]
        threads = [threading.Thread(target=logtray, args=args) for args in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shown = {n["title"]: n for n in listener.json_lines(2)}
        assert set(shown) == {"Problem in a.py:12", "b.py — 31 errors in 10 s"}
        assert shown["b.py — 31 errors in 10 s"]["url"].startswith(
            "http://127.0.0.1:5601/app/discover#/"
        )
    finally:
        assert listener.stop() == 0
    entries = [json.loads(line) for line in history_file().read_text().splitlines()]
    assert {e["pathname"] for e in entries} == {"/app/a.py", "/app/b.py"}
    assert all("token" not in e for e in entries)
    # the token was generated on first run and kept in the config file
    assert "token = " in config_file().read_text()


def test_original_netcat_style_sender_works():
    port = free_port()
    listener = Running(
        "listen", "--notifier", "console", "--port", str(port), "--host", "127.0.0.1"
    )
    try:
        listener.wait_stderr("listening on")
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"FOUND PROBLEM IN /app/c.py:3")  # no newline, then close
        [notice] = listener.json_lines(1)
        assert notice["title"] == "Problem in c.py:3"
    finally:
        listener.stop()


def test_taken_port_is_one_sentence_not_a_traceback():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        result = logtray("listen", "--notifier", "console", "--port", port, "--host", "127.0.0.1")
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "fix:" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_value_names_the_file_and_key():
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text("[listener]\nport = 0.5\n")
    result = logtray("listen")
    assert result.returncode == 1
    assert str(path) in result.stderr and "[listener] port" in result.stderr
    assert "Traceback" not in result.stderr


def test_send_without_a_listener_says_how_to_start_one():
    result = logtray("send", "--port", str(free_port()), "hello")
    assert result.returncode == 1
    assert "nothing is listening" in result.stderr and "logtray listen" in result.stderr


def test_send_rejects_bad_json():
    result = logtray("send", "--json", "[1,2]")
    assert result.returncode == 1 and "must be a JSON object" in result.stderr


def test_config_path_and_show_hide_the_token():
    assert logtray("config", "path").stdout.strip() == str(config_file())
    config_file().parent.mkdir(parents=True)
    config_file().write_text('[listener]\ntoken = "s3cret"\n')
    shown = logtray("config", "show").stdout
    assert "port = 10000" in shown and "s3cret" not in shown


def test_doctor_prints_a_fix_for_each_failure():
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    result = subprocess.run(
        [LOGTRAY, "doctor"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "FAIL  display" in result.stdout
    assert "FAIL  notifications" in result.stdout
    assert result.stdout.count("fix:") >= 2
    assert result.returncode == 1


def test_listen_starts_with_a_poisoned_history_and_repairs_it():
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '{"received": 1800000000, "pathname": "/app/x.py", "time": "0001-01-01T00:00:00Z"}\n'
        '{"received": 1800000000, "pathname": "/app/y.py", "url": "--gpu-launcher=xcalc --"}\n'
        '{"pathname": '
        + "[" * 5000
        + "]" * 5000
        + "}\n"
        + '{"received": 1800000000, "pathname": "/app/torn.py", "co'
    )
    port = str(free_port())
    listener = Running("listen", "--notifier", "console", "--port", port, "--host", "127.0.0.1")
    try:
        listener.wait_stderr("listening on 127.0.0.1:" + port)
        logtray("send", "--port", port, "FOUND PROBLEM IN /app/after.py:1")
        [notice] = listener.json_lines(1)
        assert notice["title"] == "Problem in after.py:1"
    finally:
        assert listener.stop() == 0
    assert "Traceback" not in "".join(listener.stderr_lines)
    entries = [json.loads(line) for line in history_file().read_text().splitlines()]
    assert [e["pathname"] for e in entries] == ["/app/x.py", "/app/y.py", "/app/after.py"]
    assert entries[0]["extra"]["time_raw"] == "0001-01-01T00:00:00Z"
    assert "url" not in entries[1]


@pytest.mark.parametrize("kind", ["directory", "fifo", "full disk"])
def test_a_history_file_that_cannot_be_used_never_stops_alerts(kind, tmp_path):
    # alerts.jsonl a directory, a FIFO, or on a full disk: `listen` starts, shows alerts and
    # says once that they are kept in memory; SIGTERM stops it; `alerts` and `doctor` say why.
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        need(os.geteuid() == 0, "needs root to mount a tmpfs")
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(path.parent)],
            capture_output=True,
        )
        need(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr!r}")
        filler = path.parent / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            out.write(b"x" * 64 * 1024)
    port = str(free_port())
    listener = Running("listen", "--notifier", "console", "--port", port, "--host", "127.0.0.1")
    try:
        listener.wait_stderr("listening on 127.0.0.1:" + port)
        for n in range(3):
            sent = logtray("send", "--port", port, f"FOUND PROBLEM IN /app/kept{n}.py:1")
            assert sent.returncode == 0, sent.stderr
        notices = listener.json_lines(3)
        assert [n["title"] for n in notices] == [f"Problem in kept{n}.py:1" for n in range(3)]
        # SIGTERM ends it (exit 0); one stuck on the history file would be killed after
        # stop_process's far bound (10 s) and exit -9.
        assert listener.stop() == 0
        stderr = "".join(listener.stderr_lines)
        assert stderr.count("kept in memory") == 1, stderr
        assert "Traceback" not in stderr
        if kind != "full disk":
            listed = logtray("alerts", timeout=20)
            assert listed.returncode == 1 and "alert history: cannot read" in listed.stderr
        doctor = logtray("doctor", timeout=60)
        assert "FAIL  alert history" in doctor.stdout, doctor.stdout
    finally:
        listener.stop()
        if kind == "full disk":
            subprocess.run(["umount", "-l", str(path.parent)], capture_output=True)


_BOOTSTRAP_FORM = 'is not valid: expected a list of host:port, e.g. "127.0.0.1:9094"'


@pytest.mark.parametrize("value", ["", "localhost", "kafka:99999", "x y:1", "a:1,"])
@pytest.mark.parametrize(
    "command, option",
    [
        (("kinds",), "command line: [engine] bootstrap"),
        (("kinds", "resolve", "0123456789ab"), "command line: [engine] bootstrap"),
        (("engine", "--notifier", "console"), "command line: [engine] bootstrap"),
        (("ship",), "command line: [engine] bootstrap"),
        (("team", "invite"), "command line: --bootstrap"),
        (("demo", "--http", ""), "command line: --bootstrap"),
    ],
    ids=["kinds", "kinds-resolve", "engine", "ship", "team-invite", "demo"],
)
def test_a_bootstrap_option_is_checked_as_the_config_key(command, option, value):
    """Every command's --bootstrap is refused as `[engine] bootstrap` is, before any Kafka is
    tried: one sentence, exit 1, no traceback (never a retry loop, nor a block naming it)."""
    result = logtray(*command, "--bootstrap", value, timeout=60)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"logtray: {option} {'= ' if '[' in option else ''}{value!r} {_BOOTSTRAP_FORM}" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr and result.stdout == ""

"""`logtray send`: send one alert to the listener (replaces `echo msg | nc localhost 10000`)."""

from __future__ import annotations

import argparse
import json
import socket
from typing import Any

from logtray.tray.alerts.alert import parse_message
from logtray.tray.alerts.listener import ACK_FIELD
from logtray.tray.base.config import load_config
from logtray.tray.base.errors import LogtrayError

# How long `logtray send` waits for the listener's answer (it may be working off a flood).
REPLY_TIMEOUT_S = 5.0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("send", help="send one alert to a running listener")
    parser.add_argument(
        "message", nargs="?", help="plain-text alert, e.g. 'FOUND PROBLEM IN a.py:3'"
    )
    parser.add_argument("--json", dest="json_text", metavar="JSON", help="a JSON object alert")
    parser.add_argument("--host", default="127.0.0.1", help="listener address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listener port (default from the config)")
    parser.set_defaults(run=run)


def build_line(message: str | None, json_text: str | None, token: str) -> bytes:
    """The exact line to send: always a JSON object with the token and `"ack": true`, so the
    listener answers whether it accepted the alert. Plain text is parsed first, so the
    original `FOUND PROBLEM IN path:line` form keeps its file and line."""
    if (message is None) == (json_text is None):
        raise LogtrayError("give either a MESSAGE or --json '{...}'", fix="logtray send --help")
    if json_text is not None:
        try:
            obj = json.loads(json_text)
        except ValueError as exc:
            raise LogtrayError(f"--json is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise LogtrayError('--json must be a JSON object, e.g. \'{"pathname": "a.py"}\'')
    else:
        text = message.strip() if message else ""
        if "\n" in text:
            raise LogtrayError("MESSAGE must be one line", fix="send several messages one by one")
        alert = parse_message(text)
        if alert is None or not text:
            raise LogtrayError("MESSAGE is not printable text", fix="send text or --json '{...}'")
        record = alert.to_record()
        obj = {k: v for k, v in record.items() if k in ("pathname", "lineno", "message")}
    if token and "token" not in obj:
        obj["token"] = token
    obj[ACK_FIELD] = True
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


def read_reply(conn: socket.socket, where: str, timeout: float = REPLY_TIMEOUT_S) -> None:
    """Wait for the listener's answer; a LogtrayError unless it accepted the alert."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data and len(data) < 4096:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        raise LogtrayError(
            f"{where} did not confirm the alert within {timeout:g} s (it may be overloaded)",
            fix="check `logtray alerts` for it, and the listener's log",
        ) from None
    except OSError as exc:  # reset: closed by the listener before reading the alert
        data = b""
        why = exc.strerror or str(exc)
        raise LogtrayError(
            f"{where} closed the connection before accepting the alert ({why})",
            fix="try again; if it persists, see the listener's log (connection limits)",
        ) from None
    try:
        reply = json.loads(data.split(b"\n", 1)[0]) if data.strip() else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise LogtrayError(
            f"{where} closed the connection without confirming the alert (an older logtray, "
            "or not logtray at all?)",
            fix="check that `logtray listen` or the tray app is what listens there",
        )
    if reply.get("ok") is not True:
        raise LogtrayError(
            f"{where} did not accept the alert: {str(reply.get('reason'))[:300]}",
            fix="see the listener's log; non-loopback senders need [listener] token",
        )


def run(args: argparse.Namespace) -> int:
    config = load_config()
    port = args.port or config.listener.port
    line = build_line(args.message, args.json_text, config.listener.token)  # bad input first
    where = f"the listener on {args.host}:{port}"
    try:
        with socket.create_connection((args.host, port), timeout=5) as conn:
            try:
                conn.sendall(line)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # refused: the listener has answered why and stopped reading
            read_reply(conn, where)
    except ConnectionRefusedError:
        raise LogtrayError(
            f"nothing is listening on {args.host}:{port}",
            fix="start it with `logtray listen` (or the tray app), or check --port",
        ) from None
    except OSError as exc:
        raise LogtrayError(f"cannot send to {args.host}:{port}: {exc.strerror or exc}") from None
    return 0

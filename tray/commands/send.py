"""`logtray send`: send one alert to the listener (replaces `echo msg | nc localhost 10000`)."""

from __future__ import annotations

import argparse
import json
import socket
from typing import Any

from logtray.tray.alerts.alert import parse_message
from logtray.tray.alerts.listener import is_loopback
from logtray.tray.base.config import load_config
from logtray.tray.base.errors import LogtrayError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("send", help="send one alert to a running listener")
    parser.add_argument(
        "message", nargs="?", help="plain-text alert, e.g. 'FOUND PROBLEM IN a.py:3'"
    )
    parser.add_argument("--json", dest="json_text", metavar="JSON", help="a JSON object alert")
    parser.add_argument("--host", default="127.0.0.1", help="listener address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listener port (default from the config)")
    parser.set_defaults(run=run)


def build_line(
    message: str | None, json_text: str | None, token: str, remote: bool = False
) -> bytes:
    """The exact line to send. JSON alerts carry the token. Plain text goes as it is to a
    loopback listener; to any other host (which needs the token) it becomes a JSON object,
    the original `FOUND PROBLEM IN path:line` form parsed first so file and line are kept."""
    if (message is None) == (json_text is None):
        raise LogtrayError("give either a MESSAGE or --json '{...}'", fix="logtray send --help")
    if json_text is not None:
        try:
            obj = json.loads(json_text)
        except ValueError as exc:
            raise LogtrayError(f"--json is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise LogtrayError('--json must be a JSON object, e.g. \'{"pathname": "a.py"}\'')
        if token and "token" not in obj:
            obj["token"] = token
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode()
    assert message is not None
    text = message.strip()
    if "\n" in text:
        raise LogtrayError("MESSAGE must be one line", fix="send several messages one by one")
    if not remote:
        return (text + "\n").encode()
    alert = parse_message(text)
    if alert is None:
        raise LogtrayError("MESSAGE is not printable text", fix="send text or --json '{...}'")
    fields = {k: v for k, v in alert.to_record().items() if k in ("pathname", "lineno", "message")}
    return build_line(None, json.dumps(fields), token)


def run(args: argparse.Namespace) -> int:
    config = load_config()
    port = args.port or config.listener.port
    build_line(args.message, args.json_text, config.listener.token)  # bad input fails first
    try:
        with socket.create_connection((args.host, port), timeout=5) as conn:
            # Whether the listener needs the token depends on the address actually reached.
            remote = not is_loopback(str(conn.getpeername()[0]))
            line = build_line(args.message, args.json_text, config.listener.token, remote)
            conn.sendall(line)
            conn.shutdown(socket.SHUT_WR)
    except ConnectionRefusedError:
        raise LogtrayError(
            f"nothing is listening on {args.host}:{port}",
            fix="start it with `logtray listen` (or the tray app), or check --port",
        ) from None
    except OSError as exc:
        raise LogtrayError(f"cannot send to {args.host}:{port}: {exc.strerror or exc}") from None
    return 0

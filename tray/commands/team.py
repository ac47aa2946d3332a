"""`logtray team invite`: the [alerts_topic] block a teammate pastes to get the team's alerts.

Run it where the team's alerts are published (`logtray engine --publish`): the block takes
this machine's [engine] connection (bootstrap, security, CA) and [alerts_topic] topic. It
never prints this machine's password; the teammate's own SASL user and password come from
whoever runs the team's Kafka. With TLS, it prints the CA's fingerprint, so the teammate can
check the file they were handed.
"""

from __future__ import annotations

import argparse
import hashlib
import ssl
from pathlib import Path
from typing import Any

import tomlkit

from logtray.tray.base.config import Config, load_config
from logtray.tray.base.errors import LogtrayError

TEAMMATE_CA = "~/.config/logtray/team-ca.pem"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("team", help="a team's shared alerts: invite a teammate")
    team_sub = parser.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    invite = team_sub.add_parser(
        "invite", help="print the [alerts_topic] block a teammate pastes into their config"
    )
    invite.add_argument("--user", help="the teammate's Kafka (SASL) user name")
    invite.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="where teammates reach the team's Kafka (default: [engine] bootstrap)",
    )
    invite.set_defaults(run=run)


def invite_block(config: Config, user: str | None = None, bootstrap: str | None = None) -> str:
    """The teammate's [alerts_topic] table, as TOML (pure)."""
    engine = config.engine
    table = tomlkit.table()
    table["enabled"] = True
    table["bootstrap"] = bootstrap or engine.bootstrap
    table["topic"] = config.alerts_topic.topic
    table["security_protocol"] = engine.security_protocol
    if engine.security_protocol.startswith("SASL"):
        table["sasl_mechanism"] = engine.sasl_mechanism
        table["sasl_username"] = user or "YOUR-USER"
        table["sasl_password"] = "ask the team for yours"
    if engine.security_protocol.endswith("SSL") and engine.ssl_cafile:
        table["ssl_cafile"] = TEAMMATE_CA
    table.add(tomlkit.comment('what you want, e.g. paths = ["payments/*"]'))
    table.add(tomlkit.comment('or owners_file = "~/src/shop/.github/CODEOWNERS", owner = "@you"'))
    doc = tomlkit.document()
    doc["alerts_topic"] = table
    return tomlkit.dumps(doc)


def ca_fingerprint(cafile: Path) -> str:
    """SHA-256 of the first certificate in a PEM file, as AA:BB:..."""
    try:
        text = cafile.expanduser().read_text(encoding="ascii", errors="replace")
        start = text.index("-----BEGIN CERTIFICATE-----")
        end = text.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
        der = ssl.PEM_cert_to_DER_cert(text[start:end])
    except (OSError, ValueError) as exc:
        raise LogtrayError(
            f"cannot read a certificate from {cafile} ([engine] ssl_cafile): {exc}",
            fix="set [engine] ssl_cafile to the team's CA certificate (PEM)",
        ) from None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def run(args: argparse.Namespace) -> int:
    config = load_config()
    print(invite_block(config, args.user, args.bootstrap), end="")
    engine = config.engine
    if engine.security_protocol.endswith("SSL") and engine.ssl_cafile:
        print(
            f"\n# Send the team's CA certificate with it ({engine.ssl_cafile}); the teammate "
            f"saves it as {TEAMMATE_CA}.\n# Its SHA-256 fingerprint: "
            f"{ca_fingerprint(Path(engine.ssl_cafile))}"
        )
    return 0

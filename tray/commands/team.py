"""`logtray team invite`: the [alerts_topic] block a teammate pastes to get the team's alerts.

Run it where the team's alerts are published. With `[stack] profile = "team"` (this machine
runs the team's Kafka) the block is filled from the team folder that profile made: the team
listener's address, SASL_SSL with PLAIN, a login and its password (a new login for `--user
NAME`), and the CA. Otherwise (`logtray engine --publish` to a Kafka run elsewhere) it takes
this machine's [engine] connection (bootstrap, security, CA) and [alerts_topic] topic, and
never prints this machine's password: the teammate's own SASL user and password come from
whoever runs the team's Kafka. With TLS, it prints the CA's fingerprint, so the teammate can
check the file they were handed.
"""

from __future__ import annotations

import argparse
import hashlib
import ssl
import sys
from pathlib import Path
from typing import Any

from logtray.tray.base.config import Config, check_option, load_config
from logtray.tray.base.errors import LogtrayError

TEAMMATE_CA = "~/.config/logtray/team-ca.pem"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("team", help="a team's shared alerts: invite a teammate")
    team_sub = parser.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    invite = team_sub.add_parser(
        "invite", help="print the [alerts_topic] block a teammate pastes into their config"
    )
    invite.add_argument(
        "--user",
        help="the teammate's Kafka (SASL) login (team profile: made when new; default: team)",
    )
    invite.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="where teammates reach the team's Kafka (default: [engine] bootstrap)",
    )
    invite.set_defaults(run=run)


def invite_block(config: Config, user: str | None = None, bootstrap: str | None = None) -> str:
    """The teammate's [alerts_topic] table, as TOML (pure)."""
    import tomlkit  # here, not at the top: every command (the tray too) builds this parser

    engine = config.engine
    table = tomlkit.table()
    table["enabled"] = True
    table["bootstrap"] = engine.bootstrap if bootstrap is None else bootstrap
    table["topic"] = config.alerts_topic.topic
    table["security_protocol"] = engine.security_protocol
    if engine.security_protocol.startswith("SASL"):
        table["sasl_mechanism"] = engine.sasl_mechanism
        table["sasl_username"] = user or "YOUR-USER"
        table["sasl_password"] = "ask the team for yours"
    if engine.security_protocol.endswith("SSL") and engine.ssl_cafile:
        table["ssl_cafile"] = TEAMMATE_CA
    return _with_filter_hints(table)


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


def team_profile_block(bootstrap: str, topic: str, user: str, password: str, mechanism: str) -> str:
    """The teammate's [alerts_topic] table for this machine's team profile, as TOML (pure)."""
    import tomlkit

    table = tomlkit.table()
    table["enabled"] = True
    table["bootstrap"] = bootstrap
    table["topic"] = topic
    table["security_protocol"] = "SASL_SSL"
    table["sasl_mechanism"] = mechanism
    table["sasl_username"] = user
    table["sasl_password"] = password
    table["ssl_cafile"] = TEAMMATE_CA
    return _with_filter_hints(table)


def _run_team_profile(config: Config, args: argparse.Namespace) -> int:
    """The block from the team folder `stack up --profile team` made (made here if missing)."""
    from logtray.stack.specs import TEAM_ALERTS_TOPIC
    from logtray.stack.team import (
        DEFAULT_USER,
        TEAM_MECHANISM,
        add_login,
        material_for,
        team_address,
    )

    material = material_for(config.stack, config.path.parent)
    assert material is not None  # the team profile
    address = team_address(config.stack)
    user = args.user or DEFAULT_USER
    material, new = add_login(material, user)
    riemann = config.stack.services.get("riemann")
    topic = (riemann.env.get("ALERTS_TOPIC") if riemann else None) or TEAM_ALERTS_TOPIC
    host = f"[{address.host}]" if ":" in address.host else address.host
    bootstrap = args.bootstrap if args.bootstrap is not None else f"{host}:{address.port}"
    block = team_profile_block(bootstrap, topic, user, material.logins[user], TEAM_MECHANISM)
    print(block, end="")
    print(
        f"\n# Send the team's CA certificate with it ({material.ca_file}); the teammate "
        f"saves it as {TEAMMATE_CA}.\n# Its SHA-256 fingerprint: {material.ca_fingerprint}"
    )
    if new:
        print(
            f"{user} is a new login: Kafka learns it on the next `logtray stack up` (Kafka "
            "restarts; its data is kept)",
            file=sys.stderr,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    config = load_config()
    if args.bootstrap is not None:  # the teammate's [alerts_topic] bootstrap: checked as it is
        check_option("--bootstrap", args.bootstrap, "alerts_topic", "bootstrap")
    if config.stack.profile == "team":
        return _run_team_profile(config, args)
    print(invite_block(config, args.user, args.bootstrap), end="")
    engine = config.engine
    if engine.security_protocol.endswith("SSL") and engine.ssl_cafile:
        print(
            f"\n# Send the team's CA certificate with it ({engine.ssl_cafile}); the teammate "
            f"saves it as {TEAMMATE_CA}.\n# Its SHA-256 fingerprint: "
            f"{ca_fingerprint(Path(engine.ssl_cafile))}"
        )
    return 0


def _with_filter_hints(table: Any) -> str:
    """The [alerts_topic] block as TOML, ending with how to filter it."""
    import tomlkit

    table.add(tomlkit.comment('what you want, e.g. paths = ["payments/*"]'))
    table.add(tomlkit.comment('or owners_file = "~/src/shop/.github/CODEOWNERS", owner = "@you"'))
    doc = tomlkit.document()
    doc["alerts_topic"] = table
    return tomlkit.dumps(doc)

"""The team profile's secrets: a self-signed CA, Kafka's server certificate and the SASL logins.

They live in one folder beside logtray's config (`team/`, 0700; every file 0600), generated the
first time the team profile runs and reused after: teammates keep trusting the same CA. The
server certificate is issued again only when it no longer fits (another `[stack] team_host`,
or less than 30 days left); a new login is added when `logtray team invite --user NAME` asks
for one. X.509 is done with the `cryptography` package, never by shelling out.

Pure of Docker; `specs.py` turns a `TeamMaterial` into Kafka's environment.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from logtray.stack.config import StackConfig
from logtray.stack.errors import LogtrayError

if TYPE_CHECKING:
    # `cryptography` (~9 MB resident) is imported where X.509 work is done, not here: the
    # tray imports this module on every start (specs.py), and only the team profile needs it.
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

TEAM_DIR_NAME = "team"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
LOGINS_FILE = "logins.json"

# The SASL mechanism of the team listener. PLAIN: the logins are part of Kafka's own config
# (no user store to fill after the start), and the password only ever crosses inside TLS.
TEAM_MECHANISM = "PLAIN"
DEFAULT_USER = "team"

CA_DAYS = 3650
SERVER_DAYS = 825  # what browsers and most TLS clients accept for a leaf certificate
RENEW_BEFORE_DAYS = 30

# A login name becomes a JAAS option name (user_<name>): letters, digits, '_' and '-'.
_USER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class TeamMaterial:
    """What the team listener is made of, as read from (or just written to) the team folder."""

    directory: Path
    host: str
    ca_pem: str
    server_cert_pem: str
    server_key_pem: str
    # login -> password
    logins: dict[str, str]

    @property
    def ca_file(self) -> Path:
        return self.directory / CA_FILE

    @property
    def ca_fingerprint(self) -> str:
        from cryptography import x509

        return fingerprint(x509.load_pem_x509_certificate(self.ca_pem.encode()))


@dataclass(frozen=True)
class TeamAddress:
    """Where teammates connect (`host`:`port`) and the local address Docker publishes on."""

    host: str
    bind: str
    port: int


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as AA:BB:... (what `openssl x509 -fingerprint` says)."""
    from cryptography.hazmat.primitives import hashes

    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def team_dir(config_dir: Path) -> Path:
    return config_dir / TEAM_DIR_NAME


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def team_address(stack: StackConfig) -> TeamAddress:
    """The team listener's address from `[stack]`, or one sentence saying what to set. Nothing
    is published on the network unless `team_host` is set; never on 0.0.0.0 unless
    `team_bind` says so."""
    host = stack.team_host.strip()
    if not host:
        raise LogtrayError(
            "the team profile needs [stack] team_host: the name or address teammates reach "
            "this machine by (Kafka is opened to them there, and only there)",
            fix='set it in the config file, e.g. [stack] team_host = "192.168.1.20" '
            '(or team_host = "dev-box.example.lan" with team_bind = "192.168.1.20")',
        )
    if host in ("0.0.0.0", "::") or not (_is_ip(host) or _HOST_RE.match(host)):
        raise LogtrayError(
            f"[stack] team_host = {host!r} is not a host name or address teammates can reach",
            fix="write this machine's name or IP address as teammates use it, without a port; "
            'to publish on every interface set team_bind = "0.0.0.0" instead',
        )
    bind = stack.team_bind.strip()
    if not bind:
        if not _is_ip(host):
            raise LogtrayError(
                f"[stack] team_host = {host!r} is a name: logtray needs the address of the "
                "interface to open Kafka on",
                fix='set [stack] team_bind to that interface\'s IP address (e.g. "192.168.1.20")',
            )
        bind = host
    elif not _is_ip(bind):
        raise LogtrayError(
            f"[stack] team_bind = {bind!r} is not an IP address",
            fix='write the address of one of this machine\'s interfaces, e.g. "192.168.1.20"',
        )
    return TeamAddress(host=host, bind=bind, port=stack.team_port)


def valid_user(name: str) -> bool:
    return bool(_USER_RE.match(name))


# -- files ---------------------------------------------------------------------------------


def _private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    except OSError as exc:
        raise LogtrayError(
            f"cannot create the team folder {directory}: {exc.strerror}",
            fix="make logtray's config directory writable",
        ) from None


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret: created 0600 (never readable by others, not even for a moment), then
    moved into place."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise LogtrayError(
            f"cannot write {path}: {exc.strerror}", fix="make the team folder writable"
        ) from None


def _read(path: Path) -> bytes | None:
    """The file's bytes (made 0600 if it had become readable by others), None when absent."""
    try:
        data = path.read_bytes()
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return data
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LogtrayError(
            f"cannot read {path}: {exc.strerror}", fix="make the team folder readable"
        ) from None


def _broken(path: Path, what: str) -> LogtrayError:
    return LogtrayError(
        f"{path} is not a readable {what}",
        fix=f"move {path.parent} away and run the team profile again: it makes a new CA and "
        "logins (teammates then need a new `logtray team invite`)",
    )


def _pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"): what Kafka's PEM key store reads without a
    # key password; the file's 0600 mode is its protection.
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _ca_usage() -> x509.KeyUsage:
    """A CA signs certificates (and revocation lists), nothing else."""
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _new_ca(now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "logtray team CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _san(host: str) -> x509.GeneralName:
    from cryptography import x509

    if _is_ip(host):
        return x509.IPAddress(ipaddress.ip_address(host))
    return x509.DNSName(host)


def _new_server(
    host: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _server_fits(
    cert: x509.Certificate, host: str, ca: x509.Certificate, now: datetime.datetime
) -> bool:
    """Signed by this CA, naming exactly this host, and not about to expire."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    left = cert.not_valid_after_utc - now
    return list(names) == [_san(host)] and left > datetime.timedelta(days=RENEW_BEFORE_DAYS)


def _load_cert(path: Path, data: bytes) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise _broken(path, "PEM certificate") from None


def _load_key(path: Path, data: bytes) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _broken(path, "PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _broken(path, "EC private key")
    return key


def _load_logins(path: Path, data: bytes) -> dict[str, str]:
    try:
        raw = json.loads(data)
        logins = raw["logins"]
        assert isinstance(logins, dict)
        assert all(valid_user(u) and isinstance(p, str) and p for u, p in logins.items())
    except (ValueError, KeyError, TypeError, AssertionError):
        raise _broken(path, "logins file") from None
    return dict(logins)


def _save_logins(path: Path, logins: dict[str, str]) -> None:
    _write_private(path, (json.dumps({"logins": logins}, indent=2) + "\n").encode())


def ensure_material(
    directory: Path, host: str, now: datetime.datetime | None = None
) -> TeamMaterial:
    """The team folder's CA, server certificate (for `host`) and logins: read, or generated
    the first time (and the server certificate again when it no longer fits)."""
    now = now or _now()
    _private_dir(directory)
    ca_path, ca_key_path = directory / CA_FILE, directory / CA_KEY_FILE
    ca_data, ca_key_data = _read(ca_path), _read(ca_key_path)
    if ca_data is None or ca_key_data is None:
        ca, ca_key = _new_ca(now)
        _write_private(ca_key_path, _key_pem(ca_key))
        _write_private(ca_path, _pem(ca))
        # A new CA signs a new server certificate (an old one may still be there).
        with contextlib.suppress(FileNotFoundError):
            (directory / SERVER_FILE).unlink()
    else:
        ca, ca_key = _load_cert(ca_path, ca_data), _load_key(ca_key_path, ca_key_data)

    server_path, server_key_path = directory / SERVER_FILE, directory / SERVER_KEY_FILE
    server_data, server_key_data = _read(server_path), _read(server_key_path)
    fits = (
        server_data is not None
        and server_key_data is not None
        and _server_fits(_load_cert(server_path, server_data), host, ca, now)
    )
    if not fits:
        server, server_key = _new_server(host, ca, ca_key, now)
        server_key_data = _key_pem(server_key)
        server_data = _pem(server)
        _write_private(server_key_path, server_key_data)
        _write_private(server_path, server_data)
    assert server_data is not None and server_key_data is not None
    _load_key(server_key_path, server_key_data)

    logins_path = directory / LOGINS_FILE
    logins_data = _read(logins_path)
    if logins_data is None:
        logins = {DEFAULT_USER: secrets.token_urlsafe(24)}
        _save_logins(logins_path, logins)
    else:
        logins = _load_logins(logins_path, logins_data)
    return TeamMaterial(
        directory=directory,
        host=host,
        ca_pem=_pem(ca).decode(),
        server_cert_pem=server_data.decode(),
        server_key_pem=server_key_data.decode(),
        logins=logins,
    )


def add_login(material: TeamMaterial, user: str) -> tuple[TeamMaterial, bool]:
    """The material with a login for `user` (generated and saved when new); True when new:
    Kafka learns it on the next `stack up`."""
    if not valid_user(user):
        raise LogtrayError(
            f"{user!r} cannot be a Kafka login of the team profile",
            fix="use letters, digits, '_' or '-', starting with a letter (at most 64)",
        )
    if user in material.logins:
        return material, False
    logins = {**material.logins, user: secrets.token_urlsafe(24)}
    _save_logins(material.directory / LOGINS_FILE, logins)
    return TeamMaterial(
        material.directory,
        material.host,
        material.ca_pem,
        material.server_cert_pem,
        material.server_key_pem,
        logins,
    ), True


def material_for(stack: StackConfig, config_dir: Path) -> TeamMaterial | None:
    """The team profile's material (made when missing); None for the other profiles."""
    if stack.profile != "team":
        return None
    return ensure_material(team_dir(config_dir), team_address(stack).host)

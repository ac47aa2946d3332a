"""Why Kafka cannot be used, in one sentence with a fix: TLS (unknown CA, wrong host, expired
certificate), SASL (login refused, mechanism not offered), nothing listening, no answer, an
advertised address this computer cannot reach.

aiokafka reports every failed bootstrap as "Unable to bootstrap from [...]" and logs the cause;
`probe` opens one connection itself (aiokafka's own create_conn, with the same TLS and SASL
options) so the cause is in hand, and `explain` words it. No traceback ever reaches the user.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# OpenSSL's X509 verify codes (x509_vfy.h).
_EXPIRED = {10}
_NOT_YET_VALID = {9}
_WRONG_HOST = {62, 64}  # hostname mismatch, IP address mismatch
_UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer, self-signed, untrusted chain


@dataclass(frozen=True)
class KafkaProblem:
    """What is wrong with Kafka at a bootstrap address ("its TLS certificate has expired")."""

    sentence: str
    fix: str

    def __str__(self) -> str:
        return f"{self.sentence} (fix: {self.fix})"


def split_bootstrap(bootstrap: str) -> tuple[str, int]:
    """The first "host:port" of a bootstrap list ("[::1]:9093" too); port 9092 by default."""
    first = bootstrap.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit():
        return first.strip("[]"), 9092
    return host.strip("[]"), int(port)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain(exc: BaseException, bootstrap: str, options: dict[str, Any]) -> KafkaProblem:
    """One sentence (of Kafka at `bootstrap`) and a fix for a failed connection."""
    from aiokafka import errors

    host, _ = split_bootstrap(bootstrap)
    user = options.get("sasl_plain_username") or ""
    mechanism = options.get("sasl_mechanism") or ""
    ca_fix = "set ssl_cafile to the team's CA certificate (`logtray team invite` prints it)"
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            code = cause.verify_code
            if code in _EXPIRED:
                return KafkaProblem(
                    "its TLS certificate has expired",
                    "the team's Kafka needs a new certificate; tell whoever runs it",
                )
            if code in _NOT_YET_VALID:
                return KafkaProblem(
                    "its TLS certificate is not valid yet",
                    "check this computer's clock, or the certificate's start date",
                )
            if code in _WRONG_HOST:
                return KafkaProblem(
                    f"its TLS certificate is for another host name, not {host}",
                    "use the host name the certificate names in bootstrap",
                )
            if code in _UNTRUSTED:
                return KafkaProblem(
                    "its TLS certificate is not signed by a CA this computer trusts",
                    ca_fix,
                )
            return KafkaProblem(f"its TLS certificate was refused ({cause.verify_message})", ca_fix)
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or str(cause)
            if "CERTIFICATE_REQUIRED" in reason or "HANDSHAKE_FAILURE" in reason:
                return KafkaProblem(
                    "it asks for a client certificate this computer did not give (or refused it)",
                    "set ssl_certfile and ssl_keyfile to the certificate the team gave you",
                )
            if "WRONG_VERSION_NUMBER" in reason or "record layer" in reason:
                return KafkaProblem(
                    "it does not speak TLS on that port",
                    "check bootstrap's port, or set security_protocol to PLAINTEXT or "
                    "SASL_PLAINTEXT",
                )
            return KafkaProblem(
                f"the TLS handshake failed ({reason})",
                "check security_protocol and ssl_cafile",
            )
        if isinstance(cause, errors.SaslAuthenticationFailed) or (
            mechanism.startswith("SCRAM") and isinstance(cause, KeyError)
        ):
            # aiokafka reads a SCRAM server-error ("e=unknown-user", "e=invalid-proof") as a
            # KeyError 'v': the broker refused the login either way.
            return KafkaProblem(
                f"it refused the {mechanism} login of user {user!r}",
                "check sasl_username and sasl_password (`logtray team invite` prints them)",
            )
        if isinstance(cause, errors.UnsupportedSaslMechanismError):
            return KafkaProblem(
                f"it does not offer SASL {mechanism} there",
                "check sasl_mechanism and security_protocol against the team's settings",
            )
        if isinstance(cause, errors.KafkaConnectionError) and "closed" in str(cause):
            if str(options.get("security_protocol", "")).startswith("SASL"):
                return KafkaProblem(
                    f"it closed the connection during the SASL {mechanism} login",
                    "check sasl_mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) and "
                    "security_protocol against the team's settings",
                )
            if not str(options.get("security_protocol", "")).endswith("SSL"):
                return KafkaProblem(
                    "it closed the connection at once (a TLS port?)",
                    "set security_protocol to SSL or SASL_SSL, or check bootstrap's port",
                )
            return KafkaProblem(
                "it closed the connection at once",
                "check bootstrap's port and security_protocol",
            )
        if isinstance(cause, ConnectionRefusedError):
            return KafkaProblem(
                "nothing listens there (connection refused)",
                "start Kafka, or check bootstrap",
            )
        if isinstance(cause, socket.gaierror):
            return KafkaProblem("its host name is not known", "check bootstrap")
        if isinstance(cause, (TimeoutError, asyncio.TimeoutError)):
            if str(options.get("security_protocol", "")).endswith("SSL"):
                return KafkaProblem(
                    "it did not finish a TLS handshake in time (a port without TLS?)",
                    "check bootstrap's port, the security_protocol and the firewall",
                )
            return KafkaProblem(
                "it did not answer in time",
                "check bootstrap, the network and the firewall",
            )
    text = str(exc) or type(exc).__name__
    return KafkaProblem(text[:300], "check [alerts_topic] / [engine] settings")


async def probe(
    bootstrap: str, options: dict[str, Any], timeout: float = 10.0
) -> KafkaProblem | None:
    """None when one connection (TLS and SASL included) to the first bootstrap server
    completes and every broker it advertises can be reached; otherwise what is wrong."""
    from aiokafka.conn import create_conn

    host, port = split_bootstrap(bootstrap)
    try:
        conn = await asyncio.wait_for(
            create_conn(host, port, request_timeout_ms=int(timeout * 1000), **options), timeout
        )
    except Exception as exc:
        context = options.get("ssl_context")
        if context is not None and "closed" in str(exc):
            # TLS 1.3 refuses a client certificate after the handshake: aiokafka sees only a
            # closed connection; the server's alert comes with the first read.
            alert = await _tls_alert(host, port, context, timeout)
            if alert is not None:
                return explain(alert, bootstrap, options)
        return explain(exc, bootstrap, options)
    conn.close()
    return await _advertised_problem(bootstrap, options, timeout)


async def _advertised_problem(
    bootstrap: str, options: dict[str, Any], timeout: float
) -> KafkaProblem | None:
    """What is wrong with the addresses Kafka tells clients to use (its advertised listeners):
    a client reaches the bootstrap address, asks where the brokers are, and then connects only
    there. None when each one answers (or the question itself fails: not this check's to say).

    Without this, a broker advertising an address this computer cannot reach (a container's
    own name or port, the listener meant for other machines) surfaces as aiokafka's
    "UnknownTopicOrPartitionError" after its request timeout."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.conn import create_conn

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **options
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        advertised = sorted({(b.host, b.port) for b in client.cluster.brokers()})
    except Exception:
        return None
    finally:
        await client.close()
    for host, port in advertised:
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, request_timeout_ms=int(timeout * 1000), **options),
                timeout,
            )
        except Exception as exc:
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            why = explain(exc, address, options)
            return KafkaProblem(
                f"it answers, but sends clients on to {address} (the address it advertises), "
                f"which this computer cannot reach: {why.sentence}",
                "make the broker advertise an address this computer reaches (Kafka's "
                "advertised.listeners; KAFKA_ADVERTISED_LISTENERS for a container), or set "
                "bootstrap to the listener that advertises one",
            )
        conn.close()
    return None


async def _tls_alert(
    host: str, port: int, context: ssl.SSLContext, timeout: float
) -> BaseException | None:
    """The TLS error a server sends right after the handshake, if any."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
        )
        await asyncio.wait_for(reader.read(1), min(timeout, 3.0))
    except ssl.SSLError as exc:
        return exc
    except Exception:
        return None
    finally:
        if writer is not None:
            writer.close()
    return None

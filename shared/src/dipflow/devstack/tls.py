"""A throw-away certificate authority for the devstack's TLS: generated on this machine, never committed.

The CA signs one server certificate for loopback (``127.0.0.1``, ``localhost``) and docker-compose's hosts, used
by the Kafka brokers. Clients trust ``ca.pem`` only; the keys stay in the state folder, readable by their owner only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825
SERVER_NAMES = ("localhost", "kafka", "postgres")
"""Loopback, and the hosts docker-compose gives the broker and the database."""


@dataclass(frozen=True)
class ServerTls:
    """Where the CA and the server's key material are; ``keystore`` is PKCS#12 for the Java broker."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def certificate(self) -> Path:
        return self.folder / "server.crt"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"

    @property
    def keystore(self) -> Path:
        return self.folder / "server.p12"

    @property
    def keystore_password(self) -> str:
        return (self.folder / "server.p12.password").read_text().strip()


def ensure_server_tls(folder: Path) -> ServerTls:
    """The CA and loopback server certificate in ``folder``, made once (kept across runs)."""
    tls = ServerTls(folder)
    if tls.ca.exists() and tls.keystore.exists() and tls.key.exists():
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dipflow devstack CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    *(x509.DNSName(name) for name in SERVER_NAMES),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(18)
    _write(tls.ca, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    _write(tls.certificate, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    _write(
        tls.key,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    _write(
        tls.keystore,
        pkcs12.serialize_key_and_certificates(
            b"server", key, cert, [ca_cert], serialization.BestAvailableEncryption(password.encode())
        ),
    )
    _write(folder / "server.p12.password", password.encode())
    return tls


def _write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    path.write_bytes(data)
    os.chmod(path, mode)

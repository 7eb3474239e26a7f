"""Self-signed certificates: the product's factory TLS identity (fault ``https_front_self_signed``), and the
demo VIHF signing certificate (fault ``vihf_demo_profile``, :func:`simulators.reference.vihf.demo_signer`).

Why a module: ``__main__`` picks the HTTPS servers' identity; this makes the
one a vendor ships when the site's certificate was never installed on the
user-facing endpoints (the contextual call, the viewer).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def self_signed(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, subject: x509.Name, *, backdate: dt.timedelta, lifetime: dt.timedelta,
    hosts: Sequence[str] = (),
) -> x509.Certificate:
    """A certificate of ``key`` issued by itself to ``subject``, from ``backdate`` ago for ``lifetime`` (``hosts``: its SAN)."""
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(now + lifetime)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), critical=False)
    return builder.sign(key, hashes.SHA256())


def self_signed_identity(directory: Path, host: str) -> tuple[Path, Path]:
    """(certificate, key) PEM files in ``directory``, issued by themselves for ``host`` (key 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "factory-cert.pem", directory / "factory-key.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host} (factory certificate)")])
    certificate = self_signed(key, name, backdate=dt.timedelta(minutes=5), lifetime=dt.timedelta(days=1), hosts=(host,))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path

"""drimva.rules.server_certificate: the SUT in the trust list, with the certificate its entry declares (VA-A)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rule_findings import whole

from drimva.rules.server_certificate import check_server_certificate, check_sut_listed

SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CABINET M"),
    x509.NameAttribute(NameOID.COMMON_NAME, "drimbox.test"),
])  # fmt: skip


@pytest.fixture(scope="module")
def der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(SUBJECT).issuer_name(SUBJECT).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_listed_address_passes_and_an_absent_one_fails() -> None:
    assert check_sut_listed("127.0.0.1", ["127.0.0.2", "127.0.0.1"]) == []
    assert whole(check_sut_listed("127.0.0.1", ["127.0.0.2", "127.0.0.3"])) == [
        ("TRUST-SUT-LISTED", "ListeDomaines/Domaine/db", "127.0.0.1", "127.0.0.2, 127.0.0.3", "error")
    ]


def test_the_declared_dn_in_another_order_passes(der: bytes) -> None:
    assert check_server_certificate("sut:443", "C=FR,O=CABINET M,CN=drimbox.test", der, "", True) == []


def test_another_dn_fails_when_strict_and_warns_otherwise(der: bytes) -> None:
    presented = SUBJECT.rfc4514_string()
    assert whole(check_server_certificate("sut:443", "CN=other,O=CABINET M,C=FR", der, "", True)) == [
        ("TRUST-SERVER-CERT", "TLS server certificate of sut:443", "CN=other,O=CABINET M,C=FR", presented, "error")
    ]
    lenient = check_server_certificate("sut:443", "CN=other,O=CABINET M,C=FR", der, "", False)
    assert whole(lenient) == [
        ("TRUST-SERVER-CERT", "TLS server certificate of sut:443", "CN=other,O=CABINET M,C=FR", presented, "warning")
    ]
    assert lenient[0].note == "rules.strict_dn_match is off: reported, not failed"


def test_no_certificate_or_no_entry_always_fails(der: bytes) -> None:
    assert whole(check_server_certificate("sut:443", "CN=drimbox.test", None, "TLS handshake failed", False)) == [
        ("TRUST-SERVER-CERT", "TLS server certificate of sut:443", "CN=drimbox.test", "TLS handshake failed", "error")
    ]
    assert whole(check_server_certificate("sut:443", None, der, "", False)) == [
        ("TRUST-SERVER-CERT", "TLS server certificate of sut:443", "(no entry)", SUBJECT.rfc4514_string(), "error")
    ]


def test_an_unreadable_declared_dn_fails_and_says_why(der: bytes) -> None:
    found = check_server_certificate("sut:443", "not a dn", der, "", False)
    assert whole(found) == [
        ("TRUST-SERVER-CERT", "TLS server certificate of sut:443", "not a dn", SUBJECT.rfc4514_string(), "error")
    ]
    assert found[0].note == "the entry's DNCertificatOperateur is not an RFC 4514 distinguished name"

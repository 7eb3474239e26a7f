"""fixtures.pki: the run's test CA and certificates."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from drimva.context import Organisation
from fixtures.pki import TestPki, build_pki, load_or_build_pki

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return build_pki(tmp_path_factory.mktemp("pki"), ORG, hosts=("localhost", "127.0.0.1", "dmp.test"))


def test_organisation_certificates_look_like_igc_sante_org(pki: TestPki) -> None:
    ca = cert(pki.ca_cert)
    for path in (pki.client_cert, pki.signing_cert):
        c = cert(path)
        c.verify_directly_issued_by(ca)
        assert c.subject.rfc4514_string() == "CN=DRIMbox,OU=499700367909006,O=CABINET M DOC0036790,C=FR"
        assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        lifetime = c.not_valid_after_utc - c.not_valid_before_utc
        assert dt.timedelta(days=730) < lifetime <= dt.timedelta(days=732)
        assert c.not_valid_before_utc < dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=23)
    client = cert(pki.client_cert)
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert(pki.signing_cert).extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert "IGC-SANTE" in ca.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value


def test_server_certificate_covers_the_hosts(pki: TestPki) -> None:
    server = cert(pki.dmp_server_cert)
    server.verify_directly_issued_by(cert(pki.ca_cert))
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "dmp.test"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_key_pairs_load_into_tls_contexts(pki: TestPki) -> None:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.dmp_server_cert, pki.dmp_server_key)
    client = ssl.create_default_context(cafile=str(pki.ca_cert))
    client.load_cert_chain(pki.client_cert, pki.client_key)
    signing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    signing.load_cert_chain(pki.signing_cert, pki.signing_key)  # raises if the key does not match


def test_issue_server_cert_reuses_a_fitting_pair_and_reissues_otherwise(pki: TestPki) -> None:
    first = pki.issue_server_cert("peer", ["peer.test"])
    assert first == (pki.folder / "peer-server.pem", pki.folder / "peer-server.key")
    pem = first[0].read_bytes()
    assert pki.issue_server_cert("peer", ["peer.test"])[0].read_bytes() == pem
    assert pki.issue_server_cert("peer", ["peer.test", "127.0.0.2"])[0].read_bytes() != pem


def test_load_or_build_reuses_then_rebuilds_for_another_organisation(tmp_path: Path) -> None:
    built = load_or_build_pki(tmp_path, ORG)
    ca_pem = built.ca_cert.read_bytes()
    built.dmp_server_cert.unlink()
    again = load_or_build_pki(tmp_path, ORG)
    assert again == built and again.ca_cert.read_bytes() == ca_pem
    assert again.dmp_server_cert.exists()  # re-issued by the same CA
    cert(again.dmp_server_cert).verify_directly_issued_by(cert(again.ca_cert))
    other = load_or_build_pki(tmp_path, Organisation("Other", "1750803447"))
    assert other.ca_cert.read_bytes() != ca_pem
    assert "OU=1750803447" in cert(other.client_cert).subject.rfc4514_string()


def test_an_embedded_run_folder_holds_no_ca_key_and_keys_are_private(tmp_path):
    """Issue 13 §3: the run folder is handed to the client; keys 0600, certificates 0644, no CA key in it."""
    import stat

    from fixtures.pki import private_ca_key_folder
    from va_runs import run_va

    run_dir = tmp_path / "run"
    results = run_va(run_dir, "--items", "VA-B1")
    assert results["scenarios"], "the VA-B1 run ran no scenario"
    assert not [p for p in run_dir.rglob("ca.key")], "a CA key was written inside the run folder"
    keys = sorted(run_dir.rglob("*.key"))
    certificates = sorted(run_dir.rglob("*.pem"))
    assert keys and certificates, f"no PKI in the run folder: {sorted(run_dir.rglob('*'))[:20]}"
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for certificate in certificates:
        assert stat.S_IMODE(certificate.stat().st_mode) == 0o644, certificate
    ca_key = private_ca_key_folder(run_dir) / "ca.key"
    assert stat.S_IMODE(ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca_key.parent.stat().st_mode) == 0o700
    ca_key.unlink()
    ca_key.parent.rmdir()

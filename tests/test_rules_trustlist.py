"""drimva.rules.trustlist: the official TEST lists, lists the harness signs, and each way a list goes bad."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from drimva.findings import Severity
from simulators.trust.signer import sign_trust_list
from drimva.rules.trustlist import (
    TrustListError,
    check_trust_list,
    parse_trust_list,
)

from paths import SHARED
LISTS = SHARED / "ans-samples" / "Referencement-DRIMBox" / "Liste-blanche-TEST"
SIGNED = LISTS / "Liste-blanche-signee" / "LISTEBLANCHE_DRIM-M_SIGNEE_TEST.xml"
UNSIGNED = LISTS / "Liste-blanche-non-signee" / "LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml"
AT = datetime(2027, 1, 1, tzinfo=UTC)  # inside the official signer's validity (2026-09-14 … 2029-09-14)
NOW = datetime.now(UTC)

LIST = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA" versionFormat="1.0.0">
    <DateDeGeneration>2026-06-19T18:06:52Z</DateDeGeneration>
    <ListeDomaines>
        <Domaine>
            <Identifiant>3</Identifiant>
            <db>db3.test.example.fr</db>
            <vi>vi3.test.example.fr</vi>
            <Denomination>drimva</Denomination>
            <DNCertificatOperateur>CN=db3.test.example.fr,OU=318751275100020,O=DRIMVA,ST=Paris (75),C=FR</DNCertificatOperateur>
            <SupportContact>support@example.fr</SupportContact>
            <DateMAJ>2024-12-10T11:27:12Z</DateMAJ>
        </Domaine>
        <Domaine>
            <Identifiant>4</Identifiant>
            <db>db4.test.example.fr</db>
            <vi>vi4.test.example.fr</vi>
            <Denomination>drimva</Denomination>
            <DNCertificatOperateur>CN=db4.test.example.fr,OU=318751275100020,O=DRIMVA,ST=Paris (75),C=FR</DNCertificatOperateur>
            <SupportContact>support@example.fr</SupportContact>
            <DateMAJ>2024-12-10T11:27:12Z</DateMAJ>
        </Domaine>
    </ListeDomaines>
</ListeBlancheDRIM-M>
"""


def official(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"official ANS sample not available: {path}")
    return path.read_bytes()


def rules(findings, severity=Severity.ERROR) -> list[str]:
    return sorted(f.rule for f in findings if f.severity is severity)


def _name(cn: str, ou: str = "318751275100020") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DRIMVA TEST"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _cert(subject, issuer, key, signing_key, *, ca: bool, start=NOW - timedelta(days=1), days=365) -> x509.Certificate:
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    def __init__(self, signer_cn: str = "Liste Blanche DRIM-M", **signer) -> None:
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = _cert(_name("TEST ROOT"), _name("TEST ROOT"), self.root_key, self.root_key, ca=True, days=3650)
        self.signer = _cert(_name(signer_cn), self.root.subject, self.key, self.root_key, ca=False, **signer)
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        self.chain = _pem(self.signer) + _pem(self.root)

    def sign(self, xml: bytes = LIST, **kwargs) -> bytes:
        return sign_trust_list(xml, self.key_pem, self.chain, **kwargs)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# -- the official TEST lists ------------------------------------------------------------------------


def test_the_official_signed_list_verifies_completely():
    findings = check_trust_list(official(SIGNED), at=AT)
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == []
    assert rules(findings, Severity.INFO) == ["TL-SIGNER-CHAIN", "TL-SIGNER-REVOCATION"]


def test_the_official_list_chains_to_its_own_root_when_that_root_is_trusted():
    data = official(SIGNED)
    root_der = re.findall(rb"<ds:X509Certificate>([^<]+)</ds:X509Certificate>", data)[-1]
    root = x509.load_der_x509_certificate(base64.b64decode(root_der))
    assert rules(check_trust_list(data, trusted_roots_pem=[_pem(root)], at=AT)) == []
    other = Pki().root
    findings = check_trust_list(data, trusted_roots_pem=[_pem(other)], at=AT)
    assert rules(findings) == ["TL-SIGNER-CHAIN"]


def test_the_official_unsigned_list_is_rejected():
    findings = check_trust_list(official(UNSIGNED), at=AT)
    assert rules(findings) == ["TL-SIGNATURE-PRESENT"]
    assert "unsigned" in findings[0].note


def test_a_one_byte_edit_of_a_domain_breaks_the_document_digest():
    data = official(SIGNED)
    edited = data.replace(b"<Denomination>ANS</Denomination>", b"<Denomination>ANT</Denomination>", 1)
    assert len(edited) == len(data) and edited != data
    assert rules(check_trust_list(edited, at=AT)) == ["TL-SIGNATURE-REFERENCE"]


def test_the_official_signer_is_not_valid_before_2026_09_14_nor_after_2029_09_14():
    data = official(SIGNED)
    for at in (datetime(2026, 9, 1, tzinfo=UTC), datetime(2029, 10, 1, tzinfo=UTC)):
        assert rules(check_trust_list(data, at=at)) == ["TL-SIGNER-VALIDITY"]


def test_parse_official_list():
    parsed = parse_trust_list(official(SIGNED))
    assert parsed.signed and parsed.version_format == "1.0.0" and len(parsed.domains) == 17
    first = parsed.domains[0]
    assert (first.identifiant, first.db, first.vi) == ("3", "db3.test.mesimagesmedicales.fr", "vi3.test.mesimagesmedicales.fr")
    assert parsed.domain_for("VI3.test.mesimagesmedicales.fr") == first
    assert parsed.domain_for("db999.example.fr") is None
    assert not parse_trust_list(official(UNSIGNED)).signed


# -- lists the harness signs ----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["xpath-filter2", "enveloped"])
def test_a_list_signed_by_sign_trust_list_verifies(pki, transform):
    signed = pki.sign(transform=transform)
    findings = check_trust_list(signed, trusted_roots_pem=[_pem(pki.root)])
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == []
    root = etree.fromstring(signed)
    algorithms = root.xpath("//ds:Reference[@URI='']/ds:Transforms/ds:Transform/@Algorithm", namespaces={"ds": "http://www.w3.org/2000/09/xmldsig#"})
    assert algorithms[0] == {"xpath-filter2": "http://www.w3.org/2002/06/xmldsig-filter2",
                             "enveloped": "http://www.w3.org/2000/09/xmldsig#enveloped-signature"}[transform]
    assert parse_trust_list(signed).signed


def test_resigning_replaces_the_signature(pki):
    twice = pki.sign(pki.sign())
    assert twice.count(b"<ds:Signature ") == 1
    assert rules(check_trust_list(twice)) == []


def test_tampering_is_caught_by_the_matching_rule(pki):
    signed = pki.sign(signing_time=NOW)
    value = re.search(rb"<ds:SignatureValue[^>]*>(.)", signed)
    flipped = signed[: value.start(1)] + (b"B" if value.group(1) != b"B" else b"C") + signed[value.end(1) :]
    assert rules(check_trust_list(flipped)) == ["TL-SIGNATURE-VALUE"]
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    later = (NOW + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert rules(check_trust_list(signed.replace(stamp, later))) == ["TL-XADES-SIGNED-PROPERTIES"]
    assert rules(check_trust_list(signed.replace(b"db4.test", b"db5.test"))) == ["TL-SIGNATURE-REFERENCE"]


def test_signer_identity_and_validity():
    wrong = Pki(signer_cn="Someone Else")
    assert rules(check_trust_list(wrong.sign())) == ["TL-SIGNER-SUBJECT"]
    expired = Pki(start=NOW - timedelta(days=400), days=365)
    findings = check_trust_list(expired.sign(signing_time=NOW - timedelta(days=100)))
    assert rules(findings) == ["TL-SIGNER-VALIDITY"]
    outside = Pki()
    findings = check_trust_list(outside.sign(signing_time=NOW - timedelta(days=30)))
    assert rules(findings) == ["TL-XADES-SIGNING-TIME"]


def test_signer_of_another_organisation_is_a_warning():
    pki = Pki()
    pki.signer = _cert(_name("Liste Blanche DRIM-M", ou="999"), pki.root.subject, pki.key, pki.root_key, ca=False)
    pki.chain = _pem(pki.signer) + _pem(pki.root)
    findings = check_trust_list(pki.sign())
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == ["TL-SIGNER-SUBJECT"]


def test_a_keyinfo_ca_that_did_not_issue_the_signer_breaks_the_chain(pki):
    stranger = Pki()  # same CA name, other key
    mixed = sign_trust_list(LIST, pki.key_pem, _pem(pki.signer) + _pem(stranger.root))
    findings = check_trust_list(mixed)
    assert rules(findings) == ["TL-SIGNER-CHAIN"]
    assert "does not verify" in next(f.actual for f in findings if f.rule == "TL-SIGNER-CHAIN")


def test_sign_trust_list_needs_an_rsa_key(pki):
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(TypeError, match="RSA"):
        sign_trust_list(LIST, key, pki.chain)


# -- structure --------------------------------------------------------------------------------------------


def test_structure_errors(pki):
    duplicate = LIST.replace(b"<db>db4.test.example.fr</db>", b"<db>db3.test.example.fr</db>").replace(
        b"CN=db4.test.example.fr", b"CN=db3.test.example.fr")
    assert rules(check_trust_list(pki.sign(duplicate))) == ["TL-UNIQUE"]
    bad_cn = LIST.replace(b"CN=db4.test.example.fr", b"CN=other.example.fr")
    assert rules(check_trust_list(pki.sign(bad_cn))) == ["TL-DOMAINE-DN"]
    no_db = LIST.replace(b"<db>db4.test.example.fr</db>", b"")
    assert rules(check_trust_list(pki.sign(no_db))) == ["TL-DOMAINE"]
    wrong_root = LIST.replace(b"https://github.com/ansforge/DRIM-M_DATA", b"urn:other")
    assert "TL-ROOT" in rules(check_trust_list(pki.sign(wrong_root)))
    no_vi = LIST.replace(b"<vi>vi4.test.example.fr</vi>", b"")
    findings = check_trust_list(pki.sign(no_vi))
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == ["TL-DOMAINE"]
    bad_date = LIST.replace(b"<DateDeGeneration>2026-06-19T18:06:52Z", b"<DateDeGeneration>19/06/2026")
    assert rules(check_trust_list(pki.sign(bad_date))) == ["TL-DATE"]


def test_not_xml_and_not_a_list():
    assert rules(check_trust_list(b"<ListeBlancheDRIM-M")) == ["TL-XML"]
    with pytest.raises(TrustListError):
        parse_trust_list(b"<other/>")

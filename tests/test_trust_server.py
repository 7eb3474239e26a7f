"""simulators.trust: the DRIM-M liste blanche, signed by the run's PKI, served over HTTPS in three variants."""

from __future__ import annotations

import ssl
from typing import Iterator

import httpx
import pytest
from cryptography import x509

from drimva.context import Organisation
from drimva.evidence import NullEvidence
from drimva.findings import Severity
from drimva.rules.trustlist import check_trust_list, parse_trust_list
from fixtures.pki import TestPki, build_pki
from simulators.trust import TrustListServer, certificate_dn, issue_list_signer, trust_domain

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")




DOMAINS = [
    trust_domain(3, "db3.test.mesimagesmedicales.fr", vi="vi3.test.mesimagesmedicales.fr", denomination="ANS"),
    trust_domain(7, "db7.test.mesimagesmedicales.fr", vi="vi7.test.mesimagesmedicales.fr", denomination="drimva"),
]


@pytest.fixture
def trust(pki: TestPki, evidence: NullEvidence) -> Iterator[TrustListServer]:
    with TrustListServer(evidence, pki, domains=DOMAINS, timeout=5) as server:
        yield server


def _get(pki: TestPki, url: str) -> httpx.Response:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5) as http:
        return http.get(url)


def _errors(xml: bytes, pki: TestPki) -> list:
    return [f for f in check_trust_list(xml, trusted_roots_pem=[pki.ca_pem]) if f.severity == Severity.ERROR]


def test_signed_list_is_served_and_passes_the_trust_list_rules(pki: TestPki, trust: TrustListServer, evidence: NullEvidence) -> None:
    response = _get(pki, trust.list_url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    assert response.content == trust.document("signed")
    assert _errors(response.content, pki) == []
    listing = parse_trust_list(response.content)
    assert listing.signed and listing.version_format == "1.0.0" and listing.generated_at.endswith("Z")
    assert [(d.identifiant, d.db, d.vi, d.denomination) for d in listing.domains] == [
        ("3", "db3.test.mesimagesmedicales.fr", "vi3.test.mesimagesmedicales.fr", "ANS"),
        ("7", "db7.test.mesimagesmedicales.fr", "vi7.test.mesimagesmedicales.fr", "drimva"),
    ]
    assert listing.domains[0].dn_certificat_operateur.startswith("CN=db3.test.mesimagesmedicales.fr,OU=318751275100020,")
    assert [label for _, label, *_ in evidence.records] == ["request-0", "response-0-signed-200"]
    assert evidence.records[0][0] == "trust" and evidence.records[1][2].endswith(response.content)


@pytest.mark.parametrize(("variant", "path_attr"), [("corrupted", "corrupted_url"), ("unsigned", "unsigned_url")])
def test_bad_variants_fail_the_rules_and_name_the_intruder(pki: TestPki, trust: TrustListServer, variant: str, path_attr: str) -> None:
    fixed = _get(pki, getattr(trust, path_attr)).content
    trust.serve(variant)  # type: ignore[arg-type]
    switched = _get(pki, trust.list_url).content
    assert fixed == switched == trust.document(variant)  # type: ignore[arg-type]
    rules = {f.rule for f in _errors(fixed, pki)} - {"TL-DOMAINE"}  # the intruder is an IP literal (127.0.0.3)
    # corrupted: the document digest no longer matches; unsigned: no signature at all
    assert rules == {"TL-SIGNATURE-REFERENCE" if variant == "corrupted" else "TL-SIGNATURE-PRESENT"}, rules
    hosts = [d.db for d in parse_trust_list(fixed).domains]
    assert hosts == [d.db for d in DOMAINS] + ["127.0.0.3"]
    assert parse_trust_list(fixed).signed is (variant == "corrupted")
    trust.serve("signed")
    assert _errors(_get(pki, trust.list_url).content, pki) == []


def test_loopback_domains_sign_and_verify(pki: TestPki, evidence: NullEvidence) -> None:
    """Trust-space hosts in the tests are loopback IP literals; the signature does not care."""
    sut_cert, _ = pki.issue_server_cert("sut", ("127.0.0.1",))
    with TrustListServer(evidence, pki, host="127.0.0.1", timeout=5) as trust:
        trust.set_domains([trust_domain(1, "127.0.0.1", dn=certificate_dn(sut_cert)), trust_domain(2, "127.0.0.2")])
        xml = _get(pki, trust.list_url).content
    listing = parse_trust_list(xml)
    assert [d.db for d in listing.domains] == ["127.0.0.1", "127.0.0.2"]
    assert listing.domains[0].dn_certificat_operateur == x509.load_pem_x509_certificate(sut_cert.read_bytes()).subject.rfc4514_string()
    signature_errors = [f for f in _errors(xml, pki) if f.rule.startswith(("TL-SIGNATURE", "TL-SIGNER", "TL-XADES"))]
    assert signature_errors == []


def test_a_list_signed_under_another_ca_is_refused(pki: TestPki, trust: TrustListServer, tmp_path) -> None:
    other = build_pki(tmp_path, ORG)
    assert any(f.rule == "TL-SIGNER-CHAIN" for f in _errors(trust.document("signed"), other))


def test_signer_certificate_is_shaped_like_the_ans_one(pki: TestPki) -> None:
    cert = x509.load_pem_x509_certificate(issue_list_signer(pki).cert_pem)
    assert cert.subject.rfc4514_string() == "CN=Liste Blanche DRIM-M,OU=318751275100020,O=AGENCE DU NUMERIQUE EN SANTE,C=FR"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment and not usage.value.key_cert_sign
    ca = x509.load_pem_x509_certificate(pki.ca_pem)
    cert.verify_directly_issued_by(ca)


def test_unknown_path_and_bad_variant(pki: TestPki, trust: TrustListServer) -> None:
    assert _get(pki, trust.base_url + "/autre.xml").status_code == 404
    with pytest.raises(ValueError):
        trust.serve("expired")  # type: ignore[arg-type]


def test_set_domains_republishes(pki: TestPki, trust: TrustListServer) -> None:
    before = trust.document("signed")
    trust.set_domains([DOMAINS[0]])
    after = _get(pki, trust.list_url).content
    assert after != before and [d.db for d in parse_trust_list(after).domains] == [DOMAINS[0].db]
    assert _errors(after, pki) == []

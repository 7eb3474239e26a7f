"""drimva.rules.vihf: a VIHF signed with the test PKI passes; each mutation breaks exactly one rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from signxml import XMLSigner, methods
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from drimva.context import Organisation, Patient, Professional, ReportContext, RuleOptions
from drimva.findings import Finding, Severity
from drimva.rules.vihf import check_vihf, match_structure_id, subject_attribute
from drimva.xds import SAML2_NS, parse_capture
from fixtures.pki import TestPki, build_pki

from paths import SHARED
ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
CTX = ReportContext(
    patient=Patient(ins="162018885045327"),
    study_uid="1.2.826.0.1.3680043.8.498.1",
    accession="7252295367250016",
    accession_issuer="1.2.840.113619.6.196",
    order_id="12989855966",
    order_root="1.2.250.1.999.2",
    cda_id_root="1.2.250.1.999.3",
    organisation=ORG,
    author=Professional("899700367909", "DOC0036790", "KIT"),
    modalities=("MR",),
)


class Sha1Signer(XMLSigner):
    """The DMP samples sign with RSA-SHA1, which signxml refuses by default (documented override)."""

    def check_deprecated_methods(self) -> None:
        pass


ROLE = (
    '<Role xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CE" '
    'code="10" codeSystem="1.2.250.1.71.1.2.7" displayName="Medecin"/>'
)
PURPOSE = (
    '<PurposeOfUse xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CE" '
    'code="normal" codeSystem="1.2.250.1.213.1.1.4.248" displayName="Acces normal"/>'
)


def default_attributes(ctx: ReportContext) -> dict[str, str | None]:
    return {
        "VIHF_Version": "3.0",
        "Secteur_Activite": "SA25^1.2.250.1.71.4.2.4",
        "Ressource_URN": "urn:dmp",
        "urn:oasis:names:tc:xspa:1.0:subject:subject-id": "KIT DOC0036790",
        "Identifiant_Structure": ctx.organisation.structure_id,
        "LPS_ID": "drimva-ref",
        "LPS_Nom": "DRIMbox de référence",
        "LPS_Version": "0.1",
        "LPS_ID_HOMOLOGATION_DMP": "HOMOLOG-TEST",
        "urn:oasis:names:tc:xacml:2.0:resource:resource-id": escape(ctx.patient.xds_patient_id),
        "Authentification_Mode": "INDIRECTE",
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse": PURPOSE,
        "urn:oasis:names:tc:xacml:2.0:subject:role": ROLE,
    }


def make_vihf(
    pki: TestPki,
    attributes: dict[str, str | None] | None = None,
    *,
    ctx: ReportContext = CTX,
    name_id: str | None = None,
    issuer: str | None = None,
    algorithm: str = "rsa-sha256",
    sign: bool = True,
    key: Path | None = None,
    cert: Path | None = None,
) -> etree._Element:
    """A VIHF assertion like the samples'; ``attributes`` override (None removes) the defaults."""
    values = {**default_attributes(ctx), **(attributes or {})}
    attrs = "".join(
        f'<saml2:Attribute Name="{name}"><saml2:AttributeValue>{value}</saml2:AttributeValue></saml2:Attribute>'
        for name, value in values.items()
        if value is not None
    )
    issuer = issuer if issuer is not None else "CN=DRIMbox, OU=499700367909006, O=CABINET M DOC0036790, C=FR"
    xml = (
        f'<saml2:Assertion xmlns:saml2="{SAML2_NS}" ID="_vihf1" IssueInstant="2025-01-01T10:00:00Z" Version="2.0">'
        f'<saml2:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName">{issuer}</saml2:Issuer>'
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>'
        f"<saml2:Subject><saml2:NameID>{name_id if name_id is not None else ctx.author.national_id}</saml2:NameID></saml2:Subject>"
        '<saml2:AuthnStatement AuthnInstant="2025-01-01T10:00:00Z"><saml2:AuthnContext><saml2:AuthnContextClassRef>'
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>"
        f"<saml2:AttributeStatement>{attrs}</saml2:AttributeStatement></saml2:Assertion>"
    )
    root = etree.fromstring(xml.encode("utf-8"))
    if not sign:
        root.remove(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
        return root
    sha1 = algorithm == "rsa-sha1"
    signer = Sha1Signer(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(
        root,
        key=(key or pki.signing_key).read_bytes(),
        cert=(cert or pki.signing_cert).read_bytes(),
        reference_uri="#_vihf1",
        id_attribute="ID",
    )



def judged(findings: list[Finding]) -> list[tuple[str, str]]:
    """(rule, severity) of the errors and warnings, sorted."""
    return sorted((f.rule, f.severity.value) for f in findings if f.severity != Severity.INFO)


@pytest.mark.parametrize("algorithm", ["rsa-sha1", "rsa-sha256"])
def test_conformant_vihf_passes_and_records_version_and_algorithm(pki: TestPki, algorithm: str) -> None:
    findings = check_vihf(make_vihf(pki, algorithm=algorithm), CTX, RuleOptions(trusted_ca_pem=pki.ca_pem))
    assert judged(findings) == []
    infos = {(f.rule, f.actual) for f in findings if f.severity == Severity.INFO}
    assert ("VIHF-VERSION", "3.0") in infos
    assert ("VIHF-SIGNATURE", algorithm) in infos


def test_assertion_survives_a_round_trip_through_the_envelope(pki: TestPki) -> None:
    # the rule receives the assertion as parsed from a request, not the signer's tree
    reparsed = etree.fromstring(etree.tostring(make_vihf(pki)))
    assert judged(check_vihf(reparsed, CTX, RuleOptions())) == []


def _tampered(pki: TestPki) -> etree._Element:
    element = make_vihf(pki)
    value = element.find(f".//{{{SAML2_NS}}}Attribute[@Name='Ressource_URN']/{{{SAML2_NS}}}AttributeValue")
    value.text = "urn:dmp "  # changed after signing, still passes the value check once stripped
    return element


MUTATIONS = {
    "absent": (lambda pki: None, [("VIHF-PRESENT", "error")]),
    "unsigned": (lambda pki: make_vihf(pki, sign=False), [("VIHF-SIGNATURE", "error")]),
    "tampered after signing": (_tampered, [("VIHF-SIGNATURE", "error")]),
    "version 2.0": (lambda pki: make_vihf(pki, {"VIHF_Version": "2.0"}), [("VIHF-VERSION", "error")]),
    "mode DIRECTE": (lambda pki: make_vihf(pki, {"Authentification_Mode": "DIRECTE"}), [("VIHF-AUTH-MODE", "error")]),
    "other patient": (
        lambda pki: make_vihf(pki, {"urn:oasis:names:tc:xacml:2.0:resource:resource-id": "279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"}),
        [("VIHF-RESOURCE-ID", "error")],
    ),
    "Ressource_URN": (lambda pki: make_vihf(pki, {"Ressource_URN": "urn:mes"}), [("VIHF-RESSOURCE-URN", "error")]),
    "other structure": (lambda pki: make_vihf(pki, {"Identifiant_Structure": "1750803447"}), [("VIHF-STRUCTURE", "error")]),
    "structure with type digit": (
        lambda pki: make_vihf(pki, {"Identifiant_Structure": "3" + ORG.structure_id}),
        [("VIHF-STRUCTURE", "warning")],
    ),
    "NameID of someone else": (lambda pki: make_vihf(pki, name_id="810001234567"), [("VIHF-SUBJECT", "error")]),
    "NameID is the device": (lambda pki: make_vihf(pki, name_id="DRIMbox"), [("VIHF-SUBJECT", "warning")]),
    "no Secteur_Activite": (lambda pki: make_vihf(pki, {"Secteur_Activite": None}), [("VIHF-ATTRIBUTES", "warning")]),
    "no role": (lambda pki: make_vihf(pki, {"urn:oasis:names:tc:xacml:2.0:subject:role": None}), [("VIHF-ATTRIBUTES", "warning")]),
    "no LPS_ID": (lambda pki: make_vihf(pki, {"LPS_ID": None}), [("VIHF-ATTRIBUTES", "warning")]),
    "Issuer is not the signer": (lambda pki: make_vihf(pki, issuer="CN=Other, C=FR"), [("VIHF-ISSUER", "warning")]),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_breaks_exactly_its_rule(pki: TestPki, name: str) -> None:
    build, expected = MUTATIONS[name]
    assert judged(check_vihf(build(pki), CTX, RuleOptions(trusted_ca_pem=pki.ca_pem))) == expected


def test_signing_certificate_from_another_ca_is_refused_when_a_ca_is_trusted(pki: TestPki, tmp_path: Path) -> None:
    other = build_pki(tmp_path / "other", ORG)
    assertion = make_vihf(pki, key=other.signing_key, cert=other.signing_cert)
    assert judged(check_vihf(assertion, CTX, RuleOptions())) == []
    assert judged(check_vihf(assertion, CTX, RuleOptions(trusted_ca_pem=pki.ca_pem))) == [("VIHF-SIGNING-CERT", "error")]


def test_vihf_version_list_is_a_profile_setting(pki: TestPki) -> None:
    assertion = make_vihf(pki, {"VIHF_Version": "4.0"})
    assert judged(check_vihf(assertion, CTX, RuleOptions())) == []
    assert judged(check_vihf(assertion, CTX, RuleOptions(accepted_vihf_versions=("3.0",)))) == [("VIHF-VERSION", "error")]


def test_structure_id_matching() -> None:
    assert match_structure_id("499700367909006", "499700367909006") == "exact"
    assert match_structure_id("1750803447", "750803447") == "prefix"
    assert match_structure_id("750803447", "1750803447") == "prefix"
    assert match_structure_id("1750803448", "750803447") is None
    assert match_structure_id(None, "750803447") is None
    assert subject_attribute("CN=DRIMbox, OU=499700367909006, O=CABINET M, ST=Paris (75), C=FR", "OU") == "499700367909006"


@pytest.mark.parametrize(
    "sample",
    ["poc-samples/XDS/publication.xml", "ans-samples/Echantillons-validateurs/Validateur-XDS/XDS.xml"],
)
def test_official_samples(sample: str) -> None:
    path = SHARED / sample
    if not path.exists():
        pytest.skip(f"shared sample absent: {path}")
    assertion = parse_capture(path.read_bytes()).assertion
    ctx = ReportContext(
        patient=Patient(ins="162018885045327"),
        study_uid="",
        accession="",
        accession_issuer="",
        order_id="",
        order_root="",
        cda_id_root="",
        organisation=ORG,
        author=Professional("899700367909", "DOC0036790", "KIT"),
    )
    findings = check_vihf(assertion, ctx, RuleOptions())
    # Both samples have their certificate and structure id redacted to "XXXXXXX": the signature
    # cannot be verified and the structure cannot match; everything else follows the samples' values.
    assert judged(findings) == [("VIHF-SIGNATURE", "error"), ("VIHF-STRUCTURE", "error")]
    assert ("VIHF-VERSION", "3.0") in {(f.rule, f.actual) for f in findings}


# -- validity window (SAML Core §2.5.1.2) ----------------------------------------------------------


def _validity(assertion: etree._Element, at: datetime | None) -> list[tuple[str, str, str]]:
    return [(f.location, f.expected, f.actual) for f in check_vihf(assertion, CTX, RuleOptions(), at) if f.rule == "VIHF-VALIDITY"]


def _issued(pki: TestPki, when: datetime) -> etree._Element:
    assertion = make_vihf(pki)
    assertion.set("IssueInstant", when.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    return assertion  # the signature no longer verifies: VIHF-SIGNATURE says so, VIHF-VALIDITY is judged apart


def test_an_assertion_made_for_the_call_is_valid(pki: TestPki) -> None:
    assert _validity(make_vihf(pki), datetime(2025, 1, 1, 10, 0, 30, tzinfo=timezone.utc)) == []  # issued 10:00:00Z
    now = datetime.now(timezone.utc)
    assert _validity(_issued(pki, now - timedelta(minutes=59)), now) == []
    assert _validity(_issued(pki, now + timedelta(minutes=4)), now) == []  # clock skew


def test_an_old_or_future_issue_instant_is_outside_the_window(pki: TestPki) -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    (old,) = _validity(_issued(pki, now - timedelta(hours=2)), now)
    assert old == ("saml2:Assertion/@IssueInstant", "within 1 h before the receipt 2026-12-02T12:00:00Z (no Conditions)", "2026-12-02T10:00:00.000Z")
    (future,) = _validity(_issued(pki, now + timedelta(minutes=10)), now)
    assert future[0] == "saml2:Assertion/@IssueInstant" and future[2] == "2026-12-02T12:10:00.000Z"
    assert _validity(_issued(pki, now - timedelta(hours=2)), None) == []  # a captured file: the form only


def test_conditions_bound_the_assertion_when_it_has_them(pki: TestPki) -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assertion = _issued(pki, now - timedelta(hours=3))
    conditions = etree.SubElement(assertion, f"{{{SAML2_NS}}}Conditions", NotBefore="2026-12-02T09:00:00Z", NotOnOrAfter="2026-12-02T13:00:00Z")
    assert _validity(assertion, now) == []  # three hours old, but inside its own Conditions
    conditions.set("NotOnOrAfter", "2026-12-02T11:00:00Z")
    assert _validity(assertion, now) == [("saml2:Assertion/saml2:Conditions/@NotOnOrAfter", "after the receipt 2026-12-02T12:00:00Z", "2026-12-02T11:00:00Z")]
    conditions.set("NotBefore", "2026-12-02T12:30:00Z")
    rules = _validity(assertion, None)
    assert rules == [("saml2:Assertion/saml2:Conditions", "NotBefore before NotOnOrAfter", "2026-12-02T12:30:00Z / 2026-12-02T11:00:00Z")]


@pytest.mark.parametrize("instant", ["", "2026-12-02 12:00:00", "2026-12-02T12:00:00", "2026-13-02T12:00:00Z"])
def test_an_issue_instant_that_is_not_an_xsd_datetime_in_utc_is_a_finding(pki: TestPki, instant: str) -> None:
    assertion = make_vihf(pki)
    assertion.set("IssueInstant", instant)
    (found,) = _validity(assertion, None)
    assert found == ("saml2:Assertion/@IssueInstant", "an xsd:dateTime in UTC (YYYY-MM-DDThh:mm:ss[.sss]Z)", instant or "(absent)")

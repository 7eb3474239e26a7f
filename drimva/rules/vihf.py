"""VIHF rules: the SAML 2.0 assertion a DRIMbox puts in ``wsse:Security`` when it calls the DMP.

Sources: dmp-xds.md §8 (samples of the ANS validator and of the demonstrator,
HL7v2 volet mapping), where-sources-disagree.md (VIHF 3.0 vs 4.0). Pure: the
assertion element and the report context in, findings out.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException

from drimva.context import ReportContext, RuleOptions
from drimva.findings import Finding, FindingList, Severity
from drimva.xds import DS_NS, SAML2_NS, SAFE_PARSER

SRC = "dmp-xds.md §8"
ASSERTION = "saml2:Assertion"
ACCEPTED_SIGNATURES = {
    SignatureMethod.RSA_SHA1: "rsa-sha1",
    SignatureMethod.RSA_SHA256: "rsa-sha256",
}
ACCEPTED_DIGESTS = frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256})
ATTR_VERSION = "VIHF_Version"
ATTR_AUTH_MODE = "Authentification_Mode"
ATTR_RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
ATTR_RESOURCE_URN = "Ressource_URN"
ATTR_STRUCTURE = "Identifiant_Structure"
ATTR_SECTEUR = "Secteur_Activite"
ATTR_ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
ATTR_PURPOSE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
LPS_ATTRIBUTES = ("LPS_ID", "LPS_Nom", "LPS_Version", "LPS_ID_HOMOLOGATION_DMP")

# The validity window. SAML Core §2.5.1.2 bounds an assertion by its Conditions (NotBefore, NotOnOrAfter);
# neither the DRIM-M samples nor the demonstrator carry Conditions, and no DMP document states how old an
# IssueInstant may be. Decision: with Conditions, they bound it; without, the assertion is made for the call
# (both samples build one per request) and its IssueInstant must be within VIHF_MAX_AGE of the receipt;
# either way a clock skew of VIHF_CLOCK_SKEW is allowed (SAML 2.0 deployments commonly allow 3-5 minutes).
VIHF_CLOCK_SKEW = timedelta(minutes=5)
VIHF_MAX_AGE = timedelta(hours=1)
_XSD_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def match_structure_id(found: str | None, expected: str) -> str | None:
    """``"exact"``, ``"prefix"`` (equal once a leading type digit is stripped from the longer one,
    e.g. FINESS ``1750803447`` vs ``750803447``) or None.

    where-sources-disagree.md / hl7v2-ris-to-drimbox.md open question 6: a
    FINESS and a cabinet IDNST both pass; the prefix form is reported as a warning.
    """
    if not found or not expected:
        return None
    found, expected = found.strip(), expected.strip()
    if found == expected:
        return "exact"
    longer, shorter = (found, expected) if len(found) > len(expected) else (expected, found)
    if len(longer) == len(shorter) + 1 and longer[0].isdigit() and longer[1:] == shorter:
        return "prefix"
    return None


def subject_attribute(subject: str | None, attribute: str) -> str | None:
    """The first value of ``attribute`` (``OU``, ``CN``...) in an RFC 4514 or Java-style DN string."""
    if not subject:
        return None
    oid = {"OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME}[attribute]
    try:
        values = x509.Name.from_rfc4514_string(re.sub(r",\s+", ",", subject.strip())).get_attributes_for_oid(oid)
        return str(values[0].value) if values else None
    except ValueError:
        match = re.search(rf"(?:^|,)\s*{attribute}=([^,]+)", subject)
        return match.group(1).strip() if match else None


def _normalised_dn(subject: str) -> set[tuple[str, str]]:
    try:
        name = x509.Name.from_rfc4514_string(re.sub(r",\s+", ",", subject.strip()))
        return {(a.rfc4514_attribute_name, str(a.value)) for a in name}
    except ValueError:
        return {tuple(p.strip().split("=", 1)) for p in subject.split(",") if "=" in p}  # type: ignore[misc]


def attributes(assertion: etree._Element) -> dict[str, list[etree._Element]]:
    """Attribute name -> its AttributeValue elements."""
    result: dict[str, list[etree._Element]] = {}
    for attr in assertion.iterfind(f"{{{SAML2_NS}}}AttributeStatement/{{{SAML2_NS}}}Attribute"):
        result.setdefault(attr.get("Name", ""), []).extend(attr.findall(f"{{{SAML2_NS}}}AttributeValue"))
    return result


def _text_values(values: list[etree._Element]) -> list[str]:
    return [(v.text or "").strip() for v in values]


def _loc(name: str) -> str:
    return f"{ASSERTION}/saml2:AttributeStatement/saml2:Attribute[@Name='{name}']/saml2:AttributeValue"


def xsd_datetime(text: str | None) -> datetime | None:
    """An xsd:dateTime with its time zone (SAML Core §1.3.3: UTC, 'Z'), as an aware datetime; None if it is not one."""
    match = _XSD_DATETIME.match((text or "").strip())
    if match is None:
        return None
    zone = match.group(8)
    try:
        return datetime.fromisoformat(f"{match.group(0)[:19]}{match.group(7) or ''}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def validity_problems(assertion: etree._Element, received_at: datetime | None) -> list[tuple[str, str, str, str]]:
    """What makes the assertion not valid (at ``received_at`` when given): ``(location, expected, actual, why)`` each.

    Without ``received_at`` (a captured file) only the form is judged: IssueInstant an xsd:dateTime, and
    NotBefore before NotOnOrAfter when both are given. The DMP simulator refuses an assertion with a problem.
    """
    problems: list[tuple[str, str, str, str]] = []
    issued_text = assertion.get("IssueInstant")
    issued = xsd_datetime(issued_text)
    if issued is None:
        problems.append((f"{ASSERTION}/@IssueInstant", "an xsd:dateTime in UTC (YYYY-MM-DDThh:mm:ss[.sss]Z)", issued_text or "(absent)", "form"))
    conditions = assertion.find(f"{{{SAML2_NS}}}Conditions")
    bounds = {name: conditions.get(name) for name in ("NotBefore", "NotOnOrAfter")} if conditions is not None else {}
    parsed = {name: xsd_datetime(text) for name, text in bounds.items() if text is not None}
    for name, text in bounds.items():
        if text is not None and parsed[name] is None:
            problems.append((f"{ASSERTION}/saml2:Conditions/@{name}", "an xsd:dateTime in UTC", text, "form"))
    not_before, not_after = parsed.get("NotBefore"), parsed.get("NotOnOrAfter")
    if not_before and not_after and not_before >= not_after:
        problems.append((f"{ASSERTION}/saml2:Conditions", "NotBefore before NotOnOrAfter", f"{bounds['NotBefore']} / {bounds['NotOnOrAfter']}", "window"))
    if received_at is None:
        return problems
    at = received_at.astimezone(timezone.utc)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if issued is not None and issued > at + VIHF_CLOCK_SKEW:
        problems.append((f"{ASSERTION}/@IssueInstant", f"not after the receipt {stamp} (+{VIHF_CLOCK_SKEW.seconds // 60} min)", issued_text or "", "not yet valid"))
    if not_before is not None and not_before > at + VIHF_CLOCK_SKEW:
        problems.append((f"{ASSERTION}/saml2:Conditions/@NotBefore", f"not after the receipt {stamp}", bounds["NotBefore"] or "", "not yet valid"))
    if not_after is not None and not_after <= at - VIHF_CLOCK_SKEW:
        problems.append((f"{ASSERTION}/saml2:Conditions/@NotOnOrAfter", f"after the receipt {stamp}", bounds["NotOnOrAfter"] or "", "expired"))
    if not_after is None and issued is not None and issued < at - VIHF_MAX_AGE - VIHF_CLOCK_SKEW:
        problems.append((f"{ASSERTION}/@IssueInstant", f"within {VIHF_MAX_AGE.seconds // 3600} h before the receipt {stamp} (no Conditions)", issued_text or "", "expired"))
    return problems


def check_vihf(
    assertion: etree._Element | None, ctx: ReportContext, options: RuleOptions, received_at: datetime | None = None
) -> list[Finding]:
    """The VIHF rules; ``received_at`` (when the DMP received it) adds its validity window to its form."""
    f = FindingList(source="VIHF")
    if assertion is None:
        f.add("VIHF-PRESENT", f"a signed VIHF assertion in wsse:Security ({SRC})", "soap:Header/wsse:Security/saml2:Assertion", "saml2:Assertion", None)
        return f.items
    for location, expected, actual, why in validity_problems(assertion, received_at):
        f.add("VIHF-VALIDITY", f"the assertion is valid when the DMP receives it: IssueInstant, Conditions (SAML Core §2.5.1.2, §2.3.3; {SRC}) — {why}",
              location, expected, actual)
    cert = _check_signature(f, assertion, options)
    attrs = attributes(assertion)

    versions = _text_values(attrs.get(ATTR_VERSION, []))
    version = versions[0] if versions else None
    if version in options.accepted_vihf_versions:
        f.add("VIHF-VERSION", f"VIHF version used ({SRC}; where-sources-disagree.md)", _loc(ATTR_VERSION), options.accepted_vihf_versions, version, Severity.INFO)
    else:
        f.add("VIHF-VERSION", f"VIHF_Version is an accepted version ({SRC}: 3.0 samples, 4.0 volet)", _loc(ATTR_VERSION), f"one of {list(options.accepted_vihf_versions)}", version)

    mode = _text_values(attrs.get(ATTR_AUTH_MODE, []))
    f.check_equal("VIHF-AUTH-MODE", f"Authentification_Mode INDIRECTE for a publication by a system (TD2.1, {SRC})", _loc(ATTR_AUTH_MODE), "INDIRECTE", mode[0] if mode else None)

    resource = _text_values(attrs.get(ATTR_RESOURCE_ID, []))
    f.check_equal("VIHF-RESOURCE-ID", f"resource-id = the patient's INS as XDS patientId ({SRC})", _loc(ATTR_RESOURCE_ID), ctx.patient.xds_patient_id, resource[0] if resource else None)

    urn = _text_values(attrs.get(ATTR_RESOURCE_URN, []))
    f.check_equal("VIHF-RESSOURCE-URN", f"Ressource_URN = urn:dmp ({SRC})", _loc(ATTR_RESOURCE_URN), "urn:dmp", urn[0] if urn else None)

    structure = _text_values(attrs.get(ATTR_STRUCTURE, []))
    found = structure[0] if structure else None
    match = match_structure_id(found, ctx.organisation.structure_id)
    requirement = f"Identifiant_Structure = the organisation of the report (PRT-8.10 / CDA author organisation; SC.DMP/CONF.12; {SRC})"
    if match is None:
        f.add("VIHF-STRUCTURE", requirement, _loc(ATTR_STRUCTURE), ctx.organisation.structure_id, found)
    elif match == "prefix":
        f.add("VIHF-STRUCTURE", requirement, _loc(ATTR_STRUCTURE), ctx.organisation.structure_id, found, Severity.WARNING, "equal only after stripping a leading type digit")

    _check_subject(f, assertion, ctx, options, cert)

    for name, what in ((ATTR_SECTEUR, "Secteur_Activite"), (ATTR_ROLE, "subject role"), (ATTR_PURPOSE, "purposeofuse")):
        values = attrs.get(name, [])
        if not values or not any((v.text or "").strip() or len(v) for v in values):
            f.add("VIHF-ATTRIBUTES", f"{what} attribute present (SAMPLE, {SRC})", _loc(name), "a value", None, Severity.WARNING)
    for name in LPS_ATTRIBUTES:
        if not any(_text_values(attrs.get(name, []))):
            f.add("VIHF-ATTRIBUTES", f"{name} present (software identity, SAMPLE, {SRC})", _loc(name), "a value", None, Severity.WARNING)
    return f.items


def _check_subject(f: FindingList, assertion: etree._Element, ctx: ReportContext, options: RuleOptions, cert: x509.Certificate | None) -> None:
    loc = f"{ASSERTION}/saml2:Subject/saml2:NameID"
    el = assertion.find(f"{{{SAML2_NS}}}Subject/{{{SAML2_NS}}}NameID")
    name_id = (el.text or "").strip() if el is not None else None
    requirement = f"Subject NameID = the national id of the sender (PRT-5.1 / CDA author, volet; {SRC})"
    if name_id == ctx.author.national_id:
        return
    devices = {d.strip() for d in options.extra.get("vihf_device_ids", "").split(",") if d.strip()}
    issuer = assertion.find(f"{{{SAML2_NS}}}Issuer")
    if issuer is not None and issuer.text:
        devices.add(subject_attribute(issuer.text, "CN") or "")
    if cert is not None:
        devices.update(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    if name_id and name_id in devices:
        f.add("VIHF-SUBJECT", requirement, loc, ctx.author.national_id, name_id, Severity.WARNING, "the DRIMbox is named as a device, not the report's author")
    else:
        f.add("VIHF-SUBJECT", requirement, loc, ctx.author.national_id, name_id)


def _check_signature(f: FindingList, assertion: etree._Element, options: RuleOptions) -> x509.Certificate | None:
    rule, loc = "VIHF-SIGNATURE", f"{ASSERTION}/ds:Signature"
    requirement = f"assertion signed: enveloped ds:Signature over the assertion ID, RSA-SHA1 or RSA-SHA256, X.509 in KeyInfo ({SRC})"
    signature = assertion.find(f"{{{DS_NS}}}Signature")
    if signature is None:
        f.add(rule, requirement, loc, "an enveloped ds:Signature", None)
        return None
    reference = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    expected_uri = f"#{assertion.get('ID', '')}"
    if reference is None or reference.get("URI") != expected_uri:
        f.add(rule, requirement, f"{loc}/ds:SignedInfo/ds:Reference/@URI", expected_uri, reference.get("URI") if reference is not None else None)
        return None
    method = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}SignatureMethod")
    algorithm = method.get("Algorithm") if method is not None else None
    names = {m.value: label for m, label in ACCEPTED_SIGNATURES.items()}
    if algorithm not in names:
        f.add(rule, requirement, f"{loc}/ds:SignedInfo/ds:SignatureMethod/@Algorithm", list(names.values()), algorithm)
        return None
    cert_el = signature.find(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
    try:
        der = base64.b64decode("".join((cert_el.text or "").split()), validate=True) if cert_el is not None else b""
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        f.add(rule, requirement, f"{loc}/ds:KeyInfo/ds:X509Data/ds:X509Certificate", "a base64 DER X.509 certificate", (cert_el.text or "").strip()[:40] if cert_el is not None else None)
        return None
    standalone = etree.fromstring(etree.tostring(assertion), SAFE_PARSER)
    config = SignatureConfiguration(
        location="./",
        signature_methods=frozenset(ACCEPTED_SIGNATURES),
        digest_algorithms=ACCEPTED_DIGESTS,
        expect_references=1,
    )
    try:
        XMLVerifier().verify(standalone, x509_cert=cert, expect_config=config)
    except (SignXMLException, ValueError) as exc:
        f.add(rule, requirement, loc, "a signature that verifies with the KeyInfo certificate", f"verification failed: {exc}")
        return cert
    f.add(rule, "signature algorithm used", f"{loc}/ds:SignedInfo/ds:SignatureMethod/@Algorithm", list(names.values()), names[algorithm], Severity.INFO)
    if options.trusted_ca_pem:
        ca = x509.load_pem_x509_certificate(options.trusted_ca_pem)
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            f.add(
                "VIHF-SIGNING-CERT",
                "signing certificate issued by the trusted CA (IGC-Santé ORG, dmp-xds.md §9)",
                f"{loc}/ds:KeyInfo/ds:X509Data/ds:X509Certificate",
                f"issuer {ca.subject.rfc4514_string()}",
                f"issuer {cert.issuer.rfc4514_string()}",
            )
    issuer = assertion.find(f"{{{SAML2_NS}}}Issuer")
    issuer_text = (issuer.text or "").strip() if issuer is not None else ""
    if not issuer_text or _normalised_dn(issuer_text) != _normalised_dn(cert.subject.rfc4514_string()):
        f.add("VIHF-ISSUER", f"saml2:Issuer = subject DN of the signing certificate (SAMPLE, {SRC})", f"{ASSERTION}/saml2:Issuer", cert.subject.rfc4514_string(), issuer_text or None, Severity.WARNING)
    return cert

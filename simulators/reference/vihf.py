"""The VIHF: the SAML 2.0 assertion a DRIMbox puts in `wsse:Security` (dmp-xds.md §8).

Publication is "indirect authentication": the structure is authenticated by
its certificate, the sender of the report is named in the assertion. The
assertion is signed (enveloped, exclusive c14n, RSA-SHA256) with the
organisation's signing certificate, whose subject DN is the Issuer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from simulators.reference.publication import KosPublication
from simulators.reference.self_signed import self_signed

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
HL7V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

VIHF_VERSION = "3.0"  # demonstrator and samples; the volet's mapping says 4.0 (where-sources-disagree.md)
X509_SUBJECT_NAME = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
TLS_CLIENT = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
FACILITY_SCHEME = "1.2.250.1.71.4.2.4"
PROFESSION_SCHEME = "1.2.250.1.71.1.2.7"  # TRE_G15
PROFESSION_NAMES = {"10": "Medecin", "21": "Pharmacien", "40": "Chirurgien-Dentiste", "50": "Sage-Femme", "60": "Infirmier"}
CONFIDENTIALITY_ATTRIBUTE = "urn:oasis:names:tc:xspa:1.0:resource:patient:hl7:confidentiality-code"
# The "connexion secrète" code the DMP expects (DMPConnect documentation): code of
# 1.2.250.1.213.1.1.4.13. The reference files name the attribute, not its value.
SECRET_CONNECTION_CODE = (
    "INVISIBLE_REPRESENTANTS_LEGAUX",
    "1.2.250.1.213.1.1.4.13",
    "Non visible par les représentants légaux du patient",
)


@dataclass(frozen=True)
class VihfSigner:
    """The organisation's signing certificate and key, as PEM."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def from_files(cls, cert: Path, key: Path) -> VihfSigner:
        return cls(Path(cert).read_bytes(), Path(key).read_bytes())

    @cached_property
    def private_key(self) -> RSAPrivateKey | EllipticCurvePrivateKey:
        """The key, loaded once: loading (and checking) an RSA key costs ~40 ms, as much as a signature."""
        key = load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, (RSAPrivateKey, EllipticCurvePrivateKey)):
            raise ValueError(f"the VIHF signing key must be RSA or EC, not {type(key).__name__}")
        return key

    @property
    def issuer_dn(self) -> str:
        """Subject DN, most specific RDN first, `, `-separated (the sample's form)."""
        subject = x509.load_pem_x509_certificate(self.cert_pem).subject
        return ", ".join(rdn.rfc4514_string() for rdn in reversed(subject.rdns))


def build_vihf(
    pub: KosPublication,
    *,
    lps: Mapping[str, str],
    issuer_dn: str,
    now: datetime | None = None,
    placeholder: bool = True,
    version: str = VIHF_VERSION,
) -> etree._Element:
    """The unsigned assertion; with `placeholder`, a `ds:Signature` slot right after Issuer."""
    return _assertion(
        name_id=pub.author_id,
        authentication_mode="INDIRECTE",
        structure_id=pub.organisation_id,
        facility_code=pub.healthcare_facility_code,
        subject_name=f"{pub.author_given} {pub.author_family}".strip(),
        role=("10", "Medecin"),
        patient_id=pub.xds_patient_id,
        secret_connection=pub.secret_connection,
        lps=lps,
        issuer_dn=issuer_dn,
        now=now,
        placeholder=placeholder,
        version=version,
    )


def consultation_vihf(
    *,
    professional_id: str,
    professional_name: str,
    profession_code: str,
    structure_id: str,
    facility_code: str,
    patient_id: str,
    lps: Mapping[str, str],
    signer: VihfSigner,
    now: datetime | None = None,
    version: str = VIHF_VERSION,
) -> etree._Element:
    """The signed VIHF of a consultation (ITI-18 / ITI-43) on behalf of a logged-in professional.

    ``Authentification_Mode`` INDIRECTE_RENFORCEE (the professional authenticated at
    Pro Santé Connect, the structure by its certificate); NameID = the professional's
    national id (``8`` + RPPS, the token's ``sub`` / ``SubjectNameID``).
    """
    assertion = _assertion(
        name_id=professional_id,
        authentication_mode="INDIRECTE_RENFORCEE",
        structure_id=structure_id,
        facility_code=facility_code,
        subject_name=professional_name,
        role=(profession_code, PROFESSION_NAMES.get(profession_code, profession_code)),
        patient_id=patient_id,
        secret_connection=False,
        lps=lps,
        issuer_dn=signer.issuer_dn,
        now=now,
        placeholder=True,
        version=version,
    )
    return sign_vihf(assertion, signer)


def _assertion(
    *,
    name_id: str,
    authentication_mode: str,
    structure_id: str,
    facility_code: str,
    subject_name: str,
    role: tuple[str, str],
    patient_id: str,
    secret_connection: bool,
    lps: Mapping[str, str],
    issuer_dn: str,
    now: datetime | None,
    placeholder: bool,
    version: str,
) -> etree._Element:
    instant = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stamp = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
    assertion = etree.Element(
        _saml("Assertion"),
        nsmap={"saml2": SAML, "xsi": XSI},
        ID=f"_{uuid.uuid4().hex}",  # an NCName: never starts with a digit
        IssueInstant=stamp,
        Version="2.0",
    )
    etree.SubElement(assertion, _saml("Issuer"), Format=X509_SUBJECT_NAME).text = issuer_dn
    if placeholder:
        etree.SubElement(assertion, etree.QName(DS, "Signature"), nsmap={"ds": DS}, Id="placeholder")
    subject = etree.SubElement(assertion, _saml("Subject"))
    etree.SubElement(subject, _saml("NameID")).text = name_id
    authn = etree.SubElement(assertion, _saml("AuthnStatement"), AuthnInstant=stamp)
    context = etree.SubElement(authn, _saml("AuthnContext"))
    etree.SubElement(context, _saml("AuthnContextClassRef")).text = TLS_CLIENT

    statement = etree.SubElement(assertion, _saml("AttributeStatement"))
    _attribute(statement, "VIHF_Version", version)
    _attribute(statement, "Identifiant_Structure", structure_id)
    _attribute(statement, "Secteur_Activite", f"{facility_code}^{FACILITY_SCHEME}")
    _attribute(statement, "urn:oasis:names:tc:xspa:1.0:subject:subject-id", subject_name)
    role_value = _attribute(statement, "urn:oasis:names:tc:xacml:2.0:subject:role", None)
    _ce(role_value, "Role", role[0], PROFESSION_SCHEME, role[1])
    _attribute(statement, "urn:oasis:names:tc:xacml:2.0:resource:resource-id", patient_id)
    _attribute(statement, "Ressource_URN", "urn:dmp")
    purpose = _attribute(statement, "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse", None)
    _ce(purpose, "PurposeOfUse", "normal", "1.2.250.1.213.1.1.4.248", "Acces normal", name="mode acces VIHF 1.0")
    _attribute(statement, "Authentification_Mode", authentication_mode)
    _attribute(statement, "LPS_ID", lps["id"])
    _attribute(statement, "LPS_Nom", lps["name"])
    _attribute(statement, "LPS_Version", lps["version"])
    _attribute(statement, "LPS_ID_HOMOLOGATION_DMP", lps["homologation"])
    if secret_connection:
        secret = _attribute(statement, CONFIDENTIALITY_ATTRIBUTE, None)
        _ce(secret, "ConfidentialityCode", *SECRET_CONNECTION_CODE)
    return assertion


def sign_vihf(assertion: etree._Element, signer: VihfSigner) -> etree._Element:
    """Enveloped signature over `#<ID>`: exclusive c14n, RSA-SHA256, X509Certificate in KeyInfo."""
    xml_signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    xml_signer.namespaces = {"ds": DS}
    return xml_signer.sign(
        assertion,
        key=signer.private_key,
        cert=signer.cert_pem.decode("ascii"),
        reference_uri=f"#{assertion.get('ID')}",
        id_attribute="ID",
    )


def vihf_assertion(
    pub: KosPublication, *, lps: Mapping[str, str], signer: VihfSigner, signed: bool = True, now: datetime | None = None,
    version: str = VIHF_VERSION, alter: Callable[[etree._Element], None] | None = None,
) -> etree._Element:
    """The VIHF ready for `wsse:Security`; `signed=False` serves the `vihf_unsigned` fault, `alter` (the VIHF
    faults, :func:`alter_vihf`) changes the assertion before it is signed."""
    assertion = build_vihf(pub, lps=lps, issuer_dn=signer.issuer_dn, now=now, placeholder=signed, version=version)
    if alter is not None:
        alter(assertion)
    return sign_vihf(assertion, signer) if signed else assertion


# The fault vihf_demo_profile: the installation's demo sender and structure (not the CR's), signed with a
# self-signed demo certificate.
DEMO_SENDER = "899700000000"
DEMO_STRUCTURE = "10B0000000"


def alter_vihf(assertion: etree._Element, faults: frozenset[str]) -> None:
    """Apply the VIHF faults of ``faults`` to the unsigned ``assertion`` (faults.py declares them)."""
    values = {
        attribute.get("Name"): attribute.find(_saml("AttributeValue"))
        for attribute in assertion.iter(_saml("Attribute"))
    }
    if "vihf_old_template" in faults:  # a VIHF 1.0 template: direct authentication, a bare INS, no Ressource_URN
        _set(values, "VIHF_Version", "1.0")
        _set(values, "Authentification_Mode", "DIRECTE")
        resource = values.get("urn:oasis:names:tc:xacml:2.0:resource:resource-id")
        if resource is not None:
            resource.text = (resource.text or "").split("^", 1)[0]
        urn = values.get("Ressource_URN")
        if urn is not None:
            attribute = urn.getparent()
            attribute.getparent().remove(attribute)
    if "vihf_demo_profile" in faults:
        name_id = assertion.find(f"{_saml('Subject')}/{_saml('NameID')}")
        if name_id is not None:
            name_id.text = DEMO_SENDER
        _set(values, "Identifiant_Structure", DEMO_STRUCTURE)


def _set(values: Mapping[str | None, etree._Element | None], name: str, text: str) -> None:
    holder = values.get(name)
    if holder is not None:
        holder.text = text


def demo_signer() -> VihfSigner:
    """A self-signed signing certificate and its key, made for the call (the fault vihf_demo_profile)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DRIMbox demo"),
        x509.NameAttribute(NameOID.COMMON_NAME, "DRIMbox demo VIHF signing"),
    ])  # fmt: skip
    cert = self_signed(key, name, backdate=timedelta(days=1), lifetime=timedelta(days=365))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return VihfSigner(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _saml(tag: str) -> etree.QName:
    return etree.QName(SAML, tag)


def _attribute(statement: etree._Element, name: str, value: str | None) -> etree._Element:
    attribute = etree.SubElement(statement, _saml("Attribute"), Name=name)
    holder = etree.SubElement(attribute, _saml("AttributeValue"))
    if value is not None:
        holder.text = value
    return holder


def _ce(holder: etree._Element, tag: str, code: str, system: str, display: str, *, name: str | None = None) -> None:
    """An HL7 v3 CE element (Role, PurposeOfUse, ConfidentialityCode) as the VIHF samples write it."""
    attrs = {"code": code, "codeSystem": system}
    if name is not None:
        attrs["codeSystemName"] = name
    attrs["displayName"] = display
    node = etree.SubElement(holder, etree.QName(HL7V3, tag), attrs, nsmap={None: HL7V3})
    node.set(etree.QName(XSI, "type"), "CE")

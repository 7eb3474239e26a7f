"""The DRIM-M trust list (liste blanche): its content, and its enveloped XAdES-BASELINE-B signature (VA-A).

Sources: ``trust-list-and-identity.md`` §1-§3 (ANS README and the signed /
unsigned TEST lists), ETSI EN 319 132-1 (XAdES baseline B), W3C XML-DSig
and XPath Filter 2.0. An unsigned or corrupted list is rejected (ANS README).

signxml does not apply the XPath Filter 2.0 transform the ANS list uses (it
skips it, so the document digest never matches), hence the verification is
done here with lxml (transforms, canonicalisation) and cryptography (digests,
RSA, certificate chain). The signer of the trust-list simulator
(``simulators.trust.signer.sign_trust_list``) writes the same structure
as the ANS list (XPath Filter 2.0 subtract + exclusive c14n, RSA-SHA256,
SigningCertificateV2 SHA-512); the verifier also accepts the plain
enveloped-signature transform. Certificate revocation (CRL / OCSP) is not
checked: it needs the network. Pure: bytes in, findings out.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from drimva import xmlsafe
from drimva.findings import Finding, FindingList, Severity
from drimva.netaddr import is_ip_literal
from drimva.rules.vihf import subject_attribute

TL_NS = "https://github.com/ansforge/DRIM-M_DATA"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
FILTER2_NS = "http://www.w3.org/2002/06/xmldsig-filter2"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_METHODS = {  # algorithm -> (exclusive, with comments)
    EXC_C14N: (True, False),
    EXC_C14N + "WithComments": (True, True),
    C14N: (False, False),
    C14N + "#WithComments": (False, True),
}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
SIGNATURE_METHODS: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}
SIGNER_CN = "Liste Blanche DRIM-M"
SIGNER_OU = "318751275100020"

SRC = "trust-list-and-identity.md"
FORMAT = f"{SRC} §2: liste blanche format (ANS TEST list and README)"
SIGNATURE = f"{SRC} §3: enveloped XAdES-BASELINE-B signature (ANS README; ETSI EN 319 132-1)"
CHECKS = f"{SRC} §3: checks a DRIMbox performs (ANS README)"
NOTE_UNSIGNED = "a corrupted or unsigned list is rejected (ANS README: the unsigned TEST list is the corrupted case)"
_FQDN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_DOMAIN_FIELDS = ("Identifiant", "db", "vi", "Denomination", "DNCertificatOperateur", "SupportContact", "DateMAJ")


class TrustListError(ValueError):
    """The data is not a readable DRIM-M trust list; the message says why."""


@dataclass(frozen=True)
class TrustDomain:
    identifiant: str
    db: str  # FQDN of the DRIMbox
    vi: str  # FQDN of its viewer ("" when absent)
    denomination: str
    dn_certificat_operateur: str
    support_contact: str
    date_maj: str


@dataclass(frozen=True)
class TrustList:
    version_format: str
    generated_at: str
    domains: tuple[TrustDomain, ...]
    signed: bool

    def domain_for(self, host: str) -> TrustDomain | None:
        """The entry whose ``db`` or ``vi`` FQDN is ``host`` (case-insensitive)."""
        host = host.lower().rstrip(".")
        return next((d for d in self.domains if host in (d.db.lower(), d.vi.lower())), None)


def _q(local: str, ns: str = TL_NS) -> str:
    return f"{{{ns}}}{local}"


def _parse(xml: bytes) -> etree._Element:
    try:
        return xmlsafe.parse(xml)
    except xmlsafe.XmlError as exc:
        raise TrustListError(str(exc)) from None


def _text(parent: etree._Element, local: str, ns: str) -> str | None:
    el = parent.find(_q(local, ns))
    return None if el is None else (el.text or "").strip()


def parse_trust_list(xml: bytes) -> TrustList:
    """The list's domains; raises :class:`TrustListError` when the root is not ``ListeBlancheDRIM-M``."""
    root = _parse(xml)
    if etree.QName(root).localname != "ListeBlancheDRIM-M":
        raise TrustListError(f"root element is {root.tag!r}, not ListeBlancheDRIM-M")
    ns = etree.QName(root).namespace or ""
    domains = tuple(
        TrustDomain(*(_text(d, name, ns) or "" for name in _DOMAIN_FIELDS))
        for d in root.iterfind(f"{_q('ListeDomaines', ns)}/{_q('Domaine', ns)}")
    )
    return TrustList(
        version_format=root.get("versionFormat", ""),
        generated_at=_text(root, "DateDeGeneration", ns) or "",
        domains=domains,
        signed=root.find(_q("Signature", DS_NS)) is not None,
    )


# -- rules ----------------------------------------------------------------------------------


def check_trust_list(
    xml: bytes,
    *,
    trusted_roots_pem: Sequence[bytes] = (),
    at: datetime | None = None,
) -> list[Finding]:
    """Structure and signature of a liste blanche; ``at`` (default now) is when certificates must be valid."""
    out = FindingList(source="liste blanche")
    try:
        root = _parse(xml)
    except TrustListError as exc:
        out.add("TL-XML", FORMAT, "/", "a well-formed XML document", str(exc), note=NOTE_UNSIGNED)
        return out.items
    _check_structure(root, out)
    _SignatureCheck(root, out, trusted_roots_pem, at or datetime.now(UTC)).run()
    return out.items


def _check_structure(root: etree._Element, out: FindingList) -> None:
    qname = etree.QName(root)
    ns = qname.namespace or ""
    if qname.localname != "ListeBlancheDRIM-M" or ns != TL_NS:
        out.add("TL-ROOT", FORMAT, "/*", f"{{{TL_NS}}}ListeBlancheDRIM-M", root.tag)
    if not root.get("versionFormat"):
        out.add("TL-ROOT", FORMAT, "/ListeBlancheDRIM-M/@versionFormat", "a format version (1.0.0)", None)
    _check_timestamp(out, "/ListeBlancheDRIM-M/DateDeGeneration", _text(root, "DateDeGeneration", ns))
    domains = root.findall(f"{_q('ListeDomaines', ns)}/{_q('Domaine', ns)}")
    if not domains:
        out.add("TL-DOMAINE", FORMAT, "/ListeBlancheDRIM-M/ListeDomaines/Domaine", "at least one Domaine", 0)
    seen: dict[str, dict[str, int]] = {"Identifiant": {}, "FQDN": {}}
    for index, domain in enumerate(domains, start=1):
        base = f"/ListeBlancheDRIM-M/ListeDomaines/Domaine[{index}]"
        values = {name: _text(domain, name, ns) for name in _DOMAIN_FIELDS}
        for name in ("Identifiant", "db", "Denomination", "DNCertificatOperateur", "SupportContact", "DateMAJ"):
            if not values[name]:
                out.add("TL-DOMAINE", FORMAT, f"{base}/{name}", "a value", values[name])
        identifiant = values["Identifiant"] or ""
        if identifiant and not identifiant.isdigit():
            out.add("TL-DOMAINE", f"{FORMAT}: Identifiant is an incremental index", f"{base}/Identifiant", "an integer", identifiant)
        for name in ("db", "vi"):
            value = values[name]
            if value and not _FQDN.match(value):
                # An IP literal is what a loopback test trust space uses (no DNS there): a warning, not an error.
                severity = Severity.WARNING if is_ip_literal(value) else Severity.ERROR
                out.add("TL-DOMAINE", f"{FORMAT}: {name} is a fully qualified domain name", f"{base}/{name}", "an FQDN", value, severity)
        if values["vi"] is None:
            out.add("TL-DOMAINE", f"{FORMAT}: vi (viewer FQDN) present in the ANS list, not in its README", f"{base}/vi", "the viewer FQDN", None, Severity.WARNING)
        dn = values["DNCertificatOperateur"]
        if dn and values["db"]:
            cn = subject_attribute(dn, "CN")
            if (cn or "").lower() != values["db"].lower():
                out.add("TL-DOMAINE-DN", f"{FORMAT}: DNCertificatOperateur CN = the db FQDN", f"{base}/DNCertificatOperateur", f"CN={values['db']}", dn)
        if values["DateMAJ"]:
            _check_timestamp(out, f"{base}/DateMAJ", values["DateMAJ"])
        for key, value in (("Identifiant", identifiant), ("FQDN", (values["db"] or "").lower()), ("FQDN", (values["vi"] or "").lower())):
            if not value:
                continue
            if value in seen[key]:
                out.add("TL-UNIQUE", f"{FORMAT}: one entry per identifier and per FQDN", base, f"{key} {value} used once",
                        f"also in Domaine[{seen[key][value]}]")
            else:
                seen[key][value] = index


def _check_timestamp(out: FindingList, location: str, value: str | None) -> None:
    if not value:
        out.add("TL-DATE", FORMAT, location, "an ISO 8601 UTC timestamp", value)
        return
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        out.add("TL-DATE", FORMAT, location, "an ISO 8601 UTC timestamp (YYYY-MM-DDThh:mm:ssZ)", value)
        return
    if not value.endswith("Z") or stamp.tzinfo is None:
        out.add("TL-DATE", f"{FORMAT}: timestamps are UTC …Z", location, "YYYY-MM-DDThh:mm:ssZ", value, Severity.WARNING)


# -- XML-DSig / XAdES verification ---------------------------------------------------------------


class _Unsupported(Exception):
    """An algorithm or transform this verifier does not implement."""


def _canonicalize(node: etree._Element | etree._ElementTree, algorithm: str, prefixes: Sequence[str] = ()) -> bytes:
    if algorithm not in C14N_METHODS:
        raise _Unsupported(f"canonicalization {algorithm}")
    exclusive, comments = C14N_METHODS[algorithm]
    try:
        return _c14n(node, exclusive, comments, prefixes)
    except etree.C14NError as exc:  # a finding (ValueError is reported by the callers), never a traceback
        raise ValueError(f"canonicalisation ({algorithm}) failed: {exc}") from None


def _c14n(node: etree._Element | etree._ElementTree, exclusive: bool, comments: bool, prefixes: Sequence[str]) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments,
                          inclusive_ns_prefixes=list(prefixes) if exclusive and prefixes else None)


def _remove(element: etree._Element) -> None:
    """Remove an element but keep its tail text (it is not part of the element's subtree)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _same_node(copy_root: etree._Element, original: etree._Element) -> etree._Element:
    """The node of a copied tree at the position ``original`` has in its own tree."""
    steps = []
    node = original
    while node.getparent() is not None:
        steps.append(node.getparent().index(node))
        node = node.getparent()
    for step in reversed(steps):
        copy_root = copy_root[step]
    return copy_root


def _find_by_id(root: etree._Element, value: str) -> etree._Element | None:
    for el in root.iter():
        if isinstance(el.tag, str) and value in (el.get("Id"), el.get("ID"), el.get("id")):
            return el
    return None


def reference_octets(root: etree._Element, signature: etree._Element, reference: etree._Element) -> bytes:
    """The octets a ds:Reference digests (same-document URIs only); raises _Unsupported / ValueError."""
    uri = reference.get("URI")
    transforms = reference.findall(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")
    c14n, prefixes = C14N, ()
    if uri == "":
        tree = copy.deepcopy(root.getroottree())
        target: etree._Element | etree._ElementTree = tree
        own_signature = _same_node(tree.getroot(), signature)
    elif uri and uri.startswith("#"):
        found = _find_by_id(root, uri[1:])
        if found is None:
            raise ValueError(f"no element with Id {uri[1:]!r}")
        target, tree, own_signature = found, None, None
    else:
        raise _Unsupported(f"Reference URI {uri!r}")
    for transform in transforms:
        algorithm = transform.get("Algorithm", "")
        if algorithm in C14N_METHODS:
            c14n = algorithm
            inclusive = transform.find(f"{{{EXC_C14N}}}InclusiveNamespaces")
            prefixes = tuple((inclusive.get("PrefixList") or "").split()) if inclusive is not None else ()
        elif algorithm == ENVELOPED and own_signature is not None:
            _remove(own_signature)
        elif algorithm == XPATH_FILTER2 and tree is not None:
            for xpath in transform.findall(f"{{{FILTER2_NS}}}XPath"):
                if xpath.get("Filter") != "subtract":
                    raise _Unsupported(f"XPath Filter 2.0 filter {xpath.get('Filter')!r} (only subtract)")
                namespaces = {k: v for k, v in xpath.nsmap.items() if k}
                try:
                    selected = tree.xpath((xpath.text or "").strip(), namespaces=namespaces)
                except etree.XPathError as exc:
                    raise ValueError(f"XPath {xpath.text!r}: {exc}") from None
                for node in selected if isinstance(selected, list) else []:
                    if isinstance(node, etree._Element):
                        _remove(node)
        else:
            raise _Unsupported(f"transform {algorithm}")
    return _canonicalize(target, c14n, prefixes)


def _digest(algorithm_uri: str | None, data: bytes) -> bytes:
    name = DIGESTS.get(algorithm_uri or "")
    if name is None:
        raise _Unsupported(f"digest {algorithm_uri}")
    return hashlib.new(name, data).digest()


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        encoded = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + encoded + content


def issuer_serial_v2(cert: x509.Certificate) -> bytes:
    """DER of IssuerSerial { GeneralNames { directoryName issuer }, serialNumber } (RFC 5035)."""
    serial = cert.serial_number
    general_names = _der(0x30, _der(0xA4, cert.issuer.public_bytes()))
    return _der(0x30, general_names + _der(0x02, serial.to_bytes((serial.bit_length() + 8) // 8, "big")))


def _cn(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


class _SignatureCheck:
    def __init__(self, root: etree._Element, out: FindingList, roots_pem: Sequence[bytes], at: datetime) -> None:
        self.root, self.out, self.at = root, out, at if at.tzinfo else at.replace(tzinfo=UTC)
        self.roots = [x509.load_pem_x509_certificate(pem) for pem in roots_pem]

    def run(self) -> None:
        out = self.out
        signatures = list(self.root.iter(f"{{{DS_NS}}}Signature"))
        loc = "/ListeBlancheDRIM-M/ds:Signature"
        if not signatures:
            out.add("TL-SIGNATURE-PRESENT", SIGNATURE, loc, "an enveloped ds:Signature", None, note=NOTE_UNSIGNED)
            return
        if len(signatures) > 1 or signatures[0].getparent() is not self.root:
            out.add("TL-SIGNATURE-PRESENT", f"{SIGNATURE}: one ds:Signature, child of the root (enveloped)", loc,
                    "1 enveloped signature", [self.root.getroottree().getpath(s) for s in signatures])
            return
        signature = signatures[0]
        certs = self._certificates(signature)
        if not certs:
            return
        signer = self._signing_certificate(signature, certs)
        self._references(signature)
        self._signature_value(signature, signer)
        self._signer(signer, signature)
        self._chain(signer, certs)

    def _certificates(self, signature: etree._Element) -> list[x509.Certificate]:
        loc = "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate"
        certs = []
        for index, el in enumerate(signature.findall(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"), start=1):
            try:
                certs.append(x509.load_der_x509_certificate(_b64(el.text)))
            except (binascii.Error, ValueError):
                self.out.add("TL-SIGNER-CERT", SIGNATURE, f"{loc}[{index}]", "a base64 DER X.509 certificate", (el.text or "").strip()[:40], note=NOTE_UNSIGNED)
        if not certs:
            self.out.add("TL-SIGNER-CERT", f"{SIGNATURE}: KeyInfo carries the signer (and its CA) certificates", loc, "the signer certificate", None, note=NOTE_UNSIGNED)
        return certs

    def _signing_certificate(self, signature: etree._Element, certs: list[x509.Certificate]) -> x509.Certificate:
        """The signer: the KeyInfo certificate SigningCertificateV2 names (else the first one)."""
        out = self.out
        loc = "ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/xades:SignedSignatureProperties/xades:SigningCertificateV2"
        cert_el = signature.find(f".//{{{XADES_NS}}}SigningCertificateV2/{{{XADES_NS}}}Cert")
        if cert_el is None:
            out.add("TL-XADES-SIGNING-CERT", f"{SIGNATURE}: SigningCertificateV2 (XAdES-B)", loc, "the signer certificate digest", None)
            return certs[0]
        method = cert_el.find(f"{{{XADES_NS}}}CertDigest/{{{DS_NS}}}DigestMethod")
        value = cert_el.find(f"{{{XADES_NS}}}CertDigest/{{{DS_NS}}}DigestValue")
        try:
            declared = _b64(value.text if value is not None else "")
            matches = [c for c in certs if _digest(method.get("Algorithm") if method is not None else None, c.public_bytes(serialization.Encoding.DER)) == declared]
        except _Unsupported as exc:
            out.add("TL-XADES-SIGNING-CERT", SIGNATURE, f"{loc}/xades:Cert/xades:CertDigest", "SHA-256/384/512", str(exc))
            return certs[0]
        except (binascii.Error, ValueError):
            out.add("TL-XADES-SIGNING-CERT", SIGNATURE, f"{loc}/xades:Cert/xades:CertDigest/ds:DigestValue", "base64", (value.text or "")[:40] if value is not None else None)
            return certs[0]
        if not matches:
            out.add("TL-XADES-SIGNING-CERT", f"{SIGNATURE}: SigningCertificateV2 digest = the signer certificate", f"{loc}/xades:Cert/xades:CertDigest",
                    "the digest of a KeyInfo certificate", base64.b64encode(declared).decode()[:40] + "…")
            return certs[0]
        signer = matches[0]
        serial_el = cert_el.find(f"{{{XADES_NS}}}IssuerSerialV2")
        if serial_el is not None:
            try:
                ok = _b64(serial_el.text) == issuer_serial_v2(signer)
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                out.add("TL-XADES-SIGNING-CERT", f"{SIGNATURE}: IssuerSerialV2 names the signer certificate (RFC 5035)", f"{loc}/xades:Cert/xades:IssuerSerialV2",
                        f"issuer {signer.issuer.rfc4514_string()}, serial {signer.serial_number}", (serial_el.text or "").strip()[:40])
        return signer

    def _references(self, signature: etree._Element) -> None:
        out = self.out
        references = signature.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
        document = [r for r in references if r.get("URI") == ""]
        properties = [r for r in references if r.get("Type") == SIGNED_PROPERTIES_TYPE]
        base = "ds:Signature/ds:SignedInfo/ds:Reference"
        if len(document) != 1:
            out.add("TL-SIGNATURE-REFERENCE", f"{SIGNATURE}: one Reference URI=\"\" over the whole list", base, "1 Reference URI=\"\"", len(document), note=NOTE_UNSIGNED)
        if len(properties) != 1:
            out.add("TL-XADES-SIGNED-PROPERTIES", f"{SIGNATURE}: one Reference to the SignedProperties (XAdES-B)", base, f"1 Reference Type={SIGNED_PROPERTIES_TYPE}", len(properties))
        for index, reference in enumerate(references, start=1):
            rule = "TL-XADES-SIGNED-PROPERTIES" if reference in properties else "TL-SIGNATURE-REFERENCE"
            where = f"{base}[{index}] (URI={reference.get('URI')!r})"
            try:
                actual = _digest(reference.find(f"{{{DS_NS}}}DigestMethod").get("Algorithm") if reference.find(f"{{{DS_NS}}}DigestMethod") is not None else None,
                                 reference_octets(self.root, signature, reference))
                declared = _b64(reference.findtext(f"{{{DS_NS}}}DigestValue"))
            except _Unsupported as exc:
                out.add(rule, f"{SIGNATURE}: algorithms of the ANS list (exc-c14n, XPath Filter 2.0 or enveloped, SHA-2)", where, "a supported algorithm", str(exc))
                continue
            except (binascii.Error, ValueError) as exc:
                out.add(rule, SIGNATURE, where, "a resolvable reference with a base64 digest", str(exc), note=NOTE_UNSIGNED)
                continue
            if actual != declared:
                out.add(rule, f"{SIGNATURE}: the digest of the signed content matches (the list was not modified)", f"{where}/ds:DigestValue",
                        base64.b64encode(actual).decode(), base64.b64encode(declared).decode(), note=NOTE_UNSIGNED)
        if document and properties:
            self._xades_links(signature, document[0], properties[0])

    def _xades_links(self, signature: etree._Element, document: etree._Element, properties: etree._Element) -> None:
        out = self.out
        qualifying = signature.find(f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties")
        base = "ds:Signature/ds:Object/xades:QualifyingProperties"
        if qualifying is None:
            out.add("TL-XADES-SIGNED-PROPERTIES", SIGNATURE, base, "QualifyingProperties", None)
            return
        out.check_equal("TL-XADES-SIGNED-PROPERTIES", f"{SIGNATURE}: QualifyingProperties Target = the signature Id", f"{base}/@Target",
                        f"#{signature.get('Id', '')}", qualifying.get("Target"))
        target = _find_by_id(self.root, (properties.get("URI") or "#")[1:])
        if target is None or target.tag != f"{{{XADES_NS}}}SignedProperties":
            out.add("TL-XADES-SIGNED-PROPERTIES", SIGNATURE, f"{base}/xades:SignedProperties", f"Id={properties.get('URI', '')[1:]}", None)
        formats = qualifying.findall(f".//{{{XADES_NS}}}DataObjectFormat")
        if not any(f.get("ObjectReference") == f"#{document.get('Id', '')}" for f in formats):
            out.add("TL-XADES-SIGNED-PROPERTIES", f"{SIGNATURE}: DataObjectFormat of the signed list (text/xml)", f"{base}//xades:DataObjectFormat/@ObjectReference",
                    f"#{document.get('Id', '')}", [f.get("ObjectReference") for f in formats] or None, Severity.WARNING)

    def _signature_value(self, signature: etree._Element, signer: x509.Certificate) -> None:
        out = self.out
        signed_info = signature.find(f"{{{DS_NS}}}SignedInfo")
        loc = "ds:Signature/ds:SignatureValue"
        if signed_info is None:
            out.add("TL-SIGNATURE-VALUE", SIGNATURE, "ds:Signature/ds:SignedInfo", "SignedInfo", None, note=NOTE_UNSIGNED)
            return
        method = signed_info.find(f"{{{DS_NS}}}SignatureMethod")
        algorithm = method.get("Algorithm") if method is not None else None
        c14n = signed_info.find(f"{{{DS_NS}}}CanonicalizationMethod")
        c14n_algorithm = c14n.get("Algorithm") if c14n is not None else None
        if algorithm not in SIGNATURE_METHODS:
            out.add("TL-SIGNATURE-VALUE", f"{SIGNATURE}: RSA-SHA256 (SHA-2 RSA)", "ds:SignedInfo/ds:SignatureMethod/@Algorithm", "rsa-sha256", algorithm)
            return
        key = signer.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            out.add("TL-SIGNATURE-VALUE", f"{SIGNATURE}: RSA signer key", "ds:KeyInfo", "an RSA key", type(key).__name__)
            return
        try:
            prefixes = ()
            inclusive = c14n.find(f"{{{EXC_C14N}}}InclusiveNamespaces") if c14n is not None else None
            if inclusive is not None:
                prefixes = tuple((inclusive.get("PrefixList") or "").split())
            octets = _canonicalize(signed_info, c14n_algorithm or "", prefixes)
            key.verify(_b64(signature.findtext(f"{{{DS_NS}}}SignatureValue")), octets, padding.PKCS1v15(), SIGNATURE_METHODS[algorithm]())
        except _Unsupported as exc:
            out.add("TL-SIGNATURE-VALUE", SIGNATURE, "ds:SignedInfo/ds:CanonicalizationMethod/@Algorithm", "exclusive or inclusive c14n 1.0", str(exc))
        except (InvalidSignature, binascii.Error, ValueError):
            out.add("TL-SIGNATURE-VALUE", f"{SIGNATURE}: SignatureValue verifies with the signer certificate", loc,
                    f"a valid signature by {signer.subject.rfc4514_string()}", "verification failed", note=NOTE_UNSIGNED)

    def _signer(self, signer: x509.Certificate, signature: etree._Element) -> None:
        out = self.out
        loc = "ds:KeyInfo/ds:X509Data/ds:X509Certificate (signer)"
        out.check_equal("TL-SIGNER-SUBJECT", f"{CHECKS}: signer CN", f"{loc} subject CN", SIGNER_CN, _cn(signer.subject))
        ous = [str(a.value) for a in signer.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
        if SIGNER_OU not in ous:
            out.add("TL-SIGNER-SUBJECT", f"{CHECKS}: signer OU = the ANS structure id (TEST and production lists)", f"{loc} subject OU",
                    SIGNER_OU, ous or None, Severity.WARNING, note="a list signed by another organisation (e.g. the harness's own test PKI)")
        self._validity("TL-SIGNER-VALIDITY", signer, loc)
        signing_time = signature.findtext(f".//{{{XADES_NS}}}SigningTime")
        time_loc = "xades:SignedSignatureProperties/xades:SigningTime"
        try:
            stamp = datetime.fromisoformat((signing_time or "").strip())
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        except ValueError:
            out.add("TL-XADES-SIGNING-TIME", f"{SIGNATURE}: SigningTime (XAdES-B)", time_loc, "an xsd:dateTime", signing_time)
            return
        if not signer.not_valid_before_utc <= stamp <= signer.not_valid_after_utc:
            out.add("TL-XADES-SIGNING-TIME", f"{SIGNATURE}: SigningTime within the signer certificate validity", time_loc,
                    f"{signer.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} … {signer.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}", signing_time)
        out.add("TL-SIGNER-REVOCATION", f"{CHECKS}: non-revocation through the IGC-Santé CRL", loc, "(information)",
                "not checked: offline validation has no access to the CRL / OCSP", Severity.INFO)

    def _validity(self, rule: str, cert: x509.Certificate, loc: str) -> None:
        if not cert.not_valid_before_utc <= self.at <= cert.not_valid_after_utc:
            self.out.add(rule, f"{CHECKS}: certificate validity period", loc,
                         f"valid at {self.at:%Y-%m-%dT%H:%M:%SZ}",
                         f"{_cn(cert.subject)}: {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} … {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
                         note=NOTE_UNSIGNED)

    def _chain(self, signer: x509.Certificate, certs: list[x509.Certificate]) -> None:
        out = self.out
        loc = "ds:KeyInfo/ds:X509Data"
        requirement = f"{CHECKS}: the signer chains to the IGC-Santé intermediate and root"
        chain, current, anchored = [signer], signer, False
        for _ in range(8):
            if any(_issued_by(current, root) for root in self.roots):
                anchored = True
                break
            if current.subject == current.issuer:
                if not _issued_by(current, current):
                    out.add("TL-SIGNER-CHAIN", requirement, loc, "a self-signed root with a valid signature", _cn(current.subject))
                break
            issuer = next((c for c in certs if c.subject == current.issuer and c not in chain), None)
            if issuer is None:
                break
            if not _issued_by(current, issuer):
                out.add("TL-SIGNER-CHAIN", requirement, loc, f"{_cn(current.subject)} signed by {_cn(issuer.subject)}", "issuer signature does not verify")
                return
            self._validity("TL-SIGNER-CHAIN", issuer, f"{loc} ({_cn(issuer.subject)})")
            chain.append(issuer)
            current = issuer
        path = " -> ".join(_cn(c.subject) for c in chain)
        if self.roots and not anchored:
            out.add("TL-SIGNER-CHAIN", requirement, loc, [_cn(r.subject) for r in self.roots], f"{path} (no trusted root reached)", note=NOTE_UNSIGNED)
        elif not self.roots:
            out.add("TL-SIGNER-CHAIN", requirement, loc, "(information)", f"{path}: verified inside KeyInfo only (no trusted roots given)", Severity.INFO)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


# -- signing -------------------------------------------------------------------------------------------

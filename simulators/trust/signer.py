"""The trust-list signer the trust-list simulator uses: sign a liste blanche as ANS does.

Why here and not in ``drimva.rules.trustlist``: rules judge, they do not make the
artefacts they judge (issue 11 §2). Verification stays in the rules and this
signer reuses their canonicalisation and reference computation, so a list signed
here is exactly what ``check_trust_list`` verifies.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from drimva.rules.trustlist import (
    DS_NS,
    ENVELOPED,
    EXC_C14N,
    FILTER2_NS,
    SIGNED_PROPERTIES_TYPE,
    XADES_NS,
    XPATH_FILTER2,
    _canonicalize,
    _parse,
    _remove,
    issuer_serial_v2,
    reference_octets,
)


def _pem_certificates(pem: bytes | Sequence[bytes]) -> list[x509.Certificate]:
    blobs = [pem] if isinstance(pem, bytes) else list(pem)
    return [cert for blob in blobs for cert in x509.load_pem_x509_certificates(blob)]


def sign_trust_list(
    xml_root: etree._Element | bytes,
    key_pem: bytes,
    cert_chain_pem: bytes | Sequence[bytes],
    *,
    signing_time: datetime | None = None,
    transform: Literal["xpath-filter2", "enveloped"] = "xpath-filter2",
) -> bytes:
    """Sign a liste blanche as ANS does: enveloped XAdES-B, XPath Filter 2.0 subtract + exc-c14n, RSA-SHA256.

    ``cert_chain_pem``: the signer certificate first, then its CA(s); all go into KeyInfo.
    ``transform="enveloped"`` uses the plain enveloped-signature transform instead
    (for peers that do not implement XPath Filter 2.0). Any existing ds:Signature is replaced.
    """
    root = _parse(xml_root) if isinstance(xml_root, bytes) else copy.deepcopy(xml_root)
    for old in root.findall(f"{{{DS_NS}}}Signature"):
        _remove(old)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the trust list is signed with an RSA key (RSA-SHA256)")
    certs = _pem_certificates(cert_chain_pem)
    if not certs:
        raise ValueError("no certificate in cert_chain_pem")
    signer = certs[0]
    ident = secrets.token_hex(16)
    ds = lambda local: f"{{{DS_NS}}}{local}"
    xa = lambda local: f"{{{XADES_NS}}}{local}"
    sub = etree.SubElement
    signature = sub(root, ds("Signature"), nsmap={"ds": DS_NS}, Id=f"id-{ident}")
    signed_info = sub(signature, ds("SignedInfo"))
    sub(signed_info, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    sub(signed_info, ds("SignatureMethod"), Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    document = sub(signed_info, ds("Reference"), Id=f"r-id-{ident}-1", URI="")
    transforms = sub(document, ds("Transforms"))
    if transform == "enveloped":
        sub(transforms, ds("Transform"), Algorithm=ENVELOPED)
    else:
        filter2 = sub(transforms, ds("Transform"), Algorithm=XPATH_FILTER2)
        sub(filter2, f"{{{FILTER2_NS}}}XPath", nsmap={"dsig-filter2": FILTER2_NS}, Filter="subtract").text = "/descendant::ds:Signature"
    sub(transforms, ds("Transform"), Algorithm=EXC_C14N)
    sha256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    sub(document, ds("DigestMethod"), Algorithm=sha256)
    sub(document, ds("DigestValue"))
    properties_ref = sub(signed_info, ds("Reference"), Type=SIGNED_PROPERTIES_TYPE, URI=f"#xades-id-{ident}")
    sub(sub(properties_ref, ds("Transforms")), ds("Transform"), Algorithm=EXC_C14N)
    sub(properties_ref, ds("DigestMethod"), Algorithm=sha256)
    sub(properties_ref, ds("DigestValue"))
    value = sub(signature, ds("SignatureValue"), Id=f"value-id-{ident}")
    x509_data = sub(sub(signature, ds("KeyInfo")), ds("X509Data"))
    for cert in certs:
        sub(x509_data, ds("X509Certificate")).text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    qualifying = sub(sub(signature, ds("Object")), xa("QualifyingProperties"), nsmap={"xades": XADES_NS}, Target=f"#id-{ident}")
    signed_properties = sub(qualifying, xa("SignedProperties"), Id=f"xades-id-{ident}")
    signature_properties = sub(signed_properties, xa("SignedSignatureProperties"))
    when = (signing_time or datetime.now(UTC)).astimezone(UTC)
    sub(signature_properties, xa("SigningTime")).text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    cert_el = sub(sub(signature_properties, xa("SigningCertificateV2")), xa("Cert"))
    digest = sub(cert_el, xa("CertDigest"))
    sub(digest, ds("DigestMethod"), Algorithm="http://www.w3.org/2001/04/xmlenc#sha512")
    sub(digest, ds("DigestValue")).text = base64.b64encode(hashlib.sha512(signer.public_bytes(serialization.Encoding.DER)).digest()).decode()
    sub(cert_el, xa("IssuerSerialV2")).text = base64.b64encode(issuer_serial_v2(signer)).decode()
    data_format = sub(sub(signed_properties, xa("SignedDataObjectProperties")), xa("DataObjectFormat"), ObjectReference=f"#r-id-{ident}-1")
    sub(data_format, xa("MimeType")).text = "text/xml"
    for reference in (document, properties_ref):
        octets = reference_octets(root, signature, reference)
        reference.find(ds("DigestValue")).text = base64.b64encode(hashlib.sha256(octets).digest()).decode()
    value.text = base64.b64encode(key.sign(_canonicalize(signed_info, EXC_C14N), padding.PKCS1v15(), hashes.SHA256())).decode()
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8", standalone=False)

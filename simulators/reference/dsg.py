"""The IHE DSG signature document of a KOS submission (``Signature01``), for the variant ``dsg_signature``.

dmp-xds.md §6: an XML-DSig ``ds:Signature`` whose signed ``ds:Object`` holds
the ``ds:Manifest`` ``IHEManifest``: one Reference ``urn:oid:<uniqueId>`` per
document of the submission set, with the SHA-1 of its raw bytes (the
demonstrator's digest), and one to the submission set itself. Signed with the
organisation's signing key (the VIHF's), RSA-SHA256 and exclusive c14n. The
demonstrator's XAdES SignedProperties and its ``purposeOfSignature``
SignatureProperty are left out: the signature profile the DMP requires is not
public, and no rule of the harness reads the signature's content (only its
entry and associations; the purpose is the entry's eventCode).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod, XMLSigner

from simulators.reference.vihf import VihfSigner

DS = "http://www.w3.org/2000/09/xmldsig#"
MANIFEST_TYPE = "http://www.w3.org/2000/09/xmldsig#Manifest"
# The demonstrator's Id is the signature's uniqueId, an OID, which is not an xs:ID: a name instead.
SIGNATURE_ID = "IHESignature"


def signature_document(submission_unique_id: str, documents: Sequence[tuple[str, bytes]], signer: VihfSigner) -> bytes:
    """The signature XML over the submission set ``submission_unique_id`` and ``documents`` (uniqueId, bytes)."""
    manifest = etree.Element(etree.QName(DS, "Manifest"), Id="IHEManifest", nsmap={"ds": DS})
    # The submission set has no bytes of its own: the demonstrator's digest is AA== (one zero byte's base64).
    _reference(manifest, submission_unique_id, base64.b64decode("AA=="), raw=True)
    for unique_id, data in documents:
        _reference(manifest, unique_id, data)
    xml_signer = XMLSigner(
        method=SignatureConstructionMethod.enveloping,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    xml_signer.namespaces = {"ds": DS}
    signed = xml_signer.sign(manifest, key=signer.private_key, cert=signer.cert_pem.decode("ascii"))
    signed.set("Id", SIGNATURE_ID)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _reference(manifest: etree._Element, unique_id: str, data: bytes, *, raw: bool = False) -> None:
    reference = etree.SubElement(manifest, etree.QName(DS, "Reference"), URI=f"urn:oid:{unique_id}")
    etree.SubElement(reference, etree.QName(DS, "DigestMethod"), Algorithm="http://www.w3.org/2000/09/xmldsig#sha1")
    digest = data if raw else hashlib.sha1(data).digest()
    etree.SubElement(reference, etree.QName(DS, "DigestValue")).text = base64.b64encode(digest).decode("ascii")

"""XDS.b metadata (ebRIM 3.0) of one KOS publication, built with lxml.

Two bodies: the ITI-41 `ProvideAndRegisterDocumentSetRequest` (a
SubmissionSet, one KOS DocumentEntry, HasMember, optional RPLC, optional IHE
DSG signature entry with its HasMember and `signs` associations, and the
`xdsb:Document`s that point at the MTOM parts) and the ITI-57
`SubmitObjectsRequest` that changes an entry's availability status.
Values follow /work/shared/reference/dmp-xds.md §4-§7; where the references
are silent the choice is commented here.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree

from simulators.reference.publication import KosPublication

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
XOP = "http://www.w3.org/2004/08/xop/include"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: RIM, "rs": RS, "lcm": LCM, "xdsb": XDSB}

# ebRIM / IHE identifiers (IHE ITI TF-3 §4.2.5)
STABLE_ENTRY_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
UPDATE_AVAILABILITY_STATUS = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
STATUS_APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"

PS_ID_AUTHORITY = "1.2.250.1.71.4.2.1"
STRUCTURE_ID_AUTHORITY = "1.2.250.1.71.4.2.2"
FACILITY_SCHEME = "1.2.250.1.71.4.2.4"
MODALITY_SCHEME = "1.2.250.1.213.1.1.5.618"
MASKING_SCHEME = "1.2.250.1.213.1.1.4.13"
CONFIDENTIALITY_SCHEME = "2.16.840.1.113883.5.25"
PRACTICE_SCHEME = "1.2.250.1.213.1.1.4.9"


@dataclass(frozen=True)
class Code:
    code: str
    scheme: str
    display: str


KOS_CLASS_CODE = Code("31", "1.2.250.1.213.1.1.4.1", "Imagerie médicale")
KOS_TYPE_CODE = Code("IMG-KOS", "1.2.250.1.213.1.1.4.12", "Reference d'objets d'un examen d'imagerie")
KOS_FORMAT_CODE = Code(
    "1.2.840.10008.5.1.4.1.1.88.59",
    "1.2.840.10008.2.6.1",
    "Document de Références d'objets d'imagerie selon profil IHE RAD XDS-I",
)
# What the fault xds_kos_entry_as_cr writes: the CR's classCode and formatCode (dmp-xds.md §10).
CR_CLASS_CODE = Code("10", "1.2.250.1.213.1.1.4.1", "Compte rendu")
CR_FORMAT_CODE = Code("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3", "Document à corps non structuré en Pdf/A-1")
# The validator sample's value, hard-coded in the demonstrator (dmp-xds.md open question 9).
DEFAULT_CONTENT_TYPE_CODE = Code("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")
KOS_TITLE = "Reference d'Objets d'un Examen d'Imagerie"
KOS_COMMENTS = "KOS"
SUBMISSION_SET_TITLE = "Publication d'un KOS d'imagerie"
# The DSG signature entry (dmp-xds.md §6, the validator sample's Signature01).
SIGNATURE_CLASS_CODE = Code("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Digital Signature")
SIGNATURE_TYPE_CODE = Code("E1762", "ASTM", "Full Document")
SIGNATURE_FORMAT_CODE = Code("http://www.w3.org/2000/09/xmldsig#", "URN", "Default Signature Style")
SIGNATURE_EVENT_CODE = Code("1.2.840.10065.1.12.1.14", "1.2.840.10065.1.12", "Source")
SIGNATURE_TITLE = "Source"

_CONFIDENTIALITY_NAMES = {"N": "Normal", "R": "Restreint", "V": "Très restreint"}
# The flag names of the HL7 MetaDMPMSS groups are emitted verbatim (dmp-xds.md §4).
_MASKING_NAMES = {
    "MASQUE_PS": "Masqué aux professionnels de santé",
    "INVISIBLE_PATIENT": "Non visible par le patient",
    "INVISIBLE_REP_LEGAUX": "Non visible par les représentants légaux du patient",
}
# Display names only where a public sample shows them; other codes name themselves.
_FACILITY_NAMES = {"SA01": "Etablissement public de santé"}
_PRACTICE_NAMES = {"AMBULATOIRE": "Ambulatoire"}
_MODALITY_NAMES = {
    "CR": "Computed Radiography",
    "CT": "Computed Tomography",
    "DX": "Digital Radiography",
    "MG": "Mammography",
    "MR": "Magnetic Resonance",
    "NM": "Nuclear Medicine",
    "PT": "Positron emission tomography",
    "RF": "Radio Fluoroscopy",
    "US": "Ultrasound",
    "XA": "X-Ray Angiography",
}


@dataclass(frozen=True)
class Submission:
    """The per-submission identifiers: SubmissionSet entryUUID, uniqueId, time, source."""

    submission_set_id: str  # urn:uuid:...
    unique_id: str  # 2.25.<uuid as integer>
    submission_time: str  # YYYYMMDDhhmmss, UTC
    source_id: str


@dataclass(frozen=True)
class SignaturePart:
    """The DSG signature document of a submission: its entryUUID, uniqueId, MTOM cid and bytes."""

    entry_uuid: str
    unique_id: str
    cid: str
    data: bytes


def new_urn_uuid() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def new_oid() -> str:
    """A fresh OID under the UUID-derived arc 2.25 (PS3.5 B.2)."""
    return f"2.25.{uuid.uuid4().int}"


def new_submission(source_id: str, now: datetime | None = None) -> Submission:
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return Submission(new_urn_uuid(), new_oid(), moment.strftime("%Y%m%d%H%M%S"), source_id)


def sha1_hex(data: bytes) -> str:
    """The XDS `hash` slot value: SHA-1 of the exact bytes, lower-case hex."""
    return hashlib.sha1(data).hexdigest()


def hl7_escape(value: str) -> str:
    """Escape HL7 v2 delimiters inside one component of an XCN / XON / CX value."""
    out = value.replace("\\", "\\E\\")
    for char, escape in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        out = out.replace(char, escape)
    return out


def author_person(pub: KosPublication) -> str:
    """XCN of the sender, national PS id (IDNPS, the `8` + RPPS form of the samples)."""
    return (
        f"{hl7_escape(pub.author_id)}^{hl7_escape(pub.author_family)}^{hl7_escape(pub.author_given)}"
        f"^^^^^^&{PS_ID_AUTHORITY}&ISO^D^^^IDNPS"
    )


def author_institution(pub: KosPublication) -> str:
    """XON of the sender's structure, always typed IDNST (where-sources-disagree.md)."""
    return (
        f"{hl7_escape(pub.organisation_name)}^^^^^&{STRUCTURE_ID_AUTHORITY}&ISO^IDNST"
        f"^^^{hl7_escape(pub.organisation_id)}"
    )


def source_patient_id(pub: KosPublication) -> str:
    """The IPP when known (the volet's mapping), else the INS; both typed PI."""
    if pub.ipp and pub.ipp_oid:
        return f"{pub.ipp}^^^&{pub.ipp_oid}&ISO^PI"
    return f"{pub.ins}^^^&{pub.ins_oid}&ISO^PI"


def reference_ids(pub: KosPublication, study_authority: str) -> list[str]:
    return [
        f"{pub.accession}^^^&{pub.accession_issuer}&ISO^urn:ihe:iti:xds:2013:accession",
        f"{pub.study_uid}^^^&{study_authority}&ISO^urn:ihe:iti:xds:2016:studyInstanceUID",
        f"{pub.order_id}^^^&{pub.order_root}&ISO^urn:ihe:iti:xds:2013:order",
    ]


def event_codes(pub: KosPublication) -> list[Code]:
    """The act code of the report, then one code per distinct modality, in series order."""
    codes = [Code(*pub.act_code)] if pub.act_code else []
    seen: set[str] = set()
    for modality in pub.modalities:
        if modality and modality not in seen:
            seen.add(modality)
            codes.append(Code(modality, MODALITY_SCHEME, _MODALITY_NAMES.get(modality, modality)))
    return codes


def confidentiality_codes(pub: KosPublication) -> list[Code]:
    level = pub.confidentiality
    codes = [Code(level, CONFIDENTIALITY_SCHEME, _CONFIDENTIALITY_NAMES.get(level, level))]
    codes += [Code(flag, MASKING_SCHEME, _MASKING_NAMES.get(flag, flag)) for flag in pub.masking_flags]
    return codes


def provide_and_register_request(
    pub: KosPublication,
    submission: Submission,
    *,
    entry_uuid: str,
    document_cid: str,
    content_type_code: Code = DEFAULT_CONTENT_TYPE_CODE,
    type_code: Code = KOS_TYPE_CODE,
    document_hash: str | None = None,
    signature: SignaturePart | None = None,
    faults: frozenset[str] = frozenset(),
) -> etree._Element:
    """The ITI-41 body; `type_code` and `document_hash` exist so faults can override them; `signature` adds the
    DSG entry (variant ``dsg_signature``); `faults` are the ``xds_*`` faults of the body itself (faults.py)."""
    root = etree.Element(etree.QName(XDSB, "ProvideAndRegisterDocumentSetRequest"), nsmap=NSMAP)
    objects = _registry_object_list(root)
    slots = "xds_no_submission_slots" not in faults  # no Slot on the SubmissionSet and its HasMember
    objects.append(_submission_set(pub, submission, content_type_code, with_time=slots))
    document_hash = document_hash or sha1_hex(pub.kos_bytes)
    entries = [entry_uuid, new_urn_uuid()] if "xds_kos_entry_twice" in faults else [entry_uuid]  # same KOS twice
    for entry_id in entries:
        objects.append(_kos_entry(pub, submission, entry_id, type_code, document_hash, faults))
        member = _association(objects, HAS_MEMBER, submission.submission_set_id, entry_id)
        if slots:
            _slot(member, "SubmissionSetStatus", ["Original"])
    if pub.replaces_entry_uuid:
        _association(objects, RPLC, entry_uuid, pub.replaces_entry_uuid)
    if signature is not None:
        objects.append(_signature_entry(pub, signature))
        links = [(HAS_MEMBER, submission.submission_set_id, signature.entry_uuid)]
        if "xds_signature_not_signing" not in faults:  # the signature entry is a member but signs nothing
            links.append((SIGNS, signature.entry_uuid, submission.submission_set_id))
        for kind, source, target in links:
            _slot(_association(objects, kind, source, target), "SubmissionSetStatus", ["Original"])
    inline = pub.kos_bytes if "xds_soap11_inline" in faults else None  # base64 in the Document, no MTOM part
    for entry_id in entries:
        # xds_document_id_is_unique_id: the Document named by the KOS uniqueId, not by its entry's id
        document_id = pub.kos_sop_instance_uid if "xds_document_id_is_unique_id" in faults else entry_id
        _document(root, document_id, document_cid, inline)
    if signature is not None:
        _document(root, signature.entry_uuid, signature.cid)
    return root


def _document(root: etree._Element, entry_uuid: str, cid: str, inline: bytes | None = None) -> None:
    document = etree.SubElement(root, etree.QName(XDSB, "Document"), id=entry_uuid)
    if inline is not None:
        document.text = base64.b64encode(inline).decode("ascii")
    else:
        etree.SubElement(document, etree.QName(XOP, "Include"), nsmap={"xop": XOP}, href=f"cid:{cid}")


def update_availability_request(
    pub: KosPublication,
    submission: Submission,
    *,
    entry_uuid: str,
    new_status: str,
    original_status: str = STATUS_APPROVED,
    content_type_code: Code = DEFAULT_CONTENT_TYPE_CODE,
) -> etree._Element:
    """The ITI-57 body: a SubmissionSet and its UpdateAvailabilityStatus association."""
    root = etree.Element(etree.QName(LCM, "SubmitObjectsRequest"), nsmap=NSMAP)
    objects = etree.SubElement(root, etree.QName(RIM, "RegistryObjectList"))
    objects.append(_submission_set(pub, submission, content_type_code))
    update = _association(objects, UPDATE_AVAILABILITY_STATUS, submission.submission_set_id, entry_uuid)
    _slot(update, "OriginalStatus", [original_status])
    _slot(update, "NewStatus", [new_status])
    return root


def _registry_object_list(root: etree._Element) -> etree._Element:
    request = etree.SubElement(root, etree.QName(LCM, "SubmitObjectsRequest"))
    return etree.SubElement(request, etree.QName(RIM, "RegistryObjectList"))


def _submission_set(pub: KosPublication, submission: Submission, content_type: Code, with_time: bool = True) -> etree._Element:
    sid = submission.submission_set_id
    package = etree.Element(etree.QName(RIM, "RegistryPackage"), id=sid)
    if with_time:
        _slot(package, "submissionTime", [submission.submission_time])
    _localized(package, "Name", SUBMISSION_SET_TITLE)
    _author(package, SS_AUTHOR, sid, pub)
    _classification(package, SS_CONTENT_TYPE, sid, content_type)
    etree.SubElement(
        package,
        etree.QName(RIM, "Classification"),
        id=new_urn_uuid(),
        classificationNode=SUBMISSION_SET_NODE,
        classifiedObject=sid,
    )
    _external_id(package, SS_PATIENT_ID, sid, pub.xds_patient_id, "XDSSubmissionSet.patientId")
    _external_id(package, SS_SOURCE_ID, sid, submission.source_id, "XDSSubmissionSet.sourceId")
    _external_id(package, SS_UNIQUE_ID, sid, submission.unique_id, "XDSSubmissionSet.uniqueId")
    return package


def _kos_entry(
    pub: KosPublication, submission: Submission, entry_uuid: str, type_code: Code, document_hash: str,
    faults: frozenset[str] = frozenset(),
) -> etree._Element:
    as_cr = "xds_kos_entry_as_cr" in faults  # the entry filled from the CR's template (dmp-xds.md §10)
    entry = etree.Element(
        etree.QName(RIM, "ExtrinsicObject"), id=entry_uuid, mimeType="text/xml" if as_cr else "application/dicom",
        objectType=STABLE_ENTRY_TYPE,
    )
    _slot(entry, "creationTime", [pub.creation_time])
    _slot(entry, "hash", [document_hash])
    _slot(entry, "languageCode", ["fr-FR"])
    _slot(entry, "serviceStartTime", [pub.service_start])
    _slot(entry, "serviceStopTime", [pub.service_stop])
    _slot(entry, "size", [str(len(pub.kos_bytes))])
    _slot(entry, "sourcePatientId", [source_patient_id(pub)])
    patient_name = f"{hl7_escape(pub.birth_name)}^{hl7_escape(pub.given_name)}^^^^^L"
    _slot(entry, "sourcePatientInfo", [f"PID-5|{patient_name}", f"PID-7|{pub.birth_date}", f"PID-8|{pub.sex}"])
    references = reference_ids(pub, submission.source_id)
    if "xds_cx_without_type" in faults:  # CX values without their identifier type (CX.5)
        references = [value.rsplit("^", 1)[0] for value in references]
    _slot(entry, "urn:ihe:iti:xds:2013:referenceIdList", references)
    _localized(entry, "Name", KOS_TITLE)
    _localized(entry, "Description", KOS_COMMENTS)
    _author(entry, DE_AUTHOR, entry_uuid, pub)
    _classification(entry, DE_CLASS, entry_uuid, CR_CLASS_CODE if as_cr else KOS_CLASS_CODE)
    for code in confidentiality_codes(pub):
        _classification(entry, DE_CONFIDENTIALITY, entry_uuid, code)
    for code in event_codes(pub):
        _classification(entry, DE_EVENT, entry_uuid, code)
    _classification(entry, DE_FORMAT, entry_uuid, CR_FORMAT_CODE if as_cr else KOS_FORMAT_CODE)
    facility, practice = pub.healthcare_facility_code, pub.practice_setting
    facility_code = Code(facility, FACILITY_SCHEME, _FACILITY_NAMES.get(facility, facility))
    _classification(entry, DE_FACILITY, entry_uuid, facility_code)
    practice_code = Code(practice, PRACTICE_SCHEME, _PRACTICE_NAMES.get(practice, practice))
    _classification(entry, DE_PRACTICE, entry_uuid, practice_code)
    _classification(entry, DE_TYPE, entry_uuid, type_code)
    _external_id(entry, DE_PATIENT_ID, entry_uuid, pub.xds_patient_id, "XDSDocumentEntry.patientId")
    unique_id = new_oid() if as_cr else pub.kos_sop_instance_uid  # a CR's uniqueId: a new document OID
    _external_id(entry, DE_UNIQUE_ID, entry_uuid, unique_id, "XDSDocumentEntry.uniqueId")
    return entry


def _signature_entry(pub: KosPublication, signature: SignaturePart) -> etree._Element:
    """The Signature01 entry: the validator sample's codes, the KOS's patient, confidentiality and time."""
    entry_uuid = signature.entry_uuid
    entry = etree.Element(
        etree.QName(RIM, "ExtrinsicObject"), id=entry_uuid, mimeType="text/xml", objectType=STABLE_ENTRY_TYPE
    )
    _slot(entry, "creationTime", [pub.creation_time])
    _slot(entry, "hash", [sha1_hex(signature.data)])
    _slot(entry, "languageCode", ["art"])
    _slot(entry, "serviceStartTime", [pub.service_start])
    _slot(entry, "serviceStopTime", [pub.service_stop])
    _slot(entry, "size", [str(len(signature.data))])
    _slot(entry, "sourcePatientId", [source_patient_id(pub)])
    _localized(entry, "Name", SIGNATURE_TITLE)
    _author(entry, DE_AUTHOR, entry_uuid, pub)
    _classification(entry, DE_CLASS, entry_uuid, SIGNATURE_CLASS_CODE)
    for code in confidentiality_codes(pub):
        _classification(entry, DE_CONFIDENTIALITY, entry_uuid, code)
    _classification(entry, DE_EVENT, entry_uuid, SIGNATURE_EVENT_CODE)
    _classification(entry, DE_FORMAT, entry_uuid, SIGNATURE_FORMAT_CODE)
    facility, practice = pub.healthcare_facility_code, pub.practice_setting
    _classification(entry, DE_FACILITY, entry_uuid, Code(facility, FACILITY_SCHEME, _FACILITY_NAMES.get(facility, facility)))
    _classification(entry, DE_PRACTICE, entry_uuid, Code(practice, PRACTICE_SCHEME, _PRACTICE_NAMES.get(practice, practice)))
    _classification(entry, DE_TYPE, entry_uuid, SIGNATURE_TYPE_CODE)
    _external_id(entry, DE_PATIENT_ID, entry_uuid, pub.xds_patient_id, "XDSDocumentEntry.patientId")
    _external_id(entry, DE_UNIQUE_ID, entry_uuid, signature.unique_id, "XDSDocumentEntry.uniqueId")
    return entry


def _slot(parent: etree._Element, name: str, values: list[str]) -> etree._Element:
    slot = etree.SubElement(parent, etree.QName(RIM, "Slot"), name=name)
    value_list = etree.SubElement(slot, etree.QName(RIM, "ValueList"))
    for value in values:
        etree.SubElement(value_list, etree.QName(RIM, "Value")).text = value
    return slot


def _localized(parent: etree._Element, tag: str, text: str) -> None:
    holder = etree.SubElement(parent, etree.QName(RIM, tag))
    attributes = {etree.QName(XML_NS, "lang"): "fr-FR", "charset": "UTF-8", "value": text}
    etree.SubElement(holder, etree.QName(RIM, "LocalizedString"), attributes)


def _author(parent: etree._Element, scheme: str, classified: str, pub: KosPublication) -> None:
    author = etree.SubElement(
        parent,
        etree.QName(RIM, "Classification"),
        id=new_urn_uuid(),
        classificationScheme=scheme,
        classifiedObject=classified,
        nodeRepresentation="",
    )
    _slot(author, "authorPerson", [author_person(pub)])
    _slot(author, "authorInstitution", [author_institution(pub)])


def _classification(parent: etree._Element, scheme: str, classified: str, code: Code) -> None:
    node = etree.SubElement(
        parent,
        etree.QName(RIM, "Classification"),
        id=new_urn_uuid(),
        classificationScheme=scheme,
        classifiedObject=classified,
        nodeRepresentation=code.code,
    )
    _slot(node, "codingScheme", [code.scheme])
    _localized(node, "Name", code.display)


def _external_id(parent: etree._Element, scheme: str, registry_object: str, value: str, name: str) -> None:
    node = etree.SubElement(
        parent,
        etree.QName(RIM, "ExternalIdentifier"),
        id=new_urn_uuid(),
        identificationScheme=scheme,
        registryObject=registry_object,
        value=value,
    )
    _localized(node, "Name", name)


def _association(objects: etree._Element, kind: str, source: str, target: str) -> etree._Element:
    return etree.SubElement(
        objects,
        etree.QName(RIM, "Association"),
        id=new_urn_uuid(),
        associationType=kind,
        sourceObject=source,
        targetObject=target,
    )

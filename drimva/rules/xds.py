"""XDS rules: the ITI-41 publication of a KOS to the DMP (VA-B3), its replacement and deletion.

Sources: dmp-xds.md §2-§7, where-sources-disagree.md (one KOS entry, the
optional DSG signature entry, author institution), hl7v2-ris-to-drimbox.md
(MetaDMPMSS masking flags). Pure: the parsed request and the report context
in, findings out; the VIHF assertion is judged by ``drimva.rules.vihf``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from io import BytesIO

import pydicom
from pydicom.errors import InvalidDicomError

from drimva.context import STRUCTURE_ID_OID, ReportContext, RuleOptions, SutEndpoints
from drimva.findings import Finding, FindingList, Severity
from drimva.rules.kos import check_kos
from drimva.rules.publication import check_client_certificate
from drimva.rules.vihf import check_vihf, match_structure_id, subject_attribute
from drimva.xds import (
    ACTION_ITI41,
    ACTION_ITI57,
    ASSOC_HAS_MEMBER,
    ASSOC_RPLC,
    ASSOC_SIGNS,
    DE_AUTHOR,
    DE_CLASS_CODE,
    DE_CONFIDENTIALITY_CODE,
    DE_EVENT_CODE_LIST,
    DE_FORMAT_CODE,
    DE_PATIENT_ID,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    SS_PATIENT_ID,
    SS_SOURCE_ID,
    SS_UNIQUE_ID,
    STATUS_APPROVED,
    STATUS_DELETED_ASIP,
    STATUS_DEPRECATED,
    SUBMISSION_SET_NODE,
    DocumentEntry,
    ProvideAndRegister,
    UpdateDocumentSet,
    classification,
    classifications,
    external_id,
)

KOS_MIME = "application/dicom"
CLASS_CODE = ("31", "1.2.250.1.213.1.1.4.1")
TYPE_CODE = ("IMG-KOS", "1.2.250.1.213.1.1.4.12")
FORMAT_CODE = ("1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.2.6.1")
CONFIDENTIALITY_SCHEME = "2.16.840.1.113883.5.25"
MASKING_SCHEME = "1.2.250.1.213.1.1.4.13"
MODALITY_SCHEMES = {
    "1.2.250.1.213.1.1.5.618": "JDV modality value set (demonstrator, validator sample)",
    "1.2.840.10008.2.16.4": "DICOM DCM",
}
DSG_CLASS_CODE = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"
DSG_FORMAT_CODE = "http://www.w3.org/2000/09/xmldsig#"
ACCESSION_TYPE = "urn:ihe:iti:xds:2013:accession"
STUDY_UID_TYPE = "urn:ihe:iti:xds:2016:studyInstanceUID"
ORDER_TYPE = "urn:ihe:iti:xds:2013:order"
REFERENCE_ID_LIST = "urn:ihe:iti:xds:2013:referenceIdList"

SRC = "dmp-xds.md"


def _entry_loc(entry: DocumentEntry | None, tail: str = "") -> str:
    base = f"rim:ExtrinsicObject[@id='{entry.id}']" if entry is not None else "rim:ExtrinsicObject"
    return base + (f"/{tail}" if tail else "")


def _scheme_loc(entry: DocumentEntry, scheme: str) -> str:
    return _entry_loc(entry, f"rim:Classification[@classificationScheme='{scheme}']")


def is_signature_entry(entry: DocumentEntry) -> bool:
    """An IHE DSG signature document entry (``Signature01`` of the samples)."""
    format_code = classification(entry, DE_FORMAT_CODE)
    class_code = classification(entry, DE_CLASS_CODE)
    return entry.mime_type == "text/xml" and (
        (format_code is not None and format_code.node_representation == DSG_FORMAT_CODE)
        or (class_code is not None and class_code.node_representation == DSG_CLASS_CODE)
    )


def _looks_like_kos(entry: DocumentEntry, document: bytes | None) -> bool:
    format_code = classification(entry, DE_FORMAT_CODE)
    type_code = classification(entry, DE_TYPE_CODE)
    return (
        entry.mime_type == KOS_MIME
        or (format_code is not None and format_code.node_representation == FORMAT_CODE[0])
        or (type_code is not None and type_code.node_representation == TYPE_CODE[0])
        or (document is not None and document[128:132] == b"DICM")
    )


def kos_entries(request: ProvideAndRegister) -> list[DocumentEntry]:
    return [
        e
        for e in request.document_entries
        if not is_signature_entry(e) and _looks_like_kos(e, request.documents.get(e.id))
    ]


def sop_instance_uid(document: bytes) -> str | None:
    """The SOP Instance UID of a DICOM Part-10 (or raw) dataset, None when unreadable."""
    try:
        dataset = pydicom.dcmread(BytesIO(document), force=True, stop_before_pixels=True)
        value = dataset.get("SOPInstanceUID")
    except (InvalidDicomError, ValueError, EOFError, OSError, KeyError, TypeError, AttributeError):
        return None
    return str(value) if value else None


def check_kos_submission(
    request: ProvideAndRegister,
    ctx: ReportContext,
    options: RuleOptions,
    client_cert_subject: str | None = None,
    received_at: datetime | None = None,
    *,
    with_vihf: bool = True,
) -> list[Finding]:
    """The ITI-41 rules; ``received_at`` (when the DMP received it, live runs) adds the time checks to the forms.

    ``with_vihf=False`` leaves the VIHF rules out, for a scenario that judges the assertion in a step of its own
    (each finding once in the report)."""
    f = FindingList(source="ITI-41")
    _check_transport(f, request)
    kos_list = kos_entries(request)
    signatures = [e for e in request.document_entries if is_signature_entry(e)]
    extra = [e for e in request.document_entries if e not in kos_list and e not in signatures]
    one_kos = f"exactly one KOS DocumentEntry (mimeType application/dicom) per publication (AF-IMG-DB-Va2 VA-B3; where-sources-disagree.md; {SRC} §3)"
    if len(kos_list) != 1:
        f.add(
            "XDS-ONE-KOS-ENTRY",
            one_kos,
            "rim:RegistryObjectList/rim:ExtrinsicObject",
            "1 KOS DocumentEntry",
            f"{len(kos_list)}: " + ", ".join(f"{e.id} ({e.mime_type})" for e in request.document_entries),
        )
    for entry in extra:
        f.add("XDS-ONE-KOS-ENTRY", f"the publication holds the KOS and at most a DSG signature entry; the CR is published by the RIS (SAMPLE, {SRC} §3)", _entry_loc(entry), "no other DocumentEntry", f"{entry.id} ({entry.mime_type})", Severity.WARNING)
    kos = kos_list[0] if kos_list else None
    if kos is not None:
        _check_kos_entry(f, request, kos, ctx, client_cert_subject)
        _check_creation_time(f, kos, received_at)
    _check_submission_set(f, request, kos, ctx)
    _check_signature_entries(f, request, signatures)
    if with_vihf:
        f.extend(check_vihf(request.assertion, ctx, options, received_at))
    return f.items


def check_refused_publication(
    request: ProvideAndRegister,
    ctx: ReportContext,
    options: RuleOptions,
    endpoints: SutEndpoints,
    client_cert_subject: str | None,
    structure_id: str,
    received_at: datetime | None = None,
) -> list[Finding]:
    """An ITI-41 the DMP refused, judged as if it had been registered: the TLS client certificate (DMP-CLIENT-CERT),
    the XDS metadata and the VIHF, and the attached KOS. The refusal (DMP-PUBLICATION) says that nothing was
    published; these say which requirement the request breaks."""
    findings = check_client_certificate(client_cert_subject, structure_id)
    findings += check_kos_submission(request, ctx, options, client_cert_subject, received_at)
    documents = [request.documents[e.id] for e in kos_entries(request) if e.id in request.documents]
    if documents:
        findings += check_kos(documents[0], ctx, endpoints, options)
    return findings


def _check_transport(f: FindingList, request: ProvideAndRegister) -> None:
    if not request.mtom:
        f.add("XDS-MTOM", f"ITI-41 sent as MTOM/XOP multipart/related (IHE RAD-68; {SRC} §2)", "HTTP Content-Type", "multipart/related; type=\"application/xop+xml\"", request.soap.content_type or None)
    if request.soap_version != "1.2":
        f.add("XDS-SOAP", f"SOAP 1.2 envelope ({SRC} §2)", "soap:Envelope", "http://www.w3.org/2003/05/soap-envelope", f"SOAP {request.soap_version}")
    f.check_equal("XDS-SOAP", f"WS-Addressing Action of ITI-41 ({SRC} §1)", "soap:Header/wsa:Action", ACTION_ITI41, request.action)


def _check_kos_entry(f: FindingList, request: ProvideAndRegister, kos: DocumentEntry, ctx: ReportContext, client_cert_subject: str | None) -> None:
    f.check_equal("XDS-MIMETYPE", f"KOS entry mimeType application/dicom ({SRC} §4)", _entry_loc(kos, "@mimeType"), KOS_MIME, kos.mime_type)
    document = request.documents.get(kos.id)
    if document is None:
        f.add("XDS-DOCUMENT", f"the KOS bytes are attached to the request (xds-b:Document, {SRC} §2)", f"xds-b:Document[@id='{kos.id}']", "the Part-10 KOS", request.document_errors.get(kos.id, "no xds-b:Document for this entry"))
    else:
        unique_id = external_id(kos, DE_UNIQUE_ID)
        sop_uid = sop_instance_uid(document)
        loc = _entry_loc(kos, f"rim:ExternalIdentifier[@identificationScheme='{DE_UNIQUE_ID}']/@value")
        if sop_uid is None:
            f.add("XDS-UNIQUEID", f"uniqueId = the KOS SOPInstanceUID ({SRC} §4)", f"xds-b:Document[@id='{kos.id}']", "a DICOM KOS with a SOPInstanceUID", "attached document is not readable DICOM")
        else:
            f.check_equal("XDS-UNIQUEID", f"uniqueId = the KOS SOPInstanceUID ({SRC} §4)", loc, sop_uid, unique_id)
        digest = hashlib.sha1(document).hexdigest()
        declared = kos.slot("hash")
        if declared is None or declared.strip().lower() != digest:
            f.add("XDS-HASH", f"hash slot = SHA-1 of the exact KOS bytes, any case (IHE ITI TF-3 4.2.3.2.11; {SRC} §4)", _entry_loc(kos, "rim:Slot[@name='hash']"), digest, declared)
        size = kos.slot("size")
        if size is None or size.strip() != str(len(document)):
            f.add("XDS-SIZE", f"size slot = byte length of the KOS (IHE ITI TF-3 4.2.3.2.20; {SRC} §4)", _entry_loc(kos, "rim:Slot[@name='size']"), str(len(document)), size)
    _check_code(f, "XDS-CLASSCODE", kos, DE_CLASS_CODE, CLASS_CODE, f"classCode 31 Imagerie médicale (JDV_J57-ClassCode-DMP; {SRC} §4)")
    _check_code(f, "XDS-TYPECODE", kos, DE_TYPE_CODE, TYPE_CODE, f"typeCode IMG-KOS (TRE_A05 / JDV_J66-TypeCode-DMP; {SRC} §4)")
    _check_code(f, "XDS-FORMATCODE", kos, DE_FORMAT_CODE, FORMAT_CODE, f"formatCode of an XDS-I KOS (IHE RAD-68 RAD68-022; {SRC} §4)")
    f.check_equal("XDS-PATIENTID", f"DocumentEntry patientId = INS as <INS>^^^&<OID>&ISO^NH ({SRC} §4)", _entry_loc(kos, f"rim:ExternalIdentifier[@identificationScheme='{DE_PATIENT_ID}']/@value"), ctx.patient.xds_patient_id, external_id(kos, DE_PATIENT_ID))
    _check_reference_ids(f, kos, ctx)
    _check_event_codes(f, kos, ctx)
    _check_confidentiality(f, kos, ctx)
    _check_author_institution(f, kos, ctx, client_cert_subject)


XDS_TIME = re.compile(r"^\d{4}(\d{2}){0,5}$")  # DTM: YYYY[MM[DD[hh[mm[ss]]]]], in UTC (IHE ITI TF-3 4.2.3.1.5)
CREATION_TIME_SKEW = timedelta(minutes=5)


def _check_creation_time(f: FindingList, kos: DocumentEntry, received_at: datetime | None) -> None:
    """creationTime: required, a DTM in UTC (IHE ITI TF-3 4.2.3.2.6), and not later than the submission's receipt."""
    requirement = f"DocumentEntry creationTime YYYY[MM[DD[hh[mm[ss]]]]] in UTC, not after the submission (IHE ITI TF-3 4.2.3.2.6; {SRC} §4)"
    location = _entry_loc(kos, "rim:Slot[@name='creationTime']")
    value = kos.slot("creationTime")
    if not value or not XDS_TIME.match(value.strip()):
        f.add("XDS-CREATION-TIME", requirement, location, "YYYYMMDDhhmmss (UTC)", value)
        return
    text = value.strip()
    try:
        created = datetime.strptime(text + "0101000000"[len(text) - 4:], "%Y%m%d%H%M%S")  # the missing parts at their start
    except ValueError:
        f.add("XDS-CREATION-TIME", requirement, location, "a date and time that exist", text)
        return
    if received_at is not None:
        at = received_at.astimezone(timezone.utc).replace(tzinfo=None)
        if created > at + CREATION_TIME_SKEW:
            f.add("XDS-CREATION-TIME", requirement, location, f"not after the receipt {at:%Y%m%d%H%M%S} (UTC, + 5 min)", text,
                  note="a creationTime in the future is often local time written as UTC")


def _check_code(f: FindingList, rule: str, entry: DocumentEntry, scheme: str, expected: tuple[str, str], requirement: str) -> None:
    found = classifications(entry, scheme)
    actual = [f"{c.node_representation} ({c.coding_scheme})" for c in found]
    if len(found) != 1 or (found[0].node_representation, found[0].coding_scheme) != expected:
        f.add(rule, requirement, _scheme_loc(entry, scheme), f"{expected[0]} ({expected[1]})", actual[0] if len(actual) == 1 else actual or None)


def _cx(value: str) -> tuple[str, str, str]:
    """(id, assigning authority OID, identifier type code) of a CX / CXi value."""
    comps = value.split("^")
    authority = comps[3].split("&") if len(comps) > 3 else []
    return comps[0], authority[1] if len(authority) > 1 else "", comps[4] if len(comps) > 4 else ""


def _check_reference_ids(f: FindingList, kos: DocumentEntry, ctx: ReportContext) -> None:
    values = kos.slots.get(REFERENCE_ID_LIST, [])
    parsed = [_cx(v) for v in values]
    loc = _entry_loc(kos, f"rim:Slot[@name='{REFERENCE_ID_LIST}']")
    requirement = f"referenceIdList carries the %s (IHE RAD-68 / ITI TF-3 4.2.3.2.18; {SRC} §4)"
    accession = f"{ctx.accession}^^^&{ctx.accession_issuer}&ISO^{ACCESSION_TYPE}"
    if accession not in values:
        near = [v for v, p in zip(values, parsed) if p[2] == ACCESSION_TYPE]
        f.add("XDS-REFERENCEIDLIST", requirement % "accession number with its issuer", loc, accession, near or values or None)
    if not any(p[0] == ctx.study_uid and p[2] == STUDY_UID_TYPE for p in parsed):
        near = [v for v, p in zip(values, parsed) if p[2] == STUDY_UID_TYPE]
        f.add("XDS-REFERENCEIDLIST", requirement % "Study Instance UID (any authority, open question 3)", loc, f"{ctx.study_uid}^^^&<authority>&ISO^{STUDY_UID_TYPE}", near or values or None)
    orders = [v for v, p in zip(values, parsed) if p[2] == ORDER_TYPE]
    matching = [v for v, p in zip(values, parsed) if p[2] == ORDER_TYPE and p[0] == ctx.order_id]
    if not matching:
        f.add("XDS-REFERENCEIDLIST", requirement % "order (placer order) number", loc, f"{ctx.order_id}^^^&{ctx.order_root}&ISO^{ORDER_TYPE}", orders or values or None)
    elif ctx.order_root and not any(_cx(v)[1] == ctx.order_root for v in matching):
        f.add("XDS-REFERENCEIDLIST", f"order number assigned by the order root of the report (SAMPLE, {SRC} §4)", loc, f"{ctx.order_id}^^^&{ctx.order_root}&ISO^{ORDER_TYPE}", matching, Severity.WARNING)


def _check_event_codes(f: FindingList, kos: DocumentEntry, ctx: ReportContext) -> None:
    codes = classifications(kos, DE_EVENT_CODE_LIST)
    loc = _scheme_loc(kos, DE_EVENT_CODE_LIST)
    requirement = f"eventCodeList has one code per distinct modality of the study (IHE RAD68-019; {SRC} §4, open question 2)"
    for modality in dict.fromkeys(ctx.modalities):
        found = [c for c in codes if c.node_representation == modality]
        schemes = [c.coding_scheme for c in found if c.coding_scheme in MODALITY_SCHEMES]
        if schemes:
            f.add("XDS-EVENTCODES", "modality coding scheme used", loc, list(MODALITY_SCHEMES), f"{modality}: {schemes[0]} ({MODALITY_SCHEMES[schemes[0]]})", Severity.INFO)
        elif found:
            f.add("XDS-EVENTCODES", requirement, loc, f"{modality} with scheme {' or '.join(MODALITY_SCHEMES)}", [f"{c.node_representation} ({c.coding_scheme})" for c in found])
        else:
            f.add("XDS-EVENTCODES", requirement, loc, f"{modality} ({' or '.join(MODALITY_SCHEMES)})", [f"{c.node_representation} ({c.coding_scheme})" for c in codes] or None)


def _check_confidentiality(f: FindingList, kos: DocumentEntry, ctx: ReportContext) -> None:
    expected = {f"{ctx.confidentiality} ({CONFIDENTIALITY_SCHEME})"} | {f"{flag} ({MASKING_SCHEME})" for flag in ctx.masking_flags}
    found = [f"{c.node_representation} ({c.coding_scheme})" for c in classifications(kos, DE_CONFIDENTIALITY_CODE)]
    if set(found) != expected or len(found) != len(set(found)):
        f.add(
            "XDS-CONFIDENTIALITY",
            f"confidentialityCode = the CDA confidentialityCode + the MetaDMPMSS masking flags set to Y, nothing else (volet mapping; {SRC} §4)",
            _scheme_loc(kos, DE_CONFIDENTIALITY_CODE),
            sorted(expected),
            sorted(found) or None,
        )


def xon_structure(value: str) -> tuple[str, str, str]:
    """(authority OID, identifier type, organisation id) of an XON value."""
    comps = value.split("^")
    hd = comps[5].split("&") if len(comps) > 5 else []
    return hd[1] if len(hd) > 1 else "", comps[6] if len(comps) > 6 else "", comps[9] if len(comps) > 9 else ""


def _check_author_institution(f: FindingList, kos: DocumentEntry, ctx: ReportContext, client_cert_subject: str | None) -> None:
    institutions = [v for c in classifications(kos, DE_AUTHOR) for v in c.slots.get("authorInstitution", [])]
    loc = _scheme_loc(kos, DE_AUTHOR) + "/rim:Slot[@name='authorInstitution']"
    expected_id = ctx.organisation.structure_id
    requirement = f"authorInstitution XON: structure id of the report's organisation under {STRUCTURE_ID_OID} (where-sources-disagree.md; {SRC} §4, §9)"
    expected = f"<name>^^^^^&{STRUCTURE_ID_OID}&ISO^{ctx.organisation.id_type}^^^{expected_id}"
    national = [xon_structure(v)[2] for v in institutions if xon_structure(v)[0] == STRUCTURE_ID_OID]
    matches = {ident: match_structure_id(ident, expected_id) for ident in national}
    if "exact" in matches.values():
        matched = next(i for i, m in matches.items() if m == "exact")
    elif "prefix" in matches.values():
        matched = next(i for i, m in matches.items() if m == "prefix")
        f.add("XDS-AUTHOR-INSTITUTION", requirement, loc, expected, institutions, Severity.WARNING, "equal only after stripping a leading type digit")
    else:
        f.add("XDS-AUTHOR-INSTITUTION", requirement, loc, expected, institutions or None)
        matched = None  # already wrong: comparing it with the certificate would say nothing new
    if client_cert_subject is not None and matched is not None:
        ou = subject_attribute(client_cert_subject, "OU")
        if match_structure_id(matched, ou or "") is None:
            f.add("XDS-AUTHOR-INSTITUTION", f"authorInstitution = the structure (OU) of the TLS client certificate (ANS FAQ; {SRC} §9)", loc, f"OU={ou}" if ou else "a certificate OU", matched, Severity.WARNING)


def _check_submission_set(f: FindingList, request: ProvideAndRegister, kos: DocumentEntry | None, ctx: ReportContext) -> None:
    ss = request.submission_set
    if ss is None:
        f.add("XDS-SUBMISSIONSET", f"a RegistryPackage classified as SubmissionSet ({SUBMISSION_SET_NODE}) ({SRC} §5)", "rim:RegistryPackage", "a SubmissionSet", None)
        return
    loc = f"rim:RegistryPackage[@id='{ss.id}']"
    f.check_equal("XDS-PATIENTID", f"SubmissionSet patientId = INS as <INS>^^^&<OID>&ISO^NH ({SRC} §5)", f"{loc}/rim:ExternalIdentifier[@identificationScheme='{SS_PATIENT_ID}']/@value", ctx.patient.xds_patient_id, external_id(ss, SS_PATIENT_ID))
    for scheme, name in ((SS_SOURCE_ID, "sourceId"), (SS_UNIQUE_ID, "uniqueId")):
        if not external_id(ss, scheme):
            f.add("XDS-SUBMISSIONSET", f"SubmissionSet {name} present (IHE ITI TF-3 4.2.3.3; {SRC} §5)", f"{loc}/rim:ExternalIdentifier[@identificationScheme='{scheme}']", "an OID", None)
    submission_time = ss.slot("submissionTime")
    if not submission_time or not re.fullmatch(r"\d{4}(\d{2}){0,5}", submission_time):
        f.add("XDS-SUBMISSIONSET", f"SubmissionSet submissionTime YYYY[MM[DD[hh[mm[ss]]]]] (IHE ITI TF-3 4.2.3.3.11; {SRC} §5)", f"{loc}/rim:Slot[@name='submissionTime']", "YYYYMMDDhhmmss", submission_time)
    if kos is None:
        return
    members = [a for a in request.associations if a.type == ASSOC_HAS_MEMBER and a.source == ss.id and a.target == kos.id]
    requirement = f"HasMember SubmissionSet -> KOS entry with SubmissionSetStatus Original (IHE ITI TF-3 4.2.2; {SRC} §3)"
    assoc_loc = f"rim:Association[@associationType='{ASSOC_HAS_MEMBER}'][@targetObject='{kos.id}']"
    if not members:
        f.add("XDS-HASMEMBER", requirement, assoc_loc, f"{ss.id} -> {kos.id}", None)
    elif members[0].slot("SubmissionSetStatus") != "Original":
        f.add("XDS-HASMEMBER", requirement, assoc_loc + "/rim:Slot[@name='SubmissionSetStatus']", "Original", members[0].slot("SubmissionSetStatus"))


def _check_signature_entries(f: FindingList, request: ProvideAndRegister, signatures: list[DocumentEntry]) -> None:
    if not signatures:
        f.add("XDS-SIGNATURE-ENTRY", f"a DSG signature entry (Signature01) as in the ANS samples; not required (where-sources-disagree.md; {SRC} §6)", "rim:ExtrinsicObject[@mimeType='text/xml']", "a DSG signature DocumentEntry", None, Severity.WARNING)
        return
    ss = request.submission_set
    if ss is None:
        return
    requirement = f"the DSG signature entry is a member of the SubmissionSet and signs it (IHE DSG; {SRC} §3)"
    for sig in signatures:
        for kind, source, target in ((ASSOC_HAS_MEMBER, ss.id, sig.id), (ASSOC_SIGNS, sig.id, ss.id)):
            if not any(a.type == kind and a.source == source and a.target == target for a in request.associations):
                f.add("XDS-SIGNATURE-ENTRY", requirement, f"rim:Association[@associationType='{kind}']", f"{source} -> {target}", None)


def check_replacement(request: ProvideAndRegister, replaced_entry_uuid: str) -> list[Finding]:
    """An RPLC association from the new KOS entry to the replaced entry's entryUUID."""
    f = FindingList(source="ITI-41")
    requirement = f"a replacing KOS carries an RPLC association new entry -> replaced entryUUID (IHE ITI TF-3 4.2.2.2; RAD68-007; {SRC} §7)"
    kos_list = kos_entries(request)
    rplc = [a for a in request.associations if a.type == ASSOC_RPLC]
    loc = f"rim:Association[@associationType='{ASSOC_RPLC}']"
    if not rplc:
        f.add("XDS-RPLC", requirement, loc, f"<KOS entry> -> {replaced_entry_uuid}", None)
        return f.items
    sources = {e.id for e in kos_list}
    good = [a for a in rplc if a.source in sources and a.target == replaced_entry_uuid]
    if not good:
        f.add("XDS-RPLC", requirement, loc, f"{next(iter(sources), '<KOS entry>')} -> {replaced_entry_uuid}", [f"{a.source} -> {a.target}" for a in rplc])
    return f.items


def check_status_update(update: UpdateDocumentSet, entry_uuid: str) -> list[Finding]:
    """ITI-57 UpdateAvailabilityStatus of the entry from Approved to Deleted (ASIP) or Deprecated."""
    f = FindingList(source="ITI-57")
    f.check_equal("XDS-STATUS-UPDATE", f"WS-Addressing Action of ITI-57 ({SRC} §1)", "soap:Header/wsa:Action", ACTION_ITI57, update.action)
    loc = "rim:Association[@associationType='urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus']"
    requirement = f"ITI-57 UpdateAvailabilityStatus of the published KOS, Approved -> Deleted or Deprecated ({SRC} §7, open question 7)"
    changes = [c for c in update.status_updates if c.target == entry_uuid]
    if not changes:
        f.add("XDS-STATUS-UPDATE", requirement, f"{loc}/@targetObject", entry_uuid, [c.target for c in update.status_updates] or None)
        return f.items
    change = changes[0]
    f.check_equal("XDS-STATUS-UPDATE", requirement, f"{loc}/rim:Slot[@name='OriginalStatus']", STATUS_APPROVED, change.original_status)
    accepted = (STATUS_DELETED_ASIP, STATUS_DEPRECATED)
    if change.new_status in accepted:
        f.add("XDS-STATUS-UPDATE", "status URN used for the withdrawal", f"{loc}/rim:Slot[@name='NewStatus']", list(accepted), change.new_status, Severity.INFO)
    else:
        f.add("XDS-STATUS-UPDATE", requirement, f"{loc}/rim:Slot[@name='NewStatus']", list(accepted), change.new_status)
    return f.items

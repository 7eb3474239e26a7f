"""The rules ``drimva validate`` adds for artefacts judged without the harness's context. Pure.

An ACK alone (no sent message), an ITI-41 submission against a context read
from the submission itself (its KOS, metadata and VIHF must agree; the
eventCodeList against the modalities of the SOP classes the KOS references),
an ITI-41 response. The live run's rules (:mod:`drimva.rules.xds`,
:mod:`drimva.rules.hl7_ack`) do the judging; these functions build what they
need from the file.
"""

from __future__ import annotations

import re
from dataclasses import replace
from io import BytesIO
from typing import Any

from lxml import etree
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread

from drimva.context import INS_NIR_TEST_OID, Organisation, Patient, Professional, ReportContext, RuleOptions
from drimva.findings import Finding, FindingList, Severity
from drimva.hl7msg import Hl7Message, escape, parse_message
from drimva.rules.hl7_ack import check_ack
from drimva.rules.vihf import ATTR_STRUCTURE, attributes
from drimva.rules.xds import CONFIDENTIALITY_SCHEME, MASKING_SCHEME, check_kos_submission, kos_entries, xon_structure
from drimva.xds import (
    ACTION_ITI41_RESPONSE,
    DE_AUTHOR,
    DE_CONFIDENTIALITY_CODE,
    DE_PATIENT_ID,
    NS,
    RESPONSE_FAILURE,
    RESPONSE_PARTIAL_SUCCESS,
    RESPONSE_SUCCESS,
    SS_PATIENT_ID,
    ProvideAndRegister,
    XdsParseError,
    capture_to_http,
    classifications,
    external_id,
    parse_soap_message,
)

REDACTED = "XXXXXXX"
NOTE_REDACTED = "the value is the XXXXXXX placeholder of a redacted published sample: the sample departs from the rule here"
ENVELOPE_ONLY = (
    "the capture holds the SOAP envelope only (xop:Include cid:… without its MIME parts): "
    "the transport and the attached documents are not in the file"
)



def of_file(findings: list[Finding], name: str) -> list[Finding]:
    """The findings of one file: its name as their source; a value that is the XXXXXXX placeholder of a
    redacted published sample (certificates, identifiers) is said to be one in the note."""
    return [_mark_redacted(replace(f, source=name)) for f in findings]


def _mark_redacted(finding: Finding) -> Finding:
    if finding.severity is Severity.INFO or REDACTED not in f"{finding.expected} {finding.actual}":
        return finding
    return replace(finding, note=f"{finding.note}; {NOTE_REDACTED}" if finding.note else NOTE_REDACTED)


def located(findings: list[Finding], prefix: str) -> list[Finding]:
    """The findings of a part of a file (one message of several, the CDA of a message, a KOS of a submission)."""
    return [replace(f, location=f"{prefix}{f.location}") for f in findings]


def unreadable_submission(error: str) -> list[Finding]:
    """XDS-PARSE: the file is not a readable ITI-41 request (``error``: what the reader said)."""
    return [Finding("XDS-PARSE", "", "(file)", "a readable ITI-41 request (SOAP 1.2, MTOM/XOP)", error)]


def not_a_report(message_type: str) -> list[Finding]:
    """HL7-NOT-A-CR (information): a message a DRIMbox does not receive from the RIS (OMI, ADT…), not judged."""
    return [Finding("HL7-NOT-A-CR", "", "MSH-9", "a CR message or its ACK",
                    f"{message_type}: not a message a DRIMbox receives; not judged", Severity.INFO)]


def dicom_xml_not_judged() -> list[Finding]:
    """DICOM-XML (information): a dcm2xml dump is a view of a DICOM file, not the file; not judged."""
    return [Finding("DICOM-XML", "", "(file)", "a DICOM Part-10 file", "a dcm2xml dump: validate the .dcm it was made from",
                    Severity.INFO)]


def check_ack_alone(ack: Hl7Message) -> list[Finding]:
    """The ACK rules that need no sent message.

    ``check_ack`` runs against a message rebuilt from the ACK itself (trigger
    from MSH-9.2, the volet's version for it, MSA-2 as control id); the
    routing and MSA-2 equality findings would be tautologies and are dropped,
    MSA-2 is only required to be present.
    """
    trigger = ack.trigger
    code = "ORU" if trigger == "R01" else "MDM"
    version = "2.5" if trigger == "R01" else "2.6"
    control = escape(ack.get("MSA-2"))
    sent = parse_message(f"MSH|^~\\&|||||||{code}^{escape(trigger)}|{control}|P|{version}")
    accepted = ack.get("MSA-1") not in ("AE", "AR")
    findings = [f for f in check_ack(ack, sent, expect_accept=accepted) if f.rule not in ("ACK-ROUTING", "ACK-MSA2")]
    if ack.segment("MSA") is not None and not ack.get("MSA-2"):
        out = FindingList()
        out.add("ACK-MSA2", "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1, acquittement technique: MSA-2 = MSH-10 of the message acknowledged",
                "MSA-2", "the control id of the message acknowledged", "(empty)")
        findings += out.items
    return findings


def check_submission_offline(request: ProvideAndRegister, options: RuleOptions) -> list[Finding]:
    """The XDS and VIHF rules of a live run, against a context read from the submission itself.

    The facts the harness would know (patient, study, accession, order, the
    organisation and the author) are taken from the attached KOS when it is
    readable, else from the metadata, and the organisation from the VIHF: the
    rules then check that the KOS, the metadata and the VIHF agree; the
    eventCodeList is judged by the live run's rule against the modalities of
    the SOP classes the KOS references (:func:`kos_modalities`). When the
    capture holds the SOAP envelope only (xop:Include without MIME parts), the
    transport and document findings become information.
    """
    findings = check_kos_submission(request, submission_context(request), options)
    envelope_only = request.soap.mtom is None and any(ref.startswith("cid:") for ref in request.document_refs.values())
    if not envelope_only:
        return findings
    return [
        replace(f, severity=Severity.INFO, note=ENVELOPE_ONLY) if f.rule in ("XDS-MTOM", "XDS-DOCUMENT") else f
        for f in findings
    ]


def submission_context(request: ProvideAndRegister) -> ReportContext:
    """A ReportContext made of the submission's own values.

    Patient, study, accession and order come from the attached KOS, else from the
    metadata; the organisation from authorInstitution, else from the VIHF; the
    author from the KOS entry's authorPerson.
    """
    entries = kos_entries(request)
    entry = entries[0] if entries else None
    kos = _dataset(request.documents.get(entry.id)) if entry is not None else None
    patient_id = (external_id(entry, DE_PATIENT_ID) if entry is not None else None) or (
        external_id(request.submission_set, SS_PATIENT_ID) if request.submission_set is not None else None
    ) or ""
    ins, ins_oid = _cx_id_oid(patient_id)
    request_item = _first(kos, "ReferencedRequestSequence")
    references: dict[str, tuple[str, str]] = {}
    if entry is not None:
        for value in entry.slots.get("urn:ihe:iti:xds:2013:referenceIdList", []):
            ident, oid = _cx_id_oid(value)
            references.setdefault(value.split("^")[-1], (ident, oid))
    accession, accession_issuer = references.get("urn:ihe:iti:xds:2013:accession", ("", ""))
    order_id, order_root = references.get("urn:ihe:iti:xds:2013:order", ("", ""))
    study_uid = references.get("urn:ihe:iti:xds:2016:studyInstanceUID", ("", ""))[0]
    if kos is not None:
        ins = str(kos.get("PatientID", "") or ins)
        ins_oid = str(_first(kos, "IssuerOfPatientIDQualifiersSequence", "UniversalEntityID") or ins_oid)
        study_uid = str(kos.get("StudyInstanceUID", "") or study_uid)
    if request_item is not None:
        accession = str(request_item.get("AccessionNumber", "") or accession)
        accession_issuer = str(_first(request_item, "IssuerOfAccessionNumberSequence", "UniversalEntityID") or accession_issuer)
        order_id = str(request_item.get("PlacerOrderNumberImagingServiceRequest", "") or order_id)
        order_root = str(_first(request_item, "OrderPlacerIdentifierSequence", "UniversalEntityID") or order_root)
    institutions = [xon_structure(v) for c in classifications(entry, DE_AUTHOR) for v in c.slots.get("authorInstitution", [])] if entry else []
    persons = [v.split("^")[0] for c in classifications(entry, DE_AUTHOR) for v in c.slots.get("authorPerson", [])] if entry else []
    structure = ""  # the metadata's authorInstitution first: the VIHF is then checked against it
    if request.assertion is not None:
        values = attributes(request.assertion).get(ATTR_STRUCTURE, [])
        structure = (values[0].text or "").strip() if values else ""
    id_type = institutions[0][1] if institutions and institutions[0][1] else "IDNST"
    structure = (institutions[0][2] if institutions else "") or structure
    codes = classifications(entry, DE_CONFIDENTIALITY_CODE) if entry is not None else []
    confidentiality = next((c.node_representation for c in codes if c.coding_scheme == CONFIDENTIALITY_SCHEME), "N")
    return ReportContext(
        modalities=kos_modalities(kos),
        patient=Patient(ins=ins, ins_oid=ins_oid or INS_NIR_TEST_OID),
        study_uid=study_uid,
        accession=accession,
        accession_issuer=accession_issuer,
        order_id=order_id,
        order_root=order_root,
        cda_id_root="",
        organisation=Organisation(name="", structure_id=structure, id_type=id_type),
        author=Professional(national_id=persons[0] if persons else "", family="", given=""),
        confidentiality=confidentiality,
        masking_flags=tuple(c.node_representation for c in codes if c.coding_scheme == MASKING_SCHEME),
    )


_STORAGE = "1.2.840.10008.5.1.4.1.1."
MODALITY_OF_SOP_CLASS = {  # DICOM PS3.4 Annex B storage SOP classes -> the modality their IOD carries (PS3.3 C.7.3.1.1.1)
    **{_STORAGE + suffix: modality for modality, suffixes in {
        "CR": ("1",), "DX": ("1.1", "1.1.1"), "MG": ("1.2", "1.2.1"), "IO": ("1.3", "1.3.1"),
        "CT": ("2", "2.1", "2.2"), "US": ("3.1", "6.1", "6.2"), "MR": ("4", "4.1", "4.2", "4.3"),
        "XA": ("12.1", "12.1.1"), "RF": ("12.2", "12.2.1"), "NM": ("20",), "PT": ("128", "130"),
    }.items() for suffix in suffixes},
}


def kos_modalities(kos: Dataset | None) -> tuple[str, ...]:
    """The modalities of the instances a KOS references, from their SOP classes (in order of appearance).

    The study's modalities are not in a KOS, but each referenced instance's
    SOP class names its IOD, and an image IOD its modality; SOP classes not
    in :data:`MODALITY_OF_SOP_CLASS` (SR, presentation states, KOS…) name none.
    """
    found: dict[str, None] = {}
    if kos is None:
        return ()
    for request in kos.get("CurrentRequestedProcedureEvidenceSequence") or []:
        for series in request.get("ReferencedSeriesSequence") or []:
            for instance in series.get("ReferencedSOPSequence") or []:
                modality = MODALITY_OF_SOP_CLASS.get(str(instance.get("ReferencedSOPClassUID", "")))
                if modality:
                    found[modality] = None
    return tuple(found)


def _cx_id_oid(value: str) -> tuple[str, str]:
    parts = value.split("^")
    authority = parts[3].split("&") if len(parts) > 3 else []
    return parts[0], authority[1] if len(authority) > 1 else ""


def _dataset(document: bytes | None) -> Dataset | None:
    if document is None:
        return None
    try:
        return dcmread(BytesIO(document), force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - pydicom raises many types on garbage; the KOS rules report it
        return None


def _first(ds: Dataset | None, sequence: str, keyword: str | None = None) -> Any:
    if ds is None or sequence not in ds or not ds[sequence].value:
        return None
    item = ds[sequence].value[0]
    return item if keyword is None else item.get(keyword)


def check_registry_response(data: bytes) -> list[Finding]:
    """An ITI-41 response as captured: a SOAP envelope with an rs:RegistryResponse of a known status."""
    out = FindingList()
    requirement = "IHE ITI TF-2b 3.41.4.2: RegistryResponse of ITI-41"
    envelope = _response_envelope(data, out)
    if envelope is None:
        return out.items
    action = envelope.findtext("soap:Header/wsa:Action", namespaces=NS)
    out.check_equal("XDS-RESPONSE-ACTION", f"{requirement}; WS-Addressing Action", "soap:Header/wsa:Action", ACTION_ITI41_RESPONSE, (action or "").strip() or None)
    response = envelope.find("soap:Body/rs:RegistryResponse", NS)
    if response is None:
        out.add("XDS-RESPONSE-STATUS", requirement, "soap:Body/rs:RegistryResponse", "a RegistryResponse", None)
        return out.items
    status = response.get("status")
    known = (RESPONSE_SUCCESS, RESPONSE_PARTIAL_SUCCESS, RESPONSE_FAILURE)
    if status not in known:
        out.add("XDS-RESPONSE-STATUS", requirement, "rs:RegistryResponse/@status", list(known), status)
    else:
        codes = [e.get("errorCode") for e in response.iterfind("rs:RegistryErrorList/rs:RegistryError", NS)]
        out.add("XDS-RESPONSE-STATUS", "status of the publication", "rs:RegistryResponse/@status", "(information)",
                status.rsplit(":", 1)[-1] + (f", errors {codes}" if codes else ""), Severity.INFO)
    return out.items


def _response_envelope(data: bytes, out: FindingList) -> etree._Element | None:
    try:
        return parse_soap_message(*capture_to_http(data)).envelope
    except XdsParseError as exc:
        problem = str(exc)
    match = re.search(rb"<(?:[\w.-]+:)?Envelope[\s>].*</(?:[\w.-]+:)?Envelope>", data, re.DOTALL)
    try:
        if match is None:
            raise XdsParseError("no SOAP Envelope element")
        envelope = parse_soap_message(match.group(0), "application/soap+xml").envelope
    except XdsParseError:
        out.add("XDS-PARSE", "SOAP 1.2 response", "(file)", "a readable SOAP envelope", problem)
        return None
    out.add("XDS-CAPTURE", "MIME framing of the captured response", "(file)", "(information)",
            f"MIME framing unreadable ({problem}); the SOAP envelope was read directly", Severity.INFO)
    return envelope

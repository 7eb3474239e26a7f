"""drimva.rules.xds: a conformant KOS publication passes; each mutation breaks exactly its rule."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from dataclasses import dataclass, field
from io import BytesIO
from typing import Callable

import pytest
from lxml import etree
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from drimva.context import KOS_SOP_CLASS, Organisation, Patient, Professional, ReportContext, RuleOptions, SutEndpoints
from drimva.findings import Finding, Severity
from drimva.mime import build_multipart_related
from drimva.rules.xds import (
    check_kos_submission,
    check_refused_publication,
    check_replacement,
    check_status_update,
    sop_instance_uid,
)
from drimva.xds import (
    ACTION_ITI41,
    ACTION_ITI57,
    ASSOC_HAS_MEMBER,
    ASSOC_RPLC,
    ASSOC_SIGNS,
    ASSOC_UPDATE_AVAILABILITY_STATUS,
    DE_AUTHOR,
    DE_CLASS_CODE,
    DE_CONFIDENTIALITY_CODE,
    DE_EVENT_CODE_LIST,
    DE_FORMAT_CODE,
    DE_PATIENT_ID,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    DOCUMENT_ENTRY_STABLE,
    SS_AUTHOR,
    SS_PATIENT_ID,
    SS_SOURCE_ID,
    SS_UNIQUE_ID,
    STATUS_APPROVED,
    STATUS_DELETED_ASIP,
    STATUS_DEPRECATED,
    SUBMISSION_SET_NODE,
    Association,
    Classification,
    DocumentEntry,
    ProvideAndRegister,
    RegistryPackage,
    classification,
    parse_capture,
    parse_provide_and_register,
    parse_update_document_set,
    provide_and_register_xml,
    soap_envelope,
    submit_objects_xml,
)
from fixtures.pki import TestPki
from test_rules_vihf import CTX, ORG, make_vihf

from paths import SHARED
CERT_SUBJECT = "CN=DRIMbox,OU=499700367909006,O=CABINET M DOC0036790,C=FR"
INSTITUTION = f"CABINET M^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{ORG.structure_id}"


def make_kos(sop_uid: str, ctx: ReportContext = CTX) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = KOS_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = KOS_SOP_CLASS
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = ctx.study_uid
    ds.PatientID = ctx.patient.ins
    ds.Modality = "KO"
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def code(scheme: str, value: str, coding_scheme: str, display: str = "") -> Classification:
    return Classification(scheme=scheme, node_representation=value, coding_scheme=coding_scheme, display_name=display)


@dataclass
class Publication:
    """The parts of an ITI-41 request, mutable before serialisation."""

    ss: RegistryPackage
    entries: list[DocumentEntry]
    associations: list[Association]
    documents: dict[str, bytes]
    assertion: etree._Element | None
    mtom: bool = True
    action: str = ACTION_ITI41
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def kos(self) -> DocumentEntry:
        return self.entries[0]

    def request(self) -> ProvideAndRegister:
        refs: dict[str, str | bytes] = {
            doc_id: (f"cid:{n}.doc@test" if self.mtom else content)
            for n, (doc_id, content) in enumerate(self.documents.items(), 2)
        }
        body_el = provide_and_register_xml([self.ss, *self.entries, *self.associations], refs)
        security = [self.assertion] if self.assertion is not None else []
        envelope = soap_envelope(self.action, body_el, to="https://dmp.test/si-dmp-server/v2/services/repository", security=security)
        if not self.mtom:
            return parse_provide_and_register(envelope, "application/soap+xml; charset=UTF-8")
        parts = [
            (
                [("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'), ("Content-ID", "<root@test>")],
                envelope,
            )
        ]
        for n, content in enumerate(self.documents.values(), 2):
            parts.append(([("Content-Type", "application/octet-stream"), ("Content-ID", f"<{n}.doc@test>")], content))
        body, content_type = build_multipart_related(parts, action=self.action)
        return parse_provide_and_register(body, content_type)


def conformant(pki: TestPki, ctx: ReportContext = CTX) -> Publication:
    sop_uid = generate_uid()
    kos_bytes = make_kos(sop_uid, ctx)
    signature_bytes = b"<Signature xmlns='http://www.w3.org/2000/09/xmldsig#'/>"
    author = Classification(
        scheme=DE_AUTHOR,
        slots={"authorPerson": ["899700367909^DOC0036790^KIT^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^RPPS"], "authorInstitution": [INSTITUTION]},
    )
    kos = DocumentEntry(
        id="DocumentKOS",
        mime_type="application/dicom",
        object_type=DOCUMENT_ENTRY_STABLE,
        slots={
            "creationTime": ["20250101100000"],
            "languageCode": ["fr-FR"],
            "hash": [hashlib.sha1(kos_bytes).hexdigest()],
            "size": [str(len(kos_bytes))],
            "sourcePatientId": [f"{ctx.patient.ins}^^^&{ctx.patient.ins_oid}&ISO^PI"],
            "urn:ihe:iti:xds:2013:referenceIdList": [
                f"{ctx.accession}^^^&{ctx.accession_issuer}&ISO^urn:ihe:iti:xds:2013:accession",
                f"{ctx.study_uid}^^^&1.2.3.4.5.6&ISO^urn:ihe:iti:xds:2016:studyInstanceUID",
                f"{ctx.order_id}^^^&{ctx.order_root}&ISO^urn:ihe:iti:xds:2013:order",
            ],
        },
        classifications=[
            author,
            code(DE_CLASS_CODE, "31", "1.2.250.1.213.1.1.4.1", "Imagerie médicale"),
            code(DE_TYPE_CODE, "IMG-KOS", "1.2.250.1.213.1.1.4.12"),
            code(DE_CONFIDENTIALITY_CODE, "N", "2.16.840.1.113883.5.25"),
            code(DE_FORMAT_CODE, "1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.2.6.1"),
            code(DE_EVENT_CODE_LIST, "MR", "1.2.250.1.213.1.1.5.618"),
        ],
        external_identifiers={DE_PATIENT_ID: ctx.patient.xds_patient_id, DE_UNIQUE_ID: sop_uid},
        name="Reference d'objets d'un examen d'imagerie",
    )
    signature = DocumentEntry(
        id="Signature01",
        mime_type="text/xml",
        object_type=DOCUMENT_ENTRY_STABLE,
        slots={"hash": [hashlib.sha1(signature_bytes).hexdigest()], "size": [str(len(signature_bytes))]},
        classifications=[
            code(DE_CLASS_CODE, "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN"),
            code(DE_FORMAT_CODE, "http://www.w3.org/2000/09/xmldsig#", "URN"),
        ],
        external_identifiers={DE_PATIENT_ID: ctx.patient.xds_patient_id, DE_UNIQUE_ID: "2.25.1234"},
    )
    ss = RegistryPackage(
        id="SubmissionSet01",
        slots={"submissionTime": ["20250101100001"]},
        classifications=[Classification(node=SUBMISSION_SET_NODE), Classification(scheme=SS_AUTHOR, slots={"authorInstitution": [INSTITUTION]})],
        external_identifiers={SS_PATIENT_ID: ctx.patient.xds_patient_id, SS_SOURCE_ID: "1.2.250.1.999.1", SS_UNIQUE_ID: "1.2.250.1.999.1.7"},
    )
    original = {"SubmissionSetStatus": ["Original"]}
    associations = [
        Association("a1", ASSOC_HAS_MEMBER, "SubmissionSet01", "DocumentKOS", dict(original)),
        Association("a2", ASSOC_HAS_MEMBER, "SubmissionSet01", "Signature01", dict(original)),
        Association("a3", ASSOC_SIGNS, "Signature01", "SubmissionSet01"),
    ]
    documents = {"DocumentKOS": kos_bytes, "Signature01": signature_bytes}
    return Publication(ss, [kos, signature], associations, documents, make_vihf(pki))



def judged(findings: list[Finding]) -> list[tuple[str, str]]:
    return sorted((f.rule, f.severity.value) for f in findings if f.severity != Severity.INFO)


def run(pki: TestPki, mutate: Callable[[Publication], None] | None = None, subject: str | None = CERT_SUBJECT) -> list[Finding]:
    publication = conformant(pki)
    if mutate:
        mutate(publication)
    return check_kos_submission(publication.request(), CTX, RuleOptions(trusted_ca_pem=pki.ca_pem), subject)


def test_conformant_publication_passes(pki: TestPki) -> None:
    findings = run(pki)
    assert judged(findings) == []
    infos = {(f.rule, f.actual) for f in findings if f.severity == Severity.INFO}
    assert any(rule == "XDS-EVENTCODES" and "MR: 1.2.250.1.213.1.1.5.618" in actual for rule, actual in infos)


def test_hash_case_and_dicom_modality_scheme_are_accepted(pki: TestPki) -> None:
    def mutate(p: Publication) -> None:
        p.kos.slots["hash"] = [p.kos.slots["hash"][0].upper()]
        _replace_code(p.kos, DE_EVENT_CODE_LIST, code(DE_EVENT_CODE_LIST, "MR", "1.2.840.10008.2.16.4"))

    findings = run(pki, mutate)
    assert judged(findings) == []
    assert any(f.rule == "XDS-EVENTCODES" and "DICOM DCM" in f.actual for f in findings)


def _replace_code(entry: DocumentEntry, scheme: str, new: Classification | None) -> None:
    entry.classifications = [c for c in entry.classifications if c.scheme != scheme] + ([new] if new else [])


def _set_reference(p: Publication, kind: str, value: str | None) -> None:
    values = [v for v in p.kos.slots["urn:ihe:iti:xds:2013:referenceIdList"] if not v.endswith(kind)]
    p.kos.slots["urn:ihe:iti:xds:2013:referenceIdList"] = values + ([value] if value else [])


def _drop_signature_entry(p: Publication) -> None:
    p.entries = p.entries[:1]
    p.associations = [a for a in p.associations if "Signature01" not in (a.source, a.target)]
    del p.documents["Signature01"]


def _second_kos(p: Publication) -> None:
    twin = DocumentEntry(**{**p.kos.__dict__, "id": "DocumentKOS2"})
    p.entries.append(twin)
    p.documents["DocumentKOS2"] = p.documents["DocumentKOS"]


def _cda_entry(p: Publication) -> None:
    p.entries.append(DocumentEntry(id="CR", mime_type="text/xml", classifications=[code(DE_CLASS_CODE, "10", "1.2.250.1.213.1.1.4.1")]))
    p.documents["CR"] = b"<ClinicalDocument/>"


MUTATIONS: dict[str, tuple[Callable[[Publication], None], list[tuple[str, str]]]] = {
    "plain SOAP": (lambda p: setattr(p, "mtom", False), [("XDS-MTOM", "error")]),
    "wrong action": (lambda p: setattr(p, "action", ACTION_ITI57), [("XDS-SOAP", "error")]),
    "two KOS entries": (_second_kos, [("XDS-ONE-KOS-ENTRY", "error")]),
    "CR published too": (_cda_entry, [("XDS-ONE-KOS-ENTRY", "warning")]),
    "mimeType octet-stream": (lambda p: setattr(p.kos, "mime_type", "application/octet-stream"), [("XDS-MIMETYPE", "error")]),
    "document missing": (lambda p: p.documents.pop("DocumentKOS"), [("XDS-DOCUMENT", "error")]),
    "uniqueId not the SOP UID": (lambda p: p.kos.external_identifiers.update({DE_UNIQUE_ID: "1.2.3.4"}), [("XDS-UNIQUEID", "error")]),
    "hash wrong": (lambda p: p.kos.slots.update(hash=["0" * 40]), [("XDS-HASH", "error")]),
    "size wrong": (lambda p: p.kos.slots.update(size=["12"]), [("XDS-SIZE", "error")]),
    "classCode 10": (lambda p: _replace_code(p.kos, DE_CLASS_CODE, code(DE_CLASS_CODE, "10", "1.2.250.1.213.1.1.4.1")), [("XDS-CLASSCODE", "error")]),
    "typeCode of a CR": (lambda p: _replace_code(p.kos, DE_TYPE_CODE, code(DE_TYPE_CODE, "18748-4", "2.16.840.1.113883.6.1")), [("XDS-TYPECODE", "error")]),
    "formatCode scheme": (lambda p: _replace_code(p.kos, DE_FORMAT_CODE, code(DE_FORMAT_CODE, "1.2.840.10008.5.1.4.1.1.88.59", "URN")), [("XDS-FORMATCODE", "error")]),
    "entry patientId": (lambda p: p.kos.external_identifiers.update({DE_PATIENT_ID: "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"}), [("XDS-PATIENTID", "error")]),
    "submission set patientId": (lambda p: p.ss.external_identifiers.update({SS_PATIENT_ID: "162018885045327^^^&1.2.250.1.213.1.4.8&ISO^NH"}), [("XDS-PATIENTID", "error")]),
    "no accession": (lambda p: _set_reference(p, "accession", None), [("XDS-REFERENCEIDLIST", "error")]),
    "accession issuer": (lambda p: _set_reference(p, "accession", f"{CTX.accession}^^^&1.2.3&ISO^urn:ihe:iti:xds:2013:accession"), [("XDS-REFERENCEIDLIST", "error")]),
    "no study UID": (lambda p: _set_reference(p, "studyInstanceUID", None), [("XDS-REFERENCEIDLIST", "error")]),
    "no order": (lambda p: _set_reference(p, "order", None), [("XDS-REFERENCEIDLIST", "error")]),
    "order under another root": (lambda p: _set_reference(p, "order", f"{CTX.order_id}^^^&1.2.3&ISO^urn:ihe:iti:xds:2013:order"), [("XDS-REFERENCEIDLIST", "warning")]),
    "no modality code": (lambda p: _replace_code(p.kos, DE_EVENT_CODE_LIST, None), [("XDS-EVENTCODES", "error")]),
    "modality with unknown scheme": (lambda p: _replace_code(p.kos, DE_EVENT_CODE_LIST, code(DE_EVENT_CODE_LIST, "MR", "1.2.3")), [("XDS-EVENTCODES", "error")]),
    "extra masking flag": (lambda p: p.kos.classifications.append(code(DE_CONFIDENTIALITY_CODE, "MASQUE_PS", "1.2.250.1.213.1.1.4.13")), [("XDS-CONFIDENTIALITY", "error")]),
    "institution of another structure": (
        lambda p: classification(p.kos, DE_AUTHOR).slots.update(authorInstitution=["X^^^^^&1.2.250.1.71.4.2.2&ISO^FINEG^^^750803447"]),
        [("XDS-AUTHOR-INSTITUTION", "error")],
    ),
    "institution with type digit": (
        lambda p: classification(p.kos, DE_AUTHOR).slots.update(authorInstitution=[f"X^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^4{ORG.structure_id}"]),
        [("XDS-AUTHOR-INSTITUTION", "warning")],
    ),
    "institution under another authority": (
        lambda p: classification(p.kos, DE_AUTHOR).slots.update(authorInstitution=[f"X^^^^^&1.2.3&ISO^IDNST^^^{ORG.structure_id}"]),
        [("XDS-AUTHOR-INSTITUTION", "error")],
    ),
    "no submission set classification": (lambda p: setattr(p.ss, "classifications", p.ss.classifications[1:]), [("XDS-SUBMISSIONSET", "error")]),
    "no sourceId": (lambda p: p.ss.external_identifiers.pop(SS_SOURCE_ID), [("XDS-SUBMISSIONSET", "error")]),
    "bad submissionTime": (lambda p: p.ss.slots.update(submissionTime=["2025-01-01"]), [("XDS-SUBMISSIONSET", "error")]),
    "no HasMember to the KOS": (lambda p: setattr(p, "associations", p.associations[1:]), [("XDS-HASMEMBER", "error")]),
    "HasMember without Original": (lambda p: p.associations[0].slots.clear(), [("XDS-HASMEMBER", "error")]),
    "no signature entry": (_drop_signature_entry, [("XDS-SIGNATURE-ENTRY", "warning")]),
    "signature without signs": (lambda p: setattr(p, "associations", p.associations[:2]), [("XDS-SIGNATURE-ENTRY", "error")]),
    "no VIHF": (lambda p: setattr(p, "assertion", None), [("VIHF-PRESENT", "error")]),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_breaks_exactly_its_rule(pki: TestPki, name: str) -> None:
    mutate, expected = MUTATIONS[name]
    assert judged(run(pki, mutate)) == expected


def test_certificate_of_another_structure_is_a_warning(pki: TestPki) -> None:
    findings = run(pki, subject="CN=DRIMbox,OU=1750803447,O=Other,C=FR")
    assert judged(findings) == [("XDS-AUTHOR-INSTITUTION", "warning")]
    assert "OU=1750803447" in next(f.expected for f in findings if f.rule == "XDS-AUTHOR-INSTITUTION")


def test_masking_flags_of_the_report_are_required(pki: TestPki) -> None:
    ctx = ReportContext(**{**CTX.__dict__, "masking_flags": ("INVISIBLE_PATIENT",)})
    publication = conformant(pki)
    findings = check_kos_submission(publication.request(), ctx, RuleOptions(), CERT_SUBJECT)
    assert judged(findings) == [("XDS-CONFIDENTIALITY", "error")]
    publication.kos.classifications.append(code(DE_CONFIDENTIALITY_CODE, "INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13"))
    assert judged(check_kos_submission(publication.request(), ctx, RuleOptions(), CERT_SUBJECT)) == []


def test_replacement(pki: TestPki) -> None:
    publication = conformant(pki)
    old = "urn:uuid:0b7c1e6e-0000-4000-8000-000000000001"
    assert judged(check_replacement(publication.request(), old)) == [("XDS-RPLC", "error")]
    publication.associations.append(Association("r1", ASSOC_RPLC, "DocumentKOS", old))
    assert judged(check_replacement(publication.request(), old)) == []
    assert judged(check_replacement(publication.request(), "urn:uuid:other")) == [("XDS-RPLC", "error")]


def _update(target: str, new_status: str, original: str = STATUS_APPROVED, action: str = ACTION_ITI57):
    ss = RegistryPackage(id="ss", classifications=[Classification(node=SUBMISSION_SET_NODE)])
    assoc = Association("u1", ASSOC_UPDATE_AVAILABILITY_STATUS, "ss", target, {"OriginalStatus": [original], "NewStatus": [new_status]})
    return parse_update_document_set(soap_envelope(action, submit_objects_xml([ss, assoc])), "application/soap+xml")


@pytest.mark.parametrize("status", [STATUS_DELETED_ASIP, STATUS_DEPRECATED])
def test_status_update_accepts_deleted_and_deprecated_and_records_which(status: str) -> None:
    findings = check_status_update(_update("urn:uuid:e1", status), "urn:uuid:e1")
    assert judged(findings) == []
    assert [f.actual for f in findings if f.severity == Severity.INFO] == [status]


@pytest.mark.parametrize(
    "update",
    [
        _update("urn:uuid:other", STATUS_DEPRECATED),
        _update("urn:uuid:e1", STATUS_APPROVED),
        _update("urn:uuid:e1", STATUS_DEPRECATED, original=STATUS_DEPRECATED),
        _update("urn:uuid:e1", STATUS_DEPRECATED, action=ACTION_ITI41),
    ],
    ids=["other target", "new status Approved", "original not Approved", "wrong action"],
)
def test_status_update_mutations(update) -> None:
    assert judged(check_status_update(update, "urn:uuid:e1")) == [("XDS-STATUS-UPDATE", "error")]


# -- official samples ------------------------------------------------------------------


def _sample_context(request: ProvideAndRegister) -> ReportContext:
    """The context the samples were made for, read from their own values (they are not tied to a CR)."""
    return ReportContext(
        patient=Patient(ins="162018885045327"),
        study_uid="1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.3.116",
        accession="7252295367250016",
        accession_issuer="1.2.840.113619.6.196",
        order_id="12989855966",
        order_root="2.16.840.1.113883.6.96",
        cda_id_root="",
        organisation=Organisation("BCOM", "499700367909006", "IDNST"),
        author=Professional("899700367909", "DOC0036790", "KIT"),
        modalities=("MR",),
    )


def test_demonstrator_publication(pki: TestPki) -> None:
    path = SHARED / "poc-samples/XDS/publication.xml"
    if not path.exists():
        pytest.skip(f"shared sample absent: {path}")
    request = parse_capture(path.read_bytes())
    assert request.mtom and len(request.documents["DocumentKOS"]) == 8450
    kos = SHARED / "poc-samples/KOS/ko.dcm"
    # The attached KOS is byte-identical to the hash slot; its SOP UID is the entry uniqueId.
    assert sop_instance_uid(request.documents["DocumentKOS"]) == "1.3.2.751468943.3.1234.56838.231114144457.1.1.1"
    findings = check_kos_submission(request, _sample_context(request), RuleOptions(), "CN=DRIMbox, OU=499700367909006, O=CABINET M DOC0036790, ST=Paris (75), C=FR")
    # Passes every XDS rule; fails only where the capture was redacted (VIHF certificate and structure id).
    assert judged(findings) == [("VIHF-SIGNATURE", "error"), ("VIHF-STRUCTURE", "error")]
    if kos.exists():
        assert sop_instance_uid(kos.read_bytes()) is not None


def test_ans_validator_sample() -> None:
    path = SHARED / "ans-samples/Echantillons-validateurs/Validateur-XDS/XDS.xml"
    if not path.exists():
        pytest.skip(f"shared sample absent: {path}")
    request = parse_capture(path.read_bytes())
    assert not request.mtom and request.documents == {}
    findings = check_kos_submission(request, _sample_context(request), RuleOptions())
    # Plain SOAP with xop:Include and no MIME parts: the KOS bytes are not in the file, so the
    # uniqueId / hash / size rules cannot run; the VIHF is redacted like the demonstrator's.
    assert judged(findings) == [
        ("VIHF-SIGNATURE", "error"),
        ("VIHF-STRUCTURE", "error"),
        ("XDS-DOCUMENT", "error"),
        ("XDS-MTOM", "error"),
    ]


# -- creationTime (IHE ITI TF-3 4.2.3.2.6) ---------------------------------------------------------


@pytest.mark.parametrize(("value", "received", "expected"), [
    ("20261202120000", datetime(2026, 12, 2, 12, 1, tzinfo=timezone.utc), None),
    ("202612021200", datetime(2026, 12, 2, 12, 1, tzinfo=timezone.utc), None),  # minutes precision is a DTM too
    ("20261202120000", None, None),
    ("20261202130000", datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc), "not after the receipt 20261202120000 (UTC, + 5 min)"),
    ("2026-12-02T12:00:00", None, "YYYYMMDDhhmmss (UTC)"),
    ("20261302120000", None, "a date and time that exist"),
    (None, None, "YYYYMMDDhhmmss (UTC)"),
])  # fmt: skip
def test_creation_time_is_a_utc_dtm_not_after_the_submission(
    pki: TestPki, value: str | None, received: datetime | None, expected: str | None
) -> None:
    publication = conformant(pki)
    kos = publication.entries[0]
    if value is None:
        del kos.slots["creationTime"]
    else:
        kos.slots["creationTime"] = [value]
    request = publication.request()
    found = [f for f in check_kos_submission(request, CTX, RuleOptions(), received_at=received) if f.rule == "XDS-CREATION-TIME"]
    assert [f.expected for f in found] == ([expected] if expected else [])
    if expected:
        assert found[0].actual == (value or "(absent)") and "creationTime" in found[0].location


def test_the_vihf_rules_can_be_left_to_their_own_step(pki: TestPki) -> None:
    """The live scenario judges the VIHF in a step of its own: the ITI-41 step leaves it out, each finding once."""
    publication = conformant(pki)
    publication.assertion = None
    request = publication.request()
    assert "VIHF-PRESENT" in {f.rule for f in check_kos_submission(request, CTX, RuleOptions())}
    assert not any(f.rule.startswith("VIHF-") for f in check_kos_submission(request, CTX, RuleOptions(), with_vihf=False))


def test_a_refused_publication_is_judged_by_the_rules_of_what_it_sent(pki: TestPki) -> None:
    """What the DMP refused still breaks its own requirements: the TLS client certificate, the metadata, the KOS."""
    endpoints = SutEndpoints("https://drimbox.test/wado")
    options = RuleOptions(trusted_ca_pem=pki.ca_pem)

    def rules(findings: list[Finding]) -> set[str]:
        return {f.rule for f in findings if f.severity is Severity.ERROR}

    good = rules(check_refused_publication(conformant(pki).request(), CTX, options, endpoints, CERT_SUBJECT, ORG.structure_id))
    assert not good & {"DMP-CLIENT-CERT", "XDS-HASH", "XDS-SIZE", "KOS-PART10"}
    assert "KOS-SOP-CLASS" not in good and "KOS-TITLE" in good  # the KOS is judged: this minimal one has no title

    broken = conformant(pki)
    broken.documents["DocumentKOS"] = broken.documents["DocumentKOS"][132:]  # attached without preamble and DICM
    found = rules(check_refused_publication(broken.request(), CTX, options, endpoints, None, ORG.structure_id))
    assert {"DMP-CLIENT-CERT", "XDS-HASH", "XDS-SIZE", "KOS-PART10"} <= found

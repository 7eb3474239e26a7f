"""KOS rules: a conformant manifest passes, each mutation trips exactly its rule, the demonstrator's KOS is judged."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from drimva.context import (
    InstanceRef,
    Organisation,
    Patient,
    Professional,
    ReportContext,
    RuleOptions,
    SutEndpoints,
)
from drimva.dicom_text import part10_bytes, read_part10
from drimva.findings import Finding, Severity
from drimva.rules.dciodvfy import oracle_findings
from drimva.rules.kos import check_kos, check_kos_structure, read_oracle_findings, tag_path
from fixtures.studies import instance_refs, make_kos, make_study, modalities, study_attributes, with_non_image_objects

from paths import SHARED
POC_KOS = SHARED / "poc-samples" / "KOS" / "ko.dcm"
WADO = "https://db.drimva.test/wado-rs"
LOCATION_UID = "1.2.250.1.213.4.5.9.1"
PATIENT = Patient(
    ins="279035121518989",
    ipp="IPP101",
    ipp_authority="RIS-DRIMVA",
    birth_name="PAT-TROIS",
    given_name="DOMINIQUE",
    birth_date="19790328",
    sex="F",
)


@dataclass
class Case:
    kos: Dataset
    ctx: ReportContext
    endpoints: SutEndpoints
    options: RuleOptions

    def judge(self) -> list[Finding]:
        return check_kos(self.kos, self.ctx, self.endpoints, self.options)


def build_case() -> Case:
    study = make_study(PATIENT, "ACN101", accession_issuer="1.2.250.1.213.4.5.2.5")
    kos = make_kos(
        study,
        PATIENT,
        accession="ACN101",
        accession_issuer="1.2.250.1.213.4.5.2.5",
        order_id="OPN101",
        order_root="1.2.250.1.213.4.5.2.6",
        wado_base_url=WADO + "/",
        retrieve_location_uid=LOCATION_UID,
    )
    attributes = study_attributes(study)
    ctx = ReportContext(
        patient=PATIENT,
        study_uid=str(study[0].StudyInstanceUID),
        accession="ACN101",
        accession_issuer="1.2.250.1.213.4.5.2.5",
        order_id="OPN101",
        order_root="1.2.250.1.213.4.5.2.6",
        cda_id_root="1.2.250.1.213.4.5.4.1",
        organisation=Organisation("Cabinet drimva", "499700367909006", "IDNST"),
        author=Professional("810000000001", "MEDECIN", "Paul"),
        modalities=modalities(study),
        instances=instance_refs(study),
        study_date=attributes["StudyDate"],
        study_time=attributes["StudyTime"],
    )
    return Case(kos, ctx, SutEndpoints(WADO, LOCATION_UID), RuleOptions())


@pytest.fixture()
def case() -> Case:
    return build_case()


def _series(kos: Dataset, index: int = 0) -> Dataset:
    return kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[index]


def test_conformant_kos_has_no_finding(case: Case) -> None:
    data = part10_bytes(case.kos)
    assert check_kos(data, case.ctx, case.endpoints, case.options) == []
    assert check_kos_structure(data, case.options) == []
    assert case.judge() == []


def test_tag_path_matches_the_house_notation() -> None:
    path = tag_path("CurrentRequestedProcedureEvidenceSequence", 0, "ReferencedSeriesSequence", 1, "RetrieveURL")
    assert path == "(0040,A375)[0]>(0008,1115)[1]>(0008,1190)"


# -- one mutation per rule ----------------------------------------------------------------------------


def _drop_instance(case: Case) -> None:
    """Remove the first instance from evidence and content: the KOS misses one PACS instance."""
    series = _series(case.kos)
    gone = series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    del series.ReferencedSOPSequence[0]
    case.kos.ContentSequence = DicomSequence(
        [i for i in case.kos.ContentSequence if "ReferencedSOPSequence" not in i or i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID != gone]
    )


def _add_instance(case: Case) -> None:
    extra = Dataset()
    extra.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    extra.ReferencedSOPInstanceUID = generate_uid()
    _series(case.kos).ReferencedSOPSequence.append(extra)
    image = Dataset()
    image.RelationshipType = "CONTAINS"
    image.ValueType = "IMAGE"
    image.ReferencedSOPSequence = DicomSequence([copy.deepcopy(extra)])
    case.kos.ContentSequence.insert(0, image)


def _wrong_sop_class(case: Case) -> None:
    for item in (_series(case.kos).ReferencedSOPSequence[0], case.kos.ContentSequence[0].ReferencedSOPSequence[0]):
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture


def _content_outside_evidence(case: Case) -> None:
    image = copy.deepcopy(case.kos.ContentSequence[0])
    image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = generate_uid()
    case.kos.ContentSequence.insert(0, image)


def _set(path: Callable[[Dataset], Dataset], keyword: str, value: object) -> Callable[[Case], None]:
    def mutate(case: Case) -> None:
        setattr(path(case.kos), keyword, value)

    return mutate


def _delete(path: Callable[[Dataset], Dataset], keyword: str) -> Callable[[Case], None]:
    def mutate(case: Case) -> None:
        delattr(path(case.kos), keyword)

    return mutate


def _top(kos: Dataset) -> Dataset:
    return kos


def _request(kos: Dataset) -> Dataset:
    return kos.ReferencedRequestSequence[0]


MUTATIONS: list[tuple[str, Callable[[Case], None], str, Severity, str]] = [
    ("sop-class", _set(_top, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.88.22"), "KOS-SOP-CLASS", Severity.ERROR, "(0008,0016)"),
    ("modality", _set(_top, "Modality", "SR"), "KOS-MODALITY", Severity.ERROR, "(0008,0060)"),
    ("title-code", _set(lambda k: k.ConceptNameCodeSequence[0], "CodeValue", "113000"), "KOS-TITLE", Severity.ERROR, "(0040,A043)[0]>(0008,0100)"),
    ("title-case", _set(lambda k: k.ConceptNameCodeSequence[0], "CodeMeaning", "MANIFEST"), "KOS-TITLE", Severity.WARNING, "(0040,A043)[0]>(0008,0104)"),
    ("value-type", _set(_top, "ValueType", "TEXT"), "KOS-CONTAINER", Severity.ERROR, "(0040,A040)"),
    ("continuity", _set(_top, "ContinuityOfContent", "CONTINUOUS"), "KOS-CONTAINER", Severity.ERROR, "(0040,A050)"),
    ("template-absent", _delete(_top, "ContentTemplateSequence"), "KOS-TEMPLATE", Severity.WARNING, "(0040,A504)"),
    ("template-wrong", _set(lambda k: k.ContentTemplateSequence[0], "TemplateIdentifier", "2000"), "KOS-TEMPLATE", Severity.ERROR, "(0040,A504)[0]"),
    ("patient-ipp", _set(_top, "PatientID", "IPP101"), "KOS-PATIENT-ID", Severity.ERROR, "(0010,0020)"),
    ("patient-name-of-pacs", _set(_top, "PatientName", "MARTIN^DOMINIQUE"), "KOS-PATIENT-TRAITS", Severity.ERROR, "(0010,0010)"),
    ("patient-given-name", _set(_top, "PatientName", "PAT-TROIS^CLAUDE"), "KOS-PATIENT-TRAITS", Severity.ERROR, "(0010,0010)"),
    ("patient-birth-date", _set(_top, "PatientBirthDate", "19790329"), "KOS-PATIENT-TRAITS", Severity.ERROR, "(0010,0030)"),
    ("patient-sex", _set(_top, "PatientSex", "M"), "KOS-PATIENT-TRAITS", Severity.ERROR, "(0010,0040)"),
    ("issuer-wording", _set(_top, "IssuerOfPatientID", "INS-NIR"), "KOS-PATIENT-ISSUER", Severity.WARNING, "(0010,0021)"),
    ("issuer-oid", _set(lambda k: k.IssuerOfPatientIDQualifiersSequence[0], "UniversalEntityID", "1.2.250.1.213.1.4.8"), "KOS-PATIENT-ISSUER", Severity.ERROR, "(0010,0024)[0]>(0040,0032)"),
    ("issuer-type", _set(lambda k: k.IssuerOfPatientIDQualifiersSequence[0], "UniversalEntityIDType", "DNS"), "KOS-PATIENT-ISSUER", Severity.ERROR, "(0010,0024)[0]>(0040,0033)"),
    ("study-uid", _set(_top, "StudyInstanceUID", "1.2.3.4"), "KOS-STUDY-UID", Severity.ERROR, "(0020,000D)"),
    ("study-date", _set(_top, "StudyDate", "19990101"), "KOS-STUDY-FROM-PACS", Severity.ERROR, "(0008,0020)"),
    ("study-time", _set(_top, "StudyTime", "000001"), "KOS-STUDY-FROM-PACS", Severity.ERROR, "(0008,0030)"),
    ("missing-instance", _drop_instance, "KOS-EVIDENCE-COMPLETE", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0008,1199)"),
    ("extra-instance", _add_instance, "KOS-EVIDENCE-EXTRA", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0008,1199)[3]"),
    ("sop-class-of-instance", _wrong_sop_class, "KOS-SOP-CLASSES", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0008,1199)[0]>(0008,1150)"),
    ("retrieve-url", _set(_series, "RetrieveURL", "https://elsewhere.test/wado/studies/x/series/y"), "KOS-RETRIEVE-URL", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0008,1190)"),
    ("location-uid-absent", _delete(_series, "RetrieveLocationUID"), "KOS-RETRIEVE-LOCATION-UID", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0040,E011)"),
    ("location-uid-other", _set(_series, "RetrieveLocationUID", "1.2.3.4.5"), "KOS-RETRIEVE-LOCATION-UID", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0040,E011)"),
    ("accession", _set(_request, "AccessionNumber", "ACN999"), "KOS-REQUEST-ACCESSION", Severity.ERROR, "(0040,A370)[0]>(0008,0050)"),
    ("accession-issuer", _set(lambda k: k.ReferencedRequestSequence[0].IssuerOfAccessionNumberSequence[0], "UniversalEntityID", "1.2.3"), "KOS-REQUEST-ACCESSION", Severity.ERROR, "(0040,A370)[0]>(0008,0051)[0]>(0040,0032)"),
    ("top-accession", _set(_top, "AccessionNumber", "ACN999"), "KOS-REQUEST-ACCESSION", Severity.ERROR, "(0008,0050)"),
    ("order", _set(_request, "PlacerOrderNumberImagingServiceRequest", "OPN999"), "KOS-REQUEST-ORDER", Severity.ERROR, "(0040,A370)[0]>(0040,2016)"),
    ("order-root", _set(lambda k: k.ReferencedRequestSequence[0].OrderPlacerIdentifierSequence[0], "UniversalEntityID", "1.2.3"), "KOS-REQUEST-ORDER", Severity.ERROR, "(0040,A370)[0]>(0040,0026)[0]>(0040,0032)"),
    ("content-outside-evidence", _content_outside_evidence, "KOS-CONTENT-IN-EVIDENCE", Severity.ERROR, "(0040,A730)[0]>(0008,1199)[0]"),
    ("by-reference", _set(lambda k: k.ContentSequence[0], "ReferencedContentItemIdentifier", [1, 1]), "KOS-CONTENT-TREE", Severity.ERROR, "(0040,A730)[0]>(0040,DB73)"),
]


@pytest.mark.parametrize(("name", "mutate", "rule", "severity", "location"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mutation_trips_exactly_its_rule(
    case: Case, name: str, mutate: Callable[[Case], None], rule: str, severity: Severity, location: str
) -> None:
    mutate(case)
    findings = case.judge()
    assert [(f.rule, f.severity, f.location) for f in findings] == [(rule, severity, location)], [f.describe() for f in findings]


def test_content_with_an_instance_missing_warns_only(case: Case) -> None:
    del case.kos.ContentSequence[0]
    findings = case.judge()
    assert [(f.rule, f.severity) for f in findings] == [("KOS-CONTENT-IN-EVIDENCE", Severity.WARNING)]


@pytest.mark.parametrize("name", ["pat-trois^dominique", "PAT-TROIS^DOMINIQUE MARIE", "PAT-TROIS^DOMINIQUE^^^"])
def test_the_patient_name_is_the_cr_s_whatever_its_case_and_further_given_names(case: Case, name: str) -> None:
    case.kos.PatientName = name
    assert case.judge() == []


def _with_non_image_objects(referenced: Callable[[list[Dataset]], list[Dataset]] = lambda study: study) -> Case:
    """The case's study with a presentation state and an SR besides its images, and its known-good KOS
    (``referenced``: the instances of the study the KOS references, all by default)."""
    case = build_case()
    study = make_study(PATIENT, "ACN101", accession_issuer="1.2.250.1.213.4.5.2.5")
    with_non_image_objects(study, PATIENT)
    case.kos = make_kos(referenced(study), PATIENT, accession="ACN101", accession_issuer="1.2.250.1.213.4.5.2.5", order_id="OPN101",
                        order_root="1.2.250.1.213.4.5.2.6", wado_base_url=WADO, retrieve_location_uid=LOCATION_UID)
    attributes = study_attributes(study)
    case.ctx = replace(case.ctx, study_uid=str(study[0].StudyInstanceUID), instances=instance_refs(study),
                       study_date=attributes["StudyDate"], study_time=attributes["StudyTime"])
    return case


def test_non_image_objects_referenced_as_composite_pass() -> None:
    case = _with_non_image_objects()
    assert [item.ValueType for item in case.kos.ContentSequence][-3:] == ["COMPOSITE", "COMPOSITE", "TEXT"]
    assert case.judge() == []


@pytest.mark.parametrize(("index", "value_type", "expected"), [(-2, "IMAGE", "COMPOSITE"), (0, "COMPOSITE", "IMAGE")])
def test_a_reference_item_of_the_wrong_value_type_fails(index: int, value_type: str, expected: str) -> None:
    """A presentation state (last but one reference: the PR, then the SR) referenced as an IMAGE, a CT image as COMPOSITE."""
    case = _with_non_image_objects()
    items = [item for item in case.kos.ContentSequence if item.ValueType != "TEXT"]
    items[index].ValueType = value_type
    findings = case.judge()
    assert [(f.rule, f.severity, f.expected) for f in findings] == [("KOS-CONTENT-VALUE-TYPE", Severity.ERROR, expected)]


def _images(study: list[Dataset]) -> list[Dataset]:
    return [ds for ds in study if "Image Storage" in ds.SOPClassUID.name]


def test_non_image_objects_left_out_fail_by_default_and_pass_where_the_profile_allows_it() -> None:
    """rules.kos_non_image (kos-manifest.md open question 3): "referenced" requires them, "may_leave_out" the images only."""
    case = _with_non_image_objects(_images)
    assert [(f.rule, f.actual) for f in case.judge()] == [("KOS-EVIDENCE-COMPLETE", "(missing)")] * 2
    case.options = replace(case.options, kos_non_image="may_leave_out")
    assert case.judge() == []
    short = _with_non_image_objects(lambda study: _images(study)[:-1])
    short.options = replace(short.options, kos_non_image="may_leave_out")
    assert [(f.rule, f.actual) for f in short.judge()] == [("KOS-EVIDENCE-COMPLETE", "(missing)")]
    full = _with_non_image_objects()  # and a KOS that references them anyway still passes
    full.options = replace(full.options, kos_non_image="may_leave_out")
    assert full.judge() == []


def test_top_level_accession_may_be_filled_with_the_cr_accession(case: Case) -> None:
    case.kos.AccessionNumber = "ACN101"
    assert case.judge() == []


def test_study_time_compared_as_an_instant(case: Case) -> None:
    case.kos.StudyTime = case.ctx.study_time + ".000"
    assert case.judge() == []


def test_location_uid_switch_turns_the_error_into_a_noted_warning(case: Case) -> None:
    del _series(case.kos).RetrieveLocationUID
    case.options = RuleOptions(require_retrieve_location_uid=False)
    [finding] = case.judge()
    assert (finding.rule, finding.severity) == ("KOS-RETRIEVE-LOCATION-UID", Severity.WARNING)
    assert "require_retrieve_location_uid" in finding.note


def test_expected_location_uid_is_optional_in_the_profile(case: Case) -> None:
    case.endpoints = SutEndpoints(WADO)
    _series(case.kos).RetrieveLocationUID = "1.2.3.4.5"
    assert case.judge() == []


def test_part10_meta_must_match_the_data_set(case: Case) -> None:
    uid = str(case.kos.SOPInstanceUID)
    other = uid[:-1] + ("1" if uid[-1] != "1" else "2")
    data = part10_bytes(case.kos).replace(uid.encode(), other.encode(), 1)  # the first copy is the file meta's
    findings = check_kos(data, case.ctx, case.endpoints, case.options)
    assert [(f.rule, f.location) for f in findings] == [("KOS-PART10", "(0002,0003)")]


def test_unreadable_bytes_give_one_part10_error(case: Case) -> None:
    findings = check_kos(b"not a dicom file at all", case.ctx, case.endpoints, case.options)
    assert [(f.rule, f.severity) for f in findings] == [("KOS-PART10", Severity.ERROR)]


def test_structure_mode_catches_what_needs_no_context(case: Case) -> None:
    case.kos.PatientID = "IPP101"
    _series(case.kos).RetrieveURL = "https://db.drimva.test/wado-rs/studies/1.2.3/series/4.5.6"
    rules = sorted(f.rule for f in check_kos_structure(case.kos, case.options))
    assert rules == ["KOS-PATIENT-ID", "KOS-RETRIEVE-URL"]


# -- the ANS demonstrator's KOS --------------------------------------------------------------------


def _poc_kos() -> bytes:
    if not POC_KOS.exists():
        pytest.skip(f"demonstrator sample absent: {POC_KOS}")
    return POC_KOS.read_bytes()


def _context_from(ds: Dataset) -> ReportContext:
    """A context built from the sample's own values: only its departures from the contract remain."""
    refs: list[InstanceRef] = []
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    for series in evidence.ReferencedSeriesSequence:
        for sop in series.ReferencedSOPSequence:
            refs.append(InstanceRef(evidence.StudyInstanceUID, series.SeriesInstanceUID, sop.ReferencedSOPInstanceUID, sop.ReferencedSOPClassUID))
    request = ds.ReferencedRequestSequence[0]
    patient = Patient(ins=ds.PatientID, ins_oid=ds.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID)
    return ReportContext(
        patient=patient,
        study_uid=ds.StudyInstanceUID,
        accession=request.AccessionNumber,
        accession_issuer=request.IssuerOfAccessionNumberSequence[0].UniversalEntityID,
        order_id=request.PlacerOrderNumberImagingServiceRequest,
        order_root=request.OrderPlacerIdentifierSequence[0].UniversalEntityID,
        cda_id_root="",
        organisation=Organisation("BCOM", ""),
        author=Professional("", "", ""),
        instances=tuple(refs),
        study_date=ds.StudyDate,
        study_time=ds.StudyTime,
    )


# Measured on ko.dcm (sha256 d3895a6d...): the title meaning is upper case, there is no
# ContentTemplateSequence, and neither of its 2 series carries a RetrieveLocationUID.
POC_FLAGGED = [
    ("KOS-TITLE", Severity.WARNING, "(0040,A043)[0]>(0008,0104)"),
    ("KOS-TEMPLATE", Severity.WARNING, "(0040,A504)"),
    ("KOS-RETRIEVE-LOCATION-UID", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[0]>(0040,E011)"),
    ("KOS-RETRIEVE-LOCATION-UID", Severity.ERROR, "(0040,A375)[0]>(0008,1115)[1]>(0040,E011)"),
]


def test_demonstrator_kos_structure() -> None:
    findings = check_kos_structure(_poc_kos(), RuleOptions())
    assert [(f.rule, f.severity, f.location) for f in findings] == POC_FLAGGED
    for finding in findings:
        assert finding.note, finding.describe()  # each says where the sample departs, and why
    assert "financing annex" in findings[2].note and "demonstrator" in findings[2].note


def test_demonstrator_kos_against_its_own_values() -> None:
    data = _poc_kos()
    ctx = _context_from(read_part10(data))
    endpoints = SutEndpoints("http://localhost:4200/api/source")
    findings = check_kos(data, ctx, endpoints, RuleOptions())
    assert [(f.rule, f.severity, f.location) for f in findings] == POC_FLAGGED
    relaxed = check_kos(data, ctx, endpoints, RuleOptions(require_retrieve_location_uid=False))
    assert all(f.severity is Severity.WARNING for f in relaxed)


def test_demonstrator_kos_with_a_production_ins_oid_is_caught() -> None:
    data = _poc_kos()
    ctx = _context_from(read_part10(data))
    ctx = replace(ctx, patient=replace(ctx.patient, ins_oid="1.2.250.1.213.1.4.8"))
    rules = [f.rule for f in check_kos(data, ctx, SutEndpoints("http://localhost:4200/api/source"), RuleOptions())]
    assert "KOS-PATIENT-ISSUER" in rules  # the demonstrator hard-codes the test OID


def test_pacs_metadata_keeps_only_what_the_pacs_said(case: Case) -> None:
    """check_kos_pacs_metadata (VA-B2): a KOS without one instance fails it; a wrong title (not PACS data) does not."""
    from drimva.rules.kos import check_kos_pacs_metadata

    data = part10_bytes(case.kos)
    assert check_kos_pacs_metadata(data, case.ctx, case.endpoints, case.options) == []
    dropped = _series(case.kos).ReferencedSOPSequence.pop()
    findings = check_kos_pacs_metadata(part10_bytes(case.kos), case.ctx, case.endpoints, case.options)
    assert [f.rule for f in findings] == ["KOS-EVIDENCE-COMPLETE"]
    assert dropped.ReferencedSOPInstanceUID in findings[0].expected + findings[0].actual + findings[0].location
    case.kos.ConceptNameCodeSequence[0].CodeValue = "113000"
    data = part10_bytes(case.kos)
    other = {f.rule for f in check_kos(data, case.ctx, case.endpoints, case.options)} - {"KOS-EVIDENCE-COMPLETE"}
    assert other, "the wrong title must break a KOS rule that is not about PACS data"
    assert [f.rule for f in check_kos_pacs_metadata(data, case.ctx, case.endpoints, case.options)] == ["KOS-EVIDENCE-COMPLETE"]


def test_dciodvfy_on_a_missing_location_uid_is_read_with_the_profile_switch() -> None:
    """dciodvfy -profile IHEXDSIManifest requires (0040,E011); a KOS as the ANS samples (RetrieveURL only) passes
    with rules.require_retrieve_location_uid = false (a warning), and fails without the switch."""
    missing = "</ReferencedSeriesSequence(0008,1115)[1]/RetrieveLocationUID(0040,e011)> - Missing attribute for Type 1 Required"
    other = "</ReferencedSeriesSequence(0008,1115)[1]/RetrieveAETitle(0008,0054)> - Missing attribute for Type 1 Required"
    found = oracle_findings("-profile IHEXDSIManifest", errors=[missing, other], warnings=[])
    strict = read_oracle_findings(found, RuleOptions())
    assert strict == found and [f.severity for f in strict] == [Severity.ERROR, Severity.ERROR]
    lenient = read_oracle_findings(found, RuleOptions(require_retrieve_location_uid=False))
    assert [(f.location, f.severity) for f in lenient] == [
        ("(0008,1115)[0]>(0040,E011)", Severity.WARNING), ("(0008,1115)[0]>(0008,0054)", Severity.ERROR),
    ]  # fmt: skip
    assert "rules.require_retrieve_location_uid = false" in lenient[0].note and lenient[0].rule == "DCIODVFY"

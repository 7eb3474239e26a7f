"""The reference DRIMbox's KOS builder, from fake C-FIND results (kos-manifest.md)."""

from __future__ import annotations

import datetime as dt
import io

import pydicom
import pytest

from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, dciodvfy_available, run_dciodvfy
from simulators.reference.cda_in import CdaOrder, CdaPatient
from drimva.context import RuleOptions
from drimva.findings import Severity
from drimva.rules.kos import check_kos_structure
from simulators.reference import kos_faults
from simulators.reference.faults import FAULTS, Fault
from simulators.reference.kos_builder import KosSettings, build_kos
from simulators.reference.pacs_client import PacsInstance, PacsStudy

from paths import SHARED
STUDY = "1.2.250.1.213.4.5.2.1.101"
CT = "1.2.840.10008.5.1.4.1.1.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
WADO = "https://127.0.0.1/drimbox/wado-rs/"
LOCATION_UID = "1.2.250.1.999.77.1"
NOW = dt.datetime(2025, 1, 2, 10, 15, 0, tzinfo=dt.timezone.utc)

PATIENT = CdaPatient(
    ins="279035121518989",
    ins_oid="1.2.250.1.213.1.4.10",
    ipp="IPP101",
    ipp_oid="1.2.250.1.213.4.5.2.4",
    birth_name="PAT-TROIS",
    given_name="DOMINIQUE",
    birth_date="19790328",
    sex="F",
)
ORDER = CdaOrder("ACN101", "1.2.250.1.925.994044785528.27", "OPN101", "1.2.250.1.213.4.5.2.6")


def _instance(series: int, number: int, sop_class: str = CT, modality: str = "CT") -> PacsInstance:
    return PacsInstance(
        series_uid=f"1.2.250.1.213.4.5.2.2.101.{series}",
        series_number=str(series),
        modality=modality,
        series_description=f"series {series}",
        sop_instance_uid=f"1.2.250.1.213.4.5.2.3.101.{series}.{number}",
        sop_class_uid=sop_class,
        instance_number=str(number),
    )


# C-FIND answers arrive in any order: instance 2 of series 201 before instance 1.
PACS_STUDY = PacsStudy(
    study_uid=STUDY,
    study_date="20241231",
    study_time="093000",
    study_description="Scanner thoracique",
    study_id="S101",
    accession="ACN101",
    referring_physician="MEDIONI^STEPHANE",
    instances=(
        _instance(201, 2),
        _instance(201, 1),
        _instance(202, 1),
        _instance(202, 2),
        _instance(203, 1, BASIC_TEXT_SR, "SR"),
    ),
)
SETTINGS = KosSettings(wado_base_url=WADO, retrieve_location_uid=LOCATION_UID, retrieve_ae_title="DRIMBOX")


def _build(**changes: object) -> tuple[pydicom.Dataset, object]:
    arguments: dict[str, object] = dict(
        patient=PATIENT, order=ORDER, study=PACS_STUDY, settings=SETTINGS, institution_name="Centre Ambroise", now=NOW
    )
    arguments.update(changes)
    document = build_kos(**arguments)  # type: ignore[arg-type]
    return pydicom.dcmread(io.BytesIO(document.data)), document


@pytest.fixture(scope="module")
def kos() -> pydicom.Dataset:
    return _build()[0]


def test_part10_explicit_little_endian_and_sop(kos: pydicom.Dataset) -> None:
    assert kos.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert kos.file_meta.MediaStorageSOPInstanceUID == kos.SOPInstanceUID
    assert kos.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
    assert kos.SpecificCharacterSet == "ISO_IR 192"
    assert (kos.InstanceCreationDate, kos.InstanceCreationTime) == ("20250102", "101500")
    assert (kos.ContentDate, kos.ContentTime) == ("20250102", "101500")
    assert kos.Modality == "KO" and kos.ReferencedPerformedProcedureStepSequence == []


def test_patient_is_the_ins(kos: pydicom.Dataset) -> None:
    assert str(kos.PatientName) == "PAT-TROIS^DOMINIQUE"
    assert kos.PatientID == "279035121518989"
    assert kos.IssuerOfPatientID == "ASIP-SANTE-INS-NIR"
    qualifier = kos.IssuerOfPatientIDQualifiersSequence[0]
    assert (qualifier.UniversalEntityID, qualifier.UniversalEntityIDType) == ("1.2.250.1.213.1.4.10", "ISO")
    assert (kos.PatientBirthDate, kos.PatientSex) == ("19790328", "F")
    other = {item.PatientID: item for item in kos.OtherPatientIDsSequence}
    assert other["279035121518989"].IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID == "1.2.250.1.213.1.4.10"
    assert other["IPP101"].IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID == "1.2.250.1.213.4.5.2.4"


def test_study_attributes_come_from_the_pacs(kos: pydicom.Dataset) -> None:
    assert kos.StudyInstanceUID == STUDY
    assert (kos.StudyDate, kos.StudyTime, kos.StudyID) == ("20241231", "093000", "S101")
    assert kos.StudyDescription == "Scanner thoracique"
    assert str(kos.ReferringPhysicianName) == "MEDIONI^STEPHANE"
    assert kos.AccessionNumber == ""  # the accession lives in the request item


def test_referenced_request_carries_the_cr_order(kos: pydicom.Dataset) -> None:
    (request,) = kos.ReferencedRequestSequence
    assert request.AccessionNumber == "ACN101"
    assert request.IssuerOfAccessionNumberSequence[0].UniversalEntityID == "1.2.250.1.925.994044785528.27"
    assert request.StudyInstanceUID == STUDY
    assert request.PlacerOrderNumberImagingServiceRequest == "OPN101"
    assert request.OrderPlacerIdentifierSequence[0].UniversalEntityID == "1.2.250.1.213.4.5.2.6"
    assert request.RequestedProcedureID == "" and request.FillerOrderNumberImagingServiceRequest == ""


def test_evidence_lists_every_instance_with_retrieve_url_and_location(kos: pydicom.Dataset) -> None:
    (evidence,) = kos.CurrentRequestedProcedureEvidenceSequence
    assert evidence.StudyInstanceUID == STUDY
    series = {item.SeriesInstanceUID: item for item in evidence.ReferencedSeriesSequence}
    assert list(series) == [f"1.2.250.1.213.4.5.2.2.101.{n}" for n in (201, 202, 203)]
    for uid, item in series.items():
        assert item.RetrieveURL == f"https://127.0.0.1/drimbox/wado-rs/studies/{STUDY}/series/{uid}"
        assert item.RetrieveLocationUID == LOCATION_UID
        assert item.RetrieveAETitle == "DRIMBOX"
    first = series["1.2.250.1.213.4.5.2.2.101.201"].ReferencedSOPSequence
    assert [ref.ReferencedSOPInstanceUID for ref in first] == [
        "1.2.250.1.213.4.5.2.3.101.201.1",
        "1.2.250.1.213.4.5.2.3.101.201.2",
    ]
    referenced = {
        (ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID)
        for item in evidence.ReferencedSeriesSequence
        for ref in item.ReferencedSOPSequence
    }
    assert referenced == {(i.sop_class_uid, i.sop_instance_uid) for i in PACS_STUDY.instances}


def test_content_tree_is_a_manifest(kos: pydicom.Dataset) -> None:
    assert kos.ValueType == "CONTAINER" and kos.ContinuityOfContent == "SEPARATE"
    title = kos.ConceptNameCodeSequence[0]
    assert (title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning) == ("113030", "DCM", "Manifest")
    template = kos.ContentTemplateSequence[0]
    assert (template.MappingResource, template.TemplateIdentifier) == ("DCMR", "2010")
    items = list(kos.ContentSequence)
    assert all(item.RelationshipType == "CONTAINS" for item in items)
    references = {
        item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID: item.ValueType for item in items if item.ValueType != "TEXT"
    }
    assert references == {
        i.sop_instance_uid: ("COMPOSITE" if i.sop_class_uid == BASIC_TEXT_SR else "IMAGE") for i in PACS_STUDY.instances
    }
    (text,) = [item for item in items if item.ValueType == "TEXT"]
    assert text.ConceptNameCodeSequence[0].CodeValue == "113012" and text.TextValue


def test_replacement_keeps_the_series_and_increments_the_instance_number() -> None:
    first, document = _build()
    second, replacement = _build(series_uid=document.series_uid, instance_number=document.instance_number + 1)  # type: ignore[attr-defined]
    assert second.SeriesInstanceUID == first.SeriesInstanceUID
    assert second.SOPInstanceUID != first.SOPInstanceUID
    assert (first.InstanceNumber, second.InstanceNumber) == (1, 2)


def test_retrieve_url_can_be_left_out_for_the_fault_only() -> None:
    kos, _ = _build(settings=KosSettings(WADO, LOCATION_UID, "DRIMBOX", include_retrieve_url=False))
    series = kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert all("RetrieveURL" not in item for item in series)
    assert all(item.RetrieveLocationUID == LOCATION_UID for item in series)


def test_has_every_attribute_of_the_demonstrator_kos(kos: pydicom.Dataset) -> None:
    sample = SHARED / "poc-samples" / "KOS" / "ko.dcm"
    if not sample.exists():
        pytest.skip(f"ANS demonstrator KOS absent: {sample}")
    demonstrator = pydicom.dcmread(sample)
    habits = {"PatientComments", "OtherPatientNames"}  # demonstrator habits, not requirements (kos-manifest.md §3)
    missing = {element.keyword for element in demonstrator if element.keyword not in kos} - habits
    assert missing == set()


@pytest.mark.parametrize("profile", [None, XDSI_MANIFEST_PROFILE])
def test_dciodvfy_finds_no_error(kos: pydicom.Dataset, profile: str | None) -> None:
    if not dciodvfy_available():
        pytest.skip("dciodvfy not installed (apt package dicom3tools)")
    buffer = io.BytesIO()
    kos.save_as(buffer, enforce_file_format=True)
    result = run_dciodvfy(buffer.getvalue(), profile=profile)
    assert result.ran, result.problem
    assert result.errors == [], result.output
    assert result.iod.startswith("KeyObjectSelectionDocument"), result.output


KOS_FAULTS = [f for f in FAULTS if f.name in kos_faults.KOS_FAULT_NAMES]


def _errors(data: bytes) -> set[str]:
    return {f.rule for f in check_kos_structure(data, RuleOptions()) if f.severity is Severity.ERROR}


def test_the_kos_faults_are_those_kos_faults_alter_applies() -> None:
    """Each name kos_faults.alter tests is a declared fault of the reference (none misspelt, none forgotten)."""
    assert len(KOS_FAULTS) == len(kos_faults.KOS_FAULT_NAMES) == 7


@pytest.mark.parametrize("fault", KOS_FAULTS, ids=lambda f: f.name)
def test_each_kos_fault_breaks_its_rules(fault: Fault) -> None:
    """The built KOS is right; with one fault of kos_faults.alter it breaks the rules the fault names."""
    assert _errors(_build()[1].data) == set()  # type: ignore[attr-defined]
    ds, document = _build(alter=lambda built: kos_faults.alter(built, frozenset({fault.name})))
    if fault.name == "kos_template_study_uid":  # a valid UID: only the context (the CR's study) shows it wrong
        assert ds.StudyInstanceUID != STUDY
        assert ds.CurrentRequestedProcedureEvidenceSequence[0].StudyInstanceUID == STUDY
        return
    assert set(fault.rules) <= _errors(document.data)  # type: ignore[attr-defined]

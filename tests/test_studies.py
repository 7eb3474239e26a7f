"""Generated studies: identities, UIDs, distinct pixels, speed, and dciodvfy's verdict on them."""

from __future__ import annotations

import hashlib
import time

import pytest

from drimva.context import Patient
from drimva.dicom_text import part10_bytes, read_part10
from drimva.oracles.dciodvfy import dciodvfy_available, run_dciodvfy
from fixtures.studies import CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, instance_refs, make_study, modalities, study_attributes

PATIENT = Patient(
    ins="279035121518989",
    ins_oid="1.2.250.1.213.1.4.10",
    ipp="IPP101",
    ipp_oid="1.2.250.1.213.4.5.2.4",
    ipp_authority="RIS-DRIMVA",
    birth_name="PAT-TROIS",
    given_name="DOMINIQUE",
    birth_date="19790328",
    sex="F",
)


def test_default_study_shape_and_identity() -> None:
    study = make_study(PATIENT, "ACN101", study_date="20240115", referring_physician="MEDECIN^Paul")
    assert [(ds.Modality, ds.SeriesNumber, ds.InstanceNumber) for ds in study] == [
        ("CT", 1, 1), ("CT", 1, 2), ("CT", 1, 3), ("MR", 2, 1), ("MR", 2, 2)
    ]
    assert [ds.SOPClassUID for ds in study] == [CT_IMAGE_STORAGE] * 3 + [MR_IMAGE_STORAGE] * 2
    assert len({ds.StudyInstanceUID for ds in study}) == 1 and len({ds.SeriesInstanceUID for ds in study}) == 2
    first = study[0]
    assert (first.PatientID, first.IssuerOfPatientID) == ("IPP101", "RIS-DRIMVA")
    assert first.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID == "1.2.250.1.213.4.5.2.4"
    ins = first.OtherPatientIDsSequence[0]
    assert (ins.PatientID, ins.IssuerOfPatientID) == ("279035121518989", "ASIP-SANTE-INS-NIR")
    assert (ins.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID, ins.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityIDType) == ("1.2.250.1.213.1.4.10", "ISO")
    assert (str(first.PatientName), first.PatientBirthDate, first.PatientSex) == ("PAT-TROIS^DOMINIQUE", "19790328", "F")
    assert (first.AccessionNumber, first.StudyDate, str(first.ReferringPhysicianName)) == ("ACN101", "20240115", "MEDECIN^Paul")
    assert "IssuerOfAccessionNumberSequence" not in first


def test_accession_issuer_and_custom_series() -> None:
    study = make_study(PATIENT, "ACN102", series=(("MR", 1),), accession_issuer="1.2.250.1.213.4.5.2.5")
    [ds] = study
    assert ds.IssuerOfAccessionNumberSequence[0].UniversalEntityID == "1.2.250.1.213.4.5.2.5"
    with pytest.raises(ValueError, match="unsupported modality"):
        make_study(PATIENT, "ACN103", series=(("US", 1),))


def test_uids_are_fresh_and_pixels_distinct() -> None:
    one, two = make_study(PATIENT, "ACN101"), make_study(PATIENT, "ACN101")
    uids = [str(ds[key].value) for ds in one + two for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
    assert len(set(uids)) == 2 + 4 + 10
    hashes = {hashlib.sha256(ds.PixelData).hexdigest() for ds in one + two}
    assert len(hashes) == 10
    assert all(len(ds.PixelData) == 16 * 16 * 2 for ds in one)


def test_part10_round_trip_in_explicit_vr_le() -> None:
    ds = make_study(PATIENT, "ACN101")[0]
    data = part10_bytes(ds)
    assert data[128:132] == b"DICM"
    back = read_part10(data)
    assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert back.PixelData == ds.PixelData


def test_helpers() -> None:
    study = make_study(PATIENT, "ACN101", series=(("MR", 1), ("CT", 1), ("MR", 1)), description="IRM et scanner")
    assert modalities(study) == ("MR", "CT")
    refs = instance_refs(study)
    assert [(r.series_uid, r.sop_instance_uid, r.sop_class_uid) for r in refs] == [
        (ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID) for ds in study
    ]
    attributes = study_attributes(study)
    assert attributes["StudyDescription"] == "IRM et scanner" and attributes["AccessionNumber"] == "ACN101"
    assert set(attributes) == {"StudyDate", "StudyTime", "StudyDescription", "StudyID", "AccessionNumber"}
    assert study_attributes([]) == {}


def test_five_instances_in_well_under_50_ms() -> None:
    best = min(_timed() for _ in range(3))
    assert best < 0.05, f"{best * 1000:.1f} ms"


def _timed() -> float:
    started = time.perf_counter()
    make_study(PATIENT, "ACN101")
    return time.perf_counter() - started


def test_dciodvfy_finds_no_error_in_generated_images() -> None:
    if not dciodvfy_available():
        pytest.skip("dciodvfy not installed: apt package dicom3tools")
    study = make_study(PATIENT, "ACN101")
    for ds in (study[0], study[-1]):  # one CT, one MR
        result = run_dciodvfy(part10_bytes(ds))
        assert result.iod in ("CTImage", "MRImage")
        assert result.errors == [], result.output

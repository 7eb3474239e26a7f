"""IOCM rejection notes: the one the PACS simulator sends, as the reference DRIMbox reads it."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from drimva.context import Patient
from drimva.dicom_text import part10_bytes, read_part10
from fixtures.studies import make_study
from simulators.pacs.iocm import REJECTION_TITLES, rejection_note
from simulators.reference.iocm import studies_rejected_by

PATIENT = Patient(ins="279035121518989", birth_name="PAT-IOCM", given_name="UN", birth_date="19790328", sex="F")


@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN-IOCM", series=(("CT", 2), ("MR", 1)))


@pytest.mark.parametrize("code", sorted(REJECTION_TITLES))
def test_a_rejection_note_names_its_study_to_the_reference(study: list[Dataset], code: str) -> None:
    note = read_part10(part10_bytes(rejection_note(study[-2:], (code, REJECTION_TITLES[code]))))  # as sent on the wire
    uid = str(study[0].StudyInstanceUID)
    assert studies_rejected_by(note) == [uid]
    assert note.PatientID == study[0].PatientID and note.Modality == "KO"
    rejected = [str(sop.ReferencedSOPInstanceUID) for series in note.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
                for sop in series.ReferencedSOPSequence]
    assert rejected == [str(ds.SOPInstanceUID) for ds in study[-2:]]


def test_a_kos_titled_otherwise_is_no_rejection_note(study: list[Dataset]) -> None:
    note = rejection_note(study[:1])
    note.ConceptNameCodeSequence[0].CodeValue = "113030"  # Manifest: a KOS, not a rejection
    assert studies_rejected_by(note) == []
    assert rejection_note(study[:1]).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
    with pytest.raises(ValueError):
        rejection_note([])

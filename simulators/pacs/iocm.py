"""IOCM rejection notes the PACS simulator sends to the DRIMbox (``dicom-query-retrieve.md`` §5).

A rejection note is a Key Object Selection document whose title is a rejection
reason (IHE RAD IOCM: (113001, DCM, "Rejected for Quality Reasons") …) and
whose evidence lists the rejected instances. The PACS sends it by C-STORE to
the DRIMbox's AE and no longer returns those instances; the DRIMbox is then to
query the study again and publish a KOS without them (RPLC), or withdraw its
KOS when no instance is left (ANS FAQ 8801).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid
from pynetdicom import AE

KOS_STORAGE = "1.2.840.10008.5.1.4.1.1.88.59"
# IHE RAD TF-3 IOCM, DCM (CID 7011): the rejection titles
REJECTED_FOR_QUALITY = ("113001", "Rejected for Quality Reasons")
REJECTION_TITLES = {
    "113001": "Rejected for Quality Reasons",
    "113037": "Rejected for Patient Safety Reasons",
    "113038": "Incorrect Modality Worklist Entry",
    "113039": "Data Retention Policy Expired",
}
_PATIENT_AND_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                      "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")


def _code(value: str, meaning: str, scheme: str = "DCM") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def rejection_note(rejected: Sequence[Dataset], title: tuple[str, str] = REJECTED_FOR_QUALITY) -> Dataset:
    """The KOS that rejects ``rejected`` (instances of one study), titled ``title`` (a code of REJECTION_TITLES)."""
    if not rejected:
        raise ValueError("a rejection note rejects at least one instance")
    first = rejected[0]
    note = Dataset()
    for keyword in _PATIENT_AND_STUDY:
        if keyword in first:
            setattr(note, keyword, first.get(keyword))
    now = datetime.now()
    note.SOPClassUID, note.SOPInstanceUID = KOS_STORAGE, generate_uid()
    note.Modality, note.SeriesInstanceUID, note.SeriesNumber, note.InstanceNumber = "KO", generate_uid(), 999, 1
    note.ContentDate, note.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    note.Manufacturer = "drimva PACS simulator"
    note.ValueType, note.ContinuityOfContent = "CONTAINER", "SEPARATE"
    note.ConceptNameCodeSequence = DicomSequence([_code(*title)])
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "2010"
    note.ContentTemplateSequence = DicomSequence([template])
    note.ReferencedPerformedProcedureStepSequence = DicomSequence()
    series: dict[str, list[Dataset]] = {}
    for ds in rejected:
        series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    study_item = Dataset()
    study_item.StudyInstanceUID = first.StudyInstanceUID
    study_item.ReferencedSeriesSequence = DicomSequence([_series_item(uid, items) for uid, items in series.items()])
    note.CurrentRequestedProcedureEvidenceSequence = DicomSequence([study_item])
    note.ContentSequence = DicomSequence([_image_item(ds) for ds in rejected])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = UID(KOS_STORAGE), note.SOPInstanceUID
    meta.TransferSyntaxUID, meta.ImplementationClassUID = ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID
    note.file_meta = meta
    return note


def _sop(ds: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    return item


def _series_item(series_uid: str, instances: list[Dataset]) -> Dataset:
    item = Dataset()
    item.SeriesInstanceUID = series_uid
    item.ReferencedSOPSequence = DicomSequence([_sop(ds) for ds in instances])
    return item


def _image_item(ds: Dataset) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "IMAGE"
    item.ReferencedSOPSequence = DicomSequence([_sop(ds)])
    return item


@dataclass(frozen=True)
class StoreOutcome:
    """What the C-STORE of a note got: the DIMSE status, or why there was none (association refused, no answer)."""

    status: int | None
    failure: str = ""


def send_note(note: Dataset, *, calling_ae: str, called_ae: str, host: str, port: int, timeout_s: float) -> StoreOutcome:
    """C-STORE ``note`` to ``called_ae`` at ``host:port`` on an association of its own, bounded by ``timeout_s``."""
    ae = AE(ae_title=calling_ae)
    for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, timer, timeout_s)
    ae.add_requested_context(KOS_STORAGE, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        why = "association rejected" if assoc.is_rejected else "association aborted" if assoc.is_aborted else "no association"
        return StoreOutcome(None, f"{why} by {called_ae} at {host}:{port}")
    try:
        if not any(context.abstract_syntax == KOS_STORAGE for context in assoc.accepted_contexts):
            return StoreOutcome(None, f"{called_ae} accepted no presentation context for Key Object Selection Document Storage")
        answer = assoc.send_c_store(note)
        status = answer.get("Status") if answer is not None else None
        if status is None:
            return StoreOutcome(None, f"no C-STORE response from {called_ae} within {timeout_s:g} s")
        return StoreOutcome(int(status))
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()

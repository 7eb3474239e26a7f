"""The KOS faults that alter the manifest itself, not the builder's inputs (faults.py declares them).

:func:`alter` is the hook :func:`kos_builder.build_kos` calls on the finished data set, file meta
included, just before it is written: the builder stays right by construction and every defect of
the written object is one ``if`` here. Each is a slip a DRIMbox vendor could ship.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
KOS_FAULT_NAMES = frozenset({
    "kos_as_basic_text_sr", "kos_template_study_uid", "kos_no_issuers", "kos_location_uid_is_ae", "kos_no_sop_class",
    "kos_content_by_series", "kos_evidence_off_by_one",
})  # fmt: skip
TEMPLATE_STUDY_UID = "1.2.250.1.999.1.1.1"  # what a template file would carry


def alter(ds: Dataset, faults: frozenset[str]) -> None:
    """Apply the KOS faults of ``faults`` to ``ds`` (a no-op without any)."""
    if "kos_as_basic_text_sr" in faults:  # the manifest written by the vendor's SR module as a narrative report
        ds.SOPClassUID = BASIC_TEXT_SR
        ds.file_meta.MediaStorageSOPClassUID = UID(BASIC_TEXT_SR)
        ds.Modality = "SR"
        title = ds.ConceptNameCodeSequence[0]
        title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = "18748-4", "LN", "Diagnostic Imaging Report"
        ds.ContinuityOfContent = "CONTINUOUS"
        ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    if "kos_template_study_uid" in faults:  # the StudyInstanceUID of the vendor's template file left in place
        ds.StudyInstanceUID = TEMPLATE_STUDY_UID
    if "kos_no_issuers" in faults:  # a writer that knows no issuer sequences: bare identifiers
        del ds.IssuerOfPatientIDQualifiersSequence
        for request in ds.ReferencedRequestSequence:
            request.IssuerOfAccessionNumberSequence = Sequence()
            request.OrderPlacerIdentifierSequence = Sequence()
    if "kos_location_uid_is_ae" in faults:  # RetrieveLocationUID filled with the AE title
        for series in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
            series.RetrieveLocationUID = series.RetrieveAETitle
    if "kos_no_sop_class" in faults:  # the IMAGE-level C-FIND did not ask for SOPClassUID (0008,0016)
        for series in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
            for sop in series.ReferencedSOPSequence:
                sop.ReferencedSOPClassUID = ""
        for item in ds.ContentSequence:
            for sop in item.get("ReferencedSOPSequence", []):
                sop.ReferencedSOPClassUID = ""
    if "kos_content_by_series" in faults:  # one CONTAINER per series under the root (TID 2010 has none)
        _nest_by_series(ds)
    if "kos_evidence_off_by_one" in faults:  # the evidence loop stops one instance short of the content's
        last = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[-1]
        last.ReferencedSOPSequence = Sequence(list(last.ReferencedSOPSequence)[:-1])


def _nest_by_series(ds: Dataset) -> None:
    series_of = {
        sop.ReferencedSOPInstanceUID: series.SeriesInstanceUID
        for series in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
        for sop in series.ReferencedSOPSequence
    }
    groups: dict[str, list[Dataset]] = {}
    others: list[Dataset] = []
    for item in ds.ContentSequence:
        refs = item.get("ReferencedSOPSequence", [])
        if refs:
            groups.setdefault(series_of.get(refs[0].ReferencedSOPInstanceUID, ""), []).append(item)
        else:
            others.append(item)
    containers = []
    for series_uid, items in groups.items():
        container = Dataset()
        container.RelationshipType = "CONTAINS"
        container.ValueType = "CONTAINER"
        name = Dataset()
        name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "112002", "DCM", f"Series {series_uid}"
        container.ConceptNameCodeSequence = Sequence([name])
        container.ContinuityOfContent = "SEPARATE"
        container.ContentSequence = Sequence(items)
        containers.append(container)
    ds.ContentSequence = Sequence(containers + others)

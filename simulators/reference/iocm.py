"""The reference DRIMbox's reading of an IOCM rejection note (IHE RAD IOCM; ``dicom-query-retrieve.md`` §5).

A Key Object Selection document whose Concept Name (the document title) is one
of the IOCM rejection reasons names, in its Current Requested Procedure
Evidence, the studies whose instances the PACS rejected.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
REJECTION_REASONS = frozenset({"113001", "113037", "113038", "113039"})  # DCM, CID 7011


def studies_rejected_by(note: Dataset) -> list[str]:
    """The Study Instance UIDs of a rejection note; [] when ``note`` is no rejection note."""
    if str(note.get("SOPClassUID", "")) != KEY_OBJECT_SELECTION:
        return []
    title = (note.get("ConceptNameCodeSequence") or [Dataset()])[0]
    if str(title.get("CodingSchemeDesignator", "")) != "DCM" or str(title.get("CodeValue", "")) not in REJECTION_REASONS:
        return []
    evidence = note.get("CurrentRequestedProcedureEvidenceSequence") or []
    return [uid for uid in (str(item.get("StudyInstanceUID", "")) for item in evidence) if uid]

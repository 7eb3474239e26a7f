"""What a consumer DRIMbox retrieved, against the KOS and the PACS originals (VA-D2). Pure.

The consumer reads the KOS's evidence triplets (``(0040,A375)``), fetches each
series from its RetrieveURL, and must end with exactly the instances the KOS
references, each with the pixel data the source PACS holds
(AF-IMG-DB-Va2 §4.4 VA-D2; ``dicomweb-between-drimboxes.md`` §5: instances
of the KOS missing from the response are "not found").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO

from pydicom.dataset import Dataset
from pydicom.filereader import dcmread

from drimva.findings import Finding, FindingList
from drimva.rules.kos import tag_path

VA_D2 = "AF-IMG-DB-Va2 §4.4 VA-D2 (the consumer retrieves the images of the KOS from the source DRIMbox)"
KOS_SET = f"{VA_D2}; dicomweb-between-drimboxes.md §5: the instances retrieved are those the KOS references"
PIXELS = f"{VA_D2}: each retrieved instance carries the pixel data of the original in the source PACS"


@dataclass(frozen=True)
class KosSeriesRef:
    """One series of a KOS's evidence: where to fetch it and which instances it must hold."""

    study_uid: str
    series_uid: str
    retrieve_url: str  # "" when the KOS carries none
    sop_instance_uids: tuple[str, ...]
    location: str  # DICOM path of the ReferencedSeriesSequence item


def kos_series_references(kos: bytes | Dataset) -> list[KosSeriesRef]:
    """The series of ``CurrentRequestedProcedureEvidenceSequence``, in order (empty when it is absent)."""
    ds = kos if isinstance(kos, Dataset) else dcmread(BytesIO(kos), force=True)
    refs: list[KosSeriesRef] = []
    for s, study in enumerate(ds.get("CurrentRequestedProcedureEvidenceSequence") or []):
        for r, series in enumerate(study.get("ReferencedSeriesSequence") or []):
            refs.append(
                KosSeriesRef(
                    study_uid=str(study.get("StudyInstanceUID", "")),
                    series_uid=str(series.get("SeriesInstanceUID", "")),
                    retrieve_url=str(series.get("RetrieveURL", "") or ""),
                    sop_instance_uids=tuple(
                        str(item.get("ReferencedSOPInstanceUID", "")) for item in series.get("ReferencedSOPSequence") or []
                    ),
                    location=tag_path("CurrentRequestedProcedureEvidenceSequence", s, "ReferencedSeriesSequence", r),
                )
            )
    return refs


def pixel_sha256(ds: Dataset) -> str | None:
    """SHA-256 of the Pixel Data element's value as encoded (None without pixel data).

    Equal for the same uncompressed pixels in any little-endian syntax; a
    transcoded (compressed) copy does not compare equal.
    """
    value = ds.get("PixelData")
    return hashlib.sha256(value).hexdigest() if value is not None else None


def pixel_digests(datasets: Iterable[Dataset]) -> dict[str, str]:
    """``{SOP Instance UID: pixel SHA-256}`` of the originals (those without pixel data left out)."""
    digests = {str(ds.SOPInstanceUID): pixel_sha256(ds) for ds in datasets}
    return {sop: digest for sop, digest in digests.items() if digest is not None}


def check_retrieval(
    kos: bytes | Dataset,
    received: Mapping[str, str | None],
    expected: Mapping[str, str],
) -> list[Finding]:
    """Judge a retrieval: ``received`` maps each SOP Instance UID the consumer got to the SHA-256 of its
    pixel data (None when it has none); ``expected`` maps the PACS originals' SOP Instance UIDs to theirs.

    Errors: an instance of the KOS not received, an instance received that the
    KOS does not reference, pixel data that differ from (or have no) original.
    """
    out = FindingList(source="retrieved instances")
    referenced: dict[str, str] = {}
    for ref in kos_series_references(kos):
        for index, sop in enumerate(ref.sop_instance_uids):
            referenced.setdefault(sop, f"{ref.location}>(0008,1199)[{index}]>(0008,1155)")
    for sop, location in referenced.items():
        if sop not in received:
            out.add("RETRIEVAL-COMPLETE", KOS_SET, location, f"instance {sop} retrieved", "not received")
    for sop in sorted(set(received) - set(referenced)):
        out.add("RETRIEVAL-ONLY-KOS", KOS_SET, f"retrieved instance {sop}", "only instances the KOS references", f"{sop} is not in the KOS")
    for sop, digest in received.items():
        if sop not in referenced:
            continue
        where = f"retrieved instance {sop} (7FE0,0010)"
        original = expected.get(sop)
        if original is None:
            out.add("RETRIEVAL-PIXELS", PIXELS, where, "an original in the source PACS", "the PACS holds no instance with this SOP Instance UID")
        elif digest is None:
            out.add("RETRIEVAL-PIXELS", PIXELS, where, f"pixel data SHA-256 {original}", None)
        else:
            out.check_equal("RETRIEVAL-PIXELS", PIXELS, where, f"pixel data SHA-256 {original}", f"pixel data SHA-256 {digest}")
    return out.items

"""What the DMP and the PACS simulators saw of a publication (VA-B2, VA-B3), judged.

Why a module: these checks used to be written inside the step bodies of
``alimentation_mes.py``; as rules they are pure, unit-tested, and carry
their catalogue id. They take plain data the simulators recorded (subjects,
statuses, counts), never a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from drimva.findings import Finding, Severity
from drimva.xds import STATUS_APPROVED, STATUS_DEPRECATED

APPROVED, DEPRECATED = STATUS_APPROVED, STATUS_DEPRECATED  # the ebRIM statuses of drimva.xds, as the steps name them


@dataclass(frozen=True)
class SubmissionRecord:
    """One request the DMP simulator answered: the SOAP action, its status, the errors it returned."""

    action: str
    response_status: str
    error_text: str = ""


@dataclass(frozen=True)
class EntryRecord:
    """One DocumentEntry of the DMP registry: its uniqueId and status."""

    unique_id: str
    status: str


def submissions_summary(submissions: Sequence[SubmissionRecord]) -> str:
    """What reached the DMP, for the ``actual`` of a missing publication or withdrawal."""
    if not submissions:
        return "no request reached the DMP"
    return " | ".join(
        f"{s.action or '?'} -> {s.response_status}{' (' + s.error_text + ')' if s.error_text else ''}" for s in submissions
    )


def publication_missing(ins: str, timeout_s: float, submissions: Sequence[SubmissionRecord]) -> Finding:
    """DMP-PUBLICATION: no approved KOS of the patient reached the registry within the time limit."""
    return Finding(
        "DMP-PUBLICATION", "", "DMP registry (ITI-41)",
        f"an approved KOS entry for patient {ins} within {timeout_s} s", submissions_summary(submissions),
    )  # fmt: skip


def check_pacs_query(
    study_uid: str, calling_aes: Sequence[str], declared_ae: str, timeout_s: float, requests_seen: int
) -> list[Finding]:
    """PACS-CFIND: a C-FIND on the study reached the PACS; PACS-CFIND-CALLING-AE: from the declared AE (warning)."""
    if not calling_aes:
        return [Finding(
            "PACS-CFIND", "", "PACS C-FIND identifier (0020,000D)", study_uid,
            f"no C-FIND on this study within {timeout_s} s ({requests_seen} DICOM requests seen in the run)",
        )]  # fmt: skip
    if declared_ae in calling_aes:
        return []
    return [Finding(
        "PACS-CFIND-CALLING-AE", "", "A-ASSOCIATE-RQ calling AE title", declared_ae,
        ", ".join(sorted(set(calling_aes))), Severity.WARNING,
    )]  # fmt: skip


def check_client_certificate(subject: str | None, structure_id: str) -> list[Finding]:
    """DMP-CLIENT-CERT: the ITI-41 came under a TLS client certificate of the organisation (OU = its id)."""
    if subject and f"OU={structure_id}" in subject:
        return []
    return [Finding(
        "DMP-CLIENT-CERT", "", "TLS client certificate subject",
        f"a certificate of the run's CA with OU={structure_id}", subject or "(none presented)",
    )]  # fmt: skip


def check_replaced_deprecated(entry_uuid: str, status: str) -> list[Finding]:
    """XDS-RPLC-DEPRECATES: the entry a replacement targets is no longer Approved."""
    if status != APPROVED:
        return []
    return [Finding("XDS-RPLC-DEPRECATES", "", f"registry entry {entry_uuid}", DEPRECATED, status)]


def check_other_study_kept(entry_uuid: str, study_uid: str, status: str, touched_by: Sequence[str]) -> list[Finding]:
    """DMP-OTHER-STUDY-KEPT: the KOS entry of the patient's other study is still Approved, and no request since the
    correction of this study replaced it or changed its status (``touched_by``: such requests, described)."""
    if status == APPROVED and not touched_by:
        return []
    return [Finding(
        "DMP-OTHER-STUDY-KEPT", "", f"registry entry {entry_uuid} (study {study_uid})",
        "status Approved, untouched by the correction of the other study",
        "; ".join([f"status {status}", *touched_by]),
    )]  # fmt: skip


def check_withdrawn(entry_uuid: str, status: str, timeout_s: float, submissions: Sequence[SubmissionRecord]) -> list[Finding]:
    """DMP-WITHDRAWN: the entry of a deleted report left the Approved status within the time limit."""
    if status != APPROVED:
        return []
    return [Finding(
        "DMP-WITHDRAWN", "", f"registry entry {entry_uuid}", "status Deleted or Deprecated",
        f"still Approved after {timeout_s} s; {submissions_summary(submissions)}",
    )]  # fmt: skip


def check_no_publication(entries: Iterable[EntryRecord]) -> list[Finding]:
    """DMP-NO-PUBLICATION: the registry holds no entry of the patient."""
    found = list(entries)
    if not found:
        return []
    return [Finding(
        "DMP-NO-PUBLICATION", "", "DMP registry (ITI-41)", "no entry for this patient",
        ", ".join(f"{e.unique_id} ({e.status})" for e in found),
    )]  # fmt: skip


def check_dciodvfy_available(available: bool) -> list[Finding]:
    """DCIODVFY: the external oracle is installed; its absence is a warning (the KOS rules still judge)."""
    if available:
        return []
    return [Finding("DCIODVFY", "", "dciodvfy", "installed (apt dicom3tools)", "absent", Severity.WARNING)]


def check_rejection_note(status: int | None, failure: str, called: str) -> list[Finding]:
    """IOCM-NOTE-ACCEPTED: the DRIMbox's AE stores the PACS's IOCM rejection note (C-STORE success, or a warning
    status 0xB000 / 0xB006 / 0xB007); ``failure``: why no status came (association rejected, no KOS context)."""
    if status is not None and (status == 0x0000 or status in (0xB000, 0xB006, 0xB007)):
        return []
    actual = f"C-STORE status 0x{status:04X}" if status is not None else failure or "no C-STORE response"
    return [Finding("IOCM-NOTE-ACCEPTED", "", f"C-STORE of the rejection note to {called}", "status 0x0000 (stored)", actual)]

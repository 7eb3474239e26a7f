"""K and T from the evidence of harness runs (AF-IMG-DB-Va2 §3.3; va-checklist.md §4).

T counts the *initial* imaging reports (ORU^R01 with document OBX-11 ``F``,
MDM^T02) that the RIS simulator sent to the SUT and that the SUT received
(an ACK came back, whatever its code), with a qualified identity (PID-32 in
the qualified list, a well-formed INS with an INS OID in PID-3) and all the
imaging attributes the DRIMbox needs to build the KOS: the CDA carries a Study
Instance UID, an accession number and an order id. A report sent twice (same
CDA id) counts once.

K counts the KOS the DMP simulator registered (ITI-41 answered ``Success``,
KOS DocumentEntries that replace nothing) for the patient (INS of the
DocumentEntry patientId) and study (Study Instance UID of the referenceIdList,
else of the KOS evidence) of a report counted in T, at most one per report:
a second KOS for the same report is counted as a duplicate, not in K, so
K <= T and K/T measures reports left without a KOS (decision: the AF counts
"KOS sent", the harness counts reports served).

Replacements (reports ORU ``C`` / MDM^T10, KOS with an RPLC association),
deletions (reports ORU ``D`` / MDM^T04, ITI-57 status updates) and KOS that
match no report of T are reported separately (va-checklist.md open question 5).

The parsing functions are pure (bytes in, records out); :func:`count_runs`
reads run folders (``results.json`` when present, ``evidence/*/exchanges.jsonl``
and the raw files they name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from drimva.cda import CdaError, parse_cda
from drimva.context import RuleOptions
from drimva.hl7msg import Hl7Error, parse_message
from drimva.rules.hl7_report import extract_cda, is_qualified, report_event
from drimva.rules.xds import REFERENCE_ID_LIST, STUDY_UID_TYPE, kos_entries
from drimva.wado import WadoParseError, parse_request
from drimva.xds import (
    ASSOC_RPLC,
    DE_PATIENT_ID,
    DE_UNIQUE_ID,
    XdsParseError,
    external_id,
    parse_provide_and_register,
    parse_update_document_set,
)

SOURCE = "AF-IMG-DB-Va2 §3.3"
TARGET = Decimal("0.99")
RIS_CHANNEL = "ris"
DMP_CHANNEL = "dmp"
EVIDENCE_DIR = "evidence"
RESULTS_FILE = "results.json"
QUALIFIED_STATUSES = RuleOptions().qualified_identity_statuses


class RunFolderError(ValueError):
    """A folder is not a readable run folder; the message names the file."""


# -- pure parsing --------------------------------------------------------------------------


@dataclass(frozen=True)
class SentReport:
    """What one HL7 report message sent to the SUT carries, for K and T."""

    control_id: str
    event: str  # initial / replace / delete / unknown
    ins: str
    study_uids: tuple[str, ...]
    document_id: str  # CDA id root^extension, or MSH-10 when the CDA is unreadable
    missing: tuple[str, ...]  # why it is not in T (empty: it is)

    @property
    def in_t(self) -> bool:
        return self.event == "initial" and not self.missing


def read_report(raw: bytes, qualified_statuses: Sequence[str] = QUALIFIED_STATUSES) -> SentReport | None:
    """The report facts of an HL7 message, None when it is not an HL7 message."""
    try:
        message = parse_message(raw)
    except Hl7Error:
        return None
    event: str
    try:
        event = report_event(message)
    except ValueError:
        event = "unknown"
    missing: list[str] = []
    if not is_qualified(message, tuple(qualified_statuses)):
        missing.append(f"identity not qualified (PID-32 {message.get('PID-32') or '(empty)'}, PID-3 INS)")
    ins_cx = message.cx_by_type("PID-3", "INS")
    studies: tuple[str, ...] = ()
    document_id = message.control_id
    cda_bytes = extract_cda(message)
    cda = None
    if cda_bytes is not None:
        try:
            cda = parse_cda(cda_bytes)
        except CdaError:
            cda = None
    if cda is None:
        missing.append("no readable CDA in the document OBX")
    else:
        studies = tuple(cda.study_uids)
        if cda.id_root:
            document_id = f"{cda.id_root}^{cda.id_extension}"
        for value, name in ((cda.study_uids, "Study Instance UID"), (cda.accession, "accession number"), (cda.order_id, "order id")):
            if not value:
                missing.append(f"no {name} in the CDA")
    return SentReport(message.control_id, event, ins_cx.id if ins_cx else "", studies, document_id, tuple(missing))


@dataclass(frozen=True)
class PublishedKos:
    unique_id: str
    ins: str
    study_uids: tuple[str, ...]
    replaces: bool  # the entry is the source of an RPLC association


def read_publication(raw_http: bytes) -> list[PublishedKos]:
    """The KOS DocumentEntries of an ITI-41 request saved as HTTP; XdsParseError when unreadable."""
    submission = parse_provide_and_register(*_http(raw_http))
    replacing = {a.source for a in submission.associations if a.type == ASSOC_RPLC}
    found = []
    for entry in kos_entries(submission):
        studies = tuple(
            value.split("^")[0]
            for value in entry.slots.get(REFERENCE_ID_LIST, [])
            if value.split("^")[-1] == STUDY_UID_TYPE
        ) or _kos_studies(submission.documents.get(entry.id))
        patient = external_id(entry, DE_PATIENT_ID) or ""
        found.append(
            PublishedKos(external_id(entry, DE_UNIQUE_ID) or entry.id, patient.split("^")[0], studies, entry.id in replacing)
        )
    return found


def read_status_updates(raw_http: bytes) -> int:
    """How many availability-status updates (ITI-57 deletions) an HTTP request carries."""
    return len(parse_update_document_set(*_http(raw_http)).status_updates)


def _http(raw: bytes) -> tuple[bytes, str]:
    """(body, Content-Type) of an HTTP request saved as received."""
    try:
        request = parse_request(raw)
    except WadoParseError as error:
        raise XdsParseError(f"not an HTTP request: {error}") from None
    return request.body or b"", request.headers.get("Content-Type") or ""


def _kos_studies(document: bytes | None) -> tuple[str, ...]:
    if not document:
        return ()
    try:
        dataset = pydicom.dcmread(BytesIO(document), force=True, stop_before_pixels=True)
        items = dataset.get("CurrentRequestedProcedureEvidenceSequence") or []
        return tuple(str(item.StudyInstanceUID) for item in items if item.get("StudyInstanceUID"))
    except (InvalidDicomError, ValueError, EOFError, OSError, KeyError, TypeError, AttributeError):
        return ()


# -- counting ------------------------------------------------------------------------------


@dataclass
class KtCounts:
    t: int = 0
    k: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)  # run id, SUT, fault of each folder
    reports: list[dict[str, Any]] = field(default_factory=list)  # the reports of T, each with its KOS or none
    not_in_t: list[dict[str, Any]] = field(default_factory=list)  # initial reports left out of T, with why
    not_received: int = 0  # reports the SUT never acknowledged
    replacement_reports: int = 0
    deletion_reports: int = 0
    kos_replacements: int = 0
    kos_deletions: int = 0
    kos_duplicates: int = 0  # further KOS for a report of T that already has one
    kos_unmatched: int = 0  # initial KOS that match no report of T (e.g. preloaded, unqualified)
    unreadable: list[str] = field(default_factory=list)  # evidence files that could not be read

    @property
    def rate(self) -> Decimal | None:
        return rate(self.k, self.t)

    def to_dict(self) -> dict[str, Any]:
        r = self.rate
        return {
            "K": self.k,
            "T": self.t,
            "K/T": None if r is None else float(r),
            "target_reached": meets_target(self.k, self.t),
            "runs": self.runs,
            "reports": self.reports,
            "initial_reports_not_in_T": self.not_in_t,
            "reports_not_acknowledged": self.not_received,
            "replacement_reports": self.replacement_reports,
            "deletion_reports": self.deletion_reports,
            "kos_replacements": self.kos_replacements,
            "kos_deletions": self.kos_deletions,
            "kos_duplicates": self.kos_duplicates,
            "kos_not_matching_T": self.kos_unmatched,
            "unreadable_evidence": self.unreadable,
        }


def rate(k: int, t: int) -> Decimal | None:
    """K/T rounded to 4 decimals, None when T = 0."""
    return None if t == 0 else (Decimal(k) / Decimal(t)).quantize(Decimal("0.0001"))


def meets_target(k: int, t: int) -> bool | None:
    """K/T >= 99 % (exact arithmetic), None when T = 0."""
    return None if t == 0 else 100 * k >= 99 * t


def count_runs(run_dirs: Iterable[Path], qualified_statuses: Sequence[str] = QUALIFIED_STATUSES) -> KtCounts:
    """K and T over one or more run folders (RunFolderError when one is not a run folder)."""
    counts = KtCounts()
    t_reports: dict[str, dict[str, Any]] = {}  # document id -> report record
    publications: list[PublishedKos] = []
    for run_dir in run_dirs:
        exchanges = _load_run(Path(run_dir), counts)
        evidence = Path(run_dir) / EVIDENCE_DIR
        acknowledged = {
            e["meta"].get("in_reply_to")
            for e in exchanges
            if e.get("channel") == RIS_CHANNEL and e["meta"].get("direction") == "received" and "error" not in e["meta"]
        }
        successes = {
            e["meta"].get("submission")
            for e in exchanges
            if e.get("channel") == DMP_CHANNEL and str(e.get("label", "")).startswith("response-") and e["meta"].get("status") == "Success"
        }
        for exchange in exchanges:
            meta = exchange["meta"]
            channel, label = exchange.get("channel"), str(exchange.get("label", ""))
            if channel == RIS_CHANNEL and meta.get("direction") == "sent":
                _count_report(counts, t_reports, evidence, exchange, meta.get("control_id") in acknowledged, qualified_statuses)
            elif channel == DMP_CHANNEL and label.startswith("request-") and meta.get("submission") in successes:
                raw = _raw(evidence, exchange, counts)
                if raw is None:
                    continue
                try:
                    if meta.get("service") == "repository":
                        publications.extend(read_publication(raw))
                    elif meta.get("service") == "registry":
                        counts.kos_deletions += read_status_updates(raw)
                except XdsParseError:
                    pass  # a registry query (ITI-18) or another transaction: not a publication
    _match(counts, t_reports, publications)
    return counts


def _load_run(run_dir: Path, counts: KtCounts) -> list[dict[str, Any]]:
    evidence = run_dir / EVIDENCE_DIR
    if not evidence.is_dir():
        raise RunFolderError(f"{run_dir}: not a run folder (no {EVIDENCE_DIR}/ folder)")
    results = run_dir / RESULTS_FILE
    run: dict[str, Any] = {"folder": str(run_dir)}
    if results.exists():
        try:
            data = json.loads(results.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunFolderError(f"{results}: not a readable results file ({error})") from None
        run.update({key: data.get(key) for key in ("run_id", "kind", "sut", "fault")})
    counts.runs.append(run)
    exchanges: list[dict[str, Any]] = []
    for log in sorted(evidence.glob("*/exchanges.jsonl")):
        for number, line in enumerate(log.read_text("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                counts.unreadable.append(f"{log}:{number}")  # a line cut by a crash
                continue
            record.setdefault("meta", {})
            exchanges.append(record)
    exchanges.sort(key=lambda e: e.get("seq", 0))
    return exchanges


def _raw(evidence: Path, exchange: dict[str, Any], counts: KtCounts) -> bytes | None:
    path = evidence / str(exchange.get("raw_path", ""))
    try:
        return path.read_bytes()
    except OSError:
        counts.unreadable.append(str(path))
        return None


def _count_report(
    counts: KtCounts,
    t_reports: dict[str, dict[str, Any]],
    evidence: Path,
    exchange: dict[str, Any],
    acknowledged: bool,
    qualified_statuses: Sequence[str],
) -> None:
    raw = _raw(evidence, exchange, counts)
    report = read_report(raw, qualified_statuses) if raw is not None else None
    if report is None:
        if raw is not None:
            counts.unreadable.append(str(evidence / str(exchange.get("raw_path", ""))))
        return
    if not acknowledged:
        counts.not_received += 1
        return
    if report.event == "replace":
        counts.replacement_reports += 1
    elif report.event == "delete":
        counts.deletion_reports += 1
    elif report.in_t:
        t_reports.setdefault(
            report.document_id,
            {
                "scenario": exchange.get("scenario", ""),
                "control_id": report.control_id,
                "ins": report.ins,
                "study_uids": list(report.study_uids),
                "kos": None,
            },
        )
    elif report.event == "initial":
        counts.not_in_t.append({"scenario": exchange.get("scenario", ""), "control_id": report.control_id, "why": list(report.missing)})


def _match(counts: KtCounts, t_reports: dict[str, dict[str, Any]], publications: list[PublishedKos]) -> None:
    seen: set[str] = set()
    for kos in publications:
        if kos.replaces:
            counts.kos_replacements += 1
            continue
        if kos.unique_id in seen:
            continue  # the same KOS registered twice is one KOS
        seen.add(kos.unique_id)
        report = next(
            (r for r in t_reports.values() if r["ins"] == kos.ins and set(r["study_uids"]) & set(kos.study_uids)),
            None,
        )
        if report is None:
            counts.kos_unmatched += 1
        elif report["kos"] is None:
            report["kos"] = kos.unique_id
        else:
            counts.kos_duplicates += 1
    counts.reports = list(t_reports.values())
    counts.t = len(counts.reports)
    counts.k = sum(1 for r in counts.reports if r["kos"] is not None)

"""The PACS the harness plays for the DRIMbox under test (VA-B2, retrieval, IOCM).

A pynetdicom SCP on a real socket: C-ECHO, Patient / Study Root C-FIND,
C-MOVE and C-GET, and C-STORE into its own store. Every request is written to
the evidence sink (channel ``pacs``) before it is answered, and kept as a
``DimseRecord`` that steps and rules can inspect; final responses are
summarised in the evidence too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, DEFAULT_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_context, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from drimva.dicom_text import dataset_bytes, dump_dataset, dump_lines, part10_bytes
from drimva.evidence import EvidenceSink, seq_of
from simulators.common.dicom_scp import ServedScp
from simulators.pacs.matching import (
    PATIENT_ROOT_LEVELS,
    STUDY_ROOT_LEVELS,
    QueryError,
    check_hierarchical,
    find_responses,
    query_level,
    select_instances,
)
from simulators.pacs.iocm import REJECTED_FOR_QUALITY, StoreOutcome, rejection_note, send_note
from simulators.pacs.store import StudyStore

CHANNEL = "pacs"
QR_SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian]
# Storage: the uncompressed syntaxes plus those seen in DRIM-M (dicom-query-retrieve.md §7) and RLE.
# Not all 45 that pynetdicom knows: acceptor negotiation cost grows with contexts x syntaxes (~90 ms
# per association with all of them, ~35 ms with these).
STORAGE_SYNTAXES = [
    *DEFAULT_TRANSFER_SYNTAXES,
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
]
PATIENT_ROOT = {
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelMove,
    PatientRootQueryRetrieveInformationModelGet,
}
_PENDING = {0xFF00, 0xFF01}
_RSP_SERVICE = {"C_ECHO_RSP": "C-ECHO", "C_FIND_RSP": "C-FIND", "C_MOVE_RSP": "C-MOVE", "C_GET_RSP": "C-GET", "C_STORE_RSP": "C-STORE"}


@dataclass
class DimseRecord:
    """One DIMSE request the PACS received; ``status`` is the final status it answered."""

    at: float
    service: str  # C-ECHO / C-FIND / C-MOVE / C-GET / C-STORE
    calling_ae: str
    called_ae: str
    peer: tuple[str, int]
    level: str
    identifier: Dataset
    matches: int = 0
    status: int | None = None
    move_destination: str = ""
    sop_class_uid: str = ""
    message_id: int = 0
    exchange: int | None = None  # sequence number of the recorded request

    @property
    def study_uids(self) -> list[str]:
        value = self.identifier.get("StudyInstanceUID", "")
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value]


class PacsSimulator(ServedScp):
    """A PACS: Q/R SCP (FIND / MOVE / GET) and Storage SCP, in memory."""

    def __init__(
        self,
        evidence: EvidenceSink,
        ae_title: str = "DRIMVA_PACS",
        host: str = "127.0.0.1",
        port: int = 0,
        move_destinations: Mapping[str, tuple[str, int]] | None = None,
        minimal_keys: bool = False,
        relational_queries: bool = True,
        timeout: float = 5.0,
    ) -> None:
        self.evidence = evidence
        self.ae_title = ae_title
        self.host = host
        self.minimal_keys = minimal_keys
        self.relational_queries = relational_queries
        self.timeout = timeout
        self.store = StudyStore()
        self.requests: list[DimseRecord] = []
        self._requested_port = port
        self._destinations: dict[str, tuple[str, int]] = dict(move_destinations or {})
        self._open: dict[tuple[int, int], DimseRecord] = {}
        self._changed = threading.Condition()
        self._ae = self._make_ae()

    # -- life cycle -----------------------------------------------------------
    def _scp_handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        return [
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_DIMSE_SENT, self._on_sent),
        ]

    def _scp_name(self) -> str:
        return f"pacs-{self.ae_title}"

    # -- content and configuration -------------------------------------------
    def add_study(self, datasets: Sequence[Dataset]) -> None:
        self.store.add(datasets)

    def remove_study(self, study_uid: str) -> int:
        return self.store.remove_study(study_uid)

    def reject(
        self, instances: Sequence[Dataset], *, to_ae: str, host: str, port: int, title: tuple[str, str] = REJECTED_FOR_QUALITY
    ) -> tuple[StoreOutcome, tuple[int, ...]]:
        """IOCM: stop returning ``instances``, then C-STORE their rejection note to ``to_ae`` at ``host:port``.

        The note and its outcome are written to the evidence (the note before it is sent); returns the outcome
        and the sequence numbers of those records."""
        self.store.remove(str(ds.SOPInstanceUID) for ds in instances)
        note = rejection_note(instances, title)
        sent = self.evidence.record(
            CHANNEL, "IOCM rejection note C-STORE-rq", part10_bytes(note),
            dump_lines([("service", "C-STORE (IOCM)"), ("association", f"{self.ae_title} -> {to_ae} at {host}:{port}"),
                        ("title", f"({title[0]}, DCM, {title[1]!r})"), ("rejected", len(instances))])
            + "\n" + dump_dataset(note, "rejection note"),
            {"service": "C-STORE", "iocm": True, "called_ae": to_ae, "peer": f"{host}:{port}"}, "dcm",
        )
        outcome = send_note(note, calling_ae=self.ae_title, called_ae=to_ae, host=host, port=port, timeout_s=self.timeout)
        answer = f"0x{outcome.status:04X}" if outcome.status is not None else outcome.failure
        answered = self.evidence.record(
            CHANNEL, f"IOCM rejection note C-STORE-rsp {answer}", answer.encode("utf-8"),
            dump_lines([("service", "C-STORE-RSP (IOCM)"), ("status", answer)]),
            {"service": "C-STORE", "iocm": True, "status": outcome.status, "failure": outcome.failure}, "txt",
        )
        return outcome, tuple(seq for seq in (seq_of(sent), seq_of(answered)) if seq is not None)

    def add_move_destination(self, ae_title: str, host: str, port: int) -> None:
        self._destinations[ae_title] = (host, port)

    # -- what was asked ----------------------------------------------------------
    def requests_for_study(self, study_uid: str, service: str | None = None) -> list[DimseRecord]:
        with self._changed:
            return [
                r for r in self.requests if study_uid in r.study_uids and (service is None or r.service == service)
            ]

    def clear_requests(self) -> None:
        with self._changed:
            self.requests.clear()

    def wait_for_request(
        self, predicate: Callable[[DimseRecord], bool], timeout: float = 10.0, answered: bool = True
    ) -> DimseRecord | None:
        """The first record matching ``predicate`` (and answered, by default), or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self.requests:
                    if predicate(record) and (not answered or record.status is not None):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    # -- internals ---------------------------------------------------------------
    def _make_ae(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, timer, self.timeout)
        ae.add_supported_context(Verification, QR_SYNTAXES)
        for model in (
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelMove,
            StudyRootQueryRetrieveInformationModelGet,
            *PATIENT_ROOT,
        ):
            ae.add_supported_context(model, QR_SYNTAXES)
        for context in AllStoragePresentationContexts:
            # scp_role: accept a C-GET requestor acting as Storage SCP on this association
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, STORAGE_SYNTAXES, scu_role=False, scp_role=True)
        return ae

    def _begin(self, event: Any, service: str, identifier: Dataset, level: str = "", destination: str = "") -> DimseRecord:
        assoc: Association = event.assoc
        request = event.request
        record = DimseRecord(
            at=time.time(),
            service=service,
            calling_ae=str(assoc.requestor.ae_title).strip(),
            called_ae=str(assoc.acceptor.ae_title).strip(),
            peer=(str(assoc.requestor.address), int(assoc.requestor.port)),
            level=level,
            identifier=identifier,
            move_destination=destination,
            sop_class_uid=str(event.context.abstract_syntax),
            message_id=int(request.MessageID),
        )
        details = dump_lines(
            [
                ("service", service),
                ("association", f"{record.calling_ae} -> {record.called_ae} from {record.peer[0]}:{record.peer[1]}"),
                ("SOP class", record.sop_class_uid),
                ("transfer syntax", event.context.transfer_syntax),
                ("message id", record.message_id),
                ("level", level or "-"),
                ("move destination", destination or "-"),
            ]
        )
        if service == "C-STORE":
            raw, suffix, title = part10_bytes(identifier), "dcm", "C-STORE data set (Part 10)"
        else:
            raw, suffix, title = dataset_bytes(identifier), "ds", "identifier (Explicit VR LE data set, no file meta)"
        recorded = self.evidence.record(
            CHANNEL,
            f"{service}-rq {level}".strip(),
            raw,
            details + "\n" + dump_dataset(identifier, title),
            {
                "service": service,
                "calling_ae": record.calling_ae,
                "called_ae": record.called_ae,
                "peer": f"{record.peer[0]}:{record.peer[1]}",
                "level": level,
                "move_destination": destination,
                "message_id": record.message_id,
            },
            suffix,
        )
        record.exchange = seq_of(recorded)
        with self._changed:  # visible to the steps once recorded: evidence first, then judgement
            self.requests.append(record)
            self._open[(id(assoc), record.message_id)] = record
        return record

    def _finish(self, record: DimseRecord, status: int, matches: int | None = None) -> None:
        with self._changed:
            if matches is not None:
                record.matches = matches
            record.status = status
            self._changed.notify_all()

    def _on_echo(self, event: Any) -> int:
        self._begin(event, "C-ECHO", Dataset())
        return 0x0000

    def _on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        patient_root = event.context.abstract_syntax in PATIENT_ROOT
        levels = PATIENT_ROOT_LEVELS if patient_root else STUDY_ROOT_LEVELS
        record = self._begin(event, "C-FIND", identifier, str(identifier.get("QueryRetrieveLevel", "")))
        try:
            level = query_level(identifier, levels)
            if not self.relational_queries:
                check_hierarchical(identifier, level, levels)
            responses = find_responses(
                self.store.candidates(identifier),
                identifier,
                level,
                retrieve_ae_title=self.ae_title,
                minimal_keys=self.minimal_keys,
                related=self.store.related,
            )
        except QueryError as exc:
            record.matches = 0
            yield exc.status, None
            return
        record.matches = len(responses)
        for response in responses:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, response

    def _retrieve(self, event: Any, service: str, destination: str = "") -> tuple[DimseRecord, list[Dataset] | int]:
        identifier = event.identifier
        patient_root = event.context.abstract_syntax in PATIENT_ROOT
        levels = PATIENT_ROOT_LEVELS if patient_root else STUDY_ROOT_LEVELS
        record = self._begin(event, service, identifier, str(identifier.get("QueryRetrieveLevel", "")), destination)
        try:
            query_level(identifier, levels)
            matches = select_instances(self.store.candidates(identifier), identifier)
        except QueryError as exc:
            return record, exc.status
        record.matches = len(matches)
        return record, matches

    def _on_move(self, event: Any) -> Iterator[Any]:
        destination = str(event.move_destination).strip()
        _, matches = self._retrieve(event, "C-MOVE", destination)
        address = self._destinations.get(destination)
        if address is None:
            yield None, None  # pynetdicom answers A801 (move destination unknown)
            return
        if isinstance(matches, int):
            # pynetdicom would open the sub-association before reading any status, so fail here:
            # it answers Cxxx (unable to process), logged with this reason
            raise QueryError(matches, f"C-MOVE identifier cannot be processed (0x{matches:04X})")
        yield address[0], address[1], {"contexts": _storage_contexts(matches)}
        yield len(matches)
        for ds in matches:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, ds

    def _on_get(self, event: Any) -> Iterator[Any]:
        _, matches = self._retrieve(event, "C-GET")
        if isinstance(matches, int):
            yield 1
            yield matches, None
            return
        yield len(matches)
        for ds in matches:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, ds

    def _on_store(self, event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        record = self._begin(event, "C-STORE", ds, "IMAGE")
        record.matches = 1
        self.store.add([ds])
        return 0x0000

    def _on_sent(self, event: Any) -> None:
        message = event.message
        service = _RSP_SERVICE.get(type(message).__name__)
        if service is None:
            return
        command = message.command_set
        status = int(command.get("Status", 0))
        if status in _PENDING:
            return
        key = (id(event.assoc), int(command.get("MessageIDBeingRespondedTo", 0)))
        with self._changed:
            record = self._open.pop(key, None)
        counts = {
            name: int(command.get(name))
            for name in (
                "NumberOfRemainingSuboperations",
                "NumberOfCompletedSuboperations",
                "NumberOfFailedSuboperations",
                "NumberOfWarningSuboperations",
            )
            if command.get(name) is not None
        }
        details: list[tuple[str, object]] = [("service", f"{service}-RSP"), ("status", f"0x{status:04X}")]
        if record is not None:
            details.append(("matches", record.matches))
        details += list(counts.items())
        self.evidence.record(
            CHANNEL,
            f"{service}-rsp 0x{status:04X}",
            dataset_bytes(command, implicit_vr=True),
            dump_lines(details),
            {"service": service, "status": status, "matches": record.matches if record else None, **counts},
            "ds",
        )
        if record is not None:
            self._finish(record, status)


def _storage_contexts(datasets: Sequence[Dataset]) -> list[Any]:
    """One presentation context per SOP class (and compressed transfer syntax) to move."""
    wanted: dict[tuple[str, tuple[str, ...]], None] = {}
    for ds in datasets:
        syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ExplicitVRLittleEndian))
        syntaxes = (syntax,) if syntax not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) else (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        wanted[(str(ds.SOPClassUID), syntaxes)] = None
    return [build_context(sop_class, list(syntaxes)) for sop_class, syntaxes in list(wanted)[:128]]

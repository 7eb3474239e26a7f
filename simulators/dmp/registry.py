"""The DMP simulator's document registry and repository: state and registry behaviour, no I/O.

It behaves like an XDS.b registry, not like a judge: it refuses what a
registry refuses (missing document or metadata, hash / size mismatch,
unknown patient, unresolvable RPLC target) and answers with ebRS error
codes; deep conformance of the metadata is the rules' job
(``drimva.rules.xds``). Entries are keyed by entryUUID; ITI-18 queries go
through ``find_documents`` / ``get_documents``, and ``as_registered`` gives an
entry's metadata as a registry returns it (entryUUID ids, status,
``repositoryUniqueId``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from drimva.xds import (
    ASSOC_RPLC,
    DE_EVENT_CODE_LIST,
    DOCUMENT_ENTRY_STABLE,
    DE_PATIENT_ID,
    DE_UNIQUE_ID,
    STATUS_APPROVED,
    STATUS_DELETED_ASIP,
    STATUS_DEPRECATED,
    SS_PATIENT_ID,
    DocumentEntry,
    ProvideAndRegister,
    UpdateDocumentSet,
    external_id,
)

ACCEPTED_NEW_STATUSES = (STATUS_APPROVED, STATUS_DEPRECATED, STATUS_DELETED_ASIP)
PATIENT_ID = re.compile(r"^[^^&]+\^\^\^&[0-9.]+&ISO(\^[A-Z]*)?$")

# Error code names used by the simulator -> code sent (overridable: the DMP's annex A7-1 is not public).
DEFAULT_ERROR_CODES: dict[str, str] = {
    "missing_document": "XDSMissingDocument",
    "missing_metadata": "XDSMissingDocumentMetadata",
    "hash": "XDSNonIdenticalHash",
    "size": "XDSNonIdenticalSize",
    "metadata": "XDSRegistryMetadataError",
    "unknown_patient": "XDSUnknownPatientId",
    "patient_mismatch": "XDSPatientIdDoesNotMatch",
    "duplicate_unique_id": "XDSDuplicateUniqueIdInRegistry",
    "unresolved": "UnresolvedReferenceException",
    "update": "XDSMetadataUpdateError",
    "query_param": "XDSStoredQueryParamNumber",
    "unknown_query": "XDSUnknownStoredQuery",
    "document_unique_id": "XDSDocumentUniqueIdError",
    "unknown_repository": "XDSUnknownRepositoryId",
}


@dataclass(frozen=True)
class RegistryError:
    code: str
    context: str
    location: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.context}" + (f" ({self.location})" if self.location else "")


@dataclass(frozen=True)
class StatusChange:
    at: float
    status: str
    cause: str


@dataclass
class RegistryEntry:
    entry_uuid: str
    unique_id: str
    patient_id: str
    status: str
    mime_type: str
    document: bytes
    submission_index: int
    submitted_id: str  # the id the submitter used (symbolic or urn:uuid)
    metadata: DocumentEntry
    status_history: list[StatusChange] = field(default_factory=list)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.document).hexdigest()


class Registry:
    """Thread-safe registry + repository."""

    def __init__(self, known_patient_ids: Iterable[str] = (), error_codes: Mapping[str, str] | None = None) -> None:
        self.known_patient_ids = set(known_patient_ids)
        self.codes = {**DEFAULT_ERROR_CODES, **(error_codes or {})}
        self._lock = threading.RLock()
        self._entries: dict[str, RegistryEntry] = {}

    # -- queries ---------------------------------------------------------------------
    def entries(self) -> list[RegistryEntry]:
        with self._lock:
            return list(self._entries.values())

    def find(self, ref: str) -> RegistryEntry | None:
        """An entry by entryUUID, or else by uniqueId (the most recent one)."""
        with self._lock:
            if ref in self._entries:
                return self._entries[ref]
            matches = [e for e in self._entries.values() if e.unique_id == ref]
            return matches[-1] if matches else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- ITI-18 -----------------------------------------------------------------------
    def find_documents(
        self,
        patient_id: str,
        statuses: Iterable[str],
        event_codes: Iterable[Iterable[str]] = (),
    ) -> list[RegistryEntry]:
        """FindDocuments: entries of the patient in one of ``statuses``; each group of
        ``event_codes`` (``code^^scheme``) must match at least one eventCode (AND of ORs)."""
        wanted = set(statuses)
        groups = [set(group) for group in event_codes]
        with self._lock:
            found = []
            for entry in self._entries.values():
                if entry.patient_id != patient_id or entry.status not in wanted:
                    continue
                codes = {f"{c.node_representation}^^{c.coding_scheme or ''}" for c in entry.metadata.classifications if c.scheme == DE_EVENT_CODE_LIST}
                if all(group & codes for group in groups):
                    found.append(entry)
            return found

    def get_documents(self, unique_ids: Iterable[str] = (), entry_uuids: Iterable[str] = ()) -> list[RegistryEntry]:
        """GetDocuments: entries by uniqueId (every version) or by entryUUID, whatever their status."""
        uids, uuids = set(unique_ids), set(entry_uuids)
        with self._lock:
            return [e for e in self._entries.values() if e.unique_id in uids or e.entry_uuid in uuids]

    def find_by_reference_id(self, patient_id: str, statuses: Iterable[str], reference_ids: Iterable[str]) -> list[RegistryEntry]:
        """FindDocumentsByReferenceId: entries whose referenceIdList holds one of ``reference_ids``."""
        wanted = set(reference_ids)
        return [
            e
            for e in self.find_documents(patient_id, statuses)
            if wanted & set(e.metadata.slots.get("urn:ihe:iti:xds:2013:referenceIdList", []))
        ]

    @staticmethod
    def as_registered(entry: RegistryEntry, repository_unique_id: str) -> DocumentEntry:
        """The entry's metadata as the registry returns it (LeafClass): ids rewritten to the entryUUID."""
        meta = entry.metadata
        slots = {**meta.slots, "repositoryUniqueId": [repository_unique_id]}
        slots.setdefault("size", [str(len(entry.document))])
        slots.setdefault("hash", [entry.sha1])
        return replace(
            meta,
            id=entry.entry_uuid,
            object_type=meta.object_type or DOCUMENT_ENTRY_STABLE,
            status=entry.status,
            slots=slots,
            classifications=[replace(c, id="", classified_object=entry.entry_uuid) for c in meta.classifications],
        )

    # -- ITI-41 -----------------------------------------------------------------------
    def register(self, request: ProvideAndRegister, submission_index: int) -> tuple[list[RegistryError], dict[str, str]]:
        """Store the documents and register the entries, all or nothing. Returns (errors, id map)."""
        with self._lock:
            errors = self._check_submission(request)
            if errors:
                return errors, {}
            now = time.time()
            id_map: dict[str, str] = {}
            ss = request.submission_set
            objects = [ss.id] if ss is not None else []
            objects += [e.id for e in request.document_entries] + [a.id for a in request.associations]
            for obj_id in objects:
                id_map[obj_id] = obj_id if obj_id.startswith("urn:uuid:") else f"urn:uuid:{uuid.uuid4()}"
            for entry in request.document_entries:
                new = RegistryEntry(
                    entry_uuid=id_map[entry.id],
                    unique_id=external_id(entry, DE_UNIQUE_ID) or "",
                    patient_id=external_id(entry, DE_PATIENT_ID) or "",
                    status=STATUS_APPROVED,
                    mime_type=entry.mime_type,
                    document=request.documents[entry.id],
                    submission_index=submission_index,
                    submitted_id=entry.id,
                    metadata=entry,
                    status_history=[StatusChange(now, STATUS_APPROVED, f"ITI-41 submission {submission_index}")],
                )
                self._entries[new.entry_uuid] = new
            for assoc in request.associations:
                if assoc.type == ASSOC_RPLC:
                    old = self.find(assoc.target)
                    if old is not None:
                        self._set_status(old, STATUS_DEPRECATED, f"RPLC by {id_map[assoc.source]} (submission {submission_index})", now)
            return [], id_map

    def _check_submission(self, request: ProvideAndRegister) -> list[RegistryError]:
        c = self.codes
        errors: list[RegistryError] = []
        ss = request.submission_set
        ss_patient = external_id(ss, SS_PATIENT_ID) if ss is not None else None
        if ss is None:
            errors.append(RegistryError(c["metadata"], "no SubmissionSet (RegistryPackage classified as submission set)"))
        elif not ss_patient:
            errors.append(RegistryError(c["metadata"], "SubmissionSet has no patientId", ss.id))
        if not request.document_entries:
            errors.append(RegistryError(c["metadata"], "no DocumentEntry in the submission"))
        entry_ids = {e.id for e in request.document_entries}
        seen_unique: set[str] = set()
        for entry in request.document_entries:
            unique_id = external_id(entry, DE_UNIQUE_ID)
            patient_id = external_id(entry, DE_PATIENT_ID)
            if not unique_id:
                errors.append(RegistryError(c["metadata"], "DocumentEntry has no uniqueId", entry.id))
            if not patient_id:
                errors.append(RegistryError(c["metadata"], "DocumentEntry has no patientId", entry.id))
            else:
                errors.extend(self._check_patient(patient_id, entry.id))
                if ss_patient and patient_id != ss_patient:
                    errors.append(
                        RegistryError(c["patient_mismatch"], f"entry patientId {patient_id} != SubmissionSet patientId {ss_patient}", entry.id)
                    )
            document = request.documents.get(entry.id)
            if document is None:
                why = request.document_errors.get(entry.id, "no Document element for this entry")
                errors.append(RegistryError(c["missing_document"], why, entry.id))
                continue
            digest = hashlib.sha1(document).hexdigest()
            declared_hash = entry.slot("hash")
            if declared_hash is not None and declared_hash.lower() != digest:
                errors.append(RegistryError(c["hash"], f"hash slot {declared_hash} != SHA-1 of the document {digest}", entry.id))
            declared_size = entry.slot("size")
            if declared_size is not None and declared_size.strip() != str(len(document)):
                errors.append(RegistryError(c["size"], f"size slot {declared_size} != document length {len(document)}", entry.id))
            if unique_id:
                if unique_id in seen_unique:
                    errors.append(RegistryError(c["duplicate_unique_id"], f"uniqueId {unique_id} twice in the submission", entry.id))
                seen_unique.add(unique_id)
                existing = [e for e in self._entries.values() if e.unique_id == unique_id]
                if existing and existing[-1].sha1 != digest:
                    errors.append(RegistryError(c["hash"], f"uniqueId {unique_id} already registered with another hash", entry.id))
                elif existing:
                    errors.append(RegistryError(c["duplicate_unique_id"], f"uniqueId {unique_id} already registered", entry.id))
        for doc_id in request.documents:
            if doc_id not in entry_ids:
                errors.append(RegistryError(c["missing_metadata"], "Document without a DocumentEntry", doc_id))
        for assoc in request.associations:
            if assoc.type != ASSOC_RPLC:
                continue
            if assoc.source not in entry_ids:
                errors.append(RegistryError(c["metadata"], f"RPLC source {assoc.source} is not an entry of this submission", assoc.id))
            old = self.find(assoc.target)
            if old is None:
                errors.append(RegistryError(c["unresolved"], f"RPLC target {assoc.target} is not in the registry", assoc.id))
            elif old.status != STATUS_APPROVED:
                errors.append(RegistryError(c["metadata"], f"RPLC target {assoc.target} is {old.status}, not Approved", assoc.id))
        return errors

    def _check_patient(self, patient_id: str, location: str) -> list[RegistryError]:
        if not PATIENT_ID.match(patient_id):
            return [RegistryError(self.codes["unknown_patient"], f"patientId {patient_id!r} is not a CX id^^^&OID&ISO", location)]
        if self.known_patient_ids and patient_id not in self.known_patient_ids:
            return [RegistryError(self.codes["unknown_patient"], f"patientId {patient_id} is unknown to the DMP", location)]
        return []

    # -- ITI-57 -----------------------------------------------------------------------
    def update_status(self, update: UpdateDocumentSet, submission_index: int) -> tuple[list[RegistryError], str | None]:
        """Apply UpdateAvailabilityStatus associations, all or nothing. Returns (errors, new status used)."""
        c = self.codes
        with self._lock:
            changes = update.status_updates
            errors: list[RegistryError] = []
            if not changes:
                errors.append(RegistryError(c["update"], "no UpdateAvailabilityStatus association"))
            targets = []
            for change in changes:
                entry = self.find(change.target)
                targets.append(entry)
                if entry is None:
                    errors.append(RegistryError(c["unresolved"], f"target {change.target} is not in the registry", change.association_id))
                    continue
                if change.original_status != entry.status:
                    errors.append(
                        RegistryError(c["update"], f"OriginalStatus {change.original_status} != current status {entry.status}", change.association_id)
                    )
                if change.new_status not in ACCEPTED_NEW_STATUSES:
                    errors.append(RegistryError(c["update"], f"NewStatus {change.new_status} is not accepted", change.association_id))
            if errors:
                return errors, None
            now = time.time()
            for change, entry in zip(changes, targets):
                assert entry is not None and change.new_status is not None
                self._set_status(entry, change.new_status, f"ITI-57 submission {submission_index}", now)
            return [], changes[-1].new_status

    def _set_status(self, entry: RegistryEntry, status: str, cause: str, at: float) -> None:
        entry.status = status
        entry.status_history.append(StatusChange(at, status, cause))

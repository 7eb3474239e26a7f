"""The DMP / Mon espace santé simulator: XDS.b repository and registry over HTTPS with mutual TLS.

Services (``{base}/si-dmp-server/v2/services/<service>``):

- ``repository``: ITI-41 Provide and Register Document Set-b (MTOM/XOP required)
  and ITI-43 Retrieve Document Set (request plain SOAP or MTOM, response MTOM
  with each document as a binary part);
- ``registry``: ITI-57 Update Document Set and ITI-18 Registry Stored Query
  (FindDocuments, GetDocuments, FindDocumentsByReferenceId; LeafClass or
  ObjectRef), plain SOAP 1.2.

``preload`` registers a KOS as if a DRIMbox had published it (VA-D1 tests).
The repository's uniqueId (returned in LeafClass metadata and expected in
ITI-43 requests) is a constructor setting: the DMP's own value is not public.

Every request is written to the evidence sink (channel ``dmp``) before it is
processed, every response before it is sent. A request without a client
certificate gets a SOAP 1.2 ``Sender`` fault; a certificate the run's CA did
not issue is refused by TLS (see ``simulators.common.https``), and the
refusal is recorded too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping

from drimva.dicom_text import dump_dataset, read_part10
from drimva.evidence import EvidenceSink, seqs_of
from drimva.mime import build_multipart_related
from drimva.rules.vihf import validity_problems
from drimva.xds import (
    ACTION_ITI18,
    ACTION_ITI18_RESPONSE,
    ACTION_ITI41,
    ACTION_ITI41_RESPONSE,
    ACTION_ITI43,
    ACTION_ITI43_RESPONSE,
    ACTION_ITI57,
    ACTION_ITI57_RESPONSE,
    QUERY_FIND_BY_REFERENCE_ID,
    QUERY_FIND_DOCUMENTS,
    QUERY_GET_DOCUMENTS,
    RESPONSE_FAILURE,
    RESPONSE_PARTIAL_SUCCESS,
    RESPONSE_SUCCESS,
    RETURN_LEAF_CLASS,
    RETURN_OBJECT_REF,
    ProvideAndRegister,
    RetrievedDocument,
    RetrieveRequest,
    SoapMessage,
    StoredQuery,
    UpdateDocumentSet,
    XdsParseError,
    adhoc_query_response,
    parse_provide_and_register,
    parse_retrieve_request,
    parse_soap_message,
    parse_stored_query,
    parse_update_document_set,
    registry_response,
    retrieve_response_xml,
    soap_envelope,
    soap_fault,
)
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, ServedOverHttps, decoded_view
from simulators.dmp.preload import KosFacts, kos_submission
from simulators.dmp.registry import Registry, RegistryEntry, RegistryError

SERVICE_ROOT = "/si-dmp-server/v2/services"
REPOSITORY_PATH = f"{SERVICE_ROOT}/repository"  # ITI-41, ITI-43
REGISTRY_PATH = f"{SERVICE_ROOT}/registry"  # ITI-57, ITI-18
CHANNEL = "dmp"
ROOT_CID = "<root.message@drimva.dmp>"
DEFAULT_REPOSITORY_UNIQUE_ID = "1.2.250.1.213.4.1.1.2"  # not public; configurable
PRELOAD_INDEX = -1  # submission_index of preloaded entries (no request was received)


@dataclass
class Submission:
    """One request the DMP received, and what it answered."""

    index: int
    at: float
    service: str  # "repository", "registry" or the unknown path
    transaction: str  # "ITI-41", "ITI-57", "ITI-18", "ITI-43" or "unknown"
    action: str | None
    peer_subject: str | None  # RFC 4514 subject of the client certificate, None without one
    body: bytes
    content_type: str
    model: ProvideAndRegister | UpdateDocumentSet | StoredQuery | RetrieveRequest | None = None
    parse_error: str | None = None
    response_status: str = ""  # "Success", "Failure" or "Fault"
    http_status: int = 0
    errors: list[RegistryError] = field(default_factory=list)
    fault: str | None = None  # reason of a SOAP fault
    id_map: dict[str, str] = field(default_factory=dict)  # submitted id -> registry urn:uuid
    status_used: str | None = None  # ITI-57: the NewStatus URN applied
    returned: list[str] = field(default_factory=list)  # ITI-18: entryUUIDs answered; ITI-43: document uniqueIds sent
    exchanges: tuple[int, ...] = ()  # sequence numbers of the recorded request and response

    @property
    def accepted(self) -> bool:
        return self.response_status == "Success"

    @property
    def client_subject(self) -> str | None:
        return self.peer_subject

    @property
    def request(self) -> ProvideAndRegister | None:
        """The parsed ITI-41 request, if this submission was one."""
        return self.model if isinstance(self.model, ProvideAndRegister) else None

    @property
    def update(self) -> UpdateDocumentSet | None:
        """The parsed ITI-57 request, if this submission was one."""
        return self.model if isinstance(self.model, UpdateDocumentSet) else None

    @property
    def query(self) -> StoredQuery | None:
        """The parsed ITI-18 request, if this submission was one."""
        return self.model if isinstance(self.model, StoredQuery) else None

    @property
    def retrieve(self) -> RetrieveRequest | None:
        """The parsed ITI-43 request, if this submission was one."""
        return self.model if isinstance(self.model, RetrieveRequest) else None

    @property
    def error_text(self) -> str:
        return "; ".join(str(e) for e in self.errors) or (self.fault or "")


@dataclass(frozen=True)
class TlsRejection:
    at: float
    client_address: tuple[str, int]
    reason: str


class DmpSimulator(ServedOverHttps):
    """``with DmpSimulator(evidence, cert, key, ca) as dmp: ... dmp.repository_url ...``"""

    def __init__(
        self,
        evidence: EvidenceSink,
        server_cert: Path,
        server_key: Path,
        ca_cert: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        require_client_cert: bool = True,
        known_patient_ids: Iterable[str] = (),
        error_codes: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        repository_unique_id: str = DEFAULT_REPOSITORY_UNIQUE_ID,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.evidence = evidence
        self.clock = clock  # the instant a VIHF's validity window is judged at (a test replays a capture at its own time)
        self.require_client_cert = require_client_cert
        self.repository_unique_id = repository_unique_id
        self.registry = Registry(known_patient_ids, error_codes)
        self._lock = threading.RLock()
        self._submissions: list[Submission] = []
        self._tls_rejections: list[TlsRejection] = []
        self._server = HttpsServer(
            self._handle,
            server_cert,
            server_key,
            ca_cert,
            host=host,
            port=port,
            client_auth="optional",
            timeout=timeout,
            on_tls_error=self._on_tls_error,
        )

    # -- lifecycle -------------------------------------------------------------------

    @property
    def repository_url(self) -> str:
        return f"{self.base_url}{REPOSITORY_PATH}"

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}{REGISTRY_PATH}"

    # -- state for the steps -------------------------------------------------------------
    @property
    def submissions(self) -> list[Submission]:
        with self._lock:
            return list(self._submissions)

    @property
    def tls_rejections(self) -> list[TlsRejection]:
        with self._lock:
            return list(self._tls_rejections)

    # The registry is read under the request lock: a request changes it before its submission is
    # recorded, so a reader in between would see an entry whose submission is not in ``submissions`` yet.
    def entries(self) -> list[RegistryEntry]:
        with self._lock:
            return self.registry.entries()

    def entry(self, ref: str) -> RegistryEntry | None:
        """An entry by entryUUID or uniqueId."""
        with self._lock:
            return self.registry.find(ref)

    def preload(
        self,
        kos: bytes,
        *,
        patient_id: str,
        unique_id: str | None = None,
        facts: KosFacts | None = None,
        **metadata: object,
    ) -> RegistryEntry:
        """Register ``kos`` as a DRIMbox's ITI-41 publication would (same code path, same checks).

        ``metadata`` keywords are ``KosFacts`` fields (modalities, accession_issuer,
        order_id, act_code, organisation, ...). Raises ``ValueError`` when the
        registry refuses it. Recorded in the evidence (label ``preload``).
        """
        facts = facts or KosFacts(**metadata)  # type: ignore[arg-type]
        model = kos_submission(kos, patient_id=patient_id, unique_id=unique_id, facts=facts)
        self.evidence.record(
            CHANNEL,
            "preload",
            kos,
            f"KOS preloaded in the registry for {patient_id} (uniqueId {unique_id or '(SOP Instance UID)'})",
            {"patient_id": patient_id, "unique_id": unique_id, "size": len(kos)},
            "dcm",
        )
        errors, id_map = self.registry.register(model, PRELOAD_INDEX)
        if errors:
            raise ValueError("preload refused: " + "; ".join(str(e) for e in errors))
        entry = self.registry.find(id_map["DocumentKOS"])
        assert entry is not None
        return entry

    def clear(self) -> None:
        with self._lock:
            self._submissions.clear()
            self._tls_rejections.clear()
            self.registry.clear()

    # -- HTTP -----------------------------------------------------------------------
    def _on_tls_error(self, client_address: tuple[str, int], reason: str) -> None:
        with self._lock:
            self._tls_rejections.append(TlsRejection(time.time(), client_address, reason))
        self.evidence.record(
            CHANNEL,
            "tls-refused",
            reason.encode("utf-8"),
            f"TLS handshake with {client_address[0]}:{client_address[1]} refused: {reason}",
            {"client": f"{client_address[0]}:{client_address[1]}"},
            "txt",
        )

    def _handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:  # one request at a time: the registry's order is the arrival order
            index = len(self._submissions)
            service = request.path[len(SERVICE_ROOT) + 1 :] if request.path.startswith(SERVICE_ROOT + "/") else request.path
            meta = {"submission": index, "service": service, "peer": request.peer_subject_rfc4514}
            recorded = self.evidence.record(
                CHANNEL,
                f"request-{index}-{service}",
                request.raw(),
                decoded_view(f"{request.method} {request.target} {request.version}", request.headers, request.body),
                meta,
                "http",
            )
            submission = Submission(
                index=index,
                at=time.time(),
                service=service,
                transaction="unknown",
                action=None,
                peer_subject=request.peer_subject_rfc4514,
                body=request.body,
                content_type=request.content_type,
            )
            response = self._process(request, service, submission)
            submission.http_status = response.status
            answered = self.evidence.record(
                CHANNEL,
                f"response-{index}-{submission.response_status or response.status}",
                response.raw(),
                decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body),
                {**meta, "status": submission.response_status, "http_status": response.status},
                "http",
            )
            submission.exchanges = seqs_of(recorded, answered)
            self._submissions.append(submission)
            return response

    def _process(self, request: HttpRequest, service: str, submission: Submission) -> HttpResponse:
        if service not in ("repository", "registry"):
            submission.response_status = "Fault"
            submission.fault = f"unknown service path {request.path}"
            return HttpResponse(404, [("Content-Type", "text/plain")], submission.fault.encode())
        if request.method != "POST":
            submission.response_status = "Fault"
            submission.fault = f"method {request.method} not allowed"
            return HttpResponse(405, [("Content-Type", "text/plain"), ("Allow", "POST")], submission.fault.encode())
        if self.require_client_cert and request.peer_cert is None:
            return self._fault(submission, "Sender", "no client certificate: the DMP requires TLS client authentication with an organisation certificate (IGC-Santé ORG AUTH CLI)")
        try:
            soap = parse_soap_message(request.body, request.content_type)
        except XdsParseError as exc:
            submission.parse_error = str(exc)
            return self._fault(submission, "Sender", f"request cannot be read: {exc}")
        submission.action = soap.action
        if soap.soap_version != "1.2":
            return self._fault(submission, "VersionMismatch", "SOAP 1.1 envelope; the DMP speaks SOAP 1.2", relates_to=soap.message_id)
        if service == "repository" and soap.action == ACTION_ITI41:
            submission.transaction = "ITI-41"
            return self._provide_and_register(request, soap, submission)
        if service == "registry" and soap.action == ACTION_ITI57:
            submission.transaction = "ITI-57"
            return self._update_document_set(request, soap, submission)
        if service == "registry" and soap.action == ACTION_ITI18:
            submission.transaction = "ITI-18"
            return self._stored_query(request, soap, submission)
        if service == "repository" and soap.action == ACTION_ITI43:
            submission.transaction = "ITI-43"
            return self._retrieve(request, soap, submission)
        reason = f"action {soap.action!r} is not supported on service {service}"
        return self._fault(submission, "Sender", reason, "wsa:ActionNotSupported", soap.message_id)

    def _provide_and_register(self, request: HttpRequest, soap: SoapMessage, submission: Submission) -> HttpResponse:
        if soap.mtom is None:
            return self._fault(submission, "Sender", "ITI-41 must be sent as MTOM/XOP (multipart/related), not as plain SOAP", relates_to=soap.message_id)
        try:
            model = parse_provide_and_register(request.body, request.content_type)
        except XdsParseError as exc:
            submission.parse_error = str(exc)
            return self._fault(submission, "Sender", f"ProvideAndRegisterDocumentSetRequest cannot be read: {exc}", relates_to=soap.message_id)
        submission.model = model
        if model.assertion is not None:
            expired = validity_problems(model.assertion, self.clock())
            if expired:  # SAML Core §2.5.1.2: an assertion outside its validity window is not to be relied upon
                location, expected, actual, why = expired[0]
                return self._fault(submission, "Sender", f"VIHF assertion not valid ({why}): {location} = {actual}, expected {expected}",
                                   relates_to=soap.message_id)
        self._record_documents(model, submission.index)
        errors, id_map = self.registry.register(model, submission.index)
        submission.errors, submission.id_map = errors, id_map
        submission.response_status = "Failure" if errors else "Success"
        envelope = soap_envelope(
            ACTION_ITI41_RESPONSE,
            registry_response(RESPONSE_FAILURE if errors else RESPONSE_SUCCESS, [(e.code, e.context, e.location) for e in errors]),
            relates_to=soap.message_id,
        )
        body, content_type = build_multipart_related(
            [
                (
                    [
                        ("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
                        ("Content-Transfer-Encoding", "binary"),
                        ("Content-ID", ROOT_CID),
                    ],
                    envelope,
                )
            ]
        )
        return HttpResponse(200, [("Content-Type", content_type)], body)

    def _record_documents(self, model: ProvideAndRegister, index: int) -> None:
        """Each attached document on its own, DICOM ones with a dump, before registration."""
        for entry in model.document_entries:
            data = model.documents.get(entry.id)
            if data is None:
                continue
            is_dicom = entry.mime_type == "application/dicom"
            decoded = None
            if is_dicom:
                try:
                    decoded = dump_dataset(read_part10(data), f"document {entry.id} of request {index}")
                except Exception as exc:  # noqa: BLE001 - an unreadable KOS is for the rules to judge
                    decoded = f"document {entry.id}: not readable as DICOM Part 10 ({exc})"
            self.evidence.record(
                CHANNEL,
                f"document-{index}-{entry.mime_type}",
                data,
                decoded,
                {"submission": index, "entry": entry.id, "mime_type": entry.mime_type, "size": len(data)},
                "dcm" if is_dicom else "bin",
            )

    def _update_document_set(self, request: HttpRequest, soap: SoapMessage, submission: Submission) -> HttpResponse:
        try:
            model = parse_update_document_set(request.body, request.content_type)
        except XdsParseError as exc:
            submission.parse_error = str(exc)
            return self._fault(submission, "Sender", f"UpdateDocumentSet cannot be read: {exc}", relates_to=soap.message_id)
        submission.model = model
        errors, status = self.registry.update_status(model, submission.index)
        submission.errors, submission.status_used = errors, status
        submission.response_status = "Failure" if errors else "Success"
        envelope = soap_envelope(
            ACTION_ITI57_RESPONSE,
            registry_response(RESPONSE_FAILURE if errors else RESPONSE_SUCCESS, [(e.code, e.context, e.location) for e in errors]),
            relates_to=soap.message_id,
        )
        content_type = f'application/soap+xml; charset=UTF-8; action="{ACTION_ITI57_RESPONSE}"'
        return HttpResponse(200, [("Content-Type", content_type)], envelope)

    def _stored_query(self, request: HttpRequest, soap: SoapMessage, submission: Submission) -> HttpResponse:
        try:
            query = parse_stored_query(request.body, request.content_type)
        except XdsParseError as exc:
            submission.parse_error = str(exc)
            return self._fault(submission, "Sender", f"AdhocQueryRequest cannot be read: {exc}", relates_to=soap.message_id)
        submission.model = query
        errors, entries = self._run_query(query)
        submission.errors = errors
        submission.returned = [e.entry_uuid for e in entries]
        submission.response_status = "Failure" if errors else "Success"
        if errors:
            body = adhoc_query_response(RESPONSE_FAILURE, errors=[(e.code, e.context, e.location) for e in errors])
        elif query.return_type == RETURN_OBJECT_REF:
            body = adhoc_query_response(RESPONSE_SUCCESS, object_refs=submission.returned)
        else:
            body = adhoc_query_response(RESPONSE_SUCCESS, [Registry.as_registered(e, self.repository_unique_id) for e in entries])
        envelope = soap_envelope(ACTION_ITI18_RESPONSE, body, relates_to=soap.message_id)
        content_type = f'application/soap+xml; charset=UTF-8; action="{ACTION_ITI18_RESPONSE}"'
        return HttpResponse(200, [("Content-Type", content_type)], envelope)

    def _run_query(self, query: StoredQuery) -> tuple[list[RegistryError], list[RegistryEntry]]:
        codes = self.registry.codes

        def missing(name: str) -> list[RegistryError]:
            return [RegistryError(codes["query_param"], f"{query.query_name}: required parameter {name} missing", name)]

        if query.return_type not in (RETURN_LEAF_CLASS, RETURN_OBJECT_REF):
            return [RegistryError(codes["query_param"], f"returnType {query.return_type!r} is not LeafClass or ObjectRef")], []
        if query.query_id in (QUERY_FIND_DOCUMENTS, QUERY_FIND_BY_REFERENCE_ID):
            patient_ids = query.values("$XDSDocumentEntryPatientId")
            statuses = query.values("$XDSDocumentEntryStatus")
            if len(patient_ids) != 1:
                return missing("$XDSDocumentEntryPatientId") if not patient_ids else [
                    RegistryError(codes["query_param"], "FindDocuments takes one $XDSDocumentEntryPatientId", "$XDSDocumentEntryPatientId")
                ], []
            if not statuses:
                return missing("$XDSDocumentEntryStatus"), []
            if query.query_id == QUERY_FIND_BY_REFERENCE_ID:
                references = query.values("$XDSDocumentEntryReferenceIdList")
                if not references:
                    return missing("$XDSDocumentEntryReferenceIdList"), []
                return [], self.registry.find_by_reference_id(patient_ids[0], statuses, references)
            event_codes = query.parameters.get("$XDSDocumentEntryEventCodeList", [])
            return [], self.registry.find_documents(patient_ids[0], statuses, event_codes)
        if query.query_id == QUERY_GET_DOCUMENTS:
            unique_ids = query.values("$XDSDocumentEntryUniqueId")
            uuids = query.values("$XDSDocumentEntryEntryUUID")
            if bool(unique_ids) == bool(uuids):
                return [
                    RegistryError(codes["query_param"], "GetDocuments takes either $XDSDocumentEntryUniqueId or $XDSDocumentEntryEntryUUID", query.query_id)
                ], []
            return [], self.registry.get_documents(unique_ids, uuids)
        return [RegistryError(codes["unknown_query"], f"stored query {query.query_id!r} is not supported", query.query_id)], []

    def _retrieve(self, request: HttpRequest, soap: SoapMessage, submission: Submission) -> HttpResponse:
        try:
            retrieve = parse_retrieve_request(request.body, request.content_type)
        except XdsParseError as exc:
            submission.parse_error = str(exc)
            return self._fault(submission, "Sender", f"RetrieveDocumentSetRequest cannot be read: {exc}", relates_to=soap.message_id)
        submission.model = retrieve
        codes = self.registry.codes
        errors: list[RegistryError] = []
        found: list[RegistryEntry] = []
        if not retrieve.documents:
            errors.append(RegistryError(codes["document_unique_id"], "no DocumentRequest"))
        for wanted in retrieve.documents:
            entry = self.registry.find(wanted.document_unique_id) if wanted.document_unique_id else None
            if wanted.repository_unique_id != self.repository_unique_id:
                errors.append(RegistryError(codes["unknown_repository"], f"repository {wanted.repository_unique_id!r} is not {self.repository_unique_id}", wanted.document_unique_id))
            elif entry is None or entry.unique_id != wanted.document_unique_id:
                errors.append(RegistryError(codes["document_unique_id"], f"document {wanted.document_unique_id!r} is not in the repository", wanted.document_unique_id))
            else:
                found.append(entry)
        status = RESPONSE_SUCCESS if not errors else (RESPONSE_PARTIAL_SUCCESS if found else RESPONSE_FAILURE)
        submission.errors = errors
        submission.returned = [e.unique_id for e in found]
        submission.response_status = status.rsplit(":", 1)[-1]
        documents = [
            RetrievedDocument(self.repository_unique_id, e.unique_id, e.mime_type, f"cid:document{index}@drimva.dmp")
            for index, e in enumerate(found, 1)
        ]
        envelope = soap_envelope(
            ACTION_ITI43_RESPONSE,
            retrieve_response_xml(status, documents, [(e.code, e.context, e.location) for e in errors]),
            relates_to=soap.message_id,
        )
        parts = [
            (
                [
                    ("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
                    ("Content-Transfer-Encoding", "binary"),
                    ("Content-ID", ROOT_CID),
                ],
                envelope,
            )
        ]
        for index, entry in enumerate(found, 1):
            parts.append(
                (
                    [
                        ("Content-Type", entry.mime_type or "application/octet-stream"),
                        ("Content-Transfer-Encoding", "binary"),
                        ("Content-ID", f"<document{index}@drimva.dmp>"),
                    ],
                    entry.document,
                )
            )
        body, content_type = build_multipart_related(parts, action=ACTION_ITI43_RESPONSE)
        return HttpResponse(200, [("Content-Type", content_type)], body)

    def _fault(
        self,
        submission: Submission,
        code: str,
        reason: str,
        subcode: str | None = None,
        relates_to: str | None = None,
    ) -> HttpResponse:
        submission.response_status = "Fault"
        submission.fault = reason
        body = soap_fault(code, reason, subcode, relates_to)
        return HttpResponse(500, [("Content-Type", "application/soap+xml; charset=UTF-8")], body)


__all__ = ["DEFAULT_REPOSITORY_UNIQUE_ID", "DmpSimulator", "Submission", "TlsRejection"]

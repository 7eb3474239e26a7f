"""The peer DRIMbox, source side: an HTTPS WADO-RS server the consumer under test fetches from (VA-D2).

``GET {base}/studies/{study}[/series/{series}[/instances/{sop}]]`` with
``Authorization: Bearer``, ``KOS-SOPInstanceUID`` and a WADO-RS ``Accept``
list (``dicomweb-between-drimboxes.md`` §2-§5). Checks, in this order:
401 (the injected token check fails), 400 (no ``KOS-SOPInstanceUID``, an
unreadable Accept), 404 (unknown study / series / instance, a path this
source does not serve, or a KOS that does not reference what is asked),
406 (no acceptable transfer syntax: studies are stored and served in
Explicit VR Little Endian), else 200 with ``multipart/related;
type="application/dicom"`` of the instances the KOS references there.
Every request and every response is written to the evidence before it is
answered; the response's view lists its parts (SOP UIDs, sizes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from drimva.context import Patient
from drimva.dicom_text import part10_bytes
from drimva.dicomweb import AcceptError, build_multipart, choose_transfer_syntax
from drimva.evidence import EvidenceSink
from drimva.wado import Headers, WadoRequest, parse_retrieve_path
from fixtures.studies import make_kos
from simulators.common.https import ClientAuth, HttpRequest, HttpResponse, HttpsServer, ServedOverHttps, decoded_view

CHANNEL = "peer-source"
STORED_SYNTAX = str(ExplicitVRLittleEndian)


class TokenVerdict(Protocol):
    """What the injected token check returns (``drimva.tokens.TokenCheck`` fits)."""

    @property
    def valid(self) -> bool: ...


TokenCheck = Callable[[str | None], TokenVerdict]


@dataclass(frozen=True)
class _Instance:
    study: str
    series: str
    sop: str
    data: bytes  # Part 10, Explicit VR LE


@dataclass
class SourceRequest:
    """One request the source answered (for steps that ask what the consumer did)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    status: int = 0
    reason: str = ""
    sop_instance_uids: list[str] = field(default_factory=list)
    part_sizes: list[int] = field(default_factory=list)
    transfer_syntax: str = ""
    version: str = "HTTP/1.1"
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def as_wado(self) -> WadoRequest:
        """The request as the WADO-RS rules read it (``drimva.rules.wado.check_wado_request``)."""
        return WadoRequest(self.method, self.target, self.version, Headers(tuple(self.headers)), self.body)


BASE_PATH = "/drimbox/wado-rs"  # the WADO-RS root of a peer source: RetrieveURL = https://host:port{BASE_PATH}/studies/…


class PeerSource(ServedOverHttps):
    """``PeerSource(evidence, cert, key, token_check=...)``; ``start()`` / ``stop()`` or a context manager."""

    def __init__(
        self,
        evidence: EvidenceSink,
        cert: Path,
        key: Path,
        *,
        token_check: TokenCheck,
        host: str = "127.0.0.2",
        port: int = 0,
        base_path: str = BASE_PATH,
        ca: Path | None = None,
        client_auth: ClientAuth = "none",
        timeout: float = 10.0,
    ) -> None:
        self.evidence = evidence
        self.token_check = token_check
        self.base_path = "/" + base_path.strip("/")
        self.requests: list[SourceRequest] = []
        self._instances: dict[str, _Instance] = {}  # by SOP Instance UID, in insertion order
        self._kos: dict[str, set[str]] = {}  # KOS SOP Instance UID -> SOP Instance UIDs it references
        self._lock = threading.Lock()
        self._server = HttpsServer(
            self._handle, cert, key, ca, host=host, port=port, client_auth=client_auth, timeout=timeout,
            on_tls_error=self._tls_error,
        )

    # -- life cycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``https://<host>:<port><base_path>``: what a RetrieveURL starts with (the server must be started)."""
        return self._server.base_url + self.base_path

    def series_url(self, study_uid: str, series_uid: str) -> str:
        return f"{self.base_url}/studies/{study_uid}/series/{series_uid}"

    # -- content --------------------------------------------------------------------
    def add_study(
        self, datasets: Sequence[Dataset], kos_sop_instance_uid: str, referenced: Iterable[str] | None = None
    ) -> None:
        """Serve ``datasets`` to requests naming this KOS; it references ``referenced`` (default: all of them)."""
        stored = [_stored(ds) for ds in datasets]
        wanted = set(referenced) if referenced is not None else {i.sop for i in stored}
        with self._lock:
            for instance in stored:
                self._instances[instance.sop] = instance
            self._kos.setdefault(kos_sop_instance_uid, set()).update(wanted)

    def make_kos_for(
        self,
        datasets: Sequence[Dataset],
        patient: Patient,
        *,
        accession: str,
        accession_issuer: str,
        order_id: str,
        order_root: str,
        retrieve_location_uid: str = "1.2.250.1.999.1.2",
        register: bool = True,
    ) -> bytes:
        """A conformant KOS (Part 10) whose RetrieveURLs point at this source; served from now on when ``register``."""
        kos = make_kos(
            datasets, patient, accession=accession, accession_issuer=accession_issuer, order_id=order_id,
            order_root=order_root, wado_base_url=self.base_url, retrieve_location_uid=retrieve_location_uid,
        )
        if register:
            self.add_study(datasets, str(kos.SOPInstanceUID))
        return part10_bytes(kos)

    def study_requests(self, study_uid: str) -> list[WadoRequest]:
        """Every request answered so far whose path names ``/studies/{study_uid}`` (any level), in arrival order."""
        with self._lock:
            recorded = list(self.requests)
        named = [(r, parse_retrieve_path(r.as_wado().path)) for r in recorded]
        return [r.as_wado() for r, target in named if target is not None and target.study == study_uid]

    # -- HTTP -----------------------------------------------------------------------
    def _handle(self, request: HttpRequest) -> HttpResponse:
        record = SourceRequest(request.method, request.target, request.headers, version=request.version, body=request.body)
        meta = {"peer": f"{request.client_address[0]}:{request.client_address[1]}", "client_cert": request.peer_subject_rfc4514}
        self.evidence.record(
            CHANNEL, f"request {request.method} {request.path}", request.raw(),
            decoded_view(f"{request.method} {request.target} {request.version}", request.headers, request.body), meta, "http",
        )
        response, served = self._answer(request, record)
        record.status = response.status
        record.sop_instance_uids = sops = [i.sop for i in served]
        record.part_sizes = [len(i.data) for i in served]
        with self._lock:
            self.requests.append(record)
        self.evidence.record(
            CHANNEL, f"response {response.status}", response.raw(), _response_view(response, record),
            {**meta, "status": response.status, "parts": len(sops), "sop_instance_uids": sops,
             "transfer_syntax": record.transfer_syntax}, "http",
        )
        return response

    def _answer(self, request: HttpRequest, record: SourceRequest) -> tuple[HttpResponse, list[_Instance]]:
        if request.method not in ("GET", "HEAD"):
            return _error(405, "only GET is served", record, [("Allow", "GET")]), []
        target = parse_retrieve_path(request.path) if request.path.startswith(self.base_path + "/") else None
        if target is None or target.base != self.base_path or target.level not in ("study", "series", "instance") or target.suffix:
            return _error(404, f"not a resource of this source: {request.path}", record), []
        verdict = self.token_check(_bearer(request.header("Authorization")))
        if not verdict.valid:
            problem = getattr(verdict, "problem", "") or "invalid token"
            return _error(401, problem, record, [("WWW-Authenticate", 'Bearer error="invalid_token"')]), []
        kos_uid = (request.header("KOS-SOPInstanceUID") or "").strip()
        if not kos_uid:
            return _error(400, "Missing KOS-SOPInstanceUID", record), []
        accept = [v for k, v in request.headers if k.lower() == "accept"]
        try:
            syntax = choose_transfer_syntax(accept, [STORED_SYNTAX])
        except AcceptError as exc:
            return _error(400, f"bad Accept: {exc}", record), []
        with self._lock:
            selected = [
                i for i in self._instances.values()
                if i.study == target.study
                and (not target.series or i.series == target.series)
                and (not target.instance or i.sop == target.instance)
            ]
            referenced = self._kos.get(kos_uid)
        if not selected:
            return _error(404, "unknown study, series or instance", record), []
        served = [i for i in selected if referenced is not None and i.sop in referenced]
        if not served:
            reason = "unknown KOS" if referenced is None else "the KOS does not reference this resource"
            return _error(404, f"{reason}: {kos_uid}", record), []
        if syntax is None:
            return _error(406, f"no acceptable transfer syntax: this source serves {STORED_SYNTAX}", record), []
        record.transfer_syntax = syntax
        body, content_type = build_multipart([i.data for i in served], syntax)
        return HttpResponse(200, [("Content-Type", content_type)], body), served

    def _tls_error(self, client_address: tuple[str, int], reason: str) -> None:
        self.evidence.record(
            CHANNEL, "tls-refused", reason.encode("utf-8"),
            f"TLS handshake with {client_address[0]}:{client_address[1]} failed: {reason}",
            {"peer": f"{client_address[0]}:{client_address[1]}"}, "txt",
        )


def _stored(ds: Dataset) -> _Instance:
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or ExplicitVRLittleEndian) if meta is not None else STORED_SYNTAX
    if syntax not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        raise ValueError(f"the peer source stores Explicit VR LE; {ds.SOPInstanceUID} is in {syntax}")
    copy = Dataset(ds)
    copy.file_meta = _meta_copy(ds)
    copy.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return _Instance(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), part10_bytes(copy))


def _meta_copy(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset(getattr(ds, "file_meta", None) or FileMetaDataset())
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return meta


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _error(status: int, text: str, record: SourceRequest, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    record.reason = text
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], text.encode("utf-8"))


def _response_view(response: HttpResponse, record: SourceRequest) -> str:
    if response.status != 200:
        return decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body)
    lines = [f"HTTP/1.1 {response.status}", *(f"{k}: {v}" for k, v in response.headers), "",
             f"{len(record.sop_instance_uids)} part(s) in {record.transfer_syntax}, {len(response.body)} bytes:"]
    parts = [f"  part {n}: {sop} ({size} bytes)" for n, (sop, size) in enumerate(zip(record.sop_instance_uids, record.part_sizes), 1)]
    return "\n".join(lines + parts) + "\n"

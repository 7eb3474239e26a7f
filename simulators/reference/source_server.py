"""The source role of the reference DRIMbox over WADO-RS (VA-E): it serves its published studies.

``GET {base}/studies/{study}[/series/{series}[/instances/{sop}]]`` with
``base`` = ``/drimbox/wado-rs``, over HTTPS only (dicomweb-between-drimboxes.md).
Checks, in this order, and the answer when one fails:

1. method GET (405) and a known resource path (404; a malformed UID: 400);
2. ``Authorization: Bearer`` PSC access token (``token_check``): 401 with
   ``WWW-Authenticate``; 503 when the issuer's JWKS cannot be fetched;
3. ``KOS-SOPInstanceUID`` present and UID-shaped (400);
4. ``Accept`` present and well formed (400): entries comma-joined or in
   repeated headers, empty entries (trailing comma) ignored, ``q`` in [0, 1];
5. the KOS is the one currently published by this DRIMbox for the study (its
   ``state_dir``) and references the requested series / instance (404);
6. an acceptable entry (``multipart/related; type="application/dicom"``,
   ``multipart/*`` or ``*/*``, q > 0) whose transfer syntax is the one served
   (Explicit VR LE; absent or ``*`` mean it): else 406;
7. the instances, fetched from the PACS by C-GET at request time
   (``retrieval``), restricted to those the KOS references, in KOS order:
   200, or 206 when some referenced instances could not be fetched, 404 when
   none, 503 when the PACS is unavailable.

Where the public material is silent (SAMPLE/DEMO only): a missing ``Accept``
is 400 (as the demonstrator); the KOS must be the study's current one (a
replaced or withdrawn KOS no longer opens it); the source never returns an
instance its KOS does not reference, even if the PACS series holds more.

It is served by ``https_server.TlsHttpServer``; with ``allow_plain`` (fault
``wado_plain_http``) a connection whose first byte is not a TLS handshake
record (0x16) is served in clear on the same port.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import ImplicitVRLittleEndian

from .https_server import Request, Response, ServedByTlsHttp, TlsHttpServer, capped, text_response
from .pacs_client import PacsUnavailable
from .retrieval import SERVED_SYNTAX, PacsRetriever
from .state import StateStore
from .token_check import JwksUnavailable, TokenRejected, TokenVerifier

BASE_PATH = "/drimbox/wado-rs"
KOS_HEADER = "KOS-SOPInstanceUID"
DICOM_TYPE = "application/dicom"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PATH = re.compile(
    re.escape(BASE_PATH) + r"/studies/(?P<study>[^/]+)(?:/series/(?P<series>[^/]+)(?:/instances/(?P<sop>[^/]+))?)?/?$"
)


# -- Accept ------------------------------------------------------------------------------------


class AcceptError(ValueError):
    pass


@dataclass(frozen=True)
class MediaRange:
    media_type: str  # lower case, e.g. "multipart/related"
    params: dict[str, str]  # names lower case, values unquoted
    q: float

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax")

    def offers_dicom(self) -> bool:
        if self.media_type in ("*/*", "multipart/*"):
            return True
        return self.media_type == "multipart/related" and self.params.get("type", "").lower() == DICOM_TYPE


def parse_accept(values: list[str]) -> list[MediaRange]:
    """The media ranges of the ``Accept`` header(s); ``AcceptError`` when absent or malformed."""
    entries = [entry.strip() for value in values for entry in _split_unquoted(value, ",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise AcceptError("no Accept header")
    ranges = []
    for entry in entries:
        media, *params = [part.strip() for part in _split_unquoted(entry, ";")]
        if media.count("/") != 1 or not all(media.split("/")):
            raise AcceptError(f"not a media range: {entry!r}")
        parsed: dict[str, str] = {}
        for param in params:
            name, sep, value = param.partition("=")
            if not sep or not name.strip():
                raise AcceptError(f"malformed parameter {param!r} in {entry!r}")
            parsed[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(parsed.pop("q", "1"))
        except ValueError:
            raise AcceptError(f"q is not a number in {entry!r}") from None
        if not 0.0 <= q <= 1.0:
            raise AcceptError(f"q out of [0, 1] in {entry!r}")
        ranges.append(MediaRange(media.lower(), parsed, q))
    return ranges


def choose_transfer_syntax(ranges: list[MediaRange], served: tuple[str, ...] = (SERVED_SYNTAX,)) -> str | None:
    """The served transfer syntax with the highest q among the acceptable ranges, None when none fits."""
    best: tuple[float, str] | None = None
    for media in ranges:
        if media.q <= 0 or not media.offers_dicom():
            continue
        wanted = media.transfer_syntax or SERVED_SYNTAX  # PS3.18: Explicit VR LE by default
        for syntax in served:
            if wanted in ("*", syntax) and (best is None or media.q > best[0]):
                best = (media.q, syntax)
    return best[1] if best else None


def _split_unquoted(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# -- the KOS ----------------------------------------------------------------------------------


def kos_references(kos_bytes: bytes, study_uid: str) -> dict[str, list[tuple[str, str]]]:
    """``{series UID: [(SOP class, SOP instance UID), ...]}`` the KOS evidence lists for the study."""
    try:
        kos = pydicom.dcmread(io.BytesIO(kos_bytes), force=True)
    except (InvalidDicomError, ValueError, EOFError):
        return {}
    series: dict[str, list[tuple[str, str]]] = {}
    for study in kos.get("CurrentRequestedProcedureEvidenceSequence", []):
        if str(study.get("StudyInstanceUID", "")) != study_uid:
            continue
        for item in study.get("ReferencedSeriesSequence", []):
            refs = series.setdefault(str(item.get("SeriesInstanceUID", "")), [])
            for sop in item.get("ReferencedSOPSequence", []):
                refs.append((str(sop.get("ReferencedSOPClassUID", "")), str(sop.get("ReferencedSOPInstanceUID", ""))))
    return series


# -- the source -------------------------------------------------------------------------------


class SourceServer(ServedByTlsHttp):
    """WADO-RS source of the reference DRIMbox; ``base_url`` is what its KOS RetrieveURLs start with."""

    def __init__(
        self,
        *,
        state: StateStore,
        retriever: PacsRetriever,
        verifier: TokenVerifier,
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: frozenset[str] = frozenset(),
        timeout_s: float = 10.0,
        client_ca: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.state = state
        self.retriever = retriever
        self.verifier = verifier
        self.faults = faults
        self.log = log or logging.getLogger("reference.source")
        self.http = TlsHttpServer(
            self.handle, cert, key, host, port, timeout_s=timeout_s, allow_plain="wado_plain_http" in faults,
            client_ca=client_ca, log=self.log,
        )

    @property
    def base_url(self) -> str:
        return self.http.url(BASE_PATH)

    def handle(self, request: Request) -> Response:
        response = self._answer(request)
        self.log.info(
            "WADO-RS %s %s from %s%s, KOS %s: %d%s",
            request.method,
            capped(request.path),
            request.client[0],
            "" if request.tls else " (plain HTTP)",
            capped(request.header(KOS_HEADER)),
            response.status,
            f" {response.body[:200].decode('utf-8', 'replace')}" if response.status >= 400 else "",
        )
        return response

    def _answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "only GET is supported", ("Allow", "GET"))
        match = _PATH.match(request.path)
        if match is None:
            return text_response(404, f"no such resource: {request.path}")
        study, series, sop = match.group("study"), match.group("series"), match.group("sop")
        if not all(_UID.match(uid) and len(uid) <= 64 for uid in (study, series, sop) if uid is not None):
            return text_response(400, "malformed UID in the path")
        if "wado_no_token_check" not in self.faults:
            try:
                claims = self.verifier.verify(request.header("Authorization"))
            except TokenRejected as exc:
                self.log.info("token refused: %s", exc)
                return text_response(401, "invalid or missing bearer token", ("WWW-Authenticate", 'Bearer error="invalid_token"'))
            except JwksUnavailable as exc:
                self.log.info("token not checked: %s", exc)
                return text_response(503, "the token issuer's keys are unavailable")
            self.log.info("token of %s (%s) accepted", claims.get("sub", "?"), claims.get("preferred_username", ""))
        kos_uid = (request.header(KOS_HEADER) or "").strip()
        ignore_kos = "wado_ignore_kos_header" in self.faults
        if not ignore_kos and not (_UID.match(kos_uid) and len(kos_uid) <= 64):
            return text_response(400, f"Missing {KOS_HEADER}" if not kos_uid else f"malformed {KOS_HEADER}")
        try:
            ranges = parse_accept(request.header_values("Accept"))
        except AcceptError as exc:
            return text_response(400, f"bad Accept: {exc}")
        if ignore_kos:
            allowed: list[tuple[str, str]] | None = None
        else:
            refused, allowed = self._referenced(study, series, sop, kos_uid)
            if refused:
                return text_response(404, refused)
        if "wado_no_syntax_fallback" in self.faults:  # only the highest-q entry is considered
            self.log.info("fault wado_no_syntax_fallback: the first choice of the Accept only")
            syntax = choose_transfer_syntax(sorted(ranges, key=lambda media: -media.q)[:1])
        else:
            syntax = choose_transfer_syntax(ranges)
        if syntax is None:
            return text_response(406, f"no acceptable transfer syntax: this source serves {SERVED_SYNTAX}")
        declared = syntax
        if "wado_declares_preferred_syntax" in self.faults and ranges:  # said, not transcoded
            preferred = max(ranges, key=lambda media: media.q).transfer_syntax
            declared = preferred if preferred and preferred != "*" else syntax
            self.log.info("fault wado_declares_preferred_syntax: %s declared, %s served", declared, syntax)
        return self._retrieve(study, series, sop, allowed, syntax, declared)

    def _referenced(
        self, study: str, series: str | None, sop: str | None, kos_uid: str
    ) -> tuple[str, list[tuple[str, str]]]:
        """(why the request is refused, or ""; the (SOP class, SOP UID) the KOS lets it retrieve)."""
        record = self.state.current(study)
        if record is None:
            return f"study {study} is not published by this DRIMbox", []
        if record.unique_id != kos_uid:
            return f"KOS {kos_uid} is not the KOS published for study {study}", []
        references = kos_references(record.publication.kos_bytes, study)
        if series is not None and series not in references:
            return f"series {series} is not referenced by KOS {kos_uid}", []
        scope = [ref for uid, refs in references.items() if series in (None, uid) for ref in refs]
        if sop is not None:
            scope = [ref for ref in scope if ref[1] == sop]
            if not scope:
                return f"instance {sop} is not referenced by KOS {kos_uid}", []
        return "", scope

    def _retrieve(
        self, study: str, series: str | None, sop: str | None, allowed: list[tuple[str, str]] | None, syntax: str,
        declared: str,
    ) -> Response:
        """The instances as a multipart/related answer; ``declared``: the transfer syntax its headers name."""
        sop_classes = list(dict.fromkeys(cls for cls, _ in allowed or [] if cls))
        try:
            retrieval = self.retriever.get(study, series, sop, sop_classes=sop_classes)
        except PacsUnavailable as exc:
            return text_response(503, f"PACS unavailable: {exc}")
        by_uid = {instance.sop_instance_uid: instance for instance in retrieval.instances}
        if allowed is None:
            instances = list(retrieval.instances)
            missing = 0
        else:
            instances = [by_uid[uid] for _, uid in allowed if uid in by_uid]
            missing = len(allowed) - len(instances)
            extra = len(by_uid) - len(instances)
            if extra:
                self.log.info("%d instance(s) of the PACS not referenced by the KOS left out", extra)
        instances = [instance for instance in instances if instance.transfer_syntax == syntax]
        if instances and "wado_skip_last_instance" in self.faults:
            dropped = instances.pop()
            self.log.info("fault wado_skip_last_instance: %s left out", dropped.sop_instance_uid)
            missing = 0
        if not instances and "wado_skip_last_instance" not in self.faults:
            return text_response(404, "no instance of this resource could be retrieved from the PACS")
        boundary = uuid.uuid4().hex
        parts = [instance.part10 for instance in instances]
        if "wado_transcode_implicit" in self.faults:  # whatever the Accept lists
            self.log.info("fault wado_transcode_implicit: served in Implicit VR Little Endian")
            parts, declared = [to_implicit_vr(part) for part in parts], ImplicitVRLittleEndian
        if "wado_parts_without_file_meta" in self.faults:
            self.log.info("fault wado_parts_without_file_meta: bare data sets")
            parts = [bare_data_set(part) for part in parts]
        part_type = "application/octet-stream" if "wado_parts_octet_stream" in self.faults else DICOM_TYPE
        body = multipart_body(parts, boundary, declared, part_type, bare="wado_multipart_bare_boundary" in self.faults)
        content_type = f'multipart/related; type="{DICOM_TYPE}"; transfer-syntax={declared}; boundary={boundary}'
        if "wado_response_untyped" in self.faults:  # the parts are DICOM, the response does not say so
            self.log.info("fault wado_response_untyped: Content-Type without type=")
            content_type = f"multipart/related; boundary={boundary}"
        status = 206 if missing else 200
        self.log.info("%d instance(s) served%s", len(instances), f", {missing} missing" if missing else "")
        return Response(status, [("Content-Type", content_type)], body)


def multipart_body(parts: list[bytes], boundary: str, syntax: str, part_type: str = DICOM_TYPE, *, bare: bool = False) -> bytes:
    """A ``multipart/related`` body of ``part_type`` parts (RFC 2046 delimiters, CRLF).

    ``bare`` (fault ``wado_multipart_bare_boundary``): delimiter lines without their leading ``--``.
    """
    delimiter = (b"" if bare else b"--") + boundary.encode("ascii")
    header = f"Content-Type: {part_type}; transfer-syntax={syntax}\r\n\r\n".encode("ascii")
    chunks = [delimiter + b"\r\n" + header + part + b"\r\n" for part in parts]
    return b"".join(chunks) + delimiter + b"--\r\n"


def to_implicit_vr(part10: bytes) -> bytes:
    """The Part-10 instance re-encoded in Implicit VR Little Endian (fault ``wado_transcode_implicit``)."""
    dataset = pydicom.dcmread(io.BytesIO(part10))
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def bare_data_set(part10: bytes) -> bytes:
    """The data set of a Part-10 instance without preamble, prefix and file meta (fault ``wado_parts_without_file_meta``)."""
    dataset = pydicom.dcmread(io.BytesIO(part10))
    del dataset.file_meta
    dataset.preamble = None
    out = io.BytesIO()
    pydicom.dcmwrite(out, dataset, implicit_vr=False, little_endian=True)
    return out.getvalue()

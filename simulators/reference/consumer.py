"""The consumer role of the reference DRIMbox (VA-D1/D2/D3 behind the contextual call).

``ConsumerServer`` is an HTTPS server:

- ``POST {contextual_path}`` (``application/x-www-form-urlencoded``): the
  contextual call (trust-list-and-identity.md §7). The ten mandatory
  parameters must be present and non-empty (the consent one under either
  name of ``consent_names``); an unknown parameter or an empty value is
  refused too: ``400`` naming the parameter. Otherwise ``303 See Other`` to
  ``/drimbox/consultation/<id>`` and, in a background thread: ITI-18 +
  ITI-43 for the patient's INS, then for each KOS every series over WADO-RS
  from its source (liste blanche hosts only) with the professional's PSC
  token, then C-STORE of everything to the configured DICOM node.
- ``GET /drimbox/consultation/<id>``: JSON status ``pending`` / ``done`` /
  ``failed`` with the reasons and the counts.

Decision (the public material is silent): the professional is logged in on
the consumer; the harness passes their PSC access token as
``Authorization: Bearer`` on the contextual call. Its claims (``sub`` /
``SubjectNameID``, names, ``codeProfession``) name the professional in the
consultation VIHF; the token itself is verified by the source it is
forwarded to. A call without a token is still redirected (the user would be
sent to log in) and its consultation fails with that reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from pydicom.dataset import Dataset

from simulators.reference.dmp_query import (
    Consultant,
    KosEntry,
    QueryResult,
    RetrieveResult,
)
from simulators.reference.https_server import Request, Response, ServedByTlsHttp, TlsHttpServer, text_response
from simulators.reference.store_scu import StoreResult
from simulators.reference.wado_client import SeriesRef, SeriesResult, kos_series

RESULT_PATH = "/drimbox/consultation/"
MANDATORY = (
    "Patient.identifier.value",
    "Patient.identifier.system",
    "Patient.name.family",
    "Patient.name.given",
    "Patient.gender",
    "Patient.birthDate",
    "Address.district",
    "PatientID",
    "PatientIDIssuer",
)
# Accepted besides the mandatory ones (demonstrator API, where-sources-disagree.md).
OPTIONAL = (
    "Situation", "StudyInstanceUID", "Modality", "AccessionNumber", "AccessionNumberIssuer", "StudyDate",
    "AnatomicRegion",
)
MAX_FORM = 64 * 1024

# Its faults are declared, with their target scenarios, in faults.py.


class DmpQuery(Protocol):
    def find_kos(self, ins: str, ins_oid: str, consultant: Consultant) -> QueryResult: ...

    def retrieve(self, entry: KosEntry, ins: str, ins_oid: str, consultant: Consultant) -> RetrieveResult: ...


class SeriesFetcher(Protocol):
    def fetch_series(self, series: SeriesRef, *, kos_uid: str, token: str) -> SeriesResult: ...


class Store(Protocol):
    def store(self, instances: Sequence[Dataset]) -> StoreResult: ...


class TrustView(Protocol):
    def current_domains(self) -> Sequence[object]: ...

    @property
    def last_error(self) -> str: ...


@dataclass
class Consultation:
    id: str
    ins: str
    ins_oid: str
    status: str = "pending"
    reasons: list[str] = field(default_factory=list)
    kos: list[str] = field(default_factory=list)  # KOS SOP Instance UIDs retrieved
    series_requested: int = 0
    series_retrieved: int = 0
    instances_expected: int = 0
    instances_retrieved: int = 0
    instances_stored: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "reasons": list(self.reasons),
            "patient": {"ins": self.ins, "oid": self.ins_oid},
            "kos": list(self.kos),
            "counts": {
                "series_requested": self.series_requested,
                "series_retrieved": self.series_retrieved,
                "instances_expected": self.instances_expected,
                "instances_retrieved": self.instances_retrieved,
                "instances_stored": self.instances_stored,
            },
        }


_BARE_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def check_contextual_call(
    form: Sequence[tuple[str, str]], consent_names: Sequence[str]
) -> str | None:
    """Why the contextual call is refused, or None when it is complete."""
    names = [name for name, _ in form]
    for name, value in form:
        if name not in MANDATORY and name not in OPTIONAL and name not in consent_names:
            return f"unknown parameter {name}"
        if not value.strip():
            return f"empty parameter {name}"
    for name in MANDATORY[:7]:
        if name not in names:
            return f"missing parameter {name}"
    if not any(name in names for name in consent_names):
        return f"missing parameter {' or '.join(consent_names)}"
    for name in MANDATORY[7:]:
        if name not in names:
            return f"missing parameter {name}"
    return None


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (the source verifies the token); {} when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def consultant_from(claims: dict[str, Any]) -> Consultant | None:
    national_id = str(claims.get("SubjectNameID") or claims.get("sub") or "")
    if not national_id:
        return None
    name = f"{claims.get('given_name', '')} {claims.get('family_name', '')}".strip() or national_id
    return Consultant(national_id, name, str(claims.get("codeProfession") or "10"))


class ConsumerServer(ServedByTlsHttp):
    """HTTPS contextual-call endpoint + background consultations; ``start()`` / ``stop()``, context manager."""

    def __init__(
        self,
        *,
        bind_host: str,
        port: int,
        server_cert: Path,
        server_key: Path,
        contextual_path: str,
        consent_names: Sequence[str],
        trust: TrustView,
        dmp: DmpQuery,
        wado: SeriesFetcher,
        store: Store,
        faults: frozenset[str] = frozenset(),
        log: logging.Logger | None = None,
        timeout_s: float = 10.0,
        redirect_status: int = 303,  # 302 with the variant contextual_302
        bare_oid_only: bool = False,  # the variant contextual_bare_oid: Patient.identifier.system as a bare OID only
    ) -> None:
        self.redirect_status = redirect_status
        self.bare_oid_only = bare_oid_only
        self.bind_host = bind_host
        self.contextual_path = contextual_path
        self.consent_names = tuple(consent_names)
        self.trust = trust
        self.dmp = dmp
        self.wado = wado
        self.store = store
        self.faults = faults
        self.log = log or logging.getLogger("reference.consumer")
        self.timeout_s = timeout_s
        self.http = TlsHttpServer(
            self.handle, server_cert, server_key, bind_host, port, timeout_s=timeout_s, max_body=MAX_FORM, log=self.log
        )
        self._jobs: dict[str, Consultation] = {}
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.bind_host}:{self.port}"

    def start(self) -> ConsumerServer:
        super().start()
        self.log.info("consumer listening on %s%s", self.base_url, self.contextual_path)
        return self

    def stop(self) -> None:
        super().stop()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=self.timeout_s)

    def consultation(self, job_id: str) -> Consultation | None:
        with self._lock:
            return self._jobs.get(job_id)

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        if method == "POST" and path == self.contextual_path:
            return self._contextual_call(request)
        if method == "GET" and path.startswith(RESULT_PATH):
            job = self.consultation(path[len(RESULT_PATH):])
            if job is None:
                return text_response(404, "unknown consultation")
            with self._lock:
                document = job.as_json()
            return Response(200, [("Content-Type", "application/json")], json.dumps(document, ensure_ascii=False).encode())
        return text_response(404 if method in ("GET", "POST") else 405, f"no {method} {path} here")

    def _contextual_call(self, request: Request) -> Response:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return text_response(400, f"Content-Type {content_type or '(none)'} is not application/x-www-form-urlencoded")
        body = request.body
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as exc:
            return text_response(400, f"unreadable form: {exc}")
        problem = check_contextual_call(form, self.consent_names)
        system = dict(form).get("Patient.identifier.system", "")
        if problem is None and self.bare_oid_only and not _BARE_OID.match(system):
            problem = f"Patient.identifier.system {system!r} is not a bare OID"
        if problem is not None:
            if "consumer_accept_missing_param" not in self.faults:
                self.log.info("contextual call refused: %s", problem)
                return text_response(400, problem)
            self.log.info("fault consumer_accept_missing_param: accepting a call with %s", problem)
        values = dict(form)
        authorization = request.header("Authorization") or ""
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        job = Consultation(
            uuid.uuid4().hex,
            values.get("Patient.identifier.value", ""),
            values.get("Patient.identifier.system", "").removeprefix("urn:oid:"),
        )
        worker = threading.Thread(target=self._run, args=(job, token), name=f"consultation-{job.id[:8]}", daemon=True)
        with self._lock:
            self._jobs[job.id] = job
            self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()
        location = f"{RESULT_PATH}{job.id}"
        self.log.info("contextual call accepted for INS %s: consultation %s", job.ins, job.id)
        status = 200 if "consumer_call_200" in self.faults else self.redirect_status  # the fault: no redirect
        return Response(status, [("Location", location), ("Content-Type", "text/plain")], f"See {location}\n".encode())

    # -- consultation ------------------------------------------------------------------------

    def _run(self, job: Consultation, token: str) -> None:
        try:
            self._consult(job, token)
        except Exception as exc:  # a bug must end the consultation, not hang it in "pending"
            self.log.exception("consultation %s crashed", job.id)
            self._fail(job, f"internal error: {type(exc).__name__}: {exc}")
        with self._lock:
            if job.status == "pending":
                job.status = "failed" if job.reasons else "done"
        self.log.info("consultation %s %s%s", job.id, job.status, f": {'; '.join(job.reasons)}" if job.reasons else "")

    def _fail(self, job: Consultation, reason: str) -> None:
        with self._lock:
            job.reasons.append(reason)

    def _consult(self, job: Consultation, token: str) -> None:
        consultant = consultant_from(token_claims(token)) if token else None
        if consultant is None:
            self._fail(job, "no usable Pro Santé Connect token (Authorization: Bearer) on the contextual call")
            return
        if not self.trust.current_domains():
            self._fail(job, f"no valid liste blanche ({self.trust.last_error or 'none fetched yet'})")
        found = self.dmp.find_kos(job.ins, job.ins_oid, consultant)
        if not found.ok:
            self._fail(job, "ITI-18 failed: " + "; ".join(found.errors))
            return
        if not found.entries:
            self._fail(job, f"no KOS in the DMP for INS {job.ins}")
            return
        instances: list[Dataset] = []
        for entry in found.entries:
            instances += self._one_kos(job, entry, consultant, token)
        if "consumer_forward_partial" in self.faults and instances:
            self.log.info("fault consumer_forward_partial: %s not sent", instances[-1].SOPInstanceUID)
            instances = instances[:-1]
        if "consumer_corrupt_pixels" in self.faults and instances and "PixelData" in instances[-1]:
            pixels = bytearray(instances[-1].PixelData)
            pixels[0] ^= 0xFF
            instances[-1].PixelData = bytes(pixels)
            self.log.info("fault consumer_corrupt_pixels: first pixel byte of %s flipped", instances[-1].SOPInstanceUID)
        if not instances:
            return
        result = self.store.store(instances)
        with self._lock:
            job.instances_stored += len(result.stored)
        for uid, reason in result.failed:
            self._fail(job, f"C-STORE of {uid} failed: {reason}")

    def _one_kos(self, job: Consultation, entry: KosEntry, consultant: Consultant, token: str) -> list[Dataset]:
        retrieved = self.dmp.retrieve(entry, job.ins, job.ins_oid, consultant)
        if not retrieved.ok:
            self._fail(job, f"ITI-43 of KOS {entry.unique_id} failed: " + "; ".join(retrieved.errors))
            return []
        try:
            manifest = kos_series(retrieved.document)
        except ValueError as exc:
            self._fail(job, f"KOS {entry.unique_id}: {exc}")
            return []
        series = list(manifest.series)
        with self._lock:
            job.kos.append(manifest.sop_instance_uid)
            job.series_requested += len(series)
            job.instances_expected += sum(len(s.sop_instance_uids) for s in series)
        if "consumer_skip_series" in self.faults and len(series) > 1:
            self.log.info("fault consumer_skip_series: series %s not fetched", series[-1].series_uid)
            series = series[:-1]
        instances: list[Dataset] = []
        for ref in series:
            result = self.wado.fetch_series(ref, kos_uid=manifest.sop_instance_uid, token=token)
            if not result.ok:
                self._fail(job, f"series {ref.series_uid}: {result.error}")
                continue
            got = {str(ds.SOPInstanceUID) for ds in result.instances}
            missing = [uid for uid in ref.sop_instance_uids if uid not in got]
            with self._lock:
                job.series_retrieved += 1
                job.instances_retrieved += len(result.instances)
            if missing:
                self._fail(job, f"series {ref.series_uid}: {len(missing)} instance(s) of the KOS not returned")
            instances += result.instances
        return instances

"""The DICOM node configured on the consumer DRIMbox under test (VA-D3).

A pynetdicom Storage SCP (every storage SOP class, the uncompressed and
DRIM-M compressed transfer syntaxes, C-ECHO) and, optionally, a STOW-RS
endpoint over HTTPS (``POST {base}/studies[/{study}]``, ``multipart/related;
type="application/dicom"``, answered with a DICOM JSON store response):
``where-sources-disagree.md`` says the harness's node accepts both, the
profile says which the SUT uses (``dicom-query-retrieve.md`` §8). Every
instance is written to the evidence before it is acknowledged and kept in
``received`` (once per SOP Instance UID: a store of the same instance replaces it);
``wait_for_instances`` waits for a set of SOP Instance UIDs.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from drimva.dicom_text import dump_dataset, dump_lines, read_part10
from drimva.dicomweb import parse_multipart_dicom
from drimva.evidence import EvidenceSink
from drimva.mime import MimeError
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, decoded_view
from simulators.common.dicom_scp import ServedScp
from simulators.pacs.simulator import QR_SYNTAXES, STORAGE_SYNTAXES

CHANNEL = "dicom-node"
_FAILED_PROCESSING = 0x0110  # PS3.4 Table GG.4-1 / STOW failure reason "Processing failure"


@dataclass(frozen=True)
class Receipt:
    """How one instance reached the node."""

    via: str  # "C-STORE" | "STOW-RS"
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    peer: str  # "host:port"
    calling_ae: str = ""  # C-STORE only
    at: float = 0.0


class DicomNode(ServedScp):
    """``DicomNode(evidence)``; ``start()`` / ``stop()`` or a context manager. STOW-RS when ``stow_cert`` is given."""

    def __init__(
        self,
        evidence: EvidenceSink,
        ae_title: str = "DRIMVA_NODE",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        stow_cert: Path | None = None,
        stow_key: Path | None = None,
        stow_port: int = 0,
        stow_base_path: str = "/dicom-web",
        timeout: float = 10.0,
    ) -> None:
        self.evidence = evidence
        self.ae_title = ae_title
        self.host = host
        self.timeout = timeout
        self.stow_base_path = "/" + stow_base_path.strip("/")
        self._received: dict[str, Dataset] = {}  # SOP Instance UID -> the latest copy stored, in first-store order
        self.receipts: list[Receipt] = []  # one per store
        self._requested_port = port
        self._changed = threading.Condition()
        self._ae = self._make_ae()
        self._stow: HttpsServer | None = None
        if stow_cert is not None and stow_key is not None:
            self._stow = HttpsServer(self._on_stow, stow_cert, stow_key, host=host, port=stow_port, client_auth="none", timeout=timeout)

    # -- life cycle --------------------------------------------------------------------
    def _scp_handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        return [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, self._on_echo)]

    def _scp_name(self) -> str:
        return f"node-{self.ae_title}"

    def start(self) -> "DicomNode":
        super().start()
        if self._stow is not None:
            try:
                self._stow.start()
            except BaseException:
                super().stop()  # not half started
                raise
        return self

    def stop(self) -> None:
        if self._stow is not None:
            self._stow.stop()
        super().stop()

    def advertise(self, host: str) -> "DicomNode":
        """Name the STOW-RS URL with ``host``, the address the SUT reaches the node by."""
        if self._stow is not None:
            self._stow.public_host = host
        return self

    @property
    def stow_url(self) -> str | None:
        """``https://host:port{base}``: the STOW-RS service root (``POST {stow_url}/studies``); None without STOW."""
        return self._stow.base_url + self.stow_base_path if self._stow is not None else None

    # -- what arrived ------------------------------------------------------------------
    @property
    def received(self) -> list[Dataset]:
        """The instances stored, one per SOP Instance UID (the latest copy), in the order first stored."""
        with self._changed:
            return list(self._received.values())

    def sop_instance_uids(self) -> set[str]:
        with self._changed:
            return {r.sop_instance_uid for r in self.receipts}

    def wait_for_instances(self, sop_uids: set[str], timeout: float) -> set[str]:
        """The part of ``sop_uids`` received, as soon as all of it is or when ``timeout`` runs out."""
        wanted = set(sop_uids)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = wanted & {r.sop_instance_uid for r in self.receipts}
                remaining = deadline - time.monotonic()
                if got == wanted or remaining <= 0:
                    return got
                self._changed.wait(remaining)

    def clear(self) -> None:
        with self._changed:
            self._received.clear()
            self.receipts.clear()

    # -- DIMSE -------------------------------------------------------------------------
    def _make_ae(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, timer, self.timeout)
        ae.add_supported_context(Verification, QR_SYNTAXES)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, STORAGE_SYNTAXES)
        return ae

    def _on_echo(self, event: Any) -> int:
        requestor = event.assoc.requestor
        self.evidence.record(
            CHANNEL, "C-ECHO-rq", b"", dump_lines([("service", "C-ECHO"), ("calling AE", str(requestor.ae_title).strip()),
                                                   ("peer", f"{requestor.address}:{requestor.port}")]),
            {"service": "C-ECHO"}, "txt",
        )
        return 0x0000

    def _on_store(self, event: Any) -> int:
        requestor = event.assoc.requestor
        raw = bytes(event.encoded_dataset())  # Part 10 as received: preamble, file meta, data set
        calling = str(requestor.ae_title).strip()
        peer = f"{requestor.address}:{requestor.port}"
        syntax = str(event.context.transfer_syntax)
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            view = dump_dataset(ds, "C-STORE data set")
        except Exception as exc:  # noqa: BLE001 - keep what was sent even when it cannot be decoded
            ds, view = None, f"undecodable data set: {type(exc).__name__}: {exc}"
        details = dump_lines([("service", "C-STORE"), ("association", f"{calling} -> {self.ae_title} from {peer}"),
                              ("SOP class", event.context.abstract_syntax), ("transfer syntax", syntax)])
        self.evidence.record(
            CHANNEL, "C-STORE-rq", raw, details + "\n" + view,
            {"service": "C-STORE", "calling_ae": calling, "peer": peer, "transfer_syntax": syntax,
             "sop_instance_uid": str(ds.get("SOPInstanceUID", "")) if ds is not None else ""}, "dcm",
        )
        if ds is None or "SOPInstanceUID" not in ds:
            return 0xC000  # cannot understand
        self._keep(ds, Receipt("C-STORE", str(ds.SOPInstanceUID), str(ds.get("SOPClassUID", "")), syntax, peer, calling, time.time()))
        return 0x0000

    def _keep(self, ds: Dataset, receipt: Receipt) -> None:
        """Keep the instance; an instance stored again (same SOP Instance UID) replaces the earlier copy, as a
        storage SCP does, so a peer that stores one instance over and over does not grow ``received`` (every
        store keeps its receipt, and its bytes in the evidence)."""
        with self._changed:
            self._received[receipt.sop_instance_uid] = ds  # a dict keeps the first store's place on replacement
            self.receipts.append(receipt)
            self._changed.notify_all()

    # -- STOW-RS -----------------------------------------------------------------------
    def _on_stow(self, request: HttpRequest) -> HttpResponse:
        peer = f"{request.client_address[0]}:{request.client_address[1]}"
        start_line = f"{request.method} {request.target} {request.version}"
        self.evidence.record(
            CHANNEL, f"STOW-RS {request.method} {request.path}", request.raw(),
            decoded_view(start_line, request.headers, request.body), {"service": "STOW-RS", "peer": peer}, "http",
        )
        response = self._store_stow(request, peer)
        self.evidence.record(
            CHANNEL, f"STOW-RS response {response.status}", response.raw(),
            decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body),
            {"service": "STOW-RS", "peer": peer, "status": response.status}, "http",
        )
        return response

    def _store_stow(self, request: HttpRequest, peer: str) -> HttpResponse:
        root = self.stow_base_path + "/studies"
        if request.method != "POST":
            return _text(405, "STOW-RS is a POST", [("Allow", "POST")])
        if not (request.path.rstrip("/") == root or request.path.startswith(root + "/")):
            return _text(404, f"not a STOW-RS resource: {request.path}")
        study_in_path = request.path[len(root) + 1 :].strip("/")
        try:
            parts = parse_multipart_dicom(request.body, request.content_type)
        except MimeError as exc:
            return _text(415, f'expected multipart/related; type="application/dicom": {exc}')
        stored: list[Dataset] = []
        failed: list[tuple[str, str, int]] = []
        for data in parts:
            try:
                ds = read_part10(data)
                sop, sop_class = str(ds.SOPInstanceUID), str(ds.SOPClassUID)
                syntax = str(ds.file_meta.TransferSyntaxUID)
            except Exception:  # noqa: BLE001 - a part that is not DICOM is a failure of that part
                failed.append(("", "", _FAILED_PROCESSING))
                continue
            missing = [name for name in _STOW_UIDS if not str(ds.get(name, "") or "").strip()]
            if missing:  # the store response names the instance by these (issue 13: it crashed on a missing one)
                return _text(400, f"instance {sop or '?'} : {', '.join(missing)} absent(s) de l'objet DICOM")
            if study_in_path and str(ds.get("StudyInstanceUID", "")) != study_in_path:
                failed.append((sop_class, sop, 0xA900))  # PS3.18 Table 10.5.3-1: study UID mismatch
                continue
            stored.append(ds)
            self._keep(ds, Receipt("STOW-RS", sop, sop_class, syntax, peer, "", time.time()))
        status = 200 if not failed else (409 if not stored else 202)
        body = json.dumps(_store_response(stored, failed, self._stow.base_url + root if self._stow else root), indent=1)
        return HttpResponse(status, [("Content-Type", "application/dicom+json")], body.encode("utf-8"))


_STOW_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


def _store_response(stored: list[Dataset], failed: list[tuple[str, str, int]], root: str) -> dict[str, Any]:
    """A minimal PS3.18 §10.5.3 store response in DICOM JSON."""
    def ref(sop_class: str, sop: str) -> dict[str, Any]:
        return {"00081150": {"vr": "UI", "Value": [sop_class]}, "00081155": {"vr": "UI", "Value": [sop]}}

    out: dict[str, Any] = {}
    studies = {str(ds.get("StudyInstanceUID", "")) for ds in stored}
    if len(studies) == 1:
        out["00081190"] = {"vr": "UR", "Value": [f"{root}/{studies.pop()}"]}
    if stored:
        out["00081199"] = {"vr": "SQ", "Value": [
            {**ref(str(ds.SOPClassUID), str(ds.SOPInstanceUID)),
             "00081190": {"vr": "UR", "Value": [f"{root}/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"]}}
            for ds in stored]}
    if failed:
        out["00081198"] = {"vr": "SQ", "Value": [
            {**ref(sop_class, sop), "00081197": {"vr": "US", "Value": [reason]}} for sop_class, sop, reason in failed]}
    return out


def _text(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], text.encode("utf-8"))

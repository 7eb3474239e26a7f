"""C-GET SCU towards the site's PACS (Study Root): the instances a WADO-RS request asks for.

One association per request: the Study Root GET model plus one storage
context per SOP class the caller expects (the KOS's referenced classes first,
then pynetdicom's usual storage classes, 127 contexts at most), each proposed
with Explicit VR Little Endian only and the SCP role (the PACS sends the
instances back on the same association, no C-MOVE destination to declare).
The source serves Explicit VR LE, so that is the only syntax it asks for: the
PACS transcodes from Implicit VR LE, a compressed-only instance is refused by
the association and counted as failed. ``encoded_dataset()`` keeps each
instance's bytes as received. ``PacsUnavailable`` (from ``pacs_client``) means
the PACS could not be asked or failed.

With a :class:`MoveInbox` (the variant ``cmove_retrieve``, as the ANS
demonstrator does) the instances come by C-MOVE instead: the move destination
is the DRIMbox's own AE, whose DICOM listener (``dicom_server.py``) accepts
the PACS's C-STORE sub-operations (Explicit VR LE only, as above) and hands
each instance to the retrievals waiting for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from .pacs_client import PacsUnavailable

SERVED_SYNTAX = str(ExplicitVRLittleEndian)
MAX_STORAGE_CONTEXTS = 127  # 128 presentation contexts at most, one is the GET model
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievedInstance:
    sop_instance_uid: str
    sop_class_uid: str
    series_uid: str
    transfer_syntax: str
    part10: bytes  # DICOM Part-10 file (preamble, file meta, data set as received)


@dataclass(frozen=True)
class Retrieval:
    instances: tuple[RetrievedInstance, ...]
    failed: int  # sub-operations the PACS reported as failed


def retrieved(event: evt.Event) -> RetrievedInstance:
    """The instance of a C-STORE request, its bytes as received."""
    ds = event.dataset
    return RetrievedInstance(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        transfer_syntax=str(event.context.transfer_syntax),
        part10=event.encoded_dataset(),
    )


class MoveInbox:
    """Where the DICOM listener puts the instances a C-MOVE brings; each retrieval waits for its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[tuple[str, str | None, str | None], list[RetrievedInstance]]] = []

    def open(self, study_uid: str, series_uid: str | None, sop_instance_uid: str | None) -> list[RetrievedInstance]:
        """A new collector for the instances of this study (series, instance): filled until :meth:`close`."""
        collected: list[RetrievedInstance] = []
        with self._lock:
            self._waiting.append(((study_uid, series_uid, sop_instance_uid), collected))
        return collected

    def close(self, collected: list[RetrievedInstance]) -> None:
        with self._lock:
            self._waiting = [(key, items) for key, items in self._waiting if items is not collected]

    def deliver(self, event: evt.Event) -> int:
        """The C-STORE handler: 0x0000 when a retrieval waited for the instance, else refused (0xA900)."""
        ds = event.dataset
        uids = (str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")), str(ds.get("SOPInstanceUID", "")))
        instance = retrieved(event)
        taken = False
        with self._lock:
            for (study, series, sop), items in self._waiting:
                if uids[0] == study and series in (None, uids[1]) and sop in (None, uids[2]):
                    items.append(instance)
                    taken = True
        if not taken:
            _log.info("C-STORE of %s refused: no retrieval waits for it", uids[2])
        return 0x0000 if taken else 0xA900


class PacsRetriever:
    def __init__(
        self, *, calling_ae: str, called_ae: str, host: str, port: int, timeout_s: float, inbox: MoveInbox | None = None
    ) -> None:
        self.inbox = inbox
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    def get(
        self, study_uid: str, series_uid: str | None = None, sop_instance_uid: str | None = None, *, sop_classes: Iterable[str] = ()
    ) -> Retrieval:
        """C-GET (C-MOVE with an inbox) at STUDY, SERIES or IMAGE level, depending on which UIDs are given."""
        if self.inbox is not None:
            return self._move(self.inbox, study_uid, series_uid, sop_instance_uid)
        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = self.timeout_s
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        classes = list(dict.fromkeys([*sop_classes, *(str(c.abstract_syntax) for c in StoragePresentationContexts)]))
        classes = classes[:MAX_STORAGE_CONTEXTS]
        for sop_class in classes:
            ae.add_requested_context(sop_class, [SERVED_SYNTAX])
        roles: list[Any] = [build_role(sop_class, scp_role=True) for sop_class in classes]
        received: list[RetrievedInstance] = []
        lock = threading.Lock()

        def on_store(event: evt.Event) -> int:
            instance = retrieved(event)
            with lock:
                received.append(instance)
            return 0x0000

        assoc = ae.associate(
            self.host, self.port, ae_title=self.called_ae, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)]
        )
        if not assoc.is_established:
            raise PacsUnavailable(f"no association with {self.called_ae}@{self.host}:{self.port}")
        failed = 0
        try:
            for status, answer in assoc.send_c_get(
                _identifier(study_uid, series_uid, sop_instance_uid), StudyRootQueryRetrieveInformationModelGet
            ):
                if status is None or "Status" not in status:
                    raise PacsUnavailable("C-GET: no answer from the PACS (timeout or aborted association)")
                code = int(status.Status)
                if code in (0xFF00, 0xFF01):
                    continue
                failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
                if code not in (0x0000, 0xB000):
                    if not received:
                        raise PacsUnavailable(f"C-GET failed with status 0x{code:04X}")
                    _log.info("C-GET ended with status 0x%04X after %d instance(s)", code, len(received))
        finally:
            if assoc.is_established:
                assoc.release()
        return Retrieval(tuple(received), failed)

    def _move(self, inbox: MoveInbox, study_uid: str, series_uid: str | None, sop_instance_uid: str | None) -> Retrieval:
        """C-MOVE to our own AE: the PACS's sub-operations end before its final answer, so the inbox then holds all."""
        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = self.timeout_s
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = ae.associate(self.host, self.port, ae_title=self.called_ae)
        if not assoc.is_established:
            raise PacsUnavailable(f"no association with {self.called_ae}@{self.host}:{self.port}")
        collected = inbox.open(study_uid, series_uid, sop_instance_uid)
        failed = 0
        try:
            identifier = _identifier(study_uid, series_uid, sop_instance_uid)
            for status, _ in assoc.send_c_move(identifier, self.calling_ae, StudyRootQueryRetrieveInformationModelMove):
                if status is None or "Status" not in status:
                    raise PacsUnavailable("C-MOVE: no answer from the PACS (timeout or aborted association)")
                code = int(status.Status)
                if code in (0xFF00, 0xFF01):
                    continue
                failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
                if code not in (0x0000, 0xB000):
                    if not collected:
                        raise PacsUnavailable(f"C-MOVE failed with status 0x{code:04X}")
                    _log.info("C-MOVE ended with status 0x%04X after %d instance(s)", code, len(collected))
        finally:
            inbox.close(collected)
            if assoc.is_established:
                assoc.release()
        return Retrieval(tuple(collected), failed)


def _identifier(study_uid: str, series_uid: str | None, sop_instance_uid: str | None) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID = study_uid
    ds.QueryRetrieveLevel = "STUDY"
    if series_uid:
        ds.QueryRetrieveLevel = "SERIES"
        ds.SeriesInstanceUID = series_uid
    if series_uid and sop_instance_uid:
        ds.QueryRetrieveLevel = "IMAGE"
        ds.SOPInstanceUID = sop_instance_uid
    return ds

"""The reference DRIMbox's own DICOM listener (AE ``ae_title``): Verification (C-ECHO), and C-STORE with an inbox.

It makes the AE reachable (PACS-side configuration checks), takes the PACS's
IOCM rejection notes (``on_rejection``: the service queries the study again and
replaces its KOS) and gives READY.json its ``dicom_port``. With a ``MoveInbox`` (variant
``cmove_retrieve``) it is the C-MOVE destination of the source's retrievals:
every storage SOP class, Explicit VR Little Endian only (what the source serves).
"""

from __future__ import annotations

from typing import Any, Callable

import logging
import threading

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from dicombounds.scp import serve_scp, stop_scp
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.transport import ThreadedAssociationServer
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from .iocm import KEY_OBJECT_SELECTION, studies_rejected_by
from .retrieval import MoveInbox


class DicomServer:
    def __init__(
        self, ae_title: str, host: str = "127.0.0.1", port: int = 0, *, log: logging.Logger | None = None,
        inbox: MoveInbox | None = None, on_rejection: Callable[[list[str]], int] | None = None, timeout_s: float = 10.0,
    ) -> None:
        self.timeout_s = timeout_s  # each read, and the A-ASSOCIATE-RQ, within it
        self.inbox = inbox
        self.on_rejection = on_rejection  # IOCM: the studies of a rejection note -> the C-STORE status
        self.ae_title = ae_title
        self.host = host
        self.requested_port = port
        self.log = log or logging.getLogger(__name__)
        self._server: ThreadedAssociationServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("DICOM server not started")
        return int(self._server.server_address[1])

    def start(self) -> DicomServer:
        if self._server is None:
            ae = AE(ae_title=self.ae_title)
            ae.add_supported_context(Verification)
            handlers: list[Any] = [(evt.EVT_C_ECHO, self._on_echo)]
            if self.inbox is not None:
                for context in StoragePresentationContexts:
                    if context.abstract_syntax is not None:
                        ae.add_supported_context(context.abstract_syntax, [ExplicitVRLittleEndian])
            if self.on_rejection is not None:
                ae.add_supported_context(KEY_OBJECT_SELECTION, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
            if self.inbox is not None or self.on_rejection is not None:
                handlers.append((evt.EVT_C_STORE, self._on_store))
            for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
                setattr(ae, timer, self.timeout_s)
            # bounded like the harness's SCPs (dicombounds): PDU lengths and deadlines, the association limit,
            # the A-ASSOCIATE-RQ check, no DUL exception once a peer has gone
            self._server, self._thread = serve_scp(ae, (self.host, self.requested_port), handlers, f"dicom-{self.ae_title}")
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        stop_scp(server, thread, self.timeout_s)

    def _on_store(self, event: evt.Event) -> int:
        """A rejection note goes to ``on_rejection``, anything else to the C-MOVE inbox (refused without one)."""
        if self.on_rejection is not None and str(event.context.abstract_syntax) == KEY_OBJECT_SELECTION:
            studies = studies_rejected_by(event.dataset)
            if studies:
                return self.on_rejection(studies)
        if self.inbox is not None:
            return self.inbox.deliver(event)
        self.log.info("C-STORE of a %s refused: not a rejection note", event.context.abstract_syntax)
        return 0xC000  # cannot understand: this AE stores nothing else

    def _on_echo(self, event: evt.Event) -> int:
        self.log.info("C-ECHO from %s", event.assoc.requestor.ae_title)
        return 0x0000

    def __enter__(self) -> DicomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

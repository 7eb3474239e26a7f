"""The reference DRIMbox's own DICOM listener (AE ``ae_title``): Verification (C-ECHO), and C-STORE with an inbox.

It makes the AE reachable (PACS-side configuration checks, the future IOCM
role) and gives READY.json its ``dicom_port``. With a ``MoveInbox`` (variant
``cmove_retrieve``) it is the C-MOVE destination of the source's retrievals:
every storage SOP class, Explicit VR Little Endian only (what the source serves).
"""

from __future__ import annotations

from typing import Any

import logging

from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from .retrieval import MoveInbox


class DicomServer:
    def __init__(
        self, ae_title: str, host: str = "127.0.0.1", port: int = 0, *, log: logging.Logger | None = None,
        inbox: MoveInbox | None = None,
    ) -> None:
        self.inbox = inbox
        self.ae_title = ae_title
        self.host = host
        self.requested_port = port
        self.log = log or logging.getLogger(__name__)
        self._server: object | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("DICOM server not started")
        return int(self._server.server_address[1])  # type: ignore[attr-defined]

    def start(self) -> DicomServer:
        if self._server is None:
            ae = AE(ae_title=self.ae_title)
            ae.add_supported_context(Verification)
            handlers: list[Any] = [(evt.EVT_C_ECHO, self._on_echo)]
            if self.inbox is not None:
                for context in StoragePresentationContexts:
                    if context.abstract_syntax is not None:
                        ae.add_supported_context(context.abstract_syntax, [ExplicitVRLittleEndian])
                handlers.append((evt.EVT_C_STORE, self.inbox.deliver))
            self._server = ae.start_server((self.host, self.requested_port), block=False, evt_handlers=handlers)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # type: ignore[attr-defined]
            self._server = None

    def _on_echo(self, event: evt.Event) -> int:
        self.log.info("C-ECHO from %s", event.assoc.requestor.ae_title)
        return 0x0000

    def __enter__(self) -> DicomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

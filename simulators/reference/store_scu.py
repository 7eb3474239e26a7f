"""C-STORE SCU towards the DICOM node configured on the DRIMbox (consumer role, VA-D3).

One association per call; presentation contexts from the instances' SOP
classes, each proposed with the instance's own transfer syntax (the source
serves Explicit VR Little Endian; no transcoding here). Never raises: the
result lists what was stored and what was not, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

MAX_CONTEXTS = 128


@dataclass(frozen=True)
class StoreResult:
    stored: tuple[str, ...]  # SOP Instance UIDs acknowledged with status 0x0000 (or a warning)
    failed: tuple[tuple[str, str], ...]  # (SOP Instance UID, reason)

    @property
    def ok(self) -> bool:
        return not self.failed


class StoreScu:
    def __init__(
        self, *, calling_ae: str, called_ae: str, host: str, port: int, timeout_s: float,
        log: logging.Logger | None = None,
    ) -> None:
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.log = log or logging.getLogger("reference.store")

    def store(self, instances: Sequence[Dataset]) -> StoreResult:
        """C-STORE every instance on one association."""
        if not instances:
            return StoreResult((), ())
        contexts = sorted({(str(ds.SOPClassUID), _transfer_syntax(ds)) for ds in instances})
        if len(contexts) > MAX_CONTEXTS:
            reason = f"{len(contexts)} presentation contexts needed, at most {MAX_CONTEXTS}"
            return StoreResult((), tuple((str(ds.SOPInstanceUID), reason) for ds in instances))
        ae = AE(ae_title=self.calling_ae)
        for sop_class, syntax in contexts:
            ae.add_requested_context(sop_class, syntax)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout_s
        assoc = ae.associate(self.host, self.port, ae_title=self.called_ae)
        if not assoc.is_established:
            reason = f"association with {self.called_ae}@{self.host}:{self.port} not established"
            self.log.warning("C-STORE: %s", reason)
            return StoreResult((), tuple((str(ds.SOPInstanceUID), reason) for ds in instances))
        stored: list[str] = []
        failed: list[tuple[str, str]] = []
        try:
            for ds in instances:
                uid = str(ds.SOPInstanceUID)
                if not assoc.is_established:
                    failed.append((uid, "association lost"))
                    continue
                try:
                    status = assoc.send_c_store(ds)
                except (ValueError, RuntimeError, AttributeError) as exc:
                    failed.append((uid, f"{type(exc).__name__}: {exc}"))
                    continue
                code = getattr(status, "Status", None)
                if code is None:
                    failed.append((uid, "no C-STORE response (timeout or abort)"))
                elif code == 0x0000 or code in (0xB000, 0xB006, 0xB007):
                    stored.append(uid)
                else:
                    failed.append((uid, f"C-STORE status 0x{code:04X}"))
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()
        self.log.info(
            "C-STORE to %s@%s:%d: %d stored, %d failed", self.called_ae, self.host, self.port, len(stored), len(failed)
        )
        return StoreResult(tuple(stored), tuple(failed))


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    return str(getattr(meta, "TransferSyntaxUID", "") or ExplicitVRLittleEndian)

"""STOW-RS client towards the DICOM node configured on the DRIMbox (consumer role, VA-D3).

The alternative to C-STORE the demonstrator uses (it stores into its PACS
over STOW-RS; where-sources-disagree.md). One ``POST {base}/studies`` per
call: ``multipart/related; type="application/dicom"``, one Part-10 part per
instance (the instance's own transfer syntax, no transcoding), the server
verified with the configured CA. Never raises: the result lists what was
stored and what was not, read from the PS3.18 §10.5.3 store response
(``FailedSOPSequence`` (0008,1198)).
"""

from __future__ import annotations

import io
import json
import logging
import ssl
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from simulators.reference.store_scu import StoreResult

FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"


class StowClient:
    """``StowClient(base_url=..., ca_cert=...).store(instances)``: the same contract as ``StoreScu``."""

    def __init__(self, *, base_url: str, ca_cert: Path, timeout_s: float, log: logging.Logger | None = None) -> None:
        self.url = base_url.rstrip("/") + "/studies"
        self.ca_cert = ca_cert
        self.timeout_s = timeout_s
        self.log = log or logging.getLogger("reference.stow")

    def store(self, instances: Sequence[Dataset]) -> StoreResult:
        if not instances:
            return StoreResult((), ())
        uids = [str(ds.SOPInstanceUID) for ds in instances]
        body, content_type = multipart_dicom([_part10(ds) for ds in instances])
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_cert))
        try:
            with httpx.Client(verify=context, timeout=self.timeout_s, trust_env=False) as http:
                response = http.post(
                    self.url, content=body, headers={"Content-Type": content_type, "Accept": "application/dicom+json"}
                )
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            reason = f"STOW-RS to {self.url}: {type(exc).__name__}: {exc}"
            self.log.warning(reason)
            return StoreResult((), tuple((uid, reason) for uid in uids))
        failed = _failures(response)
        if response.status_code not in (200, 202) and not failed:
            failed = {uid: f"STOW-RS HTTP {response.status_code}" for uid in uids}
        stored = tuple(uid for uid in uids if uid not in failed)
        self.log.info("STOW-RS to %s: HTTP %d, %d stored, %d failed", self.url, response.status_code, len(stored), len(failed))
        return StoreResult(stored, tuple(failed.items()))


def multipart_dicom(parts: Sequence[bytes]) -> tuple[bytes, str]:
    """A ``multipart/related; type="application/dicom"`` body and its Content-Type."""
    boundary = f"drimbox-{uuid.uuid4().hex}"
    chunks = [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n" for part in parts]
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def _part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _failures(response: httpx.Response) -> dict[str, str]:
    """SOP Instance UID -> reason, from the FailedSOPSequence of a DICOM JSON store response."""
    try:
        document = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    failed: dict[str, str] = {}
    for item in (document.get(FAILED_SOP_SEQUENCE) or {}).get("Value") or []:
        uid = ((item.get(REFERENCED_SOP_INSTANCE_UID) or {}).get("Value") or [""])[0]
        reason = ((item.get(FAILURE_REASON) or {}).get("Value") or [""])[0]
        failed[str(uid)] = f"STOW-RS failure reason 0x{int(reason):04X}" if str(reason).isdigit() else "STOW-RS failure"
    return failed

"""What the reference DRIMbox remembers between messages, in ``state_dir``.

Per study: the current DMP entry of its KOS (entryUUID, uniqueId, KO series,
instance number, status) and the publication it came from, so that a
corrected CR can replace it (RPLC) and a deletion can withdraw it (ITI-57).
Every KOS ever built is kept as ``kos/<SOPInstanceUID>.dcm`` (the supplier
keeps the KOS history, AF-IMG-DB-Va2 §4.4). Writes are atomic (temp + rename).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .publication import KosPublication

APPROVED = "Approved"
DELETED = "Deleted"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class PublishedKos:
    study_uid: str
    entry_uuid: str
    unique_id: str  # = KOS SOPInstanceUID
    kos_series_uid: str
    instance_number: int
    status: str  # APPROVED / DELETED
    publication: KosPublication
    first_entry_uuid: str = ""  # the study's first KOS entry (kept across replacements; read by a fault only)


class StateStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir)
        (self.root / "studies").mkdir(parents=True, exist_ok=True)
        (self.root / "kos").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def get(self, study_uid: str) -> PublishedKos | None:
        """The last KOS entry recorded for the study (approved or deleted), or None."""
        path = self._study_path(study_uid)
        with self._lock:
            if not path.exists():
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        return _from_json(data, (self.root / "kos" / f"{data['unique_id']}.dcm").read_bytes())

    def current(self, study_uid: str) -> PublishedKos | None:
        """The approved KOS entry of the study, or None."""
        record = self.get(study_uid)
        return record if record is not None and record.status == APPROVED else None

    def approved_of_patient(self, ins: str) -> list[PublishedKos]:
        """The approved KOS entries of every study of the patient ``ins``, the most recently recorded last
        (read by the faults on several studies of one patient only)."""
        with self._lock:
            paths = sorted(self._study_paths(), key=lambda path: path.stat().st_mtime_ns)
        records = [record for record in (self.get(path.stem) for path in paths) if record is not None]
        return [record for record in records if record.status == APPROVED and record.publication.ins == ins]

    def _study_paths(self) -> list[Path]:
        return [path for path in (self.root / "studies").glob("*.json") if _UID.match(path.stem)]

    def save_kos(self, sop_instance_uid: str, data: bytes) -> Path:
        path = self.root / "kos" / f"{_checked(sop_instance_uid)}.dcm"
        atomic_write(path, data)
        return path

    def record(self, record: PublishedKos) -> None:
        self.save_kos(record.unique_id, record.publication.kos_bytes)
        payload = json.dumps(_to_json(record), indent=2, ensure_ascii=False).encode("utf-8")
        with self._lock:
            atomic_write(self._study_path(record.study_uid), payload)

    def mark_deleted(self, study_uid: str) -> PublishedKos | None:
        record = self.get(study_uid)
        if record is None:
            return None
        deleted = dataclasses.replace(record, status=DELETED)
        self.record(deleted)
        return deleted

    def _study_path(self, study_uid: str) -> Path:
        return self.root / "studies" / f"{_checked(study_uid)}.json"


def _checked(uid: str) -> str:
    if not _UID.match(uid) or len(uid) > 64:
        raise ValueError(f"not a DICOM UID: {uid!r}")
    return uid


def _to_json(record: PublishedKos) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    publication = data["publication"]
    publication.pop("kos_bytes")
    return data


def _from_json(data: dict[str, Any], kos_bytes: bytes) -> PublishedKos:
    fields = dict(data["publication"])
    for name in ("modalities", "masking_flags"):
        fields[name] = tuple(fields[name])
    if fields.get("act_code") is not None:
        fields["act_code"] = tuple(fields["act_code"])
    publication = KosPublication(kos_bytes=kos_bytes, **fields)
    return PublishedKos(**{**data, "publication": publication})


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that readers see either nothing or all of it (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


"""The PACS simulator's instance store: thread-safe, in memory, keyed by SOP Instance UID."""

from __future__ import annotations

import threading
from typing import Iterable

from pydicom.dataset import Dataset


class StudyStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, Dataset] = {}

    def add(self, datasets: Iterable[Dataset]) -> int:
        """Add or replace instances; return how many were given."""
        count = 0
        with self._lock:
            for ds in datasets:
                self._instances[str(ds.SOPInstanceUID)] = ds
                count += 1
        return count

    def remove_study(self, study_uid: str) -> int:
        with self._lock:
            doomed = [uid for uid, ds in self._instances.items() if ds.get("StudyInstanceUID") == study_uid]
            for uid in doomed:
                del self._instances[uid]
        return len(doomed)

    def instances(self) -> list[Dataset]:
        """A snapshot, in insertion order."""
        with self._lock:
            return list(self._instances.values())

    def study(self, study_uid: str) -> list[Dataset]:
        return [ds for ds in self.instances() if ds.get("StudyInstanceUID") == study_uid]

    def __len__(self) -> int:
        with self._lock:
            return len(self._instances)

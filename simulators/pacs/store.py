"""The PACS simulator's instance store: thread-safe, in memory, keyed by SOP Instance UID.

Instances are also indexed by patient, study and series, so that a query on
one study looks at that study only, and the counts a C-FIND computes
(instances of the study, studies of the patient...) are not a scan of the
whole store: a soak puts thousands of instances in it.
"""

from __future__ import annotations

import threading
from typing import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

GROUP_KEYS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID")


class StudyStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, Dataset] = {}
        self._keys: dict[str, tuple[str, str, str]] = {}  # SOP Instance UID -> its GROUP_KEYS values
        self._groups: dict[str, dict[str, dict[str, Dataset]]] = {key: {} for key in GROUP_KEYS}

    def add(self, datasets: Iterable[Dataset]) -> int:
        """Add or replace instances; return how many were given."""
        count = 0
        with self._lock:
            for ds in datasets:
                uid = str(ds.SOPInstanceUID)
                self._forget(uid)
                self._instances[uid] = ds
                keys = tuple(str(ds.get(key, "") or "") for key in GROUP_KEYS)
                self._keys[uid] = keys  # type: ignore[assignment]
                for key, value in zip(GROUP_KEYS, keys):
                    self._groups[key].setdefault(value, {})[uid] = ds
                count += 1
        return count

    def remove_study(self, study_uid: str) -> int:
        with self._lock:
            doomed = list(self._groups["StudyInstanceUID"].get(study_uid, {}))
            for uid in doomed:
                self._forget(uid)
        return len(doomed)

    def remove(self, sop_uids: Iterable[str]) -> int:
        """Forget these instances (IOCM: rejected ones are no longer returned); how many were held."""
        with self._lock:
            held = [uid for uid in sop_uids if uid in self._instances]
            for uid in held:
                self._forget(uid)
        return len(held)

    def instances(self) -> list[Dataset]:
        """A snapshot, in insertion order."""
        with self._lock:
            return list(self._instances.values())

    def study(self, study_uid: str) -> list[Dataset]:
        return self.related("StudyInstanceUID", study_uid)

    def related(self, key: str, value: str) -> list[Dataset]:
        """The instances whose ``key`` (one of GROUP_KEYS) is ``value``, in insertion order."""
        with self._lock:
            return list(self._groups[key].get(value, {}).values())

    def candidates(self, identifier: Dataset) -> list[Dataset]:
        """The instances a query can match: those of the studies it names (UID or list of UIDs), study by study, else all."""
        studies = _uid_values(identifier, "StudyInstanceUID")
        if not studies:
            return self.instances()
        with self._lock:
            by_study = self._groups["StudyInstanceUID"]
            return [ds for study in dict.fromkeys(studies) for ds in by_study.get(study, {}).values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._instances)

    def _forget(self, uid: str) -> None:
        keys = self._keys.pop(uid, None)
        self._instances.pop(uid, None)
        if keys is None:
            return
        for key, value in zip(GROUP_KEYS, keys):
            group = self._groups[key].get(value)
            if group is not None:
                group.pop(uid, None)
                if not group:
                    del self._groups[key][value]


def _uid_values(identifier: Dataset, keyword: str) -> list[str]:
    """The UIDs a unique key asks for (single value or list); [] for universal matching or no key."""
    if keyword not in identifier:
        return []
    value = identifier[keyword].value
    values = [str(v) for v in value] if isinstance(value, MultiValue) else [str(value or "")]
    values = [v for v in values if v]
    if any("*" in v or "?" in v for v in values):
        return []  # wildcards are not allowed on UIDs; matching them is left to the matcher, on every instance
    return values

"""C-FIND SCU towards the site's PACS (Study Root): what the KOS needs about a study.

Two queries per study on one association, kept between studies: STUDY level on the Study Instance UID (study
date/time/description/ID, accession, referring physician), then IMAGE level on
the Study Instance UID alone (a relational query, as the ANS demonstrator does)
for every instance with its series. With ``hierarchical`` (the variant
``hierarchical_cfind``) the instances come from a hierarchical search instead
(PS3.4 C.4.1.2): SERIES level within the study, then IMAGE level within each
series, each identifier carrying the unique keys of the levels above. ``PacsUnavailable`` means the PACS could
not be asked (association refused, timeout, failure status): a circumstantial
problem, not an unknown study.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

_log = logging.getLogger(__name__)


class PacsUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class PacsInstance:
    series_uid: str
    series_number: str
    modality: str
    series_description: str
    sop_instance_uid: str
    sop_class_uid: str
    instance_number: str


@dataclass(frozen=True)
class PacsStudy:
    study_uid: str
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    study_id: str = ""
    accession: str = ""
    referring_physician: str = ""
    instances: tuple[PacsInstance, ...] = field(default_factory=tuple)
    patient_name: str = ""  # as the PACS knows the patient (the KOS takes the CR's: read by a fault only)

    def series(self) -> list[tuple[str, list[PacsInstance]]]:
        """Instances grouped by series, series in first-seen order, instances by instance number."""
        groups: dict[str, list[PacsInstance]] = {}
        for instance in self.instances:
            groups.setdefault(instance.series_uid, []).append(instance)
        return [(uid, sorted(items, key=lambda i: _number(i.instance_number))) for uid, items in groups.items()]

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(items[0].modality for _, items in self.series() if items[0].modality))


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("inf")


class PacsClient:
    """C-FIND SCU; one association is kept between studies (it ends after ``timeout_s`` idle)."""

    def __init__(
        self, *, calling_ae: str, called_ae: str, host: str, port: int, timeout_s: float, hierarchical: bool = False
    ) -> None:
        self.hierarchical = hierarchical
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._ae = AE(ae_title=calling_ae)
        self._ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        self._ae.acse_timeout = self._ae.dimse_timeout = self._ae.network_timeout = timeout_s
        self._ae.connection_timeout = timeout_s
        self._assoc: Any = None
        self._lock = threading.Lock()

    def query_study(self, study_uid: str) -> PacsStudy:
        """The study as the PACS knows it (``instances`` empty when unknown)."""
        with self._lock:
            reused = self._assoc is not None and self._assoc.is_established
            assoc = self._association()
            try:
                studies = self._find(assoc, _study_identifier(study_uid))
                images = self._instances(assoc, study_uid)
            except PacsUnavailable:
                if not reused or assoc.is_established:
                    self._drop()
                    raise
                # the kept association was closed by the PACS in the meantime: once more on a new one
                self._drop()
                assoc = self._association()
                studies = self._find(assoc, _study_identifier(study_uid))
                images = self._instances(assoc, study_uid)
            except BaseException:
                self._drop()
                raise
        top = studies[0] if studies else Dataset()
        return PacsStudy(
            study_uid=study_uid,
            study_date=_text(top, "StudyDate"),
            study_time=_text(top, "StudyTime"),
            study_description=_text(top, "StudyDescription"),
            study_id=_text(top, "StudyID"),
            accession=_text(top, "AccessionNumber"),
            referring_physician=_text(top, "ReferringPhysicianName"),
            patient_name=_text(top, "PatientName"),
            instances=tuple(
                PacsInstance(
                    series_uid=_text(ds, "SeriesInstanceUID"),
                    series_number=_text(ds, "SeriesNumber"),
                    modality=_text(ds, "Modality"),
                    series_description=_text(ds, "SeriesDescription"),
                    sop_instance_uid=_text(ds, "SOPInstanceUID"),
                    sop_class_uid=_text(ds, "SOPClassUID"),
                    instance_number=_text(ds, "InstanceNumber"),
                )
                for ds in images
                if _text(ds, "SOPInstanceUID") and _text(ds, "SeriesInstanceUID") and _text(ds, "SOPClassUID")
            ),
        )

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _association(self) -> Any:
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        self._drop()
        assoc = self._ae.associate(self.host, self.port, ae_title=self.called_ae)
        if not assoc.is_established:
            raise PacsUnavailable(f"no association with {self.called_ae}@{self.host}:{self.port}")
        _no_delay(assoc)
        self._assoc = assoc
        return assoc

    def _drop(self) -> None:
        assoc, self._assoc = self._assoc, None
        if assoc is None:
            return
        if assoc.is_established:
            assoc.release()
        else:
            assoc.abort()

    def _instances(self, assoc: object, study_uid: str) -> list[Dataset]:
        """Every instance of the study with its series attributes: one relational IMAGE query, or the hierarchy."""
        if not self.hierarchical:
            return self._find(assoc, _image_identifier(study_uid))
        instances: list[Dataset] = []
        for series in self._find(assoc, _series_identifier(study_uid)):
            series_uid = _text(series, "SeriesInstanceUID")
            if not series_uid:
                continue
            for image in self._find(assoc, _image_identifier(study_uid, series_uid)):
                for keyword in _SERIES_KEYS:  # the series attributes came with the SERIES-level answer
                    setattr(image, keyword, _text(series, keyword))
                instances.append(image)
        return instances

    def _find(self, assoc: object, identifier: Dataset) -> list[Dataset]:
        matches: list[Dataset] = []
        for status, answer in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):  # type: ignore[attr-defined]
            if status is None or "Status" not in status:
                raise PacsUnavailable("C-FIND: no answer from the PACS (timeout or aborted association)")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01):
                if answer is not None:
                    matches.append(answer)
            elif code != 0x0000:
                raise PacsUnavailable(f"C-FIND failed with status 0x{code:04X}")
        return matches


def _no_delay(assoc: object) -> None:
    """Disable Nagle's algorithm: a C-FIND request is written as two P-DATA PDUs (command, identifier),
    and with Nagle the second waits for the PACS's delayed ACK (~40 ms on Linux) on every query."""
    try:
        assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
    except (AttributeError, OSError) as exc:  # not a TCP socket: nothing to tune
        _log.debug("TCP_NODELAY not set: %s", exc)


def _study_identifier(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    for keyword in ("StudyDate", "StudyTime", "StudyDescription", "StudyID", "AccessionNumber", "ReferringPhysicianName", "PatientName"):
        setattr(ds, keyword, "")
    return ds


_SERIES_KEYS = ("SeriesInstanceUID", "SeriesNumber", "Modality", "SeriesDescription")
_IMAGE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")


def _series_identifier(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study_uid
    for keyword in _SERIES_KEYS:
        setattr(ds, keyword, "")
    return ds


def _image_identifier(study_uid: str, series_uid: str | None = None) -> Dataset:
    """Relational (every series of the study, with their attributes) when ``series_uid`` is None, else hierarchical."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study_uid
    if series_uid is None:
        for keyword in _SERIES_KEYS:
            setattr(ds, keyword, "")
    else:
        ds.SeriesInstanceUID = series_uid
    for keyword in _IMAGE_KEYS:
        setattr(ds, keyword, "")
    return ds


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()

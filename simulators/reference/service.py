"""The source role of the reference DRIMbox: HL7 report in, KOS out to the DMP, ACK back.

``ReferenceService.handle`` is the MLLP handler: it reads the message and its
CDA, decides (event, identity gate, DESTDMP gate), queries the PACS, builds
the KOS, publishes / replaces / withdraws it, and only then returns the ACK.
With the variant ``ack_before_processing`` (variants.py) it returns ``AA`` as
soon as the message and its CDA are read and does the rest in a background
thread; the work on one study still happens one report at a time, in arrival
order (``StudyLocks``), and what goes wrong after the ACK is only logged.

ACK policy (MSA-1):
- ``AE`` + ERR when the message cannot be used: not HL7 / no MSH (100),
  unsupported type (200), trigger (201) or version (203), required field
  missing (101: no document OBX, empty OBX-5, no study / accession / order in
  the CDA), malformed data (102: bad base64, CDA not XML), ORC-1 or OBX-11
  inconsistent with the event (207 / 103);
- ``AR`` + ERR 207 when a circumstantial failure stopped the work: PACS
  unreachable or failing, DMP publication or status update failed, internal error;
- ``AA`` otherwise, including every business decision not to publish
  (identity not qualified, DESTDMP not Y, study unknown to the PACS, deletion
  of a KOS never published); each such decision is logged.

Faults (faults.py) act here, on the inputs of the pure steps; the DMP-side
faults are passed to the publisher.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Callable, Protocol

from .cda_in import CdaError, CdaPatient, CdaReport, CdaStudy, read_cda
from .config import ReferenceConfig
from .hl7_ack import build_ack
from .hl7_in import INS_OIDS, Event, Hl7Error, Hl7Report, is_well_formed_ins, read_header, read_message
from . import kos_faults
from .kos_builder import KosSettings, build_kos, is_image_sop_class
from .pacs_client import PacsStudy, PacsUnavailable
from .publication import KosPublication, PublishResult
from .state import APPROVED, PublishedKos, StateStore
from .variants import ACK_BEFORE_PROCESSING, KOS_IMAGES_ONLY, KOS_IMPLICIT_VR, NO_RETRIEVE_LOCATION_UID, WITHDRAW_DEPRECATED

DELETED_STATUS = "urn:asip:ci-sis:2010:StatusType:Deleted"
DEPRECATED_STATUS = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"  # ITI-57's own (variant withdraw_deprecated)
MASKING_FLAGS = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REP_LEGAUX")
DEFAULT_ORGANISATION_ID_TYPE = "IDNST"


class Publisher(Protocol):
    def publish(self, pub: KosPublication) -> PublishResult: ...

    def update_status(self, entry_uuid: str, new_status: str, pub: KosPublication) -> PublishResult: ...

    def close(self) -> None: ...


class PacsQuery(Protocol):
    def query_study(self, study_uid: str) -> PacsStudy: ...


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: str  # AA / AE / AR
    error: Hl7Error | None = None


ACCEPTED = Outcome("AA")


class StudyLocks:
    """One line per Study Instance UID: reports of different studies are processed in parallel,
    those of one study (initial, replacement, deletion) one after the other, in the order they
    took their place. ``queue`` takes a place in the line of each of its studies at once (the
    MLLP connection's thread, so in arrival order) and returns the :class:`StudyTurn` that the
    worker enters (``with turn:``); it gets in when it is first in each of its lines, so the
    oldest waiting report always can (no deadlock). ``hold`` is both in one thread. A line is
    forgotten when nobody is in it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._lines: dict[str, deque[StudyTurn]] = {}

    def queue(self, study_uids: Iterable[str]) -> StudyTurn:
        turn = StudyTurn(self, tuple(sorted(set(study_uids))))
        with self._changed:
            for key in turn.keys:
                self._lines.setdefault(key, deque()).append(turn)
        return turn

    @contextmanager
    def hold(self, study_uids: Iterable[str]) -> Iterator[None]:
        with self.queue(study_uids):
            yield

    def __len__(self) -> int:
        """How many studies are held or waited for."""
        with self._changed:
            return len(self._lines)

    def _wait_first(self, turn: StudyTurn) -> None:
        with self._changed:
            self._changed.wait_for(lambda: all(self._lines[key][0] is turn for key in turn.keys))

    def _leave(self, turn: StudyTurn) -> None:
        with self._changed:
            for key in turn.keys:
                line = self._lines[key]
                line.remove(turn)
                if not line:
                    del self._lines[key]
            self._changed.notify_all()


class StudyTurn:
    """A report's place in the lines of its studies (:meth:`StudyLocks.queue`); ``with turn:``
    waits until it is first in each, and gives the place up on the way out. A turn never
    entered must be given up with :meth:`cancel`."""

    def __init__(self, locks: StudyLocks, keys: tuple[str, ...]) -> None:
        self._locks = locks
        self.keys = keys

    def __enter__(self) -> StudyTurn:
        self._locks._wait_first(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._locks._leave(self)

    def cancel(self) -> None:
        self._locks._leave(self)


class ReferenceService:
    def __init__(
        self,
        config: ReferenceConfig,
        *,
        pacs: PacsQuery,
        publisher: Publisher,
        state: StateStore,
        faults: frozenset[str] = frozenset(),
        variants: frozenset[str] = frozenset(),
        log: logging.Logger | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        wado_base_url: str | None = None,
    ) -> None:
        self.config = config
        self.pacs = pacs
        self.publisher = publisher
        self.state = state
        self.faults = faults
        self.variants = variants
        self.log = log or logging.getLogger("reference")
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._studies = StudyLocks()  # messages about the same study are processed one at a time
        self._background: list[threading.Thread] = []  # ack_before_processing, IOCM: the work after the answers
        self._reports: dict[str, tuple[Hl7Report, CdaReport, CdaStudy]] = {}  # the last report per study (IOCM)
        self._seen: dict[str, PacsStudy] = {}  # the PACS's instances per study when its KOS was last built
        self._background_lock = threading.Lock()
        self.kos_settings = KosSettings(
            wado_base_url=wado_base_url or config.wado_base_url,  # the running source server's URL, when there is one
            retrieve_location_uid="" if NO_RETRIEVE_LOCATION_UID in variants else config.retrieve_location_uid,
            retrieve_ae_title=config.ae_title,
            manufacturer="drimva",
            software_version=f"{config.lps.name} {config.lps.version}",
            implicit_vr=KOS_IMPLICIT_VR in variants,
        )
        self.withdrawn_status = DEPRECATED_STATUS if WITHDRAW_DEPRECATED in variants else DELETED_STATUS

    # -- MLLP handler ------------------------------------------------------

    def handle(self, raw: bytes) -> bytes | None:
        header = read_header(raw)
        self.log.info(
            "received %d bytes: %s^%s control id %r",
            len(raw),
            header.message_type if header else "?",
            header.trigger if header else "?",
            header.control_id if header else "",
        )
        try:
            outcome = self.process(raw)
        except Exception:  # an internal error must still be acknowledged
            self.log.exception("internal error while processing the message")
            outcome = Outcome("AR", Hl7Error("207", "", "internal error of the DRIMbox"))
        trigger = "R01" if "hl7_ack_wrong_msh9" in self.faults else None
        acknowledged = (header.control_id + "X") if header and "hl7_ack_wrong_msa2" in self.faults else None
        if header is not None and "hl7_ack_fixed_header" in self.faults:  # the vendor's template, not the received MSH
            header = dataclasses.replace(
                header, sending_application="HIS", sending_facility="", receiving_application="DRIMBOX_GW",
                receiving_facility="", version="2.3",
            )  # fmt: skip
        ack = build_ack(header, outcome.code, outcome.error, trigger=trigger, acknowledged_id=acknowledged)
        if "hl7_no_ack" in self.faults:
            self.log.info("fault hl7_no_ack: no ACK (would have been MSA-1 %s)", outcome.code)
            return None
        self.log.info("ACK MSA-1 %s%s", outcome.code, f" ERR {outcome.error}" if outcome.error else "")
        return ack

    def process(self, raw: bytes) -> Outcome:
        try:
            report = read_message(raw)
        except Hl7Error as exc:
            return self._refused(exc)
        try:
            cda = read_cda(report.cda)
        except CdaError as exc:
            code = "102" if exc.xpath == "/" else "101"
            return self._refused(Hl7Error(code, f"OBX^{report.document_obx}^5", f"CDA {exc.xpath}: {exc.detail}"))
        self.log.info(
            "%s event, CDA %s, studies %s", report.event.value, cda.document_id, ", ".join(s.study_uid for s in cda.studies)
        )
        turn = self._studies.queue(study.study_uid for study in cda.studies)
        if ACK_BEFORE_PROCESSING in self.variants:
            self._in_background(turn, report, cda)
            self.log.info("variant %s: AA now, the studies are processed after the ACK", ACK_BEFORE_PROCESSING)
            return ACCEPTED
        with turn:
            return self._process_studies(report, cda)

    def _refused(self, error: Hl7Error) -> Outcome:
        if "hl7_accept_unreadable" in self.faults:
            self.log.info("fault hl7_accept_unreadable: AA for a message it cannot read (%s)", error)
            return ACCEPTED
        self.log.info("message rejected (AE): %s", error)
        if "hl7_refuse_without_err" in self.faults:
            return Outcome("AE", None)  # the ACK then has no ERR segment
        return Outcome("AE", error)

    def _process_studies(self, report: Hl7Report, cda: CdaReport) -> Outcome:
        outcomes = [self._process_study(report, cda, study) for study in cda.studies]
        return next((outcome for outcome in outcomes if outcome.code != "AA"), ACCEPTED)

    def _in_background(self, turn: StudyTurn, report: Hl7Report, cda: CdaReport) -> None:
        """Process the studies in a thread of their own once ``turn`` comes; the outcome can only be logged."""

        def work() -> None:
            with turn:
                try:
                    outcome = self._process_studies(report, cda)
                except Exception:  # nobody is left to answer: log it
                    self.log.exception("internal error while processing CDA %s after its ACK", cda.document_id)
                    return
            if outcome.code != "AA":
                self.log.info("after the ACK of CDA %s: would have been MSA-1 %s ERR %s", cda.document_id, outcome.code, outcome.error)

        self._start(work, f"report-{cda.document_id}", turn)

    def on_rejection_note(self, study_uids: Sequence[str]) -> int:
        """IOCM (ANS FAQ 8801): a rejection note about these studies was stored to our AE; returns the C-STORE
        status. After the response, in each study's line, the study is queried again and its KOS replaced
        (RPLC) by one without the rejected instances, or withdrawn when none is left."""
        if "iocm_refused" in self.faults:
            self.log.info("fault iocm_refused: rejection note refused (0xA700)")
            return 0xA700
        known = [uid for uid in dict.fromkeys(study_uids) if uid in self._reports]
        self.log.info("IOCM rejection note for studies %s (%d with a published report)", ", ".join(study_uids), len(known))
        if not known:
            return 0x0000
        turn = self._studies.queue(known)

        def work() -> None:
            with turn:
                for uid in known:
                    try:
                        self._after_rejection(uid)
                    except Exception:  # the C-STORE was answered: log it
                        self.log.exception("internal error while updating the KOS of study %s after a rejection", uid)

        self._start(work, f"iocm-{known[0]}", turn)
        return 0x0000

    def _after_rejection(self, uid: str) -> None:
        if "iocm_ignored" in self.faults:
            self.log.info("fault iocm_ignored: the KOS of study %s is left as it was", uid)
            return
        report, cda, study = self._reports[uid]
        if "iocm_keeps_rejected" in self.faults:  # the instances it saw when it published, not queried again
            self.log.info("fault iocm_keeps_rejected: study %s not queried again", uid)
            pacs_study = self._seen[uid]
        else:
            pacs_study = self.pacs.query_study(uid)
        if not pacs_study.instances:
            outcome = self._delete(report, cda, uid)
        else:
            outcome = self._publish(report, cda, study, pacs_study)
        self.log.info("after the rejection note of study %s: %s", uid, outcome.code)

    def _start(self, work: Callable[[], None], name: str, turn: StudyTurn) -> None:
        """``work`` in a thread of its own, joined by :meth:`drain`; ``turn`` given up if it cannot start."""
        worker = threading.Thread(target=work, name=name, daemon=True)
        with self._background_lock:
            self._background = [thread for thread in self._background if thread.is_alive()]
            self._background.append(worker)
        try:
            worker.start()
        except RuntimeError:
            turn.cancel()
            raise

    def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the work still running after its ACK; True when none is left."""
        with self._background_lock:
            workers = list(self._background)
        deadline = time.monotonic() + timeout_s
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(worker.is_alive() for worker in workers)

    # -- one study ---------------------------------------------------------

    def _process_study(self, report: Hl7Report, cda: CdaReport, study: CdaStudy) -> Outcome:
        uid = study.study_uid
        if report.event is Event.DELETION:
            self._reports.pop(uid, None)
            return self._delete(report, cda, uid)
        self._reports[uid] = (report, cda, study)  # what an IOCM rejection note makes it publish again
        refusal = self._identity_refusal(report, cda)
        if refusal and "publish_unqualified" not in self.faults:
            self.log.info("no publication for study %s: identity not qualified (%s)", uid, refusal)
            return ACCEPTED
        if refusal:
            self.log.info("fault publish_unqualified: identity gate skipped (%s)", refusal)
        if self.config.publish_requires_destdmp and not report.flag("DESTDMP"):
            destdmp = report.flags.get("DESTDMP", "absent")
            if "publish_despite_destdmp" not in self.faults:
                self.log.info("no publication for study %s: DESTDMP is %r, not 'Y'", uid, destdmp)
                return ACCEPTED
            self.log.info("fault publish_despite_destdmp: DESTDMP gate skipped (%r)", destdmp)
        try:
            # store-and-forward: waits for the PACS to send it the study, which the PACS never does unasked
            pacs_study = PacsStudy(uid) if "pacs_no_query" in self.faults else self.pacs.query_study(uid)
        except PacsUnavailable as exc:
            self.log.info("PACS unavailable for study %s: %s", uid, exc)
            return Outcome("AR", Hl7Error("207", "", f"PACS unavailable: {exc}"))
        self.log.info(
            "PACS: study %s has %d instance(s) in %d series",
            uid,
            len(pacs_study.instances),
            len(pacs_study.series()),
        )
        if not pacs_study.instances:
            if "publish_unknown_study" not in self.faults:
                self.log.info("no publication for study %s: study unknown to the PACS", uid)
                return ACCEPTED
            self.log.info("fault publish_unknown_study: publishing a KOS without any instance")
        if pacs_study.accession and pacs_study.accession != cda.order.accession and not self.config.publish_on_accession_mismatch:
            self.log.info("no publication for study %s: the PACS's AccessionNumber %r is not the CR's %r", uid,
                          pacs_study.accession, cda.order.accession)
            return ACCEPTED
        return self._publish(report, cda, study, pacs_study)

    def _identity_refusal(self, report: Hl7Report, cda: CdaReport) -> str:
        """Why the identity is not qualified, or '' when it is."""
        if report.identity_status not in self.config.qualified_statuses:
            return f"PID-32={report.identity_status!r}"
        if not report.ins:
            return "no INS in PID-3"
        if not is_well_formed_ins(report.ins):
            return f"malformed INS {report.ins!r} in PID-3"
        if report.ins_oid not in INS_OIDS:
            return f"PID-3 INS OID {report.ins_oid!r} is not an INS OID"
        if cda.patient.ins and (cda.patient.ins, cda.patient.ins_oid) != (report.ins, report.ins_oid):
            return f"CDA INS {cda.patient.ins!r} differs from PID-3 INS {report.ins!r}"
        return ""

    def _publish(self, report: Hl7Report, cda: CdaReport, study: CdaStudy, pacs_study: PacsStudy) -> Outcome:
        uid = study.study_uid
        now = self.clock()
        previous = self.state.current(uid)
        replaces = previous.entry_uuid if previous else None
        if previous and report.event is Event.INITIAL:
            self.log.info("study %s already has KOS entry %s: the new KOS replaces it", uid, previous.entry_uuid)
        if report.event is Event.REPLACEMENT and previous is None:
            self.log.info("replacement for study %s without a published KOS: published as a new document", uid)
        if replaces and "replace_without_rplc" in self.faults:
            self.log.info("fault replace_without_rplc: no RPLC to %s", replaces)
            replaces = None
        first = (previous.first_entry_uuid or previous.entry_uuid) if previous else ""
        if replaces and first != replaces and "rplc_targets_first" in self.faults:
            self.log.info("fault rplc_targets_first: RPLC to the first entry %s, not the current %s", first, replaces)
            replaces = first
        patient = cda.patient if cda.patient.ins else dataclasses.replace(cda.patient, ins=report.ins, ins_oid=report.ins_oid)
        if replaces and "rplc_targets_patient_latest" in self.faults:
            latest = self.state.approved_of_patient(patient.ins)
            if latest and latest[-1].entry_uuid != replaces:
                self.log.info("fault rplc_targets_patient_latest: RPLC to the patient's latest entry %s (study %s), not %s",
                              latest[-1].entry_uuid, latest[-1].study_uid, replaces)
                replaces = latest[-1].entry_uuid
        kos_patient, kos_study, settings = self._kos_inputs(patient, pacs_study, now)
        order = cda.order
        if "kos_accession_from_pacs" in self.faults and pacs_study.accession:
            order = dataclasses.replace(order, accession=pacs_study.accession)
            self.log.info("fault kos_accession_from_pacs: accession %r of the PACS in the KOS", pacs_study.accession)
        document = build_kos(
            patient=kos_patient,
            order=order,
            study=kos_study,
            settings=settings,
            institution_name=self._organisation(report, cda)[1],
            now=now,
            series_uid=previous.kos_series_uid if previous else None,
            instance_number=previous.instance_number + 1 if previous else 1,
            alter=lambda ds: kos_faults.alter(ds, self.faults),
        )
        self.state.save_kos(document.sop_instance_uid, document.data)
        self._seen[uid] = pacs_study
        publication = self._publication(report, cda, study, pacs_study, patient, document.data, document.sop_instance_uid, now)
        publication = dataclasses.replace(publication, replaces_entry_uuid=replaces)
        self.log.info(
            "KOS %s built for study %s (%d instances)%s", document.sop_instance_uid, uid, len(pacs_study.instances),
            f", replacing {replaces}" if replaces else "",
        )
        result = self.publisher.publish(publication)
        if not result.ok:
            detail = "; ".join(result.errors) or f"HTTP {result.http_status} {result.registry_status}"
            self.log.info("DMP publication of KOS %s failed: %s", document.sop_instance_uid, detail)
            return Outcome("AR", Hl7Error("207", "", f"DMP publication failed: {detail}"))
        self.state.record(
            PublishedKos(
                study_uid=uid,
                entry_uuid=result.entry_uuid,
                unique_id=document.sop_instance_uid,
                kos_series_uid=document.series_uid,
                instance_number=document.instance_number,
                status=APPROVED,
                publication=publication,
                first_entry_uuid=first or result.entry_uuid,
            )
        )
        self.log.info("KOS %s published as %s", document.sop_instance_uid, result.entry_uuid)
        return ACCEPTED

    def _delete(self, report: Hl7Report, cda: CdaReport, uid: str) -> Outcome:
        if "delete_ignored" in self.faults:
            self.log.info("fault delete_ignored: deletion of study %s ignored", uid)
            return ACCEPTED
        previous = self.state.current(uid)
        if previous is None:
            self.log.info("deletion for study %s: no published KOS, nothing to withdraw", uid)
            return ACCEPTED
        author_id, family, given = self._author(report, cda)
        org_id, org_name, org_type = self._organisation(report, cda)
        publication = dataclasses.replace(
            previous.publication,
            author_id=author_id,
            author_family=family,
            author_given=given,
            organisation_id=org_id,
            organisation_name=org_name,
            organisation_id_type=org_type,
            creation_time=self.clock().strftime("%Y%m%d%H%M%S"),
        )
        result = self.publisher.update_status(previous.entry_uuid, self.withdrawn_status, publication)
        if not result.ok:
            detail = "; ".join(result.errors) or f"HTTP {result.http_status} {result.registry_status}"
            self.log.info("withdrawal of entry %s failed: %s", previous.entry_uuid, detail)
            return Outcome("AR", Hl7Error("207", "", f"DMP status update failed: {detail}"))
        self.state.mark_deleted(uid)
        self.log.info("KOS entry %s of study %s set to %s", previous.entry_uuid, uid, DELETED_STATUS)
        return ACCEPTED

    # -- inputs ------------------------------------------------------------

    def _kos_inputs(self, patient: CdaPatient, study: PacsStudy, now: dt.datetime) -> tuple[CdaPatient, PacsStudy, KosSettings]:
        """The KOS builder's inputs, altered by the KOS faults (the builder itself is always right)."""
        settings = self.kos_settings
        if "kos_study_date_not_from_pacs" in self.faults:
            study = dataclasses.replace(study, study_date=now.strftime("%Y%m%d"), study_time=now.strftime("%H%M%S"))
        if "kos_drop_instance" in self.faults and study.instances:
            series_uid, instances = study.series()[-1]
            dropped = instances[-1]
            study = dataclasses.replace(study, instances=tuple(i for i in study.instances if i is not dropped))
            self.log.info("fault kos_drop_instance: %s of series %s left out", dropped.sop_instance_uid, series_uid)
        if "kos_mixes_patient_studies" in self.faults:
            for record in self.state.approved_of_patient(patient.ins):
                if record.study_uid != study.study_uid:
                    other = self.pacs.query_study(record.study_uid)
                    study = dataclasses.replace(study, instances=study.instances + other.instances)
                    self.log.info("fault kos_mixes_patient_studies: %d instance(s) of study %s added", len(other.instances), record.study_uid)
        if "kos_drop_non_image" in self.faults or KOS_IMAGES_ONLY in self.variants:
            kept = tuple(i for i in study.instances if is_image_sop_class(i.sop_class_uid))
            self.log.info("images only: %d non-image instance(s) left out", len(study.instances) - len(kept))
            study = dataclasses.replace(study, instances=kept)
        if "kos_non_image_as_image" in self.faults:
            settings = dataclasses.replace(settings, image_items_only=True)
        if "kos_no_retrieve_url" in self.faults:
            settings = dataclasses.replace(settings, include_retrieve_url=False)
        if "kos_patient_name_from_pacs" in self.faults and study.patient_name:
            family, _, given = study.patient_name.partition("^")
            patient = dataclasses.replace(patient, birth_name=family, given_name=given.split("^", 1)[0])
            self.log.info("fault kos_patient_name_from_pacs: PatientName %r from the PACS", study.patient_name)
        if "kos_wrong_patient_id" in self.faults:
            patient = dataclasses.replace(patient, ins=patient.ipp)
        return patient, study, settings

    def _author(self, report: Hl7Report, cda: CdaReport) -> tuple[str, str, str]:
        sender = report.sender
        if sender and sender.person_id:
            return sender.person_id, sender.family, sender.given
        return cda.author_id, cda.author_family, cda.author_given

    def _organisation(self, report: Hl7Report, cda: CdaReport) -> tuple[str, str, str]:
        sender = report.sender
        if sender and sender.organisation_id:
            return (
                sender.organisation_id,
                sender.organisation_name or cda.organisation_name,
                sender.organisation_id_type or DEFAULT_ORGANISATION_ID_TYPE,
            )
        return cda.organisation_id, cda.organisation_name, DEFAULT_ORGANISATION_ID_TYPE

    def _publication(
        self,
        report: Hl7Report,
        cda: CdaReport,
        study: CdaStudy,
        pacs_study: PacsStudy,
        patient: CdaPatient,
        kos_bytes: bytes,
        sop_instance_uid: str,
        now: dt.datetime,
    ) -> KosPublication:
        author_id, family, given = self._author(report, cda)
        org_id, org_name, org_type = self._organisation(report, cda)
        return KosPublication(
            kos_bytes=kos_bytes,
            kos_sop_instance_uid=sop_instance_uid,
            study_uid=study.study_uid,
            ins=patient.ins,
            ins_oid=patient.ins_oid,
            ipp=patient.ipp or report.ipp,
            ipp_oid=patient.ipp_oid or report.ipp_oid,
            birth_name=patient.birth_name or report.birth_name,
            given_name=patient.given_name or report.given_name,
            birth_date=patient.birth_date or report.birth_date,
            sex=patient.sex or report.sex,
            accession=cda.order.accession,
            accession_issuer=cda.order.accession_issuer,
            order_id=cda.order.order_id,
            order_root=cda.order.order_root,
            modalities=pacs_study.modalities or study.modalities,
            act_code=study.act_code,
            confidentiality=cda.confidentiality or "N",
            masking_flags=tuple(flag for flag in MASKING_FLAGS if report.flag(flag)),
            secret_connection=report.flag("CONNEXION_SECRETE"),
            author_id=author_id,
            author_family=family,
            author_given=given,
            organisation_id=org_id,
            organisation_name=org_name,
            organisation_id_type=org_type,
            healthcare_facility_code=cda.healthcare_facility_code,
            practice_setting=study.practice_setting or cda.practice_setting,
            service_start=study.service_start,
            service_stop=study.service_stop,
            creation_time=now.astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M%S"),
            birth_place=report.birth_place,
        )

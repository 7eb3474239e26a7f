"""The PACS simulator driven by pynetdicom as SCU, over real sockets."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from drimva.context import Patient
from drimva.dicom_text import read_part10
from drimva.evidence import NullEvidence
from fixtures.studies import instance_refs, make_study
from simulators.pacs.matching import element_matches
from simulators.pacs import PacsSimulator

# the demonstrator sends "*" for UI keys; pydicom warns about it, which is the point
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR")
TIMEOUT = 3.0
PATIENT = Patient(
    ins="279035121518989",
    ipp="IPP101",
    ipp_authority="RIS-DRIMVA",
    birth_name="PAT-TROIS",
    given_name="DOMINIQUE",
    birth_date="19790328",
    sex="F",
)
OTHER = Patient(ins="162018885045327", ipp="IPP106", birth_name="PAT-SIX", given_name="CAMILLE", birth_date="19960124", sex="M")


class OrderedEvidence(NullEvidence):
    """Keeps, with each record, the statuses the simulator had answered at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.pacs: PacsSimulator | None = None
        self.statuses_at_record: list[list[int | None]] = []

    def record(self, channel, label, raw, decoded=None, meta=None, suffix="bin"):  # type: ignore[no-untyped-def]
        assert self.pacs is not None
        self.statuses_at_record.append([r.status for r in self.pacs.requests])
        return super().record(channel, label, raw, decoded, meta, suffix)


@pytest.fixture(scope="module")
def studies() -> dict[str, list[Dataset]]:
    return {
        "main": make_study(PATIENT, "ACN101", study_date="20240115", description="Scanner abdomen"),
        "other": make_study(OTHER, "ACN106", series=(("MR", 2),), study_date="20221215", description="IRM genou"),
    }


@pytest.fixture()
def pacs(studies: dict[str, list[Dataset]]) -> Iterator[PacsSimulator]:
    evidence = OrderedEvidence()
    simulator = PacsSimulator(evidence, timeout=TIMEOUT)
    evidence.pacs = simulator
    for datasets in studies.values():
        simulator.add_study(datasets)
    with simulator:
        yield simulator


def _scu(*contexts: Any, roles: bool = False) -> AE:
    ae = AE(ae_title="DRIMBOX")
    for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, timer, TIMEOUT)
    for context in contexts:
        ae.add_requested_context(context)
    return ae


@contextmanager
def _association(pacs: PacsSimulator, *contexts: Any, **kwargs: Any) -> Iterator[Any]:
    ae = _scu(*contexts)
    assoc = ae.associate("127.0.0.1", pacs.port, ae_title=pacs.ae_title, **kwargs)
    assert assoc.is_established
    try:
        yield assoc
    finally:
        assoc.release()
        ae.shutdown()


def _find(pacs: PacsSimulator, query: Dataset, model: Any = StudyRootQueryRetrieveInformationModelFind) -> tuple[list[Dataset], int]:
    with _association(pacs, model) as assoc:
        answers, final = [], None
        for status, identifier in assoc.send_c_find(query, model):
            assert status is not None, "no answer from the PACS"
            if status.Status in (0xFF00, 0xFF01):
                answers.append(identifier)
            else:
                final = status.Status
    assert final is not None
    return answers, final


def _query(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


@contextmanager
def _storage_scp(ae_title: str = "MOVESCP") -> Iterator[tuple[int, list[Dataset]]]:
    received: list[Dataset] = []

    def on_store(event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return 0x0000

    ae = _scu()
    ae.ae_title = ae_title
    ae.add_supported_context(CTImageStorage)
    ae.add_supported_context(MRImageStorage)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()


# -- C-ECHO ---------------------------------------------------------------------------


def test_echo_is_answered_and_recorded(pacs: PacsSimulator) -> None:
    with _association(pacs, Verification) as assoc:
        assert assoc.send_c_echo().Status == 0x0000
    [record] = pacs.requests
    assert (record.service, record.calling_ae, record.called_ae, record.peer[0]) == ("C-ECHO", "DRIMBOX", "DRIMVA_PACS", "127.0.0.1")
    assert record.status == 0x0000
    evidence = pacs.evidence
    assert isinstance(evidence, OrderedEvidence)
    assert [(c, l) for c, l, *_ in evidence.records] == [("pacs", "C-ECHO-rq"), ("pacs", "C-ECHO-rsp 0x0000")]


# -- C-FIND ---------------------------------------------------------------------------


def test_study_level_returns_only_the_keys_asked(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    query = _query(
        "STUDY", PatientID="IPP101", StudyInstanceUID="", StudyDate="20240101-20240131", StudyTime="",
        AccessionNumber="", PatientName="", StudyID="", ModalitiesInStudy="",
        NumberOfStudyRelatedSeries=None, NumberOfStudyRelatedInstances=None,
    )
    [answer], status = _find(pacs, query)
    assert status == 0x0000
    main = studies["main"][0]
    assert answer.StudyInstanceUID == main.StudyInstanceUID
    assert (answer.AccessionNumber, answer.StudyDate, answer.StudyID) == ("ACN101", "20240115", main.StudyID)
    assert list(answer.ModalitiesInStudy) == ["CT", "MR"]
    assert (answer.NumberOfStudyRelatedSeries, answer.NumberOfStudyRelatedInstances) == (2, 5)
    assert "StudyDescription" not in answer and "OtherPatientIDsSequence" not in answer
    [record] = pacs.requests
    assert (record.service, record.level, record.matches, record.status) == ("C-FIND", "STUDY", 1, 0x0000)


def test_study_level_matching_forms(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    uids = [studies["main"][0].StudyInstanceUID, studies["other"][0].StudyInstanceUID]
    answers, _ = _find(pacs, _query("STUDY", StudyInstanceUID=uids, PatientName=""))
    assert sorted(a.StudyInstanceUID for a in answers) == sorted(uids)
    answers, _ = _find(pacs, _query("STUDY", PatientName="PAT-T*", StudyInstanceUID=""))
    assert [a.StudyInstanceUID for a in answers] == [uids[0]]
    answers, _ = _find(pacs, _query("STUDY", StudyDate="-20230101", StudyInstanceUID=""))
    assert [a.StudyInstanceUID for a in answers] == [uids[1]]
    answers, _ = _find(pacs, _query("STUDY", ModalitiesInStudy="CT", StudyInstanceUID=""))
    assert [a.StudyInstanceUID for a in answers] == [uids[0]]
    answers, _ = _find(pacs, _query("STUDY", AccessionNumber="ACN999", StudyInstanceUID=""))
    assert answers == []


def test_other_patient_ids_carry_the_ins(pacs: PacsSimulator) -> None:
    query = _query("STUDY", PatientID="IPP101", StudyInstanceUID="")
    query.OtherPatientIDsSequence = DicomSequence()
    [answer], _ = _find(pacs, query)
    ins = answer.OtherPatientIDsSequence[0]
    assert (ins.PatientID, ins.IssuerOfPatientID) == ("279035121518989", "ASIP-SANTE-INS-NIR")
    assert ins.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID == PATIENT.ins_oid


def test_hierarchical_series_then_image(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    study = studies["main"]
    series, _ = _find(pacs, _query("SERIES", StudyInstanceUID=study[0].StudyInstanceUID, SeriesInstanceUID="",
                                   Modality="", SeriesNumber=None, SeriesDescription="", NumberOfSeriesRelatedInstances=None))
    assert [(s.Modality, s.SeriesNumber, s.NumberOfSeriesRelatedInstances) for s in series] == [("CT", 1, 3), ("MR", 2, 2)]
    images, _ = _find(pacs, _query("IMAGE", StudyInstanceUID=study[0].StudyInstanceUID, SeriesInstanceUID=series[1].SeriesInstanceUID,
                                   SOPInstanceUID="", SOPClassUID="", InstanceNumber=None))
    assert [(i.SOPClassUID, i.InstanceNumber) for i in images] == [("1.2.840.10008.5.1.4.1.1.4", 1), ("1.2.840.10008.5.1.4.1.1.4", 2)]


def _demonstrator_query(study_uid: str) -> Dataset:
    """The relational IMAGE-level query the ANS demonstrator sends (dicom-query-retrieve.md §3)."""
    query = _query("IMAGE", StudyInstanceUID=study_uid)
    for keyword in ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyDescription", "SeriesDescription", "StudyID",
                    "SOPClassUID", "AccessionNumber", "PatientID"):
        setattr(query, keyword, "")
    query.SeriesInstanceUID = "*"
    query.SOPInstanceUID = "*"
    query.Modality = "*"
    query.InstanceNumber = None
    query.NumberOfFrames = None
    query.SeriesNumber = None
    return query


def test_relational_image_query_lists_the_whole_study(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    study = studies["main"]
    answers, status = _find(pacs, _demonstrator_query(study[0].StudyInstanceUID))
    assert status == 0x0000
    triplets = {(a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID, a.SOPClassUID) for a in answers}
    assert triplets == {(r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid) for r in instance_refs(study)}
    assert {a.AccessionNumber for a in answers} == {"ACN101"} and {a.PatientID for a in answers} == {"IPP101"}
    assert "NumberOfFrames" in answers[0]  # asked, unknown for these images: returned empty


def test_minimal_keys_drops_the_sop_class(studies: dict[str, list[Dataset]]) -> None:
    with PacsSimulator(NullEvidence(), minimal_keys=True, timeout=TIMEOUT) as pacs:
        pacs.add_study(studies["main"])
        answers, _ = _find(pacs, _demonstrator_query(studies["main"][0].StudyInstanceUID))
    assert len(answers) == 5
    assert all("SOPClassUID" not in a and a.SOPInstanceUID for a in answers)


def test_hierarchical_only_refuses_the_relational_query(studies: dict[str, list[Dataset]]) -> None:
    with PacsSimulator(NullEvidence(), relational_queries=False, timeout=TIMEOUT) as pacs:
        pacs.add_study(studies["main"])
        answers, status = _find(pacs, _demonstrator_query(studies["main"][0].StudyInstanceUID))
        assert (answers, status) == ([], 0xA900)
        assert pacs.requests[0].status == 0xA900


def test_patient_root_patient_level(pacs: PacsSimulator) -> None:
    query = _query("PATIENT", PatientID="IPP106", PatientName="", NumberOfPatientRelatedStudies=None)
    [answer], _ = _find(pacs, query, PatientRootQueryRetrieveInformationModelFind)
    assert (str(answer.PatientName), answer.NumberOfPatientRelatedStudies) == ("PAT-SIX^CAMILLE", 1)


def test_requests_are_recorded_before_they_are_answered(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    _find(pacs, _demonstrator_query(studies["main"][0].StudyInstanceUID))
    evidence = pacs.evidence
    assert isinstance(evidence, OrderedEvidence)
    (channel, label, raw, decoded, meta), response = evidence.records
    assert (channel, label, meta["calling_ae"], meta["level"]) == ("pacs", "C-FIND-rq IMAGE", "DRIMBOX", "IMAGE")
    # written before the steps can see the request (so before it is judged, and before it is answered)
    assert evidence.statuses_at_record[0] == []
    assert evidence.statuses_at_record[1] == [None]  # the response written before the request's status is set
    assert read_part10(raw).StudyInstanceUID == studies["main"][0].StudyInstanceUID
    assert "DRIMBOX -> DRIMVA_PACS" in decoded and "Study Instance UID" in decoded
    assert response[1] == "C-FIND-rsp 0x0000" and response[4]["matches"] == 5
    records = pacs.requests_for_study(studies["main"][0].StudyInstanceUID, "C-FIND")
    assert len(records) == 1 and pacs.requests_for_study(studies["other"][0].StudyInstanceUID) == []
    assert pacs.wait_for_request(lambda r: r.service == "C-FIND", timeout=1) is records[0]
    pacs.clear_requests()
    assert pacs.requests == [] and pacs.wait_for_request(lambda r: True, timeout=0.05) is None


# -- C-MOVE / C-GET / C-STORE -----------------------------------------------------------------


def test_move_study_to_a_storage_scp(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    study = studies["main"]
    with _storage_scp() as (port, received):
        pacs.add_move_destination("MOVESCP", "127.0.0.1", port)
        with _association(pacs, StudyRootQueryRetrieveInformationModelMove) as assoc:
            responses = [s for s, _ in assoc.send_c_move(_query("STUDY", StudyInstanceUID=study[0].StudyInstanceUID), "MOVESCP",
                                                         StudyRootQueryRetrieveInformationModelMove)]
    assert sorted(ds.SOPInstanceUID for ds in received) == sorted(ds.SOPInstanceUID for ds in study)
    by_uid = {ds.SOPInstanceUID: ds for ds in study}
    assert all(ds.PixelData == by_uid[ds.SOPInstanceUID].PixelData for ds in received)
    pending = [r for r in responses if r.Status == 0xFF00]
    assert [r.NumberOfCompletedSuboperations for r in pending] == [1, 2, 3, 4, 5]
    assert [r.NumberOfRemainingSuboperations for r in pending] == [4, 3, 2, 1, 0]
    assert responses[-1].Status == 0x0000 and responses[-1].NumberOfCompletedSuboperations == 5
    [record] = pacs.requests_for_study(study[0].StudyInstanceUID, "C-MOVE")
    assert (record.move_destination, record.level, record.matches, record.status) == ("MOVESCP", "STUDY", 5, 0x0000)


def test_move_series_like_the_demonstrator(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    study = studies["main"]
    series_uid = study[-1].SeriesInstanceUID
    with _storage_scp("CAET") as (port, received):
        pacs.add_move_destination("CAET", "127.0.0.1", port)
        with _association(pacs, StudyRootQueryRetrieveInformationModelMove) as assoc:
            query = _query("SERIES", StudyInstanceUID=study[0].StudyInstanceUID, SeriesInstanceUID=series_uid)
            final = list(assoc.send_c_move(query, "CAET", StudyRootQueryRetrieveInformationModelMove))[-1][0]
    assert final.Status == 0x0000
    assert sorted(ds.SOPInstanceUID for ds in received) == sorted(ds.SOPInstanceUID for ds in study if ds.SeriesInstanceUID == series_uid)


def test_move_to_an_unknown_destination_is_refused(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    with _association(pacs, StudyRootQueryRetrieveInformationModelMove) as assoc:
        query = _query("STUDY", StudyInstanceUID=studies["main"][0].StudyInstanceUID)
        [(status, _)] = list(assoc.send_c_move(query, "NOBODY", StudyRootQueryRetrieveInformationModelMove))
    assert status.Status == 0xA801
    [record] = pacs.requests
    assert (record.move_destination, record.status) == ("NOBODY", 0xA801)


def test_retrieve_without_a_unique_key_fails(pacs: PacsSimulator) -> None:
    with _storage_scp() as (port, received):
        pacs.add_move_destination("MOVESCP", "127.0.0.1", port)
        with _association(pacs, StudyRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelFind) as assoc:
            final = list(assoc.send_c_move(_query("STUDY", PatientName="PAT*"), "MOVESCP", StudyRootQueryRetrieveInformationModelMove))[-1][0]
            bad_level = [s.Status for s, _ in assoc.send_c_find(_query("FRAME"), StudyRootQueryRetrieveInformationModelFind)]
    assert final.Status & 0xF000 == 0xC000 and received == []  # Cxxx: unable to process
    assert bad_level == [0xA900]
    assert [r.status for r in pacs.requests] == [final.Status, 0xA900]


def test_get_brings_the_study_on_the_same_association(pacs: PacsSimulator, studies: dict[str, list[Dataset]]) -> None:
    received: list[Dataset] = []

    def on_store(event: Any) -> int:
        received.append(event.dataset)
        return 0x0000

    ae = _scu(StudyRootQueryRetrieveInformationModelGet, CTImageStorage, MRImageStorage)
    roles = [build_role(CTImageStorage, scp_role=True), build_role(MRImageStorage, scp_role=True)]
    assoc = ae.associate("127.0.0.1", pacs.port, ae_title=pacs.ae_title, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert assoc.is_established
    try:
        query = _query("STUDY", StudyInstanceUID=studies["main"][0].StudyInstanceUID)
        final = list(assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet))[-1][0]
    finally:
        assoc.release()
        ae.shutdown()
    assert final.Status == 0x0000 and final.NumberOfCompletedSuboperations == 5
    assert len(received) == 5
    [record] = pacs.requests
    assert (record.service, record.matches, record.status) == ("C-GET", 5, 0x0000)


def test_store_adds_to_the_study_store(pacs: PacsSimulator) -> None:
    [incoming] = make_study(OTHER, "ACN107", series=(("CT", 1),))
    with _association(pacs, CTImageStorage) as assoc:
        assert assoc.send_c_store(incoming).Status == 0x0000
    [record] = pacs.requests_for_study(incoming.StudyInstanceUID, "C-STORE")
    assert record.status == 0x0000
    answers, _ = _find(pacs, _query("STUDY", StudyInstanceUID=incoming.StudyInstanceUID, AccessionNumber=""))
    assert [a.AccessionNumber for a in answers] == ["ACN107"]
    assert pacs.remove_study(incoming.StudyInstanceUID) == 1


# -- life cycle ------------------------------------------------------------------------------


def test_stop_is_fast_idempotent_and_releases_the_port(studies: dict[str, list[Dataset]]) -> None:
    pacs = PacsSimulator(NullEvidence(), timeout=TIMEOUT).start()
    port = pacs.port
    assert port > 0
    started = time.monotonic()
    pacs.stop()
    pacs.stop()
    assert time.monotonic() - started < 2.0
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    leftovers = [t for t in threading.enumerate() if t.name.startswith("pacs-") and t.is_alive()]
    assert leftovers == []


# -- matching (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vr", "query", "stored", "expected"),
    [
        ("DA", "20240101-20240131", "20240115", True),
        ("DA", "20240101-", "20231231", False),
        ("DA", "-20240101", "20240101", True),
        ("TM", "0900-1000", "093015.5", True),
        ("TM", "0900-1000", "100100", False),
        ("PN", "PAT-?ROIS*", "PAT-TROIS^DOMINIQUE", True),
        ("LO", "IPP1*", "IPP2", False),
        ("UI", ["1.2.3", "1.2.4"], "1.2.4", True),
        ("UI", "1.2.3", "1.2.30", False),
        ("CS", "", "CT", True),
        ("IS", "3", "3", True),
    ],
)
def test_element_matching(vr: str, query: Any, stored: str, expected: bool) -> None:
    from pydicom.dataelem import DataElement

    assert element_matches(DataElement(0x00100010, vr, query), DataElement(0x00100010, vr, stored)) is expected

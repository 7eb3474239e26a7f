"""The reference DRIMbox's C-FIND both ways (variant ``hierarchical_cfind``) and its retrieval both ways (variant
``cmove_retrieve``), against the harness's PACS simulator.

dicom-query-retrieve.md §3 and open question 2: the demonstrator sends one relational IMAGE-level query on the
Study UID; a hierarchical search (STUDY, SERIES, IMAGE within each series) is the other reading. Both give the same
study, and the harness's PACS-CFIND rule passes both, since each query carries the Study UID.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove  # type: ignore[attr-defined]

from drimva.context import Patient
from drimva.evidence import NullEvidence
from drimva.rules.publication import check_pacs_query
from fixtures.studies import make_study
from simulators.pacs import PacsSimulator
from simulators.reference.dicom_server import DicomServer
from simulators.reference.pacs_client import PacsClient, PacsStudy
from simulators.reference.retrieval import MoveInbox, PacsRetriever

TIMEOUT = 3.0
PATIENT = Patient(ins="279035121518989", ipp="IPP101", birth_name="PAT-TROIS", given_name="DOMINIQUE",
                  birth_date="19790328", sex="F")  # fmt: skip


@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN101", series=(("CT", 3), ("MR", 2)), description="Scanner abdomen")


def _query(study: list[Dataset], *, hierarchical: bool, relational_queries: bool = True) -> Iterator[tuple[PacsStudy, PacsSimulator]]:
    with PacsSimulator(NullEvidence(), relational_queries=relational_queries, timeout=TIMEOUT) as pacs:
        pacs.add_study(study)
        client = PacsClient(calling_ae="DRIMBOX", called_ae=pacs.ae_title, host="127.0.0.1", port=pacs.port,
                            timeout_s=TIMEOUT, hierarchical=hierarchical)  # fmt: skip
        try:
            yield client.query_study(str(study[0].StudyInstanceUID)), pacs
        finally:
            client.close()


def test_the_hierarchical_search_finds_what_the_relational_query_finds(study: list[Dataset]) -> None:
    (relational, pacs_r), = _query(study, hierarchical=False)
    (hierarchical, pacs_h), = _query(study, hierarchical=True)
    assert hierarchical == relational and len(hierarchical.instances) == 5
    assert [items[0].modality for _, items in hierarchical.series()] == ["CT", "MR"]
    assert [r.level for r in pacs_r.requests] == ["STUDY", "IMAGE"]
    assert [r.level for r in pacs_h.requests] == ["STUDY", "SERIES", "IMAGE", "IMAGE"]  # one IMAGE query per series
    study_uid = str(study[0].StudyInstanceUID)
    for pacs in (pacs_r, pacs_h):  # the harness's rule passes both readings
        queries = pacs.requests_for_study(study_uid, service="C-FIND")
        assert len(queries) == len(pacs.requests)
        assert check_pacs_query(study_uid, [q.calling_ae for q in queries], "DRIMBOX", 3.0, len(pacs.requests)) == []


def test_a_pacs_that_refuses_relational_queries_is_answered_by_the_hierarchical_search(study: list[Dataset]) -> None:
    (hierarchical, pacs), = _query(study, hierarchical=True, relational_queries=False)
    assert len(hierarchical.instances) == 5 and all(r.status == 0x0000 for r in pacs.requests)


@pytest.mark.parametrize("by_move", [False, True])
def test_the_source_retrieves_a_series_by_c_get_or_by_c_move_to_its_own_ae(study: list[Dataset], by_move: bool) -> None:
    """dicom-query-retrieve.md §4, open question 3: the reference's C-GET, or the demonstrator's C-MOVE (variant
    cmove_retrieve: the destination is the DRIMbox's own listener, which hands the instances to the retrieval)."""
    series_uid = str(study[0].SeriesInstanceUID)
    expected = {str(ds.SOPInstanceUID) for ds in study if str(ds.SeriesInstanceUID) == series_uid}
    inbox = MoveInbox() if by_move else None
    with PacsSimulator(NullEvidence(), timeout=TIMEOUT) as pacs, DicomServer("DRIMBOX", inbox=inbox) as listener:
        pacs.add_study(study)
        pacs.add_move_destination("DRIMBOX", "127.0.0.1", listener.port)
        retriever = PacsRetriever(calling_ae="DRIMBOX", called_ae=pacs.ae_title, host="127.0.0.1", port=pacs.port,
                                  timeout_s=TIMEOUT, inbox=inbox)  # fmt: skip
        got = retriever.get(str(study[0].StudyInstanceUID), series_uid)
        services = [r.service for r in pacs.requests if r.service in ("C-GET", "C-MOVE")]
    assert {i.sop_instance_uid for i in got.instances} == expected and got.failed == 0
    assert {i.transfer_syntax for i in got.instances} == {"1.2.840.10008.1.2.1"}  # what the source serves
    assert services == (["C-MOVE"] if by_move else ["C-GET"])


def test_an_instance_no_retrieval_waits_for_is_refused(study: list[Dataset]) -> None:
    inbox = MoveInbox()
    with PacsSimulator(NullEvidence(), timeout=TIMEOUT) as pacs, DicomServer("DRIMBOX", inbox=inbox) as listener:
        pacs.add_study(study)
        pacs.add_move_destination("DRIMBOX", "127.0.0.1", listener.port)
        waiting = inbox.open("1.2.3", None, None)  # another study: nobody waits for this one
        scu = AE(ae_title="OTHER")
        scu.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = scu.associate("127.0.0.1", pacs.port, ae_title=pacs.ae_title)
        identifier = Dataset()
        identifier.QueryRetrieveLevel, identifier.StudyInstanceUID = "STUDY", str(study[0].StudyInstanceUID)
        final = [s for s, _ in assoc.send_c_move(identifier, "DRIMBOX", StudyRootQueryRetrieveInformationModelMove)][-1]
        assoc.release()
        scu.shutdown()
    assert waiting == [] and int(final.NumberOfFailedSuboperations) == len(study)

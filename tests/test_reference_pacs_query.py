"""The reference DRIMbox's C-FIND both ways (variant ``hierarchical_cfind``), against the harness's PACS simulator.

dicom-query-retrieve.md §3 and open question 2: the demonstrator sends one relational IMAGE-level query on the
Study UID; a hierarchical search (STUDY, SERIES, IMAGE within each series) is the other reading. Both give the same
study, and the harness's PACS-CFIND rule passes both, since each query carries the Study UID.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydicom.dataset import Dataset

from drimva.context import Patient
from drimva.evidence import NullEvidence
from drimva.rules.publication import check_pacs_query
from fixtures.studies import make_study
from simulators.pacs import PacsSimulator
from simulators.reference.pacs_client import PacsClient, PacsStudy

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

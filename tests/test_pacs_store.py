"""simulators.pacs.store: the indexes behind the PACS simulator's queries."""

from __future__ import annotations

from pydicom.dataset import Dataset

from simulators.pacs.matching import find_responses
from simulators.pacs.store import StudyStore


def _instance(sop: str, study: str, series: str, patient: str = "P1", modality: str = "CT") -> Dataset:
    ds = Dataset()
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = sop, study, series, patient
    ds.SOPClassUID, ds.Modality = "1.2.840.10008.5.1.4.1.1.2", modality
    return ds


def _query(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def _store() -> StudyStore:
    store = StudyStore()
    store.add([_instance("1.1", "9.1", "8.1"), _instance("1.2", "9.1", "8.1"), _instance("1.3", "9.1", "8.2", modality="MR"),
               _instance("2.1", "9.2", "8.3"), _instance("3.1", "9.3", "8.4", patient="P2")])  # fmt: skip
    return store


def test_a_query_on_study_uids_looks_at_those_studies_only() -> None:
    store = _store()
    assert [ds.SOPInstanceUID for ds in store.candidates(_query("IMAGE", StudyInstanceUID="9.1"))] == ["1.1", "1.2", "1.3"]
    assert [ds.SOPInstanceUID for ds in store.candidates(_query("IMAGE", StudyInstanceUID=["9.2", "9.3"]))] == ["2.1", "3.1"]
    assert len(store.candidates(_query("STUDY", StudyInstanceUID=""))) == 5  # universal matching: every instance
    assert len(store.candidates(_query("STUDY", PatientID="P1"))) == 5  # no study key: the matcher decides
    assert store.candidates(_query("IMAGE", StudyInstanceUID="9.9")) == []


def test_replacing_or_removing_instances_keeps_the_indexes_right() -> None:
    store = _store()
    store.add([_instance("1.3", "9.2", "8.3")])  # the MR instance moves to another study
    assert [ds.SOPInstanceUID for ds in store.study("9.1")] == ["1.1", "1.2"]
    assert [ds.SOPInstanceUID for ds in store.related("SeriesInstanceUID", "8.3")] == ["2.1", "1.3"]
    assert store.related("SeriesInstanceUID", "8.2") == []
    assert store.remove_study("9.2") == 2 and len(store) == 3
    assert store.related("PatientID", "P1") == store.study("9.1")


def test_counts_from_the_indexes_match_counts_from_a_full_scan() -> None:
    store = _store()
    query = _query("STUDY", StudyInstanceUID="9.1", NumberOfStudyRelatedInstances="", NumberOfStudyRelatedSeries="",
                   NumberOfPatientRelatedStudies="", ModalitiesInStudy="")  # fmt: skip
    indexed = find_responses(store.candidates(query), query, "STUDY", retrieve_ae_title="PACS", related=store.related)
    scanned = find_responses(store.instances(), query, "STUDY", retrieve_ae_title="PACS")
    assert indexed == scanned and len(indexed) == 1
    answer = indexed[0]
    assert (answer.NumberOfStudyRelatedInstances, answer.NumberOfStudyRelatedSeries, answer.NumberOfPatientRelatedStudies) == (3, 2, 2)
    assert list(answer.ModalitiesInStudy) == ["CT", "MR"]

"""DCMTK as an independent DICOM peer of the PACS simulator (CI oracle).

findscu queries it (study level and the relational IMAGE-level query the ANS
demonstrator sends), movescu moves a study to a DCMTK storescp started on an
ephemeral port, getscu fetches one on the same association. Skipped, with the
reason printed, when DCMTK is not installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from ports import free_loopback_port
from pydicom import dcmread
from pydicom.dataset import Dataset

from drimva.context import Patient
from drimva.evidence import NullEvidence
from fixtures.studies import instance_refs, make_study
from simulators.pacs import PacsSimulator

TOOLS = ("findscu", "movescu", "getscu", "storescp")
TIMEOUT = 20
PATIENT = Patient(ins="279035121518989", ipp="IPP101", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")


@pytest.fixture(scope="module", autouse=True)
def dcmtk() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"dcmtk not installed (apt package dcmtk): missing {', '.join(missing)}")


@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN101", study_date="20240115")


@pytest.fixture()
def pacs(study: list[Dataset]) -> Iterator[PacsSimulator]:
    with PacsSimulator(NullEvidence(), timeout=5) as simulator:
        simulator.add_study(study)
        yield simulator


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert completed.returncode == 0, f"{' '.join(args)}\n{completed.stdout}\n{completed.stderr}"
    return completed


def _scu(tool: str, pacs: PacsSimulator, *options: str) -> list[str]:
    return [tool, "-S", "-aet", "DRIMBOX", "-aec", pacs.ae_title, "-to", "5", "-ta", "5", "-td", "5", *options, "127.0.0.1", str(pacs.port)]


def _responses(folder: Path) -> list[Dataset]:
    return [dcmread(path) for path in sorted(folder.glob("rsp*.dcm"))]


@contextmanager
def _storescp(folder: Path, ae_title: str = "STORESCP") -> Iterator[int]:
    """DCMTK storescp on an ephemeral port, writing into ``folder``; always terminated."""
    port = free_loopback_port()
    process = subprocess.Popen(
        ["storescp", "-aet", ae_title, "-od", str(folder), "-dhl", "-ta", "5", "-td", "5", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"storescp did not start on port {port}: {output}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def test_findscu_study_level(pacs: PacsSimulator, study: list[Dataset], tmp_path: Path) -> None:
    _run(_scu("findscu", pacs, "-X", "-od", str(tmp_path), "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=IPP101",
              "-k", "StudyInstanceUID", "-k", "AccessionNumber", "-k", "StudyDate=20240101-20240131", "-k", "ModalitiesInStudy",
              "-k", "NumberOfStudyRelatedInstances"))
    [answer] = _responses(tmp_path)
    assert answer.StudyInstanceUID == study[0].StudyInstanceUID
    assert (answer.AccessionNumber, list(answer.ModalitiesInStudy), answer.NumberOfStudyRelatedInstances) == ("ACN101", ["CT", "MR"], 5)
    [record] = pacs.requests
    assert (record.calling_ae, record.service, record.level, record.status) == ("DRIMBOX", "C-FIND", "STUDY", 0x0000)


def test_findscu_relational_image_query(pacs: PacsSimulator, study: list[Dataset], tmp_path: Path) -> None:
    _run(_scu("findscu", pacs, "-X", "-od", str(tmp_path), "-k", "QueryRetrieveLevel=IMAGE",
              "-k", f"StudyInstanceUID={study[0].StudyInstanceUID}", "-k", "SeriesInstanceUID", "-k", "SOPInstanceUID",
              "-k", "SOPClassUID", "-k", "InstanceNumber"))
    answers = _responses(tmp_path)
    got = {(a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID, a.SOPClassUID) for a in answers}
    assert got == {(r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid) for r in instance_refs(study)}
    assert pacs.requests[0].matches == 5


def test_movescu_to_storescp(pacs: PacsSimulator, study: list[Dataset], tmp_path: Path) -> None:
    received = tmp_path / "received"
    received.mkdir()
    with _storescp(received) as port:
        pacs.add_move_destination("STORESCP", "127.0.0.1", port)
        _run(_scu("movescu", pacs, "-aem", "STORESCP", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study[0].StudyInstanceUID}"))
    files = [dcmread(path) for path in received.iterdir()]
    assert sorted(ds.SOPInstanceUID for ds in files) == sorted(ds.SOPInstanceUID for ds in study)
    [record] = pacs.requests
    assert (record.service, record.move_destination, record.matches, record.status) == ("C-MOVE", "STORESCP", 5, 0x0000)


def test_movescu_to_an_unknown_destination(pacs: PacsSimulator, study: list[Dataset]) -> None:
    completed = subprocess.run(
        _scu("movescu", pacs, "-aem", "NOBODY", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study[0].StudyInstanceUID}"),
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert "MoveDestinationUnknown" in completed.stderr and completed.returncode != 0
    assert pacs.requests[0].status == 0xA801


def test_getscu(pacs: PacsSimulator, study: list[Dataset], tmp_path: Path) -> None:
    series_uid = study[0].SeriesInstanceUID
    _run(_scu("getscu", pacs, "-od", str(tmp_path), "-k", "QueryRetrieveLevel=SERIES",
              "-k", f"StudyInstanceUID={study[0].StudyInstanceUID}", "-k", f"SeriesInstanceUID={series_uid}"))
    files = [dcmread(path) for path in tmp_path.iterdir()]
    assert sorted(ds.SOPInstanceUID for ds in files) == sorted(ds.SOPInstanceUID for ds in study if ds.SeriesInstanceUID == series_uid)
    assert pacs.requests[0].status == 0x0000

"""DCMTK storescu as an independent C-STORE SCU feeding the DICOM node (CI oracle).

Skipped, with the reason printed, when DCMTK is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drimva.context import Patient
from drimva.evidence import NullEvidence
from drimva.rules.retrieval import pixel_digests
from fixtures.studies import make_study
from simulators.dicom_node import DicomNode

PATIENT = Patient(ins="279035121518989", birth_name="PAT-DCMTK", given_name="QUATRE", birth_date="19790328", sex="F")


def test_storescu_feeds_the_node(tmp_path: Path) -> None:
    storescu = shutil.which("storescu")
    if storescu is None:
        pytest.skip("dcmtk not installed (apt package dcmtk): storescu missing")
    study = make_study(PATIENT, "ACN-D1", series=(("CT", 2), ("MR", 2)))
    files = []
    for index, ds in enumerate(study):
        path = tmp_path / f"{index}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(str(path))
    evidence = NullEvidence()
    with DicomNode(evidence, ae_title="DRIMVA_NODE", timeout=5) as node:
        done = subprocess.run(
            [storescu, "-aet", "DCMTK_SCU", "-aec", "DRIMVA_NODE", "-to", "10", "127.0.0.1", str(node.port), *files],
            capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, done.stderr
        wanted = {str(ds.SOPInstanceUID) for ds in study}
        assert node.wait_for_instances(wanted, timeout=5) == wanted
        assert pixel_digests(node.received) == pixel_digests(study)
        assert {r.calling_ae for r in node.receipts} == {"DCMTK_SCU"}
    assert len([r for r in evidence.records if r[1] == "C-STORE-rq"]) == 4

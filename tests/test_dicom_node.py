"""The DICOM node: C-STORE SCP (pynetdicom SCU as the peer) and STOW-RS endpoint over HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Iterator

import httpx
import pytest
from ports import free_loopback_port
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from drimva.context import Patient
from drimva.dicom_text import EXPLICIT_VR_LE, part10_bytes
from drimva.dicomweb import build_multipart
from drimva.evidence import NullEvidence
from drimva.rules.retrieval import pixel_digests
from fixtures.pki import TestPki
from fixtures.studies import make_study
from simulators.dicom_node import DicomNode

PATIENT = Patient(ins="279035121518989", birth_name="PAT-NODE", given_name="TROIS", birth_date="19790328", sex="F")



@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN-N1", series=(("CT", 2), ("MR", 1)))



@pytest.fixture()
def node(pki: TestPki, evidence: NullEvidence) -> Iterator[DicomNode]:
    cert, key = pki.issue_server_cert("dicom-node", ("127.0.0.1",))
    with DicomNode(evidence, stow_cert=cert, stow_key=key, timeout=5) as server:
        yield server


def _scu() -> AE:
    ae = AE(ae_title="DRIMBOX_CONSO")
    for context in StoragePresentationContexts[:120]:
        ae.add_requested_context(context.abstract_syntax)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    return ae


def test_c_store_keeps_every_instance_and_records_it_first(node: DicomNode, study: list[Dataset], evidence: NullEvidence) -> None:
    assoc = _scu().associate("127.0.0.1", node.port, ae_title="DRIMVA_NODE")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    statuses = [assoc.send_c_store(ds).Status for ds in study]
    assoc.release()
    assert statuses == [0, 0, 0]
    wanted = {str(ds.SOPInstanceUID) for ds in study}
    assert node.wait_for_instances(wanted, timeout=5) == wanted
    assert pixel_digests(node.received) == pixel_digests(study)
    assert {r.via for r in node.receipts} == {"C-STORE"} and node.receipts[0].calling_ae == "DRIMBOX_CONSO"
    stores = [r for r in evidence.records if r[1] == "C-STORE-rq"]
    assert len(stores) == 3 and stores[0][2][128:132] == b"DICM"  # Part 10 as received
    assert stores[0][4]["sop_instance_uid"] == str(study[0].SOPInstanceUID)


def test_an_instance_stored_again_replaces_its_copy_and_keeps_every_receipt(node: DicomNode, study: list[Dataset]) -> None:
    """A peer that stores the same instance over and over (issue 13: STOW-RS fuzzing grew RSS by 300 MB in 10 000
    inputs) leaves one data set per SOP Instance UID, the latest; each store keeps its receipt."""
    assoc = _scu().associate("127.0.0.1", node.port, ae_title="DRIMVA_NODE")
    assert assoc.is_established
    first = study[0]
    again = Dataset()
    again.update(first)
    again.file_meta = first.file_meta
    again.SeriesDescription = "stored again"
    statuses = [assoc.send_c_store(ds).Status for ds in (first, study[1], again, again)]
    assoc.release()
    assert statuses == [0, 0, 0, 0]
    assert [str(ds.SOPInstanceUID) for ds in node.received] == [str(first.SOPInstanceUID), str(study[1].SOPInstanceUID)]
    assert node.received[0].SeriesDescription == "stored again"
    assert len(node.receipts) == 4


def test_wait_for_instances_times_out_with_what_arrived(node: DicomNode) -> None:
    started = time.monotonic()
    assert node.wait_for_instances({"1.2.3.4"}, timeout=0.2) == set()
    assert 0.15 < time.monotonic() - started < 2


def test_stow_rs_stores_and_answers_dicom_json(node: DicomNode, study: list[Dataset], pki: TestPki, evidence: NullEvidence) -> None:
    assert node.stow_url is not None
    body, content_type = build_multipart([part10_bytes(ds) for ds in study], EXPLICIT_VR_LE)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5) as client:
        response = client.post(f"{node.stow_url}/studies", content=body,
                               headers={"Content-Type": content_type, "Accept": "application/dicom+json"})
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/dicom+json"
        answer = json.loads(response.content)
        assert [item["00081155"]["Value"][0] for item in answer["00081199"]["Value"]] == [str(ds.SOPInstanceUID) for ds in study]
        assert answer["00081190"]["Value"][0].endswith(f"/studies/{study[0].StudyInstanceUID}")
        assert node.sop_instance_uids() == {str(ds.SOPInstanceUID) for ds in study}
        assert {r.via for r in node.receipts} == {"STOW-RS"}
        wrong_study = client.post(f"{node.stow_url}/studies/1.2.3", content=body, headers={"Content-Type": content_type})
        assert wrong_study.status_code == 409 and len(json.loads(wrong_study.content)["00081198"]["Value"]) == 3
        assert client.post(f"{node.stow_url}/studies", content=b"{}", headers={"Content-Type": "application/json"}).status_code == 415
        assert client.get(f"{node.stow_url}/studies").status_code == 405
    assert [r[1] for r in evidence.records][:2] == ["STOW-RS POST /dicom-web/studies", "STOW-RS response 200"]


def test_stop_is_idempotent_and_releases_the_ports(pki: TestPki) -> None:
    cert, key = pki.issue_server_cert("dicom-node", ("127.0.0.1",))
    node = DicomNode(NullEvidence(), stow_cert=cert, stow_key=key).start()
    ports = node.port, int(node.stow_url.rsplit(":", 1)[1].split("/")[0])  # type: ignore[union-attr]
    node.stop()
    node.stop()
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))


def test_the_reference_stow_rs_client_stores_into_the_node_and_reads_its_failures(node: DicomNode, study: list[Dataset], pki: TestPki) -> None:
    from simulators.reference.stow_client import StowClient

    assert node.stow_url is not None
    result = StowClient(base_url=node.stow_url, ca_cert=pki.ca_cert, timeout_s=5).store(study)
    assert result.ok and result.stored == tuple(str(ds.SOPInstanceUID) for ds in study)
    assert [r.via for r in node.receipts] == ["STOW-RS"] * len(study)
    assert pixel_digests(node.received) == pixel_digests(study)
    # a path naming another study: the node refuses every instance (0xA900), the client says which and why
    refused = StowClient(base_url=f"{node.stow_url}/studies/1.2.3", ca_cert=pki.ca_cert, timeout_s=5).store(study)
    assert refused.stored == () and [reason for _, reason in refused.failed] == ["STOW-RS failure reason 0xA900"] * len(study)
    unreachable = StowClient(base_url=f"https://127.0.0.1:{free_loopback_port()}/dicom-web", ca_cert=pki.ca_cert, timeout_s=2).store(study[:1])
    assert unreachable.stored == () and "ConnectError" in unreachable.failed[0][1]

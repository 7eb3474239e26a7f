"""The peer DRIMbox's WADO-RS source, over real HTTPS on 127.0.0.2 (ephemeral port)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Iterator

import httpx
import pytest
from pydicom.dataset import Dataset

from drimva.context import Patient
from drimva.dicom_text import EXPLICIT_VR_LE, read_part10
from drimva.dicomweb import CISIS_LOSSLESS_ACCEPT, parse_multipart_dicom
from drimva.evidence import NullEvidence
from drimva.mime import parse_content_type
from drimva.rules.retrieval import pixel_sha256
from fixtures.pki import TestPki
from fixtures.studies import make_study
from simulators.peer import PeerSource

PATIENT = Patient(ins="279035121518989", birth_name="PAT-SOURCE", given_name="UNE", birth_date="19790328", sex="F")
GOOD = "good-token"
FACTS = dict(accession="ACN-P1", accession_issuer="1.2.250.1.999.1", order_id="ORD1", order_root="1.2.250.1.999.2")


@dataclass
class Verdict:
    valid: bool
    problem: str = ""



@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN-P1", series=(("CT", 2), ("MR", 1)))



@pytest.fixture()
def source(pki: TestPki, study: list[Dataset], evidence: NullEvidence) -> Iterator[PeerSource]:
    cert, key = pki.issue_server_cert("peer-source", ("127.0.0.2",))

    def check(token: str | None) -> Verdict:
        assert any(r[1].startswith("request") for r in evidence.records)  # recorded before it is judged
        return Verdict(token == GOOD, "unknown token")

    with PeerSource(evidence, cert, key, token_check=check, timeout=5) as server:
        yield server


@pytest.fixture()
def client(pki: TestPki) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5) as http:
        yield http


def _get(client: httpx.Client, url: str, kos: str | None, token: str | None = GOOD, accept: str | None = CISIS_LOSSLESS_ACCEPT) -> httpx.Response:
    headers = {k: v for k, v in (("Authorization", token and f"Bearer {token}"), ("KOS-SOPInstanceUID", kos), ("Accept", accept)) if v is not None}
    return client.get(url, headers=headers)


def _kos_uid(source: PeerSource, study: list[Dataset]) -> str:
    return str(read_part10(source.make_kos_for(study, PATIENT, **FACTS)).SOPInstanceUID)


def test_series_retrieve_returns_the_series_in_explicit_vr_le(source: PeerSource, study: list[Dataset], client: httpx.Client, evidence: NullEvidence) -> None:
    kos_bytes = source.make_kos_for(study, PATIENT, **FACTS)
    kos = read_part10(kos_bytes)
    first = kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert first.RetrieveURL == source.series_url(study[0].StudyInstanceUID, study[0].SeriesInstanceUID)
    assert first.RetrieveURL.startswith("https://127.0.0.2:")
    response = _get(client, first.RetrieveURL, kos.SOPInstanceUID)
    assert response.status_code == 200
    mime_type, params = parse_content_type(response.headers["Content-Type"])
    assert (mime_type, params["type"], params["transfer-syntax"]) == ("multipart/related", "application/dicom", EXPLICIT_VR_LE)
    got = [read_part10(p) for p in parse_multipart_dicom(response.content, response.headers["Content-Type"])]
    originals = {str(ds.SOPInstanceUID): pixel_sha256(ds) for ds in study[:2]}
    assert {str(ds.SOPInstanceUID): pixel_sha256(ds) for ds in got} == originals
    assert all(ds.file_meta.TransferSyntaxUID == EXPLICIT_VR_LE for ds in got)
    labels = [r[1] for r in evidence.records]
    assert labels == ["request GET " + response.request.url.path, "response 200"]
    assert evidence.records[1][4]["sop_instance_uids"] == list(originals)
    assert "part 2: " in (evidence.records[1][3] or "")
    assert source.requests[-1].header("KOS-SOPInstanceUID") == kos.SOPInstanceUID


def test_study_and_instance_levels(source: PeerSource, study: list[Dataset], client: httpx.Client) -> None:
    kos_uid = _kos_uid(source, study)
    base = f"{source.base_url}/studies/{study[0].StudyInstanceUID}"
    whole = _get(client, base, kos_uid)
    assert whole.status_code == 200
    assert len(parse_multipart_dicom(whole.content, whole.headers["Content-Type"])) == 3
    last = study[2]
    one = _get(client, f"{base}/series/{last.SeriesInstanceUID}/instances/{last.SOPInstanceUID}", kos_uid)
    parts = parse_multipart_dicom(one.content, one.headers["Content-Type"])
    assert one.status_code == 200 and [read_part10(p).SOPInstanceUID for p in parts] == [last.SOPInstanceUID]


def test_token_kos_header_and_accept_errors(source: PeerSource, study: list[Dataset], client: httpx.Client) -> None:
    kos_uid = _kos_uid(source, study)
    url = source.series_url(study[0].StudyInstanceUID, study[0].SeriesInstanceUID)
    assert _get(client, url, kos_uid, token=None).status_code == 401
    denied = _get(client, url, kos_uid, token="forged")
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert _get(client, url, None).status_code == 400
    assert _get(client, url, kos_uid, accept="").status_code == 400
    assert _get(client, url, kos_uid, accept=None).status_code == 200  # httpx sends */*: anything goes
    assert _get(client, url, kos_uid, accept='multipart/related; type="application/dicom"; q=2').status_code == 400
    jpeg_only = 'multipart/related; type="application/dicom";transfer-syntax=1.2.840.10008.1.2.4.70;q=0.9;boundary=**'
    assert _get(client, url, kos_uid, accept=jpeg_only).status_code == 406
    any_syntax = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    assert _get(client, url, kos_uid, accept=any_syntax).status_code == 200


def test_404_for_unknown_resources_and_kos_that_do_not_reference_them(source: PeerSource, study: list[Dataset], client: httpx.Client) -> None:
    kos_uid = _kos_uid(source, study)
    study_uid, ct, mr = study[0].StudyInstanceUID, study[0].SeriesInstanceUID, study[2].SeriesInstanceUID
    source.add_study(study, "1.2.3.4.99", referenced=[str(study[0].SOPInstanceUID)])  # a KOS naming one CT image
    assert _get(client, source.series_url(study_uid, ct), "1.2.3.4.99").status_code == 200
    assert _get(client, source.series_url(study_uid, mr), "1.2.3.4.99").status_code == 404
    assert _get(client, source.series_url(study_uid, ct), "1.2.3.4.5").status_code == 404  # unknown KOS
    assert _get(client, source.series_url(study_uid, "1.2.3.9"), kos_uid).status_code == 404
    assert _get(client, source.series_url("1.2.3.9", ct), kos_uid).status_code == 404
    assert _get(client, f"{source.base_url}/studies/{study_uid}/series/{ct}/metadata", kos_uid).status_code == 404
    assert _get(client, source.base_url.replace("/drimbox/wado-rs", "/other") + f"/studies/{study_uid}", kos_uid).status_code == 404
    assert client.post(source.series_url(study_uid, ct)).status_code == 405


def test_stop_is_idempotent_and_releases_the_port(pki: TestPki) -> None:
    cert, key = pki.issue_server_cert("peer-source", ("127.0.0.2",))
    server = PeerSource(NullEvidence(), cert, key, token_check=lambda token: Verdict(True)).start()
    port = server.port
    server.stop()
    server.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", port))  # free again


def test_the_requests_it_recorded_are_judged_by_the_wado_rules(source: PeerSource, study: list[Dataset], client: httpx.Client) -> None:
    """VA-D2 live: what the consumer under test sent, as recorded here, goes to drimva.rules.wado."""
    from drimva.findings import errors
    from drimva.rules.wado import check_consumer_requests

    kos_uid = _kos_uid(source, study)
    study_uid = str(study[0].StudyInstanceUID)
    url = source.series_url(study_uid, study[0].SeriesInstanceUID)
    assert _get(client, url, kos_uid).status_code == 200
    _get(client, source.series_url("1.2.3.9", study[0].SeriesInstanceUID), kos_uid)  # another study: not this one's
    [recorded] = source.study_requests(study_uid)
    assert recorded.headers.get("Accept") == CISIS_LOSSLESS_ACCEPT and recorded.retrieve.series == study[0].SeriesInstanceUID
    assert errors(check_consumer_requests(source.study_requests(study_uid))) == []
    no_syntax = CISIS_LOSSLESS_ACCEPT.split(",")[-1].replace("transfer-syntax=1.2.840.10008.1.2.1;", "")
    assert _get(client, url, kos_uid, accept=no_syntax).status_code == 200  # served: PS3.18 defaults the syntax
    findings = errors(check_consumer_requests(source.study_requests(study_uid)))
    assert [(f.rule, f.location.split(": ")[-1]) for f in findings] == [("WADO-ACCEPT-TS", "Accept[1] entry 1")]

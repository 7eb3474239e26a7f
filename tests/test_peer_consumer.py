"""The peer DRIMbox's consumer side against a live WADO-RS source, and the retrieval rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest
from ports import free_loopback_port
from pydicom.dataset import Dataset

from drimva.context import Patient
from drimva.dicom_text import part10_bytes, read_part10
from drimva.dicomweb import CISIS_LOSSLESS_ACCEPT
from drimva.evidence import NullEvidence
from drimva.rules.retrieval import check_retrieval, kos_series_references, pixel_digests
from fixtures.pki import TestPki
from fixtures.studies import make_study
from simulators.peer import PeerConsumer, PeerSource

PATIENT = Patient(ins="279035121518989", birth_name="PAT-CONSO", given_name="DEUX", birth_date="19790328", sex="F")
GOOD = "good-token"
FACTS = dict(accession="ACN-C1", accession_issuer="1.2.250.1.999.1", order_id="ORD2", order_root="1.2.250.1.999.2")


@dataclass
class Verdict:
    valid: bool
    problem: str = "bad token"



@pytest.fixture(scope="module")
def study() -> list[Dataset]:
    return make_study(PATIENT, "ACN-C1", series=(("CT", 2), ("MR", 2)))


@pytest.fixture()
def source(pki: TestPki) -> Iterator[PeerSource]:
    cert, key = pki.issue_server_cert("peer-source", ("127.0.0.2",))
    with PeerSource(NullEvidence(), cert, key, token_check=lambda t: Verdict(t == GOOD), timeout=5) as server:
        yield server



@pytest.fixture()
def consumer(pki: TestPki, evidence: NullEvidence) -> PeerConsumer:
    return PeerConsumer(evidence, ca_cert=pki.ca_cert, timeout=5)


def test_fetch_study_gets_every_series_with_the_drim_m_headers(source: PeerSource, consumer: PeerConsumer, study: list[Dataset], evidence: NullEvidence) -> None:
    kos = source.make_kos_for(study, PATIENT, **FACTS)
    fetch = consumer.fetch_study(kos, GOOD)
    assert [s.status for s in fetch.series] == [200, 200] and all(s.complete for s in fetch.series)
    assert fetch.received == pixel_digests(study)
    assert fetch.check_against(pixel_digests(study)) == []
    assert {str(read_part10(b).SOPInstanceUID) for b in fetch.instances.values()} == set(pixel_digests(study))
    sent = source.requests[0]
    assert sent.header("Authorization") == f"Bearer {GOOD}"
    assert sent.header("KOS-SOPInstanceUID") == fetch.kos_sop_instance_uid
    assert sent.header("Accept") == CISIS_LOSSLESS_ACCEPT
    assert [r[1].split()[0] for r in evidence.records] == ["request", "response"] * 2
    assert evidence.records[1][4]["status"] == 200


def test_a_source_that_drops_an_instance_or_alters_pixels_is_caught(source: PeerSource, consumer: PeerConsumer, study: list[Dataset]) -> None:
    kos = source.make_kos_for(study, PATIENT, register=False, **FACTS)
    kos_uid = str(read_part10(kos).SOPInstanceUID)
    dropped = str(study[3].SOPInstanceUID)
    source.add_study(study, kos_uid, referenced=[str(ds.SOPInstanceUID) for ds in study if str(ds.SOPInstanceUID) != dropped])
    fetch = consumer.fetch_study(kos, GOOD)
    assert not fetch.series[1].complete and any(dropped in p for p in fetch.series[1].problems)
    expected = pixel_digests(study)
    altered = str(study[0].SOPInstanceUID)
    expected[altered] = "0" * 64
    findings = fetch.check_against(expected)
    assert {(f.rule, f.location) for f in findings} == {
        ("RETRIEVAL-COMPLETE", "(0040,A375)[0]>(0008,1115)[1]>(0008,1199)[1]>(0008,1155)"),
        ("RETRIEVAL-PIXELS", f"retrieved instance {altered} (7FE0,0010)"),
    }


def test_wrong_token_is_reported_per_series(source: PeerSource, consumer: PeerConsumer, study: list[Dataset]) -> None:
    fetch = consumer.fetch_study(source.make_kos_for(study, PATIENT, **FACTS), "expired")
    assert [s.status for s in fetch.series] == [401, 401]
    assert all(s.problems and s.problems[0].startswith("HTTP 401") for s in fetch.series)
    assert len(fetch.check_against(pixel_digests(study))) == 4


def test_security_probes(source: PeerSource, consumer: PeerConsumer, study: list[Dataset], evidence: NullEvidence) -> None:
    kos_uid = str(read_part10(source.make_kos_for(study, PATIENT, **FACTS)).SOPInstanceUID)
    url = source.series_url(study[0].StudyInstanceUID, study[0].SeriesInstanceUID)
    assert consumer.security_probe(url, token=GOOD, kos_uid=kos_uid).status == 200
    assert consumer.security_probe(url, token=GOOD, kos_uid=kos_uid, omit={"token"}).status == 401
    assert consumer.security_probe(url, token="foreign", kos_uid=kos_uid).status == 401
    assert consumer.security_probe(url, token=GOOD, kos_uid=kos_uid, omit={"kos_header"}).status == 400
    other_series = source.series_url(study[0].StudyInstanceUID, "1.2.3.4.5")
    assert consumer.security_probe(other_series, token=GOOD, kos_uid=kos_uid).status == 404
    plain = consumer.security_probe(url, token=GOOD, kos_uid=kos_uid, omit={"tls"})
    assert plain.status is None and plain.url.startswith("http://127.0.0.2:") and "no HTTP answer" in plain.error
    assert plain.connected  # the TLS-only port took the connection, then gave no HTTP answer
    nowhere = consumer.security_probe(f"https://127.0.0.1:{free_loopback_port()}/x", token=GOOD, kos_uid=kos_uid, omit={"tls"})
    assert (nowhere.status, nowhere.connected) == (None, False) and "no TCP connection" in nowhere.error
    assert evidence.records[-1][1].startswith("error probe without tls")
    with pytest.raises(ValueError):
        consumer.security_probe(url, token=GOOD, kos_uid=kos_uid, omit={"everything"})


def test_kos_without_retrieve_url_or_evidence(consumer: PeerConsumer, source: PeerSource, study: list[Dataset]) -> None:
    kos = read_part10(source.make_kos_for(study, PATIENT, **FACTS))
    del kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].RetrieveURL
    fetch = consumer.fetch_study(part10_bytes(kos), GOOD)
    assert fetch.series[0].status is None and "no RetrieveURL" in fetch.series[0].problems[0]
    assert fetch.series[1].status == 200
    del kos.CurrentRequestedProcedureEvidenceSequence
    assert consumer.fetch_study(part10_bytes(kos), GOOD).problems == ["the KOS has no (0040,A375) evidence series"]


def test_retrieval_rule_on_its_own(study: list[Dataset], source: PeerSource) -> None:
    kos = read_part10(source.make_kos_for(study, PATIENT, register=False, **FACTS))
    refs = kos_series_references(kos)
    assert [len(r.sop_instance_uids) for r in refs] == [2, 2] and refs[1].location == "(0040,A375)[0]>(0008,1115)[1]"
    expected = pixel_digests(study)
    assert check_retrieval(kos, dict(expected), expected) == []
    extra = {**expected, "1.2.3.4": "ab"}
    assert [f.rule for f in check_retrieval(kos, extra, expected)] == ["RETRIEVAL-ONLY-KOS"]
    first = str(study[0].SOPInstanceUID)
    no_pixels = {**expected, first: None}
    assert [(f.rule, f.actual) for f in check_retrieval(kos, no_pixels, expected)] == [("RETRIEVAL-PIXELS", "(absent)")]
    unknown = {k: v for k, v in expected.items() if k != first}
    assert [f.rule for f in check_retrieval(kos, expected, unknown)] == ["RETRIEVAL-PIXELS"]


def test_the_answers_it_recorded_are_judged_by_the_wado_rules(source: PeerSource, consumer: PeerConsumer, study: list[Dataset], pki: TestPki) -> None:
    """VA-E live: what the source under test answered, as recorded here, goes to drimva.rules.wado."""
    from drimva.findings import errors
    from drimva.rules.wado import check_source_responses
    from simulators.common.https import HttpRequest, HttpResponse, HttpsServer

    kos = source.make_kos_for(study, PATIENT, **FACTS)
    fetch = consumer.fetch_study(kos, GOOD)
    exchanges = fetch.wado_exchanges()
    assert len(exchanges) == 2 and exchanges[0][0].headers.get("Accept") == CISIS_LOSSLESS_ACCEPT
    assert exchanges[0][1].status == 200 and len(exchanges[0][1].parts()) == 2
    assert check_source_responses(exchanges) == []
    instance = fetch.instances[str(study[0].SOPInstanceUID)]

    def bare_part10(request: HttpRequest) -> HttpResponse:  # one instance, not in a multipart/related
        return HttpResponse(200, [("Content-Type", "application/dicom")], instance)

    cert, key = pki.issue_server_cert("bad-source", ("127.0.0.1",))
    with HttpsServer(bare_part10, cert, key, None, host="127.0.0.1", port=0, client_auth="none", timeout=5) as bad:
        moved = read_part10(kos)
        for item in moved.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
            item.RetrieveURL = item.RetrieveURL.replace(source.base_url, bad.base_url)
        refused = consumer.fetch_study(part10_bytes(moved), GOOD)
    findings = errors(check_source_responses(refused.wado_exchanges()))
    assert {f.rule for f in findings} == {"WADO-CONTENT-TYPE"} and len(findings) == 2

"""Pre-flight (drimva.preflight, drimva.reachability): the plan from the claims, the probes, and a run against a SUT that is not there."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimva.context import Organisation
from drimva.preflight import Check, Endpoint, PreflightReport, plan
from drimva.profile import Profile, load_profile, profile_from_mapping
from drimva.reachability import Reachability, check
from fixtures.pki import TestPki, load_or_build_pki
from fixtures.stack import profile_pki
from ports import free_loopback_port
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from va_runs import run_va_exit

EXAMPLE = Path(__file__).resolve().parents[1] / "drimva" / "profiles" / "example-sut.toml"
ALL_KEYS = ["sut.hl7", "sut.dicom", "sut.wado.base_url", "sut.consumer.contextual_url", "sut.supervision.url", "viewer.host"]
CONNECT_S = 2.0


def _profile(**sut: object) -> Profile:
    return profile_from_mapping({"sut": sut})


def _answer(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, [("Content-Type", "application/json")], b'{"status": "UP"}')


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    org = Organisation(name="Centre test", structure_id="750803447", id_type="FINEG")
    return load_or_build_pki(tmp_path_factory.mktemp("pki"), org, ["127.0.0.1", "localhost"])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    org = Organisation(name="Autre centre", structure_id="750803448", id_type="FINEG")
    return load_or_build_pki(tmp_path_factory.mktemp("other-pki"), org, ["127.0.0.1", "localhost"])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except OSError:
                    continue

        worker = threading.Thread(target=accept, daemon=True)
        worker.start()
        yield int(server.getsockname()[1])
        stop.set()
        worker.join(2)
        for conn in held:
            conn.close()


# -- the plan -----------------------------------------------------------------------


def test_the_example_profile_plans_every_address_of_its_claims() -> None:
    endpoints = {e.key: e for e in plan(load_profile(EXAMPLE))}
    assert list(endpoints) == ALL_KEYS
    assert endpoints["sut.hl7"].address == "127.0.0.1:2575" and endpoints["sut.hl7"].target == "tcp://127.0.0.1:2575"
    assert endpoints["viewer.host"].target == "https://vi.drimbox.test/"
    assert endpoints["sut.hl7"].needed({"VA-E", "WADO-RS", "source"})  # its Background sends the CR
    assert endpoints["sut.wado.base_url"].needed({"VA-A", "source"}) and not endpoints["sut.wado.base_url"].needed({"VA-A", "consumer"})
    assert endpoints["sut.consumer.contextual_url"].needed({"VA-A", "consumer"})
    assert not endpoints["sut.dicom"].needed({"VA-B1", "HL7-ACK"})


def test_unclaimed_items_need_no_address() -> None:
    source_only = {e.key for e in plan(_profile(roles=["source"], has_viewer=False, has_supervision=False))}
    assert source_only == {"sut.hl7", "sut.dicom", "sut.wado.base_url"}
    consumer_only = [e for e in plan(_profile(roles=["consumer"], has_supervision=False))]
    assert [e.key for e in consumer_only] == ["sut.consumer.contextual_url"]
    assert not consumer_only[0].needed({"VA-A", "source"})
    deferred = {e.key: e for e in plan(_profile(roles=["source"], ris_vague2=False, has_supervision=False))}
    assert list(deferred) == ["sut.wado.base_url"]  # VA-A only: the RIS-dependent items are deferred
    assert deferred["sut.wado.base_url"].needed_by == (frozenset({"VA-A", "source"}),)


def test_mutual_tls_presents_the_client_certificate_to_the_wado_base_only() -> None:
    endpoints = plan(profile_from_mapping({"sut": {"trust": {"mutual_tls": True}}}))
    assert [e.key for e in endpoints if e.client_cert] == ["sut.wado.base_url"]


def test_a_scenario_is_told_every_address_it_needs_that_failed() -> None:
    hl7 = Endpoint("sut.hl7", "tcp://db.example.fr:2575", (frozenset({"VA-B1"}), frozenset({"VA-E"})))
    wado = Endpoint("sut.wado.base_url", "https://db.example.fr/wado", (frozenset({"VA-E"}),))
    report = PreflightReport((
        Check(hl7, Reachability(hl7.target, "dns", "db.example.fr does not resolve")),
        Check(wado, Reachability(wado.target, None, http_status=404)),
    ))  # fmt: skip
    assert report.failure_message({"VA-E", "source"}) == "pré-vol : sut.hl7: db.example.fr:2575 — db.example.fr does not resolve"
    assert report.failure_message({"VA-F"}) == ""
    assert report.to_dict()["failed"] == ["sut.hl7: db.example.fr:2575 — db.example.fr does not resolve"]


# -- the probes ---------------------------------------------------------------------


def test_a_refused_port_and_a_name_that_does_not_resolve() -> None:
    refused = check(f"tcp://127.0.0.1:{free_loopback_port()}", timeout_s=CONNECT_S)
    assert (refused.failed_stage, refused.cause) == ("tcp", "connection refused")
    unknown = check("https://db.invalid:8443/drimbox/wado-rs", timeout_s=CONNECT_S)
    assert unknown.failed_stage == "dns" and unknown.cause.startswith("db.invalid does not resolve")


def test_an_https_server_of_the_run_ca_answers_and_any_status_counts(pki: TestPki) -> None:
    with HttpsServer(_answer, pki.dmp_server_cert, pki.dmp_server_key, client_auth="none") as server:
        seen = check(f"{server.base_url}/any/path?x=1", timeout_s=CONNECT_S, ca_cert=pki.ca_cert)
        tcp = check(f"tcp://127.0.0.1:{server.port}", timeout_s=CONNECT_S)
    assert seen.ok and seen.http_status == 200 and "drimva simulators" in seen.tls_subject
    assert tcp.ok and tcp.http_status is None


def test_a_certificate_the_run_ca_did_not_issue_is_named(pki: TestPki, other_pki: TestPki) -> None:
    with HttpsServer(_answer, other_pki.dmp_server_cert, other_pki.dmp_server_key, client_auth="none") as server:
        seen = check(server.base_url, timeout_s=CONNECT_S, ca_cert=pki.ca_cert)
    assert seen.failed_stage == "tls" and seen.cause.startswith("TLS: certificate verify failed: ")


def test_a_server_that_never_answers_is_bounded_at_each_stage(silent_port: int) -> None:
    started = time.monotonic()
    tls = check(f"https://127.0.0.1:{silent_port}/", timeout_s=0.5)
    http = check(f"http://127.0.0.1:{silent_port}/", timeout_s=0.5)
    assert (tls.failed_stage, tls.cause) == ("tls", "TLS: no handshake within 0.5 s")
    assert (http.failed_stage, http.cause) == ("http", "no HTTP answer within 0.5 s")
    assert time.monotonic() - started < 3


# -- a run against a SUT that is not there ---------------------------------------------


def _absent_sut(folder: Path, host: str, supervision_url: str = "") -> Path:
    """A real-SUT profile (source and consumer, viewer, supervision) whose addresses are all on ``host``, nothing listening."""
    def url(path: str) -> str:
        return f"https://{host}:{free_loopback_port()}{path}"

    harness_ports = "".join(f"\n[harness.{name}]\nport = 0\n" for name in ("pacs", "dmp", "psc", "trust", "franceconnect"))
    text = f"""
[sut]
name = "DRIMbox absente"
roles = ["source", "consumer"]

[sut.hl7]
host = "{host}"
port = {free_loopback_port()}

[sut.dicom]
host = "{host}"
port = {free_loopback_port()}

[sut.wado]
base_url = "{url('/drimbox/wado-rs')}"

[sut.consumer]
contextual_url = "{url('/drimbox/appel-contextuel')}"

[sut.supervision]
url = "{supervision_url or url('/supervision')}"
probes = 2

[viewer]
host = "{host}:{free_loopback_port()}"

[harness]
pki_dir = "pki"
{harness_ports}
[harness.peer]
port = 0
untrusted_port = 0

[harness.dicom_node]
port = 0
stow_port = 0

[timeouts]
connect_s = {CONNECT_S}
"""
    path = folder / "absent-sut.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("host", ["127.0.0.1", "db.invalid"], ids=["refused", "unresolved"])
def test_nothing_listening_is_an_error_of_every_claimed_item_not_a_failure(tmp_path: Path, host: str) -> None:
    started = time.monotonic()
    code, results = run_va_exit(tmp_path / "run", profile=_absent_sut(tmp_path, host))
    elapsed = time.monotonic() - started
    assert code == 3  # harness / environment error, not "the SUT failed"
    assert "failed" not in results["scenario_counts"]
    cause = "connection refused" if host == "127.0.0.1" else "db.invalid does not resolve"
    for item in results["items"]:
        assert item["outcome"] == "error", item
        for scenario in item["scenarios"]:
            assert scenario["message"].startswith("pré-vol : sut.") or scenario["message"].startswith("pré-vol : viewer.host: ")
            assert cause in scenario["message"]
    messages = {s["name"]: s["message"] for s in results["scenarios"]}
    assert "sut.dicom: " in messages["La DRIMbox interroge le PACS sur l'examen du CR"]
    assert "sut.supervision.url: https://" in messages["La DRIMbox répond à l'outil de supervision de l'ANS"]
    preflight = json.loads((tmp_path / "run" / "preflight.json").read_text("utf-8"))
    assert preflight["ran"] and [c["key"] for c in preflight["checks"] if not c["ok"]] == ALL_KEYS
    assert (tmp_path / "run" / "evidence" / "pre-vol" / "preflight.json").exists()
    assert results["preflight"]["failed"] == preflight["failed"]
    assert preflight["duration_s"] < 4 * CONNECT_S
    assert results["duration_s"] < 60 and elapsed < 120, (results["duration_s"], elapsed)  # no scenario waits on the SUT


def test_items_whose_addresses_answer_run_normally(tmp_path: Path) -> None:
    """Only the supervision endpoint is there (HTTPS, a certificate of the run's CA): VA-F passes, the rest is error."""
    pki = profile_pki(load_profile(_absent_sut(tmp_path, "127.0.0.1")), tmp_path)  # the PKI the run will reuse
    cert, key = pki.issue_server_cert("supervised", ["127.0.0.1"])
    with HttpsServer(_answer, cert, key, client_auth="none") as server:
        profile = _absent_sut(tmp_path, "127.0.0.1", supervision_url=f"{server.base_url}/supervision")
        code, results = run_va_exit(tmp_path / "run", profile=profile)
    outcomes = {item["id"]: item["outcome"] for item in results["items"]}
    assert outcomes.pop("VA-F") == "passed"
    assert set(outcomes.values()) == {"error"} and code == 3
    assert "--no-preflight" not in json.dumps(results["preflight"])


def test_no_preflight_skips_it_and_an_unreachable_server_is_still_no_certificate_finding(tmp_path: Path) -> None:
    select = "supervision or certificat_serveur_conforme"
    code, results = run_va_exit(tmp_path / "run", "--no-preflight", "-k", select, profile=_absent_sut(tmp_path, "db.invalid"))
    assert results["preflight"]["not_run"] == "--no-preflight"
    scenarios = {s["name"]: s for s in results["scenarios"]}
    supervision = scenarios["La DRIMbox répond à l'outil de supervision de l'ANS"]
    assert supervision["outcome"] == "failed" and not supervision["message"].startswith("pré-vol")  # judged by the scenario
    certificate = scenarios["La DRIMbox figure dans la liste blanche avec un certificat serveur conforme"]
    assert certificate["outcome"] == "error" and certificate["findings"] == []  # not "no TLS certificate presented"
    assert certificate["message"].startswith("sut.wado.base_url: db.invalid:") and "db.invalid does not resolve" in certificate["message"]

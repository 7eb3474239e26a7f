"""The supervision prober (VA-F) against a tiny HTTPS server: OK, slow, wrong status, wrong JSON, refused."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimva.context import Organisation
from drimva.evidence import NullEvidence
from fixtures.pki import TestPki, load_or_build_pki
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from simulators.supervision import SupervisionProber

SLOW_S = 0.6
TIMEOUT_S = 0.3  # the probe timeout of the /slow case, shorter than SLOW_S
ANSWER_TIMEOUT_S = 5.0  # every other probe: an HTTPS handshake on a loaded CI machine can take more than TIMEOUT_S
ANSWERS: dict[str, tuple[int, bytes]] = {
    "/ok": (200, b'{"status": "UP", "checks": {"pacs": "UP"}}'),
    "/slow": (200, b'{"status": "UP"}'),
    "/down": (503, b'{"status": "DOWN"}'),
    "/wrong-json": (200, b'{"status": "DOWN"}'),
    "/not-json": (200, b"<html>ok</html>"),
}


def _answer(request: HttpRequest) -> HttpResponse:
    if request.path == "/slow":
        time.sleep(SLOW_S)
    status, body = ANSWERS.get(request.path, (404, b"{}"))
    return HttpResponse(status, [("Content-Type", "application/json")], body)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    org = Organisation(name="Centre test", structure_id="750803447", id_type="FINEG")
    return load_or_build_pki(tmp_path_factory.mktemp("pki"), org, ["127.0.0.1", "localhost"])


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[HttpsServer]:
    with HttpsServer(_answer, pki.dmp_server_cert, pki.dmp_server_key, client_auth="none") as running:
        yield running


def _prober(evidence: NullEvidence, server: HttpsServer, pki: TestPki, path: str, **options: object) -> SupervisionProber:
    timeout_s = TIMEOUT_S if path == "/slow" else ANSWER_TIMEOUT_S
    return SupervisionProber(evidence, f"{server.base_url}{path}", ca_cert=Path(pki.ca_cert), timeout_s=timeout_s, **options)  # type: ignore[arg-type]


def test_ok_probe_is_recorded_before_and_after(server: HttpsServer, pki: TestPki) -> None:
    evidence = NullEvidence()
    prober = _prober(evidence, server, pki, "/ok")
    record = prober.probe_once()
    prober.stop()
    assert record.ok and record.status == 200 and record.problem == ""
    assert 0 < record.elapsed_s < ANSWER_TIMEOUT_S
    assert [(r[0], r[4]["direction"]) for r in evidence.records] == [("supervision", "sent"), ("supervision", "received")]
    assert evidence.records[0][2].startswith(b"GET " + f"{server.base_url}/ok".encode())
    assert b'"UP"' in evidence.records[1][2]
    assert prober.availability() == (1, 1, 1.0)


@pytest.mark.parametrize(
    ("path", "status", "problem"),
    [
        ("/slow", None, "no answer within 0.3 s"),
        ("/down", 503, "HTTP 503, expected 200"),
        ("/wrong-json", 200, "JSON status 'DOWN', expected 'UP'"),
        ("/not-json", 200, "the answer is not JSON"),
    ],
)
def test_bad_answers_fail_with_the_reason(server: HttpsServer, pki: TestPki, path: str, status: int | None, problem: str) -> None:
    evidence = NullEvidence()
    prober = _prober(evidence, server, pki, path)
    record = prober.probe_once()
    prober.stop()
    assert not record.ok
    assert record.status == status
    assert record.problem.startswith(problem)
    assert evidence.records[0][4]["direction"] == "sent" and len(evidence.records) == 2
    assert prober.availability() == (0, 1, 0.0)


def test_json_check_can_be_disabled(server: HttpsServer, pki: TestPki) -> None:
    prober = _prober(NullEvidence(), server, pki, "/wrong-json", expect_json_status=None)
    assert prober.probe_once().ok
    prober.stop()


def test_refused_connection_and_unknown_ca(server: HttpsServer, pki: TestPki) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # bound, never listening: connections are refused
        evidence = NullEvidence()
        refused = SupervisionProber(evidence, f"https://127.0.0.1:{closed_port}/supervision", timeout_s=TIMEOUT_S).probe_once()
    assert not refused.ok and refused.status is None and "ConnectError" in refused.problem
    assert evidence.records[-1][4]["error"] == refused.problem
    untrusted = SupervisionProber(NullEvidence(), f"{server.base_url}/ok", timeout_s=TIMEOUT_S).probe_once()  # system CAs only
    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.problem


def test_background_probing_counts_availability(server: HttpsServer, pki: TestPki) -> None:
    evidence = NullEvidence()
    with _prober(evidence, server, pki, "/ok", interval_s=0.05) as prober:
        deadline = time.monotonic() + 5
        while len(prober.records) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    count = len(prober.records)
    time.sleep(0.15)
    assert count >= 3 and len(prober.records) == count  # stopped: no probe after stop()
    ok, total, ratio = prober.availability()
    assert (ok, total, ratio) == (count, count, 1.0)
    assert len(evidence.records) == 2 * count
    prober.stop()  # idempotent

"""The reference DRIMbox's supervision endpoint (VA-F): its process, its answer, its two faults."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drimva.context import Organisation
from fixtures.pki import TestPki, build_pki
from simulators.reference.supervision import SupervisionServer
from test_reference_viewer import Launcher, Reference, reference_config

FAULTS = ("supervision_slow", "supervision_wrong_status")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return build_pki(tmp_path_factory.mktemp("supervision-pki"), Organisation("Centre Ambroise", "750803447"))


@pytest.fixture(scope="module")
def references(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str | None, Reference]]:
    folder = tmp_path_factory.mktemp("supervision")
    launcher = Launcher()
    try:
        waits = {
            fault: launcher.launch(
                folder / (fault or "faultless"),
                reference_config(pki, folder / (fault or "faultless"), folder / "state", supervision={"port": 0}),
                fault,
            )
            for fault in (None, *FAULTS)
        }
        yield {name: wait() for name, wait in waits.items()}
    finally:
        launcher.stop()


def probe(pki: TestPki, url: str, timeout: float = 10.0) -> tuple[httpx.Response, float]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=timeout) as http:
        start = time.monotonic()
        response = http.get(url)
        return response, time.monotonic() - start


def test_faultless_answers_up_quickly(pki: TestPki, references: dict[str | None, Reference]) -> None:
    ready = references[None].ready
    assert ready["supervision_url"].startswith("https://127.0.0.2:") and ready["supervision_url"].endswith("/supervision")
    assert ready["viewer_port"] is None
    response, elapsed = probe(pki, ready["supervision_url"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "UP" and body["checks"] == {"state_dir": "UP", "mllp": "UP", "dicom": "UP"}
    assert body["time"].endswith("+00:00")
    assert elapsed < 1.0


def test_plain_http_and_other_paths(pki: TestPki, references: dict[str | None, Reference]) -> None:
    url = references[None].ready["supervision_url"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https:", "http:"), timeout=3.0)
    assert probe(pki, url.replace("/supervision", "/q/health"))[0].status_code == 404


def test_fault_supervision_slow(pki: TestPki, references: dict[str | None, Reference]) -> None:
    response, elapsed = probe(pki, references["supervision_slow"].ready["supervision_url"])
    assert response.status_code == 200 and elapsed >= 2.9


def test_fault_supervision_wrong_status(pki: TestPki, references: dict[str | None, Reference]) -> None:
    response, _ = probe(pki, references["supervision_wrong_status"].ready["supervision_url"])
    assert response.status_code == 200 and response.json()["status"] == "DOWN"


def test_a_failing_check_answers_503_down(pki: TestPki, tmp_path: Path) -> None:
    cert, key = pki.issue_server_cert("supervision", ("127.0.0.1",))
    checks = {"ok": lambda: True, "broken": lambda: 1 / 0 == 0}
    with SupervisionServer(checks=checks, cert=cert, key=key) as server:
        response, _ = probe(pki, server.url)
        server.stop()  # idempotent with the context manager's stop
    assert response.status_code == 503
    assert response.json()["status"] == "DOWN" and response.json()["checks"] == {"ok": "UP", "broken": "DOWN"}

"""VA-E « La DRIMbox source refuse le HTTP en clair »: what the check concludes from each kind of listener.

The scenario asks the source in plain HTTP at the host and port of the
RetrieveURL of its KOS. Served (2xx) fails; refused, redirected or no HTTP
answer (a TLS-only port) passes; nothing listening there cannot fail the
check, so the scenario is skipped with the reason, not passed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ports import free_loopback_port

from drimva.evidence import EvidenceStore, NullEvidence
from drimva.findings import Severity
from drimva.outcomes import NonConformance, Outcome, outcome_of_skip
from drimva.rules.wado import check_plain_http
from drimva.verdict import Verdict
from fixtures.exam import ScenarioState
from fixtures.pki import TestPki
from simulators.peer import PeerConsumer, PeerSource
from steps.source import source_does_not_serve

SERIES = "/drimbox/wado-rs/studies/1.2.3/series/1.2.3.4"



@contextmanager
def _answering(status: int) -> Iterator[int]:
    """A plain HTTP server on loopback answering every GET with ``status``; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"DICM" if status == 200 else b"use https"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _judged(pki: TestPki, tmp_path: Path, https_url: str) -> Verdict:
    """The scenario's When and Then: the plain-HTTP probe of ``https_url``, then the check."""
    consumer = PeerConsumer(NullEvidence(), ca_cert=pki.ca_cert, timeout=3)
    state = ScenarioState()
    state.probe = consumer.security_probe(https_url, token="t", kos_uid="1.2.3.9", omit={"tls"})
    verdict = Verdict(EvidenceStore(tmp_path / "evidence"))
    source_does_not_serve(state, verdict)
    return verdict


def test_nothing_listening_skips_the_scenario_with_the_reason(pki: TestPki, tmp_path: Path) -> None:
    port = free_loopback_port()
    with pytest.raises(pytest.skip.Exception) as skipped:
        _judged(pki, tmp_path, f"https://127.0.0.1:{port}{SERIES}")
    outcome, reason = outcome_of_skip(str(skipped.value))
    assert outcome is Outcome.SKIPPED
    assert f"127.0.0.1:{port}" in reason and "cannot be seen" in reason


def test_a_tls_only_port_that_gives_no_http_answer_passes(pki: TestPki, tmp_path: Path) -> None:
    cert, key = pki.issue_server_cert("peer-source", ("127.0.0.2",))
    with PeerSource(NullEvidence(), cert, key, token_check=lambda token: None, timeout=3) as source:
        url = source.series_url("1.2.3", "1.2.3.4")
        (finding,) = _judged(pki, tmp_path, url).findings
    assert finding.severity is Severity.INFO and finding.actual.startswith("no HTTP answer")


@pytest.mark.parametrize("status", [400, 403, 301])
def test_a_refusal_or_a_redirect_in_plain_http_passes(pki: TestPki, tmp_path: Path, status: int) -> None:
    with _answering(status) as port:
        (finding,) = _judged(pki, tmp_path, f"https://127.0.0.1:{port}{SERIES}").findings
        assert finding.severity is Severity.INFO and finding.actual == f"HTTP {status}"


def test_a_series_served_in_plain_http_fails(pki: TestPki, tmp_path: Path) -> None:
    with _answering(200) as port:
        with pytest.raises(NonConformance) as failed:
            _judged(pki, tmp_path, f"https://127.0.0.1:{port}{SERIES}")
        (finding,) = failed.value.findings
        assert finding.rule == "WADO-TLS" and finding.actual == "HTTP 200: served in clear"


def test_the_rule_alone() -> None:
    assert [f.severity for f in check_plain_http("http://h/x", 204)] == [Severity.ERROR]
    assert [f.severity for f in check_plain_http("http://h/x", 404)] == [Severity.INFO]
    (finding,) = check_plain_http("http://h/x", None, "ReadError: reset")
    assert finding.severity is Severity.INFO and "reset" in finding.actual

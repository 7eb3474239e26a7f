"""WADO-RS between DRIMboxes with client certificates (``sut.trust.mutual_tls``, off by default).

The demonstrator has no mutual TLS between DRIMboxes; the trust list is the
control (where-sources-disagree.md). The option makes both sides present and
require a certificate the run's CA issued: the harness's peers and the
reference DRIMbox alike.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from va_runs import reference_profile, run_va

from drimva.context import Organisation
from drimva.evidence import NullEvidence
from fixtures.pki import TestPki, build_pki
from simulators.peer.source import PeerSource
from simulators.reference.https_server import Response, TlsHttpServer
from simulators.reference.wado_client import SeriesRef, WadoClient

ORG = Organisation("Cabinet test", "499700367909006", "IDNST")



@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return build_pki(tmp_path_factory.mktemp("other-ca"), ORG)


@pytest.fixture()
def reference_server(pki: TestPki) -> Iterator[TlsHttpServer]:
    cert, key = pki.issue_server_cert("sut", ["127.0.0.1"])
    with TlsHttpServer(lambda request: Response(200, [], b"ok"), cert, key, client_ca=pki.ca_cert, timeout_s=5) as server:
        yield server


def _get(url: str, ca: Path, client: tuple[Path, Path] | None) -> int | str:
    context = ssl.create_default_context(cafile=str(ca))
    if client:
        context.load_cert_chain(str(client[0]), str(client[1]))
    try:
        with httpx.Client(verify=context, timeout=5, trust_env=False) as http:
            return http.get(url).status_code
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        return type(exc).__name__


def test_the_reference_source_requires_a_client_certificate_of_the_run_ca(
    reference_server: TlsHttpServer, pki: TestPki, stranger: TestPki
) -> None:
    url = reference_server.url("/drimbox/wado-rs/studies/1.2.3")
    assert _get(url, pki.ca_cert, (pki.client_cert, pki.client_key)) == 200
    assert _get(url, pki.ca_cert, None) in ("ConnectError", "ReadError", "RemoteProtocolError")
    assert _get(url, pki.ca_cert, (stranger.client_cert, stranger.client_key)) in ("ConnectError", "ReadError", "RemoteProtocolError")


class _TrustAll:
    def is_trusted_host(self, host: str) -> bool:
        return True


def test_the_reference_consumer_presents_its_certificate_to_a_peer_that_requires_one(pki: TestPki) -> None:
    cert, key = pki.issue_server_cert("peer", ["127.0.0.1"])
    peer = PeerSource(NullEvidence(), cert, key, token_check=lambda token: None, host="127.0.0.1", ca=pki.ca_cert,
                      client_auth="required", timeout=5)  # fmt: skip
    with peer:
        series = SeriesRef("1.2.3", "1.2.3.4", f"{peer.base_url}/studies/1.2.3/series/1.2.3.4", ("1.2.3.4.5",))
        with WadoClient(trust=_TrustAll(), ca_cert=pki.ca_cert, timeout_s=5) as anonymous:
            refused = anonymous.fetch_series(series, kos_uid="1.2.9", token="t")
        with WadoClient(trust=_TrustAll(), ca_cert=pki.ca_cert, timeout_s=5, client_cert=(pki.client_cert, pki.client_key)) as known:
            answered = known.fetch_series(series, kos_uid="1.2.9", token="t")
    assert refused.http_status == 0 and "unreachable" in refused.error
    assert answered.http_status != 0  # past the handshake: the peer answered in HTTP


def test_the_va_cross_drimbox_items_pass_with_mutual_tls_on(tmp_path: Path) -> None:
    profile = reference_profile(tmp_path, "[sut.trust]\nmutual_tls = true\n")
    run_dir = tmp_path / "run"
    select = "chaque_série or consommatrice_récupère or source_refuse_une_requête_sans_jeton"
    scenarios = run_va(run_dir, "-k", select, profile=profile)["scenarios"]
    assert len(scenarios) >= 2 and {s["outcome"] for s in scenarios} == {"passed"}, [(s["name"], s["message"]) for s in scenarios]
    config = json.loads((run_dir / "reference" / "config.json").read_text("utf-8"))
    assert config["https"]["mutual_tls"] is True

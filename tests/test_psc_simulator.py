"""simulators.idp.psc: a real HTTPS server publishing OIDC discovery and a JWKS; tokens it issues."""

from __future__ import annotations

import ssl
from typing import Iterator

import httpx
import jwt
import pytest

from drimva.context import Organisation, Professional
from drimva.evidence import NullEvidence
from drimva.tokens import verify_access_token
from fixtures.pki import TestPki
from simulators.idp import FOREIGN_ISSUER, PscSimulator, RemoteJwks

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
PRO = Professional("810001234567", "DOC0036790", "KIT")




@pytest.fixture
def psc(pki: TestPki, evidence: NullEvidence) -> Iterator[PscSimulator]:
    cert, key = pki.issue_server_cert("psc", ("127.0.0.1", "localhost"))
    with PscSimulator(evidence, cert, key, timeout=5) as sim:
        yield sim


def _client(pki: TestPki) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5)


def test_discovery_and_jwks_are_served_over_https_and_recorded(pki: TestPki, psc: PscSimulator, evidence: NullEvidence) -> None:
    assert psc.issuer.startswith("https://127.0.0.1:") and psc.issuer.endswith("/auth/realms/esante-wallet")
    with _client(pki) as http:
        discovery = http.get(psc.discovery_url)
        assert discovery.status_code == 200 and discovery.headers["content-type"] == "application/json"
        assert discovery.json()["issuer"] == psc.issuer and discovery.json()["jwks_uri"] == psc.jwks_url
        jwks = http.get(discovery.json()["jwks_uri"]).json()
        missing = http.get(psc.issuer + "/protocol/openid-connect/nothing")
    assert jwks == psc.jwks() and jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["alg"] == "RS256"
    assert missing.status_code == 404
    labels = [label for _, label, *_ in evidence.records]
    assert labels == ["request-0", "response-0-200", "request-1", "response-1-200", "request-2", "response-2-404"]
    assert evidence.records[0][0] == "psc" and evidence.records[0][2].startswith(b"GET /auth/realms/esante-wallet/.well-known")
    assert b'"jwks_uri"' in evidence.records[1][2]


def test_issued_token_carries_the_psc_claims_and_verifies_against_the_served_jwks(pki: TestPki, psc: PscSimulator) -> None:
    token = psc.issue_token(PRO)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == psc.jwks()["keys"][0]["kid"]
    with _client(pki) as http:
        jwks = http.get(psc.jwks_url).json()
    result = verify_access_token(token, jwks, issuer=psc.issuer, audience="drimbox")
    assert result.valid, result.problem
    claims = result.claims
    assert (claims["sub"], claims["SubjectNameID"], claims["preferred_username"]) == ("810001234567",) * 3
    assert (claims["family_name"], claims["given_name"]) == ("DOC0036790", "KIT")
    assert (claims["acr"], claims["scope"], claims["aud"]) == ("eidas1", "openid scope_all", "drimbox")
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"] and claims["codeProfession"] == "10"
    assert psc.issue_token(PRO) != token  # fresh jti


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.issue_token(PRO, expired=True), "expired"),
        (lambda p: p.issue_token(PRO, audience="other"), "audience"),
        (lambda p: p.issue_token(PRO, issuer="https://elsewhere/auth"), "issuer"),
        (lambda p: p.foreign_token(PRO), "key id"),
        (lambda p: p.foreign_token(PRO, issuer=p.issuer), "key id"),
    ],
)
def test_faulty_tokens_are_refused(psc: PscSimulator, make, problem: str) -> None:
    result = psc.verify(make(psc))
    assert not result.valid and problem in result.problem


def test_foreign_token_names_a_foreign_issuer(psc: PscSimulator) -> None:
    claims = jwt.decode(psc.foreign_token(PRO), options={"verify_signature": False})
    assert claims["iss"] == FOREIGN_ISSUER and claims["sub"] == PRO.national_id


def test_remote_jwks_fetches_once_and_checks_tokens(pki: TestPki, psc: PscSimulator, evidence: NullEvidence) -> None:
    remote = RemoteJwks(psc.jwks_url, pki.ca_cert, timeout=5)
    check = remote.checker(issuer=psc.issuer)
    assert check(psc.issue_token(PRO)).valid
    assert not check(None).valid and check(None).problem == "no access token"
    assert "expired" in check(psc.issue_token(PRO, expired=True)).problem
    assert remote.fetches == 1  # cached
    assert not check(psc.foreign_token(PRO, issuer=psc.issuer)).valid
    assert remote.fetches == 1  # unknown kid: a refresh is rate-limited (min_refresh_s)


def test_unreachable_jwks_refuses_the_token(pki: TestPki, psc: PscSimulator) -> None:
    token = psc.issue_token(PRO)
    url = psc.jwks_url
    issuer = psc.issuer
    psc.stop()
    check = RemoteJwks(url, pki.ca_cert, timeout=2).checker(issuer=issuer)
    result = check(token)
    assert not result.valid and "unavailable" in result.problem


def test_stop_is_idempotent_and_releases_the_port(pki: TestPki, evidence: NullEvidence) -> None:
    cert, key = pki.issue_server_cert("psc", ("127.0.0.1", "localhost"))
    psc = PscSimulator(evidence, cert, key, timeout=5).start()
    port = psc.port
    psc.stop()
    psc.stop()
    again = PscSimulator(evidence, cert, key, port=port, timeout=5).start()  # the port is free again
    assert again.port == port
    again.stop()

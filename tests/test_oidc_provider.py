"""simulators.idp.oidc (with its PSC and FranceConnect+ configurations): the authorization-code flow over HTTPS.

A tiny relying party written here (PKCE, state, nonce, token exchange, ID
token checked against the served JWKS with ``drimva.tokens``) drives both
providers, then the error cases a real RP must meet.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets
import ssl
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from drimva.context import Organisation, Patient, Professional
from drimva.evidence import NullEvidence
from drimva.tokens import verify_access_token
from fixtures.pki import TestPki
from simulators.idp.franceconnect import FranceConnectSimulator
from simulators.idp.oidc import OidcProvider, pkce_challenge
from simulators.idp.psc import PscSimulator, psc_config

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
PRO = Professional("810001234567", "DOC0036790", "KIT")
PATIENT = Patient(
    ins="279035121518989", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F", birth_place="51215"
)
REDIRECT = "https://rp.example/callback"



@pytest.fixture(scope="module")
def evidence() -> NullEvidence:
    return NullEvidence()


@pytest.fixture(scope="module")
def psc(pki: TestPki, evidence: NullEvidence) -> Iterator[PscSimulator]:
    cert, key = pki.issue_server_cert("psc")
    with PscSimulator(evidence, cert, key, timeout=5) as sim:
        sim.register_client("viewer", "s3cret", [REDIRECT])
        sim.add_professional(PRO, code_savoir_faire="SM44")
        yield sim


@pytest.fixture(scope="module")
def fc(pki: TestPki, evidence: NullEvidence) -> Iterator[FranceConnectSimulator]:
    cert, key = pki.issue_server_cert("fc")
    with FranceConnectSimulator(evidence, cert, key, timeout=5) as sim:
        sim.register_client("viewer", "s3cret", [REDIRECT])
        sim.register_client("other-rp", "other", [REDIRECT])
        sim.add_patient(PATIENT)
        yield sim


@pytest.fixture
def http(pki: TestPki) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5) as client:
        yield client


@dataclass
class Login:
    """One authorization request as the RP made it, and what came back to its redirect URI."""

    verifier: str
    state: str
    nonce: str
    callback: dict[str, str]


def authorize(http: httpx.Client, provider: OidcProvider, user: str, *, client_id: str = "viewer", scope: str = "openid",
              action: str = "login", **overrides: str) -> Login:
    """The browser leg: authorization request, login page, form POST; returns the callback parameters."""
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    discovery = http.get(provider.discovery_url).json()
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope, "state": state,
        "nonce": nonce, "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
        "acr_values": provider.config.acr, **overrides,
    }
    page = http.get(discovery["authorization_endpoint"], params=params)
    if page.status_code == 302:
        return Login(verifier, state, nonce, _callback(page))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    action_url = re.search(r'<form id="oidc-login" method="post" action="([^"]+)"', page.text)
    ticket = re.search(r'name="auth_request" value="([^"]+)"', page.text)
    assert action_url and ticket
    assert (f'name="user" value="{user}"' in page.text) == (user != "nobody")
    answer = http.post(action_url.group(1), data={"auth_request": ticket.group(1), "user": user, "action": action})
    assert answer.status_code == 302
    return Login(verifier, state, nonce, _callback(answer))


def _callback(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(http: httpx.Client, provider: OidcProvider, login: Login, *, basic: bool = False, client_id: str = "viewer",
             secret: str = "s3cret", **overrides: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": login.callback.get("code", ""), "redirect_uri": REDIRECT,
            "code_verifier": login.verifier, **overrides}
    if basic:
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return http.post(provider.token_endpoint, data=form, headers={"Authorization": f"Basic {auth}"})
    return http.post(provider.token_endpoint, data={**form, "client_id": client_id, "client_secret": secret})


def id_token_claims(http: httpx.Client, provider: OidcProvider, tokens: dict[str, Any], login: Login, client_id: str = "viewer") -> dict[str, Any]:
    jwks = http.get(http.get(provider.discovery_url).json()["jwks_uri"]).json()
    check = verify_access_token(tokens["id_token"], jwks, issuer=provider.issuer, audience=client_id)
    assert check.valid, check.problem
    assert check.claims["nonce"] == login.nonce
    return check.claims


def test_psc_code_flow_gives_signed_tokens_with_the_professional_claims(http: httpx.Client, psc: PscSimulator, evidence: NullEvidence) -> None:
    login = authorize(http, psc, PRO.national_id, scope="openid scope_all")
    assert login.callback["state"] == login.state and login.callback["iss"] == psc.issuer and login.callback["code"]
    answer = exchange(http, psc, login)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert (tokens["token_type"], tokens["expires_in"], tokens["scope"]) == ("Bearer", 300, "openid scope_all")
    claims = id_token_claims(http, psc, tokens, login)
    assert (claims["iss"], claims["aud"], claims["acr"]) == (psc.issuer, "viewer", "eidas1")
    assert (claims["sub"], claims["SubjectNameID"], claims["preferred_username"]) == (PRO.national_id,) * 3
    assert (claims["given_name"], claims["family_name"], claims["codeProfession"], claims["codeSavoirFaire"]) == ("KIT", "DOC0036790", "10", "SM44")
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] > claims["iat"]
    digest = __import__("hashlib").sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    # the access token is also accepted where the VA-D/E steps check PSC tokens (audience "drimbox")
    assert psc.verify(tokens["access_token"]).valid
    info = http.get(psc.userinfo_endpoint, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.json()["SubjectNameID"] == PRO.national_id
    assert info.json()["SubjectRefPro"]["exercices"][0]["codeProfession"] == "10"
    direct = http.get(psc.userinfo_endpoint, headers={"Authorization": f"Bearer {psc.issue_token(PRO)}"})
    assert direct.status_code == 200 and direct.json()["sub"] == PRO.national_id  # in-process tokens too
    introspection = http.post(f"{psc.issuer}/protocol/openid-connect/token/introspect",
                              data={"token": tokens["access_token"], "client_id": "viewer", "client_secret": "s3cret"})
    assert introspection.json()["active"] is True and introspection.json()["sub"] == PRO.national_id
    assert any(c == "psc" and raw.startswith(b"POST /auth/realms/esante-wallet/protocol/openid-connect/token")
               for c, _, raw, *_ in evidence.records)


def test_franceconnect_code_flow_releases_the_pivot_identity_per_scope_with_pairwise_subjects(
    http: httpx.Client, fc: FranceConnectSimulator
) -> None:
    discovery = http.get(fc.discovery_url).json()
    assert discovery["acr_values_supported"] == ["eidas2"] and discovery["subject_types_supported"] == ["pairwise"]
    assert discovery["code_challenge_methods_supported"] == ["S256"] and fc.issuer.endswith("/api/v2")
    scope = "openid given_name family_name birthdate gender birthplace birthcountry"
    login = authorize(http, fc, PATIENT.ins, scope=scope)
    tokens = exchange(http, fc, login, basic=True).json()
    claims = id_token_claims(http, fc, tokens, login)
    assert claims["acr"] == "eidas2"
    pivot = {k: claims[k] for k in ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry")}
    assert pivot == {"given_name": "DOMINIQUE", "family_name": "PAT-TROIS", "birthdate": "1979-03-28", "gender": "female",
                     "birthplace": "51215", "birthcountry": "99100"}
    assert re.fullmatch(r"[0-9a-f]{64}v1", claims["sub"]) and PATIENT.ins not in claims["sub"]
    info = http.get(fc.userinfo_endpoint, headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info == {**pivot, "sub": claims["sub"]}
    # another client sees another sub; a narrower scope releases fewer claims
    other = authorize(http, fc, PATIENT.ins, client_id="other-rp", scope="openid given_name")
    other_claims = id_token_claims(http, fc, exchange(http, fc, other, client_id="other-rp", secret="other").json(), other, "other-rp")
    assert other_claims["sub"] != claims["sub"] and other_claims["given_name"] == "DOMINIQUE"
    assert "birthdate" not in other_claims and "family_name" not in other_claims


def _error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    return response.json()["error_description"]


def test_a_wrong_code_verifier_is_refused(http: httpx.Client, psc: PscSimulator) -> None:
    login = authorize(http, psc, PRO.national_id)
    assert "PKCE" in _error(exchange(http, psc, login, code_verifier="x" * 43), 400, "invalid_grant")
    assert "already used" in _error(exchange(http, psc, login), 400, "invalid_grant")  # consumed even when refused


def test_a_reused_code_is_refused_and_revokes_its_tokens(http: httpx.Client, fc: FranceConnectSimulator) -> None:
    login = authorize(http, fc, PATIENT.ins)
    access = exchange(http, fc, login).json()["access_token"]
    assert http.get(fc.userinfo_endpoint, headers={"Authorization": f"Bearer {access}"}).status_code == 200
    _error(exchange(http, fc, login), 400, "invalid_grant")
    refused = http.get(fc.userinfo_endpoint, headers={"Authorization": f"Bearer {access}"})
    assert "revoked" in _error(refused, 401, "invalid_token")
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_a_redirect_uri_differing_from_the_request_is_refused(http: httpx.Client, psc: PscSimulator) -> None:
    login = authorize(http, psc, PRO.national_id)
    assert "redirect_uri" in _error(exchange(http, psc, login, redirect_uri=REDIRECT + "2"), 400, "invalid_grant")


@pytest.mark.parametrize(("client_id", "secret", "basic"), [("viewer", "wrong", False), ("viewer", "wrong", True), ("ghost", "x", False)])
def test_client_authentication_failures_are_invalid_client(
    http: httpx.Client, psc: PscSimulator, client_id: str, secret: str, basic: bool
) -> None:
    login = authorize(http, psc, PRO.national_id)
    response = exchange(http, psc, login, client_id=client_id, secret=secret, basic=basic)
    _error(response, 401, "invalid_client")
    assert ("www-authenticate" in response.headers) == basic
    assert exchange(http, psc, login).status_code == 200  # the code was not burnt by an unauthenticated caller


def test_a_code_issued_to_another_client_is_refused(http: httpx.Client, fc: FranceConnectSimulator) -> None:
    login = authorize(http, fc, PATIENT.ins)
    assert "another client" in _error(exchange(http, fc, login, client_id="other-rp", secret="other"), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"client_id": "ghost"}, "unknown client_id"), ({"redirect_uri": "https://evil.example/cb"}, "is not registered")],
)
def test_an_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(
    http: httpx.Client, psc: PscSimulator, overrides: dict[str, str], reason: str
) -> None:
    params = {"response_type": "code", "client_id": "viewer", "redirect_uri": REDIRECT, "scope": "openid",
              "code_challenge": pkce_challenge("v" * 43), "code_challenge_method": "S256", **overrides}
    page = http.get(psc.authorization_endpoint, params=params)
    assert page.status_code == 400 and "location" not in page.headers and reason in page.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
    ],
)
def test_bad_authorization_requests_come_back_as_oauth_errors(
    http: httpx.Client, psc: PscSimulator, overrides: dict[str, str], error: str
) -> None:
    login = authorize(http, psc, PRO.national_id, **overrides)
    assert login.callback["error"] == error and login.callback["state"] == login.state and "code" not in login.callback


@pytest.mark.parametrize(("user", "action"), [(PRO.national_id, "cancel"), ("nobody", "login")])
def test_cancel_or_unknown_user_is_access_denied(http: httpx.Client, psc: PscSimulator, user: str, action: str) -> None:
    login = authorize(http, psc, user, action=action)
    assert login.callback["error"] == "access_denied" and "code" not in login.callback


def test_an_expired_code_is_refused(pki: TestPki, http: httpx.Client) -> None:
    cert, key = pki.issue_server_cert("short")
    config = dataclasses.replace(psc_config(), code_lifetime_s=-1)
    with OidcProvider(config, NullEvidence(), cert, key, timeout=5) as provider:
        provider.register_client("viewer", "s3cret", [REDIRECT])
        provider.add_user("u1", {"given_name": "A"})
        login = authorize(http, provider, "u1")
        assert "expired" in _error(exchange(http, provider, login), 400, "invalid_grant")


def test_userinfo_without_a_valid_token_is_401(http: httpx.Client, psc: PscSimulator) -> None:
    assert http.get(psc.userinfo_endpoint).status_code == 401
    forged = psc.foreign_token(PRO, issuer=psc.issuer)
    _error(http.get(psc.userinfo_endpoint, headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token")
    id_token = psc.sign({"iss": psc.issuer, "sub": PRO.national_id, "aud": "viewer", "exp": 2**31, "typ": "ID", "azp": "viewer"})
    assert "not an access token" in _error(http.get(psc.userinfo_endpoint, headers={"Authorization": f"Bearer {id_token}"}), 401, "invalid_token")


def test_stop_releases_the_port(pki: TestPki) -> None:
    cert, key = pki.issue_server_cert("fc2")
    fc = FranceConnectSimulator(NullEvidence(), cert, key, timeout=5).start()
    port = fc.port
    fc.stop()
    fc.stop()  # idempotent
    with FranceConnectSimulator(NullEvidence(), cert, key, port=port, timeout=5) as again:
        assert again.port == port

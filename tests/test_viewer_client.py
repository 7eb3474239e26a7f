"""The harness's browsers, driving a tiny relying party (written here) and the IdP simulators.

The RP mimics a DRIMbox viewer entry point: without a session it redirects to
the provider named by ``who`` (PKCE, state, nonce), its callback exchanges the
code and checks the ID token against the JWKS, then it serves the study.

The flow tests run twice: with ``drimva.viewer_client.ViewerClient`` (HTTP,
no JavaScript) and with ``drimva.browser`` (headless Chromium through
Playwright). The Chromium runs skip, saying why, where Chromium or Playwright
is missing; ``make test`` installs both on Debian when it runs as root.
"""

from __future__ import annotations

import html
import secrets
import ssl
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from ports import free_loopback_port

from drimva.browser import Chromium, ChromiumViewerClient, unavailable_reason
from drimva.context import Organisation, Patient, Professional
from drimva.evidence import NullEvidence
from drimva.tokens import verify_access_token
from drimva.viewer_client import ViewerClient, ViewerError
from fixtures.pki import TestPki, build_pki
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from simulators.idp.franceconnect import SCOPE as FC_SCOPE
from simulators.idp.franceconnect import FranceConnectSimulator
from simulators.idp.oidc import OidcProvider, pkce_challenge
from simulators.idp.psc import PscSimulator

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
PRO = Professional("810001234567", "DOC0036790", "KIT")
PATIENT = Patient(
    ins="279035121518989", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F", birth_place="51215"
)
STUDY = "1.2.250.1.999.1.42"


class TinyRp:
    """A viewer entry point protected by OIDC (one client per provider, sessions in a cookie)."""

    def __init__(self, pki: TestPki, providers: dict[str, tuple[OidcProvider, str]]) -> None:
        cert, key = pki.issue_server_cert("rp")
        self.providers = providers  # who -> (provider, scope)
        self.ca = pki.ca_cert
        self.pending: dict[str, tuple[str, str, str, str]] = {}  # state -> (who, verifier, nonce, return URL)
        self.sessions: dict[str, dict[str, object]] = {}
        self.server = HttpsServer(self.handle, cert, key, None, client_auth="none", timeout=5)

    @property
    def callback(self) -> str:
        return self.server.base_url + "/callback"

    def handle(self, request: HttpRequest) -> HttpResponse:
        q = {k: v[0] for k, v in request.query.items()}
        if request.path == "/loop":
            return HttpResponse(302, [("Location", "/loop")])
        if request.path == "/fake-login":  # a login page claiming an issuer it is not served from
            issuer = html.escape(q["issuer"])
            page = f'<html><head><meta name="oidc-issuer" content="{issuer}"></head><body><form method="post" action="/x">' \
                   '<input type="radio" name="user" value="u"></form></body></html>'
            return HttpResponse(200, [("Content-Type", "text/html")], page.encode())
        if request.path == "/callback":
            return self._callback(q)
        session = self.sessions.get(_cookie(request, "rp_session") or "")
        if session is None:
            who = q.get("who", "pro")
            provider, scope = self.providers[who]
            state, verifier, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(48), secrets.token_urlsafe(8)
            self.pending[state] = (who, verifier, nonce, self.server.base_url + request.target)
            params = {"response_type": "code", "client_id": "rp", "redirect_uri": self.callback, "scope": scope,
                      "state": state, "nonce": nonce, "code_challenge": pkce_challenge(verifier),
                      "code_challenge_method": "S256", "acr_values": provider.config.acr}
            return HttpResponse(302, [("Location", provider.authorization_endpoint + "?" + urlencode(params))])
        body = f"<html><body><p>study {q.get('studyUID')}</p><p>user {session['family_name']}</p></body></html>"
        return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], body.encode())

    def _callback(self, q: dict[str, str]) -> HttpResponse:
        if q.get("state") not in self.pending:
            return HttpResponse(400, [("Content-Type", "text/plain")], b"unknown state")
        who, verifier, nonce, back = self.pending.pop(q["state"])
        if "error" in q:
            return HttpResponse(403, [("Content-Type", "text/plain")], f"login refused: {q['error']}".encode())
        provider, _ = self.providers[who]
        with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca)), timeout=5) as http:
            tokens = http.post(provider.token_endpoint, data={
                "grant_type": "authorization_code", "code": q["code"], "redirect_uri": self.callback,
                "code_verifier": verifier, "client_id": "rp", "client_secret": "rp-secret"}).json()
            jwks = http.get(provider.jwks_url).json()
        check = verify_access_token(tokens.get("id_token"), jwks, issuer=provider.issuer, audience="rp")
        if not check.valid or check.claims.get("nonce") != nonce:
            return HttpResponse(401, [("Content-Type", "text/plain")], f"id_token refused: {check.problem}".encode())
        sid = secrets.token_urlsafe(16)
        self.sessions[sid] = check.claims
        return HttpResponse(302, [("Location", back), ("Set-Cookie", f"rp_session={sid}; Path=/; Secure; HttpOnly")])


def _cookie(request: HttpRequest, name: str) -> str | None:
    for part in (request.header("Cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None



@pytest.fixture(scope="module")
def world(pki: TestPki) -> Iterator[tuple[PscSimulator, FranceConnectSimulator, TinyRp]]:
    psc = PscSimulator(NullEvidence(), *pki.issue_server_cert("psc"), timeout=5)
    fc = FranceConnectSimulator(NullEvidence(), *pki.issue_server_cert("fc"), timeout=5)
    rp = TinyRp(pki, {"pro": (psc, "openid scope_all"), "patient": (fc, FC_SCOPE)})
    with psc, fc, rp.server:
        for provider in (psc, fc):
            provider.register_client("rp", "rp-secret", [rp.callback])
        psc.add_professional(PRO)
        fc.add_patient(PATIENT)
        yield psc, fc, rp



World = tuple[PscSimulator, FranceConnectSimulator, TinyRp]
Client = ViewerClient | ChromiumViewerClient


@pytest.fixture(scope="module")
def chromium(world: World, pki: TestPki) -> Iterator[Chromium]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"headless Chromium variant not run: {reason}")
    psc, fc, rp = world
    with Chromium([pki.ca_cert], [rp.server.base_url, psc.issuer, fc.issuer], timeout=10) as browser:
        yield browser


@pytest.fixture
def http_browser(pki: TestPki, evidence: NullEvidence) -> Iterator[ViewerClient]:
    with ViewerClient(evidence, pki.ca_cert, timeout=5, max_redirects=5) as client:
        yield client


@pytest.fixture(params=["http", "chromium"])
def browser(request: pytest.FixtureRequest, evidence: NullEvidence) -> Iterator[Client]:
    if request.param == "http":
        yield request.getfixturevalue("http_browser")
        return
    with request.getfixturevalue("chromium").client(evidence) as client:
        yield client


def _viewer_url(rp: TinyRp, who: str) -> str:
    return f"{rp.server.base_url}/IHEInvokeImageDisplay?requestType=STUDY&studyUID={STUDY}&Accessionnumber=ACC1&who={who}"


@pytest.mark.parametrize(("who", "user"), [("pro", PRO.national_id), ("patient", PATIENT.ins)])
def test_open_stops_at_the_right_login_page_and_login_as_comes_back_to_the_study(
    world: World, browser: Client, evidence: NullEvidence, who: str, user: str
) -> None:
    psc, fc, rp = world
    provider = psc if who == "pro" else fc
    url = _viewer_url(rp, who)
    first = browser.open(url)
    assert first.login_page_seen == provider.issuer and first.status == 200
    assert [h.status for h in first.chain] == [302, 200] and first.chain[0].location.startswith(provider.authorization_endpoint)
    assert first.login_form is not None and user in first.login_form.users
    done = browser.login_as(first, user)
    assert done.status == 200 and done.final_url == url and done.login_page_seen is None
    assert f"study {STUDY}" in done.text and ("DOC0036790" if who == "pro" else "PAT-TROIS") in done.text
    hops = [(h.method, h.status) for h in done.chain]
    assert hops == [("GET", 302), ("GET", 200), ("POST", 302), ("GET", 302), ("GET", 200)]
    assert done.chain[3].url.startswith(rp.callback + "?code=") and done.visited(provider.issuer)
    # every exchange went to the evidence, request before response
    seen = [("request" if "request-" in label else "response", meta["url"]) for _, label, _, _, meta in evidence.records]
    for hop in done.chain:
        assert seen.index(("request", hop.url)) < seen.index(("response", hop.url))
    assert any(b"POST " in raw[:5] and b"auth_request=" in raw for _, _, raw, *_ in evidence.records)
    # the session cookie now opens the study directly
    again = browser.open(url)
    assert again.status == 200 and again.login_page_seen is None and [h.status for h in again.chain] == [200]


def test_a_fresh_client_is_unauthenticated(world: World, pki: TestPki) -> None:
    _, fc, rp = world
    with ViewerClient(NullEvidence(), pki.ca_cert, timeout=5) as first:
        first.login_as(first.open(_viewer_url(rp, "patient")), PATIENT.ins)
    with ViewerClient(NullEvidence(), [pki.ca_cert], timeout=5) as second:
        assert second.open(_viewer_url(rp, "patient")).login_page_seen == fc.issuer


def test_each_chromium_client_is_a_browser_without_session(world: World, chromium: Chromium) -> None:
    _, fc, rp = world
    with chromium.client(NullEvidence()) as first:
        assert first.login_as(first.open(_viewer_url(rp, "patient")), PATIENT.ins).status == 200
        assert first.open(_viewer_url(rp, "patient")).login_page_seen is None  # its own cookie
    with chromium.client(NullEvidence()) as second:
        assert second.open(_viewer_url(rp, "patient")).login_page_seen == fc.issuer


def test_cancel_ends_on_the_relying_party_refusal(world: World, browser: Client) -> None:
    _, _, rp = world
    done = browser.login_as(browser.open(_viewer_url(rp, "pro")), "", cancel=True)
    assert done.status == 403 and "access_denied" in done.text and done.final_url.startswith(rp.callback)


def test_login_errors_are_viewer_errors(world: World, browser: Client) -> None:
    _, _, rp = world
    page = browser.open(_viewer_url(rp, "pro"))
    with pytest.raises(ViewerError, match="not offered"):
        browser.login_as(page, PATIENT.ins)
    study = browser.login_as(page, PRO.national_id)
    with pytest.raises(ViewerError, match="no identity-provider login form"):
        browser.login_as(study, PRO.national_id)


def test_redirects_are_capped_and_recorded(world: World, http_browser: ViewerClient, evidence: NullEvidence) -> None:
    _, _, rp = world
    with pytest.raises(ViewerError, match="more than 5 redirects"):
        http_browser.open(rp.server.base_url + "/loop")
    assert len([r for r in evidence.records if r[1].startswith("response-")]) == 6


def test_a_login_page_not_served_by_its_declared_issuer_is_not_the_issuer(
    world: World, browser: Client
) -> None:
    psc, _, rp = world
    fake = browser.open(f"{rp.server.base_url}/fake-login?{urlencode({'issuer': psc.issuer})}")
    assert fake.login_form is not None and fake.login_page_seen is None


def test_an_unreachable_url_is_a_viewer_error_with_evidence(browser: Client, evidence: NullEvidence) -> None:
    with pytest.raises(ViewerError, match="no HTTP answer"):
        browser.open(f"https://127.0.0.1:{free_loopback_port()}/viewer")
    labels = [r[1] for r in evidence.records]
    assert "error-" in labels[-1]
    if isinstance(browser, ViewerClient):
        assert labels == ["request-1", "error-1"]


def test_chromium_refuses_a_certificate_the_harness_did_not_verify(world: World, chromium: Chromium, pki: TestPki) -> None:
    """A CA-issued certificate, but for an origin not checked before the start: Chromium's own check applies."""
    other = HttpsServer(lambda r: HttpResponse(200, [("Content-Type", "text/html")], b"<p>x</p>"), *pki.issue_server_cert("other"),
                        None, client_auth="none", timeout=5)  # fmt: skip
    with other, chromium.client(NullEvidence()) as client:
        with pytest.raises(ViewerError, match="ERR_CERT"):
            client.open(other.base_url + "/")


def test_an_origin_whose_certificate_does_not_verify_stops_the_start(tmp_path: Path, world: World, pki: TestPki) -> None:
    if unavailable_reason():
        pytest.skip(f"headless Chromium variant not run: {unavailable_reason()}")
    stranger = build_pki(tmp_path, ORG)  # another CA
    server = HttpsServer(lambda r: HttpResponse(200), *stranger.issue_server_cert("x"), None, client_auth="none", timeout=5)
    with server, pytest.raises(ViewerError, match=r"certificate not verified against the run's CA"):
        Chromium([pki.ca_cert], [server.base_url], timeout=5)

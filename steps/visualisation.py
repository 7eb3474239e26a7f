"""Steps of ``visualisation.feature`` (VA-C1, VA-C2): opening the study from the URL in the CR.

The harness takes the viewer URL from the CR it sent, opens it as a browser
would (cookies, redirects; no JavaScript with the built-in HTTP client, a
real headless Chromium with ``harness.browser.kind = "chromium"``), reaches the expected identity
provider (directly, or through a link of the viewer's provider-choice page),
logs in as the professional or the patient, and expects the viewer to show
the study of the CR, and only to whom it should.
"""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urljoin

import pytest
from lxml import etree, html
from pytest_bdd import then, when

from drimva.cda import parse_cda
from drimva.context import Professional
from drimva.evidence import EvidenceStore
from drimva.profile import Profile
from drimva.rules.viewer import check_study_shown, check_study_withheld, no_login_page, viewer_unreachable
from drimva.verdict import Verdict
from drimva.browser import Chromium, ChromiumViewerClient
from drimva.viewer_client import Navigation, ViewerClient, ViewerError
from fixtures.cda import build_cda
from fixtures.exam import ScenarioState
from fixtures.identities import new_patient
from fixtures.pki import TestPki
from simulators.idp.franceconnect import FranceConnectSimulator
from simulators.idp.psc import PscSimulator

Browser = ViewerClient | ChromiumViewerClient


def _viewer_url(state: ScenarioState) -> str:
    urls = parse_cda(build_cda(state.require_spec())).viewer_urls
    if not urls:
        raise AssertionError("the CR the harness sent carries no viewer URL")
    return urls[0]


def _client(evidence: EvidenceStore, pki: TestPki, profile: Profile, chromium: Chromium | None) -> Browser:
    """A browser without a session: the profile's (``harness.browser``)."""
    if chromium is not None:
        return chromium.client(evidence)
    return ViewerClient(evidence, pki.ca_cert, timeout=profile.timeouts.connect_s)


def _unreachable(verdict: Verdict, url: str, error: ViewerError) -> NoReturn:
    verdict.reject("visionneuse", viewer_unreachable(url, str(error)))


def _links(page: str) -> list[str]:
    """The ``<a href>`` targets of a page, entities decoded (``&amp;`` in a query is ``&``)."""
    try:
        document = html.document_fromstring(page, parser=html.HTMLParser(no_network=True))
    except (etree.ParserError, ValueError):
        return []
    return [str(href) for href in document.xpath("//a/@href")]


def _reach_login(client: Browser, url: str, issuer: str, verdict: Verdict) -> Navigation:
    """Open the viewer URL and get to the login page of ``issuer`` (following a choice link if needed)."""
    try:
        navigation = client.open(url)
    except ViewerError as error:
        _unreachable(verdict, url, error)
    if navigation.login_page_seen == issuer:
        return navigation
    for href in _links(navigation.text):
        try:
            candidate = client.open(urljoin(navigation.final_url, href))
        except ViewerError:
            continue
        if candidate.login_page_seen == issuer:
            return candidate
    verdict.reject(
        "renvoi vers le fournisseur d'identité", no_login_page(url, issuer, navigation.status, navigation.final_url), navigation.exchanges
    )


def _open_and_login(state: ScenarioState, client: Browser, issuer: str, user_key: str, verdict: Verdict) -> None:
    url = _viewer_url(state)
    navigation = _reach_login(client, url, issuer, verdict)
    try:
        state.navigation = client.login_as(navigation, user_key)
    except ViewerError as error:
        _unreachable(verdict, url, error)


@when("un professionnel ouvre l'URL de visualisation du CR et se connecte avec Pro Santé Connect")
def professional_opens(
    state: ScenarioState, psc: PscSimulator, professional: Professional, evidence: EvidenceStore, pki: TestPki,
    profile: Profile, verdict: Verdict, chromium: Chromium | None,
) -> None:
    with _client(evidence, pki, profile, chromium) as client:
        _open_and_login(state, client, psc.issuer, professional.national_id, verdict)


@when("le patient ouvre l'URL de visualisation du CR et se connecte avec FranceConnect+")
def patient_opens(
    state: ScenarioState, franceconnect: FranceConnectSimulator, evidence: EvidenceStore, pki: TestPki,
    profile: Profile, verdict: Verdict, chromium: Chromium | None,
) -> None:
    assert state.patient is not None
    user = franceconnect.add_patient(state.patient)
    with _client(evidence, pki, profile, chromium) as client:
        _open_and_login(state, client, franceconnect.issuer, user.key, verdict)


@when("un autre patient ouvre l'URL de visualisation du CR et se connecte avec FranceConnect+")
def other_patient_opens(
    state: ScenarioState, franceconnect: FranceConnectSimulator, evidence: EvidenceStore, pki: TestPki,
    profile: Profile, verdict: Verdict, chromium: Chromium | None,
) -> None:
    user = franceconnect.add_patient(new_patient())
    with _client(evidence, pki, profile, chromium) as client:
        _open_and_login(state, client, franceconnect.issuer, user.key, verdict)


@when("un professionnel présente à la visionneuse un jeton d'un émetteur inconnu")
def unknown_issuer(
    state: ScenarioState, psc: PscSimulator, professional: Professional, evidence: EvidenceStore, pki: TestPki,
    profile: Profile, verdict: Verdict, request: pytest.FixtureRequest, chromium: Chromium | None,
) -> None:
    psc.forged_issuer = "https://idp-inconnu.drimva.invalid/auth/realms/esante-wallet"
    request.addfinalizer(lambda: setattr(psc, "forged_issuer", None))
    with _client(evidence, pki, profile, chromium) as client:
        _open_and_login(state, client, psc.issuer, professional.national_id, verdict)


@when("un navigateur sans session ouvre l'URL de visualisation du CR")
def no_session(
    state: ScenarioState, evidence: EvidenceStore, pki: TestPki, profile: Profile, verdict: Verdict, chromium: Chromium | None
) -> None:
    url = _viewer_url(state)
    with _client(evidence, pki, profile, chromium) as client:
        try:
            state.navigation = client.open(url)
        except ViewerError as error:
            _unreachable(verdict, url, error)


@then("la visionneuse montre l'examen du CR")
def study_shown(state: ScenarioState, verdict: Verdict) -> None:
    navigation: Navigation = state.navigation
    findings = check_study_shown(navigation.final_url, navigation.status, navigation.text, state.require_spec().study_uid)
    verdict.judge("examen affiché", findings, navigation.exchanges)


def _refused(state: ScenarioState, check: str, verdict: Verdict, expected: str) -> None:
    navigation: Navigation = state.navigation
    findings = check_study_withheld(navigation.final_url, navigation.status, navigation.text, state.require_spec().study_uid, expected)
    verdict.judge(check, findings, navigation.exchanges)


@then("la visionneuse ne montre pas l'examen et renvoie vers un fournisseur d'identité")
def not_shown_without_session(state: ScenarioState, verdict: Verdict) -> None:
    _refused(state, "pas d'examen sans session", verdict, "no study without a session (a login page or a provider choice)")


@then("la visionneuse refuse l'accès à l'examen")
def access_refused(state: ScenarioState, verdict: Verdict) -> None:
    _refused(state, "accès refusé", verdict, "a refusal (401/403), not the study")

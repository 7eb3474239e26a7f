"""Steps of ``source.feature`` (VA-E): a peer consumer DRIMbox fetches from the SUT source.

The study was published by the SUT through the block B steps (the report
sent by the RIS); the harness then plays a consumer DRIMbox reading the KOS
the SUT published and asking the SUT's WADO-RS for each series, with a valid
token and KOS header, and with each security fault in turn.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from pytest_bdd import parsers, then, when

from drimva.context import Professional
from drimva.outcomes import Outcome, skip_reason
from drimva.rules.retrieval import check_retrieval, kos_series_references, pixel_digests
from drimva.rules.source_security import check_security_probe, check_series_served
from drimva.rules.wado import check_plain_http, check_source_responses
from drimva.sut_calls import SutUnreachable
from drimva.verdict import Verdict
from fixtures.exam import ScenarioState
from fixtures.studies import make_study
from simulators.idp.psc import PscSimulator
from simulators.pacs import PacsSimulator
from simulators.peer.consumer import PeerConsumer

def _published_kos(state: ScenarioState) -> bytes:
    if state.published is None:
        raise AssertionError("no KOS was published by the SUT in this scenario")
    return state.published.document


@when("une DRIMbox consommatrice récupère chaque série du KOS publié")
def consumer_fetches(
    state: ScenarioState, peer_consumer: PeerConsumer, psc: PscSimulator, professional: Professional
) -> None:
    state.fetch = peer_consumer.fetch_study(_published_kos(state), psc.issue_token(professional))
    _unless_lost(*(series.lost for series in state.fetch.series))


@then("chaque série est servie et les instances reçues sont celles du KOS, identiques à celles du PACS")
def every_series_served(state: ScenarioState, verdict: Verdict) -> None:
    fetch = state.fetch
    findings = (
        check_series_served(fetch.series)
        + check_source_responses(fetch.wado_exchanges())
        + check_retrieval(fetch.kos, fetch.received, pixel_digests(state.datasets))
    )
    verdict.judge("examen servi à une DRIMbox consommatrice", findings)


PROBES: dict[str, dict[str, Any]] = {  # how the consumer's request departs from a valid one
    "sans jeton": {"omit": ("token",)},
    "avec un jeton expiré": {"token": "expired"},
    "avec un jeton d'un émetteur inconnu": {"token": "foreign"},
    "sans l'en-tête KOS-SOPInstanceUID": {"omit": ("kos_header",)},
    "en HTTP en clair": {"omit": ("tls",)},
}


@when(parsers.re(r"une DRIMbox consommatrice demande une série du KOS (?P<how>.+)"))
def faulty_request(
    state: ScenarioState, peer_consumer: PeerConsumer, psc: PscSimulator, professional: Professional, how: str
) -> None:
    kos = _published_kos(state)
    first = kos_series_references(kos)[0]
    spec = PROBES[how]
    token = {
        "expired": psc.issue_token(professional, expired=True),
        "foreign": psc.foreign_token(professional),
    }.get(str(spec.get("token")), psc.issue_token(professional))
    state.probe = peer_consumer.security_probe(
        first.retrieve_url, token=token, kos_uid=_kos_uid(kos), omit=spec.get("omit", ())
    )
    if "tls" not in spec.get("omit", ()):  # plain HTTP at a TLS port: silence or a close is the expected refusal
        _unless_lost(state.probe.lost)


@when("une DRIMbox consommatrice demande une série que le KOS ne référence pas")
def unreferenced_series(
    state: ScenarioState, peer_consumer: PeerConsumer, psc: PscSimulator, professional: Professional,
    pacs: PacsSimulator,
) -> None:
    """A series added to the study in the PACS after the KOS was published: real, but not in that KOS."""
    kos = _published_kos(state)
    spec = state.require_spec()
    assert state.patient is not None
    late = make_study(state.patient, spec.accession, study_uid=spec.study_uid, series=(("CT", 1),),
                      accession_issuer=spec.accession_issuer)
    pacs.add_study(late)
    first = kos_series_references(kos)[0]
    url = first.retrieve_url.rsplit("/series/", 1)[0] + f"/series/{late[0].SeriesInstanceUID}"
    state.probe = peer_consumer.security_probe(url, token=psc.issue_token(professional), kos_uid=_kos_uid(kos))
    _unless_lost(state.probe.lost)


def _unless_lost(*lost: str) -> None:
    """A request the SUT did not answer because it is gone, silent or too slow (recorded already): ``error``."""
    for why in lost:
        if why:
            raise SutUnreachable(why)


def _kos_uid(kos: bytes) -> str:
    from drimva.dicom_text import read_part10

    return str(read_part10(kos).SOPInstanceUID)


@then(parsers.re(r"la DRIMbox source répond (?P<codes>\d{3}(?: ou \d{3})*)"))
def source_answers(state: ScenarioState, verdict: Verdict, codes: str) -> None:
    expected = {int(code) for code in codes.split(" ou ")}
    probe = state.probe
    findings = check_security_probe(probe.url, probe.omitted, probe.status, probe.error, expected)
    verdict.judge("requête refusée par la DRIMbox source", findings)


@then("la DRIMbox source ne sert pas la série")
def source_does_not_serve(state: ScenarioState, verdict: Verdict) -> None:
    """Plain HTTP is tried at the RetrieveURL's host and port: where nothing listens, the check cannot fail."""
    probe = state.probe
    if not probe.connected:
        where = urlsplit(probe.url).netloc
        pytest.skip(skip_reason(
            Outcome.SKIPPED,
            f"nothing accepts a connection at {where}, where plain HTTP was tried (the RetrieveURL's host and port): "
            f"whether the source would serve in clear cannot be seen there ({probe.error})",
        ))  # fmt: skip
    verdict.judge("HTTP en clair refusé", check_plain_http(probe.url, probe.status, probe.error))

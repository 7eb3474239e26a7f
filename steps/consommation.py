"""Steps of ``consommation.feature`` (VA-D1, VA-D2, VA-D3) and of the consumer
scenarios of ``espace_de_confiance.feature`` (VA-A).

The harness plays a peer source DRIMbox (in or out of the trust list), the
DMP holding its KOS, the professional's Pro Santé Connect token and the
DICOM node; it posts the contextual call to the SUT and watches what reaches
each counterpart.
"""

from __future__ import annotations

import ssl
import time
from urllib.parse import urlsplit

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from drimva.context import Professional
from drimva.evidence import EvidenceStore
from drimva.findings import Finding
from drimva.profile import Profile
from drimva.rules.consultation import (
    SeriesRequest,
    call_unreachable,
    check_call_redirect,
    check_call_refused,
    check_dmp_consulted,
    check_node_transport,
    check_node_untouched,
    check_series_fetched,
    check_untrusted_not_contacted,
    kos_not_retrieved,
    unserved_series,
)
from drimva.rules.retrieval import check_retrieval, kos_series_references, pixel_digests, pixel_sha256
from drimva.rules.wado import check_consumer_requests
from drimva.sut_calls import SutUnreachable, http_lost, send_bounded, still_listening
from drimva.verdict import Verdict
from drimva.waiting import blocking, poll
from fixtures.exam import ScenarioState, new_exam
from fixtures.harness import SutHandle
from fixtures.identities import new_patient
from fixtures.pki import TestPki
from simulators.dicom_node import DicomNode
from simulators.dmp import DmpSimulator
from simulators.dmp.server import Submission
from simulators.idp.psc import PscSimulator
from simulators.peer.source import PeerSource
from simulators.trust.server import TrustListServer

MANDATORY_PARAMETERS = (
    "Patient.identifier.value",
    "Patient.identifier.system",
    "Patient.name.family",
    "Patient.name.given",
    "Patient.gender",
    "Patient.birthDate",
    "Address.district",
    "PatientID",
    "PatientIDIssuer",
)


def _publish_at(state: ScenarioState, source: PeerSource, dmp: DmpSimulator, profile: Profile, organisation: object) -> None:
    """A study of a new patient on ``source``, its KOS (RetrieveURL on that source) preloaded in the DMP."""
    state.patient = new_patient()
    new_exam(state, organisation, profile.viewer.url_template.replace("{host}", profile.viewer.host))  # type: ignore[arg-type]
    spec = state.require_spec()
    kos = source.make_kos_for(
        state.datasets,
        state.patient,
        accession=spec.accession,
        accession_issuer=spec.accession_issuer,
        order_id=spec.order_id,
        order_root=spec.order_root,
    )
    state.peer_kos = kos
    state.peer_source = source
    state.dmp_mark = len(dmp.submissions)
    dmp.preload(
        kos,
        patient_id=state.patient.xds_patient_id,
        modalities=spec.modalities,
        accession=spec.accession,
        accession_issuer=spec.accession_issuer,
        order_id=spec.order_id,
        order_root=spec.order_root,
    )


def contextual_form(state: ScenarioState, consent_parameter: str, ins_system: str = "urn-oid") -> dict[str, str]:
    """The ten parameters; ``ins_system`` (``sut.consumer.ins_system``) says whether the INS OID goes bare or as urn:oid:."""
    patient = state.patient
    assert patient is not None
    return {
        "Patient.identifier.value": patient.ins,
        "Patient.identifier.system": patient.ins_oid if ins_system == "oid" else f"urn:oid:{patient.ins_oid}",
        "Patient.name.family": patient.birth_name,
        "Patient.name.given": patient.given_name,
        "Patient.gender": {"F": "female", "M": "male"}.get(patient.sex, "unknown"),
        "Patient.birthDate": f"{patient.birth_date[:4]}-{patient.birth_date[4:6]}-{patient.birth_date[6:8]}",
        "Address.district": patient.birth_place,
        consent_parameter: "true",
        "PatientID": patient.ipp,
        "PatientIDIssuer": f"{patient.ipp_authority}&{patient.ipp_oid}&ISO",
    }


def _post_call(
    state: ScenarioState, sut: SutHandle, form: dict[str, str], token: str, pki: TestPki, evidence: EvidenceStore,
    timeout: float, answer_s: float,
) -> None:
    """Post the contextual call; the answer (or, when none came, the finding that says so) goes to ``state``.

    ``timeout`` bounds the connection and each read, ``answer_s`` the whole answer. The Then steps decide:
    no answer fails a scenario whose subject is the call, and blocks the others; a SUT that is gone, silent
    or too slow ends the scenario ``error`` (:mod:`drimva.sut_calls`).
    """
    if not sut.consumer_url:
        pytest.skip("not_applicable: the profile gives no contextual-call URL for the SUT (sut.consumer.contextual_url)")
    request = httpx.Request("POST", sut.consumer_url, data=form, headers={"Authorization": f"Bearer {token}"})
    evidence.record(
        "contextual-call", "request", request.read(),
        f"POST {sut.consumer_url}\n" + "\n".join(f"{k} = {v}" for k, v in form.items()), suffix="http",
    )
    try:
        tls = ssl.create_default_context(cafile=str(pki.ca_cert))
        with httpx.Client(verify=tls, timeout=timeout, trust_env=False, follow_redirects=False) as client:
            with blocking("la réponse de la DRIMbox à l'appel contextuel", answer_s):
                response = send_bounded(client, request, answer_s)
    except httpx.HTTPError as error:
        evidence.record("contextual-call", "no response", str(error).encode(), str(error), suffix="txt")
        url = urlsplit(sut.consumer_url)
        lost = http_lost(
            error, sut.consumer_url, "appel contextuel", answer_s,
            lambda: still_listening(url.hostname or "", url.port or 443, timeout),
        )
        if lost:
            raise SutUnreachable(lost) from None
        state.call_response = None
        state.call_failure = call_unreachable(sut.consumer_url, f"{type(error).__name__}: {error}")
        return
    evidence.record(
        "contextual-call", f"response {response.status_code}", response.content,
        f"HTTP {response.status_code}\nLocation: {response.headers.get('location', '')}\n\n{response.text[:2000]}",
        suffix="http",
    )
    state.call_response = response
    url = urlsplit(sut.consumer_url)
    state.reached(url.hostname or "", url.port or 443, timeout)


def _call_answer(state: ScenarioState, verdict: Verdict, check: str) -> httpx.Response:
    """The SUT's answer to the contextual call, the subject of the scenario: no answer fails it."""
    if state.call_response is None:
        verdict.reject(check, state.call_failure)
    response: httpx.Response = state.call_response
    return response


def _require_kos_retrieved(state: ScenarioState, dmp: DmpSimulator, profile: Profile, verdict: Verdict, check: str) -> None:
    """Precondition of what the consumer does with the KOS: the call was answered and the KOS retrieved (ITI-43).

    Either failing blocks the scenario (VA-D1 judges them); without it, "no request to the
    untrusted source" would pass for a consumer that did nothing at all.
    """
    if state.call_response is None:
        failure: Finding = state.call_failure
        verdict.blocked(check, "appel contextuel sans réponse", failure.rule, failure.actual, [failure])
    timeout = profile.timeouts.publication_s
    if not poll(lambda: _queried(dmp, state, "ITI-43"), timeout, what="la récupération du KOS dans le DMP (ITI-43)"):
        state.unless_sut_gone("en attendant la récupération du KOS dans le DMP (ITI-43)")
        missing = kos_not_retrieved(state.call_response.status_code, timeout)
        verdict.blocked(check, "KOS non récupéré dans le DMP par la DRIMbox", missing.rule, missing.actual)


# -- Given ------------------------------------------------------------------------


@given("un examen publié dans le DMP par une DRIMbox source de la liste blanche")
def exam_on_trusted_peer(
    state: ScenarioState, peer_source: PeerSource, dmp: DmpSimulator, profile: Profile, organisation: object, sut: SutHandle
) -> None:
    _publish_at(state, peer_source, dmp, profile, organisation)


@given("un examen publié dans le DMP par une DRIMbox source absente de la liste blanche")
def exam_on_untrusted_peer(
    state: ScenarioState, untrusted_source: PeerSource, dmp: DmpSimulator, profile: Profile, organisation: object,
    sut: SutHandle,
) -> None:
    _publish_at(state, untrusted_source, dmp, profile, organisation)


@given(parsers.re(r"une liste blanche (?P<variant>corrompue|non signée) qui ajoute cette DRIMbox source"))
def bad_trust_list(trust_server: TrustListServer, request: pytest.FixtureRequest, variant: str) -> None:
    trust_server.serve("corrupted" if variant == "corrompue" else "unsigned")
    request.addfinalizer(lambda: trust_server.serve("signed"))


# -- When -------------------------------------------------------------------------


@when("le professionnel ouvre le dossier du patient par un appel contextuel")
def open_patient_file(
    state: ScenarioState, sut: SutHandle, psc: PscSimulator, professional: Professional, pki: TestPki,
    evidence: EvidenceStore, profile: Profile,
) -> None:
    form = contextual_form(state, profile.sut.consumer.consent_parameter, profile.sut.consumer.ins_system)
    _post_call(state, sut, form, psc.issue_token(professional), pki, evidence, profile.timeouts.connect_s, profile.timeouts.ack_s)


@when(parsers.re(r"l'appel contextuel (?P<how>omet|laisse vide) le paramètre « (?P<name>[^»]+) »"))
def incomplete_call(
    state: ScenarioState, sut: SutHandle, psc: PscSimulator, professional: Professional, pki: TestPki,
    evidence: EvidenceStore, profile: Profile, how: str, name: str,
) -> None:
    form = contextual_form(state, profile.sut.consumer.consent_parameter, profile.sut.consumer.ins_system)
    if how == "omet":
        form.pop(name)
    else:
        form[name] = ""
    _post_call(state, sut, form, psc.issue_token(professional), pki, evidence, profile.timeouts.connect_s, profile.timeouts.ack_s)


# -- Then -------------------------------------------------------------------------


@then("la DRIMbox redirige le navigateur (302 ou 303)")
def redirected(state: ScenarioState, verdict: Verdict) -> None:
    response = _call_answer(state, verdict, "appel contextuel accepté")
    verdict.judge("appel contextuel accepté", check_call_redirect(response.status_code, response.text))


@then("la DRIMbox répond 400")
def refused_400(state: ScenarioState, verdict: Verdict) -> None:
    status = _call_answer(state, verdict, "appel contextuel incomplet refusé").status_code
    verdict.judge("appel contextuel incomplet refusé", check_call_refused(status))


def _queried(dmp: DmpSimulator, state: ScenarioState, transaction: str) -> list[Submission]:
    return [s for s in dmp.submissions[state.dmp_mark :] if s.transaction == transaction and s.response_status == "Success"]


@then("le DMP a reçu une recherche ITI-18 sur l'INS du patient puis une récupération ITI-43 du KOS")
def dmp_consulted(state: ScenarioState, dmp: DmpSimulator, profile: Profile, verdict: Verdict) -> None:
    assert state.patient is not None
    ins = state.patient.ins
    timeout = profile.timeouts.publication_s
    found = poll(
        lambda: [s for s in _queried(dmp, state, "ITI-18") if s.query and ins in (s.query.value("$XDSDocumentEntryPatientId") or "")],
        timeout,
        what="la recherche du patient dans le DMP (ITI-18)",
    )
    retrieved = poll(lambda: _queried(dmp, state, "ITI-43"), timeout if found else 0, what="la récupération du KOS dans le DMP (ITI-43)")
    if not (found and retrieved):
        state.unless_sut_gone("en attendant la consultation du DMP (ITI-18, ITI-43)")
    findings = check_dmp_consulted(
        state.patient.xds_patient_id, bool(found), len(_queried(dmp, state, "ITI-18")), bool(retrieved)
    )
    verdict.judge("consultation du DMP", findings)


def _series_requests(state: ScenarioState, source: PeerSource, psc: PscSimulator | None = None) -> dict[str, list[SeriesRequest]]:
    """The requests ``source`` answered, per series of the KOS, as the records the rules read.

    ``psc`` checks each bearer token (None: tokens are not looked at, ``token_valid`` False).
    """
    refs = {ref.series_uid for ref in kos_series_references(state.peer_kos)}
    seen: dict[str, list[SeriesRequest]] = {uid: [] for uid in refs}
    for request in list(source.requests):
        for uid in refs:
            if f"/series/{uid}" in request.target:
                token = (request.header("Authorization") or "").removeprefix("Bearer ")
                seen[uid].append(SeriesRequest(
                    request.method, request.target, request.status, request.header("KOS-SOPInstanceUID"),
                    psc is not None and psc.verify(token).valid,
                ))  # fmt: skip
    return seen


@then("la DRIMbox source reçoit une requête WADO-RS pour chaque série du KOS, avec un jeton valide et l'en-tête KOS")
def series_fetched(state: ScenarioState, psc: PscSimulator, dmp: DmpSimulator, profile: Profile, verdict: Verdict) -> None:
    _require_kos_retrieved(state, dmp, profile, verdict, "récupération des séries")
    source: PeerSource = state.peer_source
    kos_uid = _kos_uid(state.peer_kos)
    if not poll(
        lambda: all(r for r in _series_requests(state, source).values()) or None, profile.timeouts.publication_s,
        what="les requêtes WADO-RS de chaque série à la DRIMbox source",
    ):  # fmt: skip
        state.unless_sut_gone("en attendant ses requêtes WADO-RS à la DRIMbox source")
    requests = source.study_requests(state.require_spec().study_uid)  # recorded (evidence) as they came
    verdict.judge(
        "récupération des séries",
        check_series_fetched(_series_requests(state, source, psc), kos_uid)
        + check_consumer_requests(requests, accept_parameters=profile.rules.wado_accept_parameters),
    )


def _kos_uid(kos: bytes) -> str:
    from drimva.dicom_text import read_part10

    return str(read_part10(kos).SOPInstanceUID)


@then("le nœud DICOM reçoit toutes les instances de l'examen, à l'identique")
def node_received_study(
    state: ScenarioState, dicom_node: DicomNode, dmp: DmpSimulator, profile: Profile, verdict: Verdict
) -> None:
    check = "examen transmis au nœud DICOM"
    _require_kos_retrieved(state, dmp, profile, verdict, check)
    expected = pixel_digests(state.datasets)
    dicom_node_uids = set(expected)
    complete = poll(
        lambda: dicom_node_uids <= dicom_node.sop_instance_uids() or None, profile.timeouts.publication_s,
        what="les instances de l'examen au nœud DICOM (C-STORE)",
    )  # fmt: skip
    time.sleep(0.1)  # let a C-STORE of an instance the KOS does not reference land, if any
    if not complete:
        state.unless_sut_gone("en attendant les instances de l'examen au nœud DICOM")
        _unless_series_served(state, verdict, check)
    received = {str(ds.SOPInstanceUID): pixel_sha256(ds) for ds in dicom_node.received if str(ds.SOPInstanceUID) in expected}
    verdict.judge(check, check_retrieval(state.peer_kos, received, expected))
    verdict.judge("service DICOM utilisé", _node_transport(dicom_node, set(expected), profile))


def _unless_series_served(state: ScenarioState, verdict: Verdict, check: str) -> None:
    """The node lacks instances: if the consumer did not get every series from the source, that blocks it (VA-D2 judges it)."""
    missing = unserved_series(_series_requests(state, state.peer_source))
    if missing is not None:
        verdict.blocked(check, "séries du KOS non récupérées auprès de la DRIMbox source", missing.rule, missing.actual)


def _node_transport(node: DicomNode, uids: set[str], profile: Profile) -> list[Finding]:
    """A warning when instances reached the node by another service than the profile declares (where-sources-disagree.md)."""
    services = [r.via for r in node.receipts if r.sop_instance_uid in uids]
    return check_node_transport(profile.sut.consumer.node_transport, services, node.ae_title)


@then("la DRIMbox source absente de la liste blanche ne reçoit aucune requête")
def untrusted_not_contacted(
    state: ScenarioState, untrusted_source: PeerSource, dmp: DmpSimulator, profile: Profile, verdict: Verdict
) -> None:
    _require_kos_retrieved(state, dmp, profile, verdict, "DRIMbox hors liste blanche")
    # the consumer got the KOS (ITI-43): within the grace it would have contacted the source
    contacted = poll(
        lambda: [r for series in _series_requests(state, untrusted_source).values() for r in series],
        profile.timeouts.no_publication_grace_s,
        what="le délai de grâce : aucune requête à la DRIMbox hors liste blanche",
    )
    if not contacted:  # a consumer that stopped during the grace contacted nobody, but was not seen refusing to
        state.unless_sut_gone("pendant le délai de grâce où elle ne doit contacter aucune DRIMbox hors liste blanche")
    verdict.judge("DRIMbox hors liste blanche", check_untrusted_not_contacted(untrusted_source.base_url, contacted or []))


@then("le nœud DICOM ne reçoit aucune image de cet examen")
def node_received_nothing(state: ScenarioState, dicom_node: DicomNode, profile: Profile, verdict: Verdict) -> None:
    expected = set(pixel_digests(state.datasets))
    stored = poll(
        lambda: expected & dicom_node.sop_instance_uids(), profile.timeouts.no_publication_grace_s,
        what="le délai de grâce : aucune instance au nœud DICOM",
    )  # fmt: skip
    if not stored:
        state.unless_sut_gone("pendant le délai de grâce où le nœud DICOM ne doit rien recevoir")
    verdict.judge("nœud DICOM", check_node_untouched(len(stored or ())))

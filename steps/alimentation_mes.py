"""Steps of ``alimentation_mes.feature`` (VA-B1, VA-B2, VA-B3).

Thin by design: drive the simulators, wait for what the SUT does, hand the
artefacts to the rules and the findings to the verdict.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import time
from datetime import datetime, timezone
from typing import Callable, Literal

import pytest
from pytest_bdd import given, parsers, then, when

from drimva.context import Organisation, ReportContext, RuleOptions, SutEndpoints
from drimva.evidence import EvidenceStore, seqs_of
from drimva.findings import Finding
from drimva.oracles.dciodvfy import dciodvfy_available, run_dciodvfy
from drimva.profile import Profile
from drimva.rules.dciodvfy import oracle_findings
from drimva.rules.hl7_ack import check_ack_exchange
from drimva.rules.kos import check_kos, check_kos_content, check_kos_cr_identity, check_kos_pacs_metadata, read_oracle_findings
from drimva.rules.publication import (
    APPROVED,
    EntryRecord,
    SubmissionRecord,
    check_client_certificate,
    check_other_study_kept,
    check_dciodvfy_available,
    check_no_publication,
    check_pacs_query,
    check_rejection_note,
    check_replaced_deprecated,
    check_withdrawn,
    publication_missing,
)
from drimva.rules.vihf import check_vihf
from drimva.rules.xds import (
    check_kos_submission,
    check_refused_publication,
    check_replacement,
    check_status_update,
    is_signature_entry,
)
from drimva.sut_calls import SutUnreachable, mllp_lost, still_listening
from drimva.verdict import Verdict
from drimva.waiting import poll
from drimva.xds import ProvideAndRegister, XdsParseError, parse_provide_and_register
from fixtures.cda import build_cda
from fixtures.exam import ScenarioState, new_exam, patient_exam
from fixtures.harness import SutHandle
from fixtures.identities import new_patient
from fixtures.reports import ReportSpec
from fixtures.studies import under_other_accession, under_usage_name, with_non_image_objects
from simulators.dmp import DmpSimulator, RegistryEntry, Submission
from simulators.pacs import PacsSimulator
from simulators.ris import RisExchange, RisSimulator, build_report_message

_control_ids = itertools.count(1)

Kind = Literal["ORU", "MDM"]
Event = Literal["initial", "replace", "delete"]



# -- helpers ----------------------------------------------------------------


def _send(
    state: ScenarioState, ris: RisSimulator, sut: SutHandle, profile: Profile, kind: Kind, event: Event, spec: ReportSpec | None = None
) -> RisExchange:
    """Send the scenario's CR (or ``spec``'s: another study of the patient) as ``kind`` for ``event``."""
    spec = spec or state.require_spec()
    message = build_report_message(
        spec,
        build_cda(spec),
        kind=kind,
        event=event,
        control_id=f"DRIMVA{time.strftime('%H%M%S')}{next(_control_ids):05d}",
        sending=(profile.harness.ris.sending_application, profile.harness.ris.sending_facility),
        receiving=(profile.sut.hl7.receiving_application, profile.sut.hl7.receiving_facility),
    )
    host, port = sut.hl7_host, sut.hl7_port
    exchange = ris.send(host, port, with_defect(message, state.defect))
    state.exchanges.append(exchange)
    _unless_lost(exchange, sut, ris, f"CR {kind} {_EVENT_FR[event]}")
    state.reached(host, port, ris.connect_timeout)
    return exchange


_EVENT_FR = {"initial": "initial", "replace": "de remplacement", "delete": "de suppression"}


def _unless_lost(exchange: RisExchange, sut: SutHandle, ris: RisSimulator, what: str) -> None:
    """No ACK because the SUT is gone, silent or too slow (recorded already): the scenario ends ``error``."""
    if exchange.ack_text is not None:
        return
    host, port = sut.hl7_host, sut.hl7_port
    lost = mllp_lost(
        exchange.failure, len(exchange.received), host, port, what, ris.ack_timeout,
        lambda: still_listening(host, port, ris.connect_timeout),
    )
    if lost:
        raise SutUnreachable(lost)


UNREADABLE_CDA = base64.b64encode(b"<ClinicalDocument><not-a-cda").decode("ascii")  # not well-formed XML


def with_defect(message: str, defect: str) -> str:
    """The CR with the defect a scenario sends on purpose (``ScenarioState.defect``); unchanged when none."""
    segments = message.split("\r")
    if defect == "no-pid":  # HL7 v2.5 ch.2 / the volet: PID is required in ORU^R01 and MDM
        return "\r".join(s for s in segments if not s.startswith("PID|"))
    if defect == "unreadable-cda":  # the document OBX-5 (ED): ^text/xml^XML^Base64^<data>
        return "\r".join(
            s.rsplit("^Base64^", 1)[0] + "^Base64^" + UNREADABLE_CDA if s.startswith("OBX|") and "^Base64^" in s else s
            for s in segments
        )
    if defect:
        raise ValueError(f"unknown CR defect {defect!r}")
    return message


def _patient_entries(dmp: DmpSimulator, state: ScenarioState) -> list[RegistryEntry]:
    """The patient's KOS entries: a DSG signature entry (Signature01) of the same submission is not a KOS."""
    ins = state.patient.ins if state.patient else "?"
    return [entry for entry in dmp.entries() if ins in entry.patient_id and not is_signature_entry(entry.metadata)]


def _wait_entry(
    dmp: DmpSimulator, state: ScenarioState, timeout: float, accept: Callable[[RegistryEntry], bool]
) -> RegistryEntry | None:
    return poll(lambda: next((e for e in _patient_entries(dmp, state) if accept(e)), None), timeout, what="le KOS du patient dans le DMP (ITI-41)")


def _submissions_since(dmp: DmpSimulator, since: int) -> list[SubmissionRecord]:
    """What the DMP simulator answered since ``since``, as the plain records the rules read."""
    return [SubmissionRecord(s.action or "", s.response_status, s.error_text) for s in dmp.submissions[since:]]


def _await_publication(
    dmp: DmpSimulator, state: ScenarioState, profile: Profile, accept: Callable[[RegistryEntry], bool] = lambda e: e.status == APPROVED
) -> RegistryEntry | None:
    """The DMP entry ``accept`` picks, within ``timeouts.publication_s``; None at once when the CR never reached the SUT."""
    if state.exchanges and not state.last_exchange.delivered:
        return None
    entry = _wait_entry(dmp, state, profile.timeouts.publication_s, accept)
    if entry is None:
        state.unless_sut_gone("en attendant la publication du KOS")
    return entry


def _publication_missing(dmp: DmpSimulator, state: ScenarioState, profile: Profile) -> Finding:
    ins = state.patient.ins if state.patient else "?"
    return publication_missing(ins, profile.timeouts.publication_s, _submissions_since(dmp, state.dmp_mark))


def _require_publication(
    verdict: Verdict, dmp: DmpSimulator, state: ScenarioState, profile: Profile, check: str,
    accept: Callable[[RegistryEntry], bool] = lambda e: e.status == APPROVED,
) -> RegistryEntry:
    """The publication the scenario judges; blocked, not failed, when nothing came and its CR got no ACK."""
    entry = _await_publication(dmp, state, profile, accept)
    if entry is None:
        _unless_acknowledged(verdict, state, check)
        verdict.reject(check, _publication_missing(dmp, state, profile), _exchanges_since(dmp, state.dmp_mark))
    return entry


def _unless_acknowledged(verdict: Verdict, state: ScenarioState, check: str) -> None:
    """What the scenario judges did not happen: if the CR it sent got no ACK, that blocks it (VA-B1 judges the ACK)."""
    exchange = state.last_exchange
    if exchange.ack_text is None:
        verdict.blocked(check, "pas d'ACK du CR", "ACK-PRESENT", exchange.error or "")


def _exchanges_since(dmp: DmpSimulator, since: int) -> tuple[int, ...]:
    """The recorded exchanges of what the DMP simulator received since ``since`` (what a missing publication judges)."""
    return tuple(seq for s in dmp.submissions[since:] for seq in s.exchanges)


def _entry_exchanges(dmp: DmpSimulator, entry: RegistryEntry) -> tuple[int, ...]:
    """The recorded exchanges of the ITI-41 request that registered ``entry`` (none for a preloaded one)."""
    submissions = dmp.submissions
    return submissions[entry.submission_index].exchanges if 0 <= entry.submission_index < len(submissions) else ()


def _ack_problem(exchange: RisExchange, of: str) -> str:
    """What failed when the ACK of a precondition's CR is not conformant: "pas d'ACK du CR initial", …"""
    return f"pas d'ACK {of}" if exchange.ack_text is None else f"ACK {of} non conforme"


def _received_at(submission: Submission) -> datetime:
    """When the DMP simulator received the submission (the instant the time rules judge against)."""
    return datetime.fromtimestamp(submission.at, timezone.utc)


def _iti41(submission: Submission) -> ProvideAndRegister:
    request = submission.request
    if request is None:  # registry entries only come from parsed ITI-41 requests
        raise AssertionError(f"DMP submission {submission.index} has no parsed ITI-41 request")
    return request


def _ack_findings(exchange: RisExchange, *, expect_accept: bool | None = True) -> list[Finding]:
    """The ACK rules, with what the RIS saw when no ACK came (refused, timed out, closed)."""
    return check_ack_exchange(exchange.ack_text, exchange.message, exchange.error or "", expect_accept=expect_accept)


# -- Given --------------------------------------------------------------------


@given("un patient dont l'INS est qualifiée")
def qualified_patient(state: ScenarioState, dmp: DmpSimulator) -> None:
    state.patient = new_patient()
    state.dmp_mark = len(dmp.submissions)


@given("un examen de ce patient archivé dans le PACS")
def exam_in_pacs(
    state: ScenarioState, pacs: PacsSimulator, profile: Profile, organisation: Organisation, sut: SutHandle
) -> None:
    _archive(state, pacs, profile, organisation, sut)


@given("un examen de ce patient archivé dans le PACS sous son nom d'usage, autre que le nom de naissance du CR")
def exam_in_pacs_under_usage_name(
    state: ScenarioState, pacs: PacsSimulator, profile: Profile, organisation: Organisation, sut: SutHandle
) -> None:
    """The CR and the PACS differ: the PACS knows the patient by the IPP and a usage name, and dates the study the
    day before the CR's act; the KOS must take the study from the PACS and the patient from the CR."""
    _archive(state, pacs, profile, organisation, sut, alter=lambda: under_usage_name(state.datasets, state.patient or new_patient()))


@given("un examen de ce patient archivé dans le PACS sous un autre numéro d'accession que celui du CR")
def exam_in_pacs_under_other_accession(
    state: ScenarioState, pacs: PacsSimulator, profile: Profile, organisation: Organisation, sut: SutHandle
) -> None:
    _archive(state, pacs, profile, organisation, sut, alter=lambda: under_other_accession(state.datasets, state.require_spec().accession))


@given("un examen de ce patient archivé dans le PACS avec un état de présentation et un SR en plus des images")
def exam_in_pacs_with_non_image_objects(
    state: ScenarioState, pacs: PacsSimulator, profile: Profile, organisation: Organisation, sut: SutHandle
) -> None:
    """kos-manifest.md open question 3, read as its default: the KOS lists every instance the PACS holds for the
    study, non-image objects included (as COMPOSITE items of their own SOP class)."""
    _archive(state, pacs, profile, organisation, sut, alter=lambda: with_non_image_objects(state.datasets, state.require_spec().patient))


def _archive(
    state: ScenarioState, pacs: PacsSimulator, profile: Profile, organisation: Organisation, sut: SutHandle,
    alter: Callable[[], object] = lambda: None,
) -> None:
    """A new study of the scenario's patient and its CR, the study (once ``alter`` has changed it) in the PACS."""
    new_exam(state, organisation, profile.viewer.url_template.replace("{host}", sut.viewer_host),
             identity_status=profile.rules.qualified_identity_statuses[0])
    alter()
    pacs.add_study(state.datasets)
    state.in_pacs = True


@given("un examen de ce patient absent du PACS")
def exam_not_in_pacs(state: ScenarioState, profile: Profile, organisation: Organisation) -> None:
    new_exam(state, organisation, profile.viewer.url_template.replace("{host}", profile.viewer.host),
             identity_status=profile.rules.qualified_identity_statuses[0])
    state.in_pacs = False


@given(parsers.parse("l'identité du patient transmise comme provisoire (PID-32 « {status} »)"))
def provisional_identity(state: ScenarioState, status: str) -> None:
    state.spec = dataclasses.replace(state.require_spec(), pid32=status)


@given(parsers.parse("le CR masqué au patient (indicateur MetaDMPMSS {flag} à « {value} »)"))
def masking_flag(state: ScenarioState, flag: str, value: str) -> None:
    spec = state.require_spec()
    state.spec = dataclasses.replace(spec, flags={**spec.flags, flag: value})


@given(parsers.parse("le CR non destiné au DMP (indicateur MetaDMPMSS DESTDMP à « {value} »)"))
def not_for_the_dmp(state: ScenarioState, profile: Profile, value: str) -> None:
    """DESTDMP = N: no publication is due, unless the profile reads the flag otherwise (open question 7)."""
    if not profile.rules.publish_requires_destdmp:
        pytest.skip(
            "not_applicable: rules.publish_requires_destdmp = false — the profile reads DESTDMP = N as no bar to a "
            "publication (hl7v2-ris-to-drimbox.md open question 7), so there is nothing to check"
        )
    spec = state.require_spec()
    state.spec = dataclasses.replace(spec, flags={**spec.flags, "DESTDMP": value})


@given("le CR transmis sans segment PID (message mal formé)")
def malformed_report(state: ScenarioState) -> None:
    state.defect = "no-pid"


@given("le CR transmis avec un document CDA illisible")
def unreadable_document(state: ScenarioState) -> None:
    state.defect = "unreadable-cda"


def _published_precondition(
    verdict: Verdict, dmp: DmpSimulator, state: ScenarioState, profile: Profile, exchange: RisExchange,
    acknowledged: str, of: str, published: str, missing_text: str,
    accept: Callable[[RegistryEntry], bool] = lambda e: e.status == APPROVED,
) -> RegistryEntry:
    """A precondition's CR, acknowledged, and the KOS entry ``accept`` picks; otherwise the scenario is blocked.
    ``acknowledged`` / ``published`` name the two checks, ``of`` the CR in the ACK problem, ``missing_text`` the block."""
    verdict.precondition(acknowledged, _ack_findings(exchange), _ack_problem(exchange, of), exchange.exchanges)
    entry = _await_publication(dmp, state, profile, accept)
    if entry is None:
        missing = _publication_missing(dmp, state, profile)
        verdict.blocked(published, missing_text, missing.rule, missing.actual, [missing])
    state.dmp_mark = len(dmp.submissions)
    return entry


@given("le CR de cet examen déjà publié")
def report_already_published(
    state: ScenarioState, ris: RisSimulator, sut: SutHandle, dmp: DmpSimulator, profile: Profile, verdict: Verdict
) -> None:
    """A precondition of the scenarios that judge what follows a publication: its failure blocks them."""
    exchange = _send(state, ris, sut, profile, "ORU", "initial")
    state.published = _published_precondition(
        verdict, dmp, state, profile, exchange, "précondition : CR initial acquitté", "du CR initial",
        "précondition : KOS initial publié", "KOS du CR initial non publié",
    )


@given("le CR de cet examen déjà corrigé une première fois")
def report_already_replaced(
    state: ScenarioState, ris: RisSimulator, sut: SutHandle, dmp: DmpSimulator, profile: Profile, verdict: Verdict
) -> None:
    """A first correction, published: the next one must replace *it*, not the initial entry (RPLC targets the latest)."""
    first = state.published
    state.spec = state.require_spec().corrected()
    exchange = _send(state, ris, sut, profile, "MDM", "replace")
    state.published = _published_precondition(
        verdict, dmp, state, profile, exchange, "précondition : première correction acquittée", "de la première correction",
        "précondition : KOS de la première correction publié", "KOS de la première correction non publié",
        lambda e: e.status == APPROVED and e.entry_uuid != first.entry_uuid,
    )


@given("un second examen du même patient archivé dans le PACS et son CR déjà publié")
def other_study_published(
    state: ScenarioState, pacs: PacsSimulator, ris: RisSimulator, sut: SutHandle, dmp: DmpSimulator, profile: Profile,
    organisation: Organisation, verdict: Verdict,
) -> None:
    """Several studies of one patient: a second study (same INS, its own UIDs, accession and order) and its
    published KOS, a second DocumentEntry of the patient; the scenario's CR stays the first study's."""
    first = state.published
    patient = state.patient or new_patient()
    other = patient_exam(patient, organisation, profile.viewer.url_template.replace("{host}", sut.viewer_host),
                         identity_status=profile.rules.qualified_identity_statuses[0])
    pacs.add_study(other.datasets)
    exchange = _send(state, ris, sut, profile, "ORU", "initial", spec=other.spec)
    other.published = _published_precondition(
        verdict, dmp, state, profile, exchange, "précondition : CR du second examen acquitté", "du CR du second examen",
        "précondition : KOS du second examen publié", "KOS du second examen non publié",
        lambda e: e.status == APPROVED and e.entry_uuid != first.entry_uuid,
    )
    state.other = other


# -- When ---------------------------------------------------------------------


@when(parsers.re(r"le RIS transmet le CR en (?P<kind>ORU|MDM)\^(?P<trigger>R01|T02)"))
def send_initial(state: ScenarioState, ris: RisSimulator, sut: SutHandle, profile: Profile, kind: Kind, trigger: str) -> None:
    _send(state, ris, sut, profile, kind, "initial")


@when(parsers.re(r"le RIS transmet le CR corrigé en (?P<kind>ORU|MDM)\^(?P<trigger>R01|T10)"))
def send_replacement(state: ScenarioState, ris: RisSimulator, sut: SutHandle, profile: Profile, kind: Kind, trigger: str) -> None:
    previous = state.require_spec()
    state.spec = previous.corrected()
    _send(state, ris, sut, profile, kind, "replace")


@when(parsers.re(r"le RIS transmet la suppression du CR en (?P<kind>ORU|MDM)\^(?P<trigger>R01|T04)"))
def send_deletion(state: ScenarioState, ris: RisSimulator, sut: SutHandle, profile: Profile, kind: Kind, trigger: str) -> None:
    _send(state, ris, sut, profile, kind, "delete")


@when("le PACS rejette une instance de l'examen et en envoie la note de rejet IOCM à la DRIMbox")
def pacs_rejects_an_instance(state: ScenarioState, pacs: PacsSimulator, sut: SutHandle, profile: Profile) -> None:
    """IOCM (dicom-query-retrieve.md §5): the last instance of the study is rejected, no longer returned by the PACS,
    and its rejection note is stored to the DRIMbox's AE; what the KOS must reference from now on is the rest."""
    if not profile.sut.dicom.iocm:
        pytest.skip("not_applicable: the profile says the DRIMbox's AE takes no IOCM rejection note (sut.dicom.iocm = false)")
    rejected, state.datasets = state.datasets[-1], state.datasets[:-1]
    outcome, exchanges = pacs.reject([rejected], to_ae=sut.dicom_ae, host=sut.dicom_host, port=sut.dicom_port)
    state.rejection = (outcome, exchanges)
    if outcome.status is None and not still_listening(sut.dicom_host, sut.dicom_port, profile.timeouts.connect_s):
        raise SutUnreachable(
            f"la DRIMbox n'écoute plus (note de rejet IOCM, AE {sut.dicom_ae} à {sut.dicom_host}:{sut.dicom_port}) : {outcome.failure}"
        )
    state.reached(sut.dicom_host, sut.dicom_port, profile.timeouts.connect_s)


# -- Then: HL7 -------------------------------------------------------------------


@then("la DRIMbox accepte la note de rejet IOCM")
def rejection_note_accepted(state: ScenarioState, sut: SutHandle, verdict: Verdict) -> None:
    outcome, exchanges = state.rejection
    verdict.judge("note de rejet IOCM", check_rejection_note(outcome.status, outcome.failure, sut.dicom_ae), exchanges)


@then("la DRIMbox renvoie un acquittement technique AA conforme")
def ack_accepted(state: ScenarioState, verdict: Verdict) -> None:
    exchange = state.last_exchange
    verdict.judge("acquittement technique", _ack_findings(exchange), exchange.exchanges)


@then("la DRIMbox renvoie un acquittement technique")
def ack_any(state: ScenarioState, verdict: Verdict) -> None:
    exchange = state.last_exchange
    verdict.judge("acquittement technique (AA, AE ou AR)", _ack_findings(exchange, expect_accept=None), exchange.exchanges)


@then("la DRIMbox refuse le CR par un acquittement AE ou AR avec un segment ERR")
def ack_refused(state: ScenarioState, verdict: Verdict) -> None:
    """HL7 v2.5 ch.2 (original mode) and the volet §6: a message the receiver cannot take is refused with an error."""
    exchange = state.last_exchange
    verdict.judge("refus du CR (AE ou AR avec ERR)", _ack_findings(exchange, expect_accept=False), exchange.exchanges)


# -- Then: PACS -----------------------------------------------------------------


@then("le PACS a reçu de la DRIMbox une requête C-FIND sur l'examen du CR")
def pacs_queried(state: ScenarioState, pacs: PacsSimulator, sut: SutHandle, profile: Profile, verdict: Verdict) -> None:
    study_uid = state.require_spec().study_uid
    # A DRIMbox may acknowledge before it queries the PACS (open question 2): wait as for the publication.
    queries = poll(
        lambda: pacs.requests_for_study(study_uid, service="C-FIND"), profile.timeouts.publication_s,
        what="la requête C-FIND de la DRIMbox au PACS",
    )  # fmt: skip
    if not queries:
        state.unless_sut_gone("en attendant sa requête C-FIND au PACS")
        _unless_acknowledged(verdict, state, "requête C-FIND du PACS")
    findings = check_pacs_query(
        study_uid, [q.calling_ae for q in queries], sut.dicom_ae, profile.timeouts.publication_s, len(pacs.requests)
    )
    verdict.judge("requête C-FIND du PACS", findings, tuple(q.exchange for q in queries or () if q.exchange))


@then("le KOS publié reprend les métadonnées de l'examen lues dans le PACS")
def kos_carries_pacs_metadata(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    _judge_published_kos("métadonnées du PACS dans le KOS", check_kos_pacs_metadata, state, dmp, sut, profile, rule_options, verdict)


@then("le KOS publié porte l'identité du patient, le numéro d'accession et la demande transmis dans le CR")
def kos_carries_cr_identity(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    _judge_published_kos("identité du CR dans le KOS", check_kos_cr_identity, state, dmp, sut, profile, rule_options, verdict)


@then("le KOS référence chaque objet de l'examen, ou ses images au moins si le profil le prévoit, avec sa classe SOP et le type de valeur qui lui revient")
def kos_content_of_the_study(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    _judge_published_kos("références du KOS", check_kos_content, state, dmp, sut, profile, rule_options, verdict)


def _judge_published_kos(
    check: str, rule: Callable[[bytes, ReportContext, SutEndpoints, RuleOptions], list[Finding]], state: ScenarioState,
    dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict,
) -> None:
    """The scenario's published KOS, judged by ``rule`` against its CR and study."""
    entry = _require_publication(verdict, dmp, state, profile, "KOS publié")
    verdict.judge(check, rule(entry.document, state.context(), sut.endpoints, rule_options), _entry_exchanges(dmp, entry))


# -- Then: DMP ------------------------------------------------------------------


@then("un KOS est publié dans le DMP sous le certificat d'authentification de la structure")
def kos_published_with_certificate(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    entry = _await_publication(dmp, state, profile)
    if entry is None:
        _unless_acknowledged(verdict, state, "publication du KOS")
        verdict.reject("publication du KOS", _publication_missing(dmp, state, profile), _exchanges_since(dmp, state.dmp_mark),
                       _refused_publication(dmp, state, sut, profile, rule_options))
    submission = dmp.submissions[entry.submission_index]
    state.publication = (entry, submission)
    verdict.judge(
        "certificat de la structure", check_client_certificate(submission.client_subject, profile.organisation.structure_id),
        submission.exchanges,
    )


def _refused_publication(
    dmp: DmpSimulator, state: ScenarioState, sut: SutHandle, profile: Profile, rule_options: RuleOptions
) -> list[Finding]:
    """The rules on the last ITI-41 request the DMP refused: its refusal (DMP-PUBLICATION) does not say which
    requirement the request breaks, the request recorded as evidence does (TLS subject, XDS metadata, VIHF, the
    attached KOS)."""
    refused = [
        s for s in dmp.submissions[state.dmp_mark :] if s.service == "repository" and s.transaction != "ITI-43" and not s.accepted
    ]
    if not refused:
        return []
    submission = refused[-1]
    try:
        request = submission.request or parse_provide_and_register(submission.body, submission.content_type)
    except XdsParseError:  # not an ITI-41 the rules can read: the refusal is all there is to judge
        return []
    return check_refused_publication(
        request, state.context(), rule_options, sut.endpoints, submission.client_subject,
        profile.organisation.structure_id, _received_at(submission),
    )


def _publication(state: ScenarioState) -> tuple[RegistryEntry, Submission]:
    publication = getattr(state, "publication", None)
    if publication is None:
        raise AssertionError("no publication was observed in this scenario")
    return publication


@then("le KOS est conforme et référence toutes les instances de l'examen")
def kos_conformant(state: ScenarioState, sut: SutHandle, rule_options: RuleOptions, verdict: Verdict) -> None:
    entry, submission = _publication(state)
    verdict.judge("KOS", check_kos(entry.document, state.context(), sut.endpoints, rule_options), submission.exchanges)


@then("les métadonnées XDS de la publication sont conformes")
def xds_conformant(state: ScenarioState, rule_options: RuleOptions, verdict: Verdict) -> None:
    _, submission = _publication(state)
    verdict.judge(
        "métadonnées XDS (ITI-41)",
        check_kos_submission(_iti41(submission), state.context(), rule_options, submission.client_subject,
                             _received_at(submission), with_vihf=False),  # the VIHF has its own step
        submission.exchanges,
    )


@then("l'assertion VIHF de la publication est signée et conforme")
def vihf_conformant(state: ScenarioState, rule_options: RuleOptions, verdict: Verdict) -> None:
    _, submission = _publication(state)
    verdict.judge(
        "assertion VIHF", check_vihf(_iti41(submission).assertion, state.context(), rule_options, _received_at(submission)),
        submission.exchanges,
    )


@then("le KOS passe la validation dciodvfy")
def kos_dciodvfy(
    state: ScenarioState, profile: Profile, rule_options: RuleOptions, verdict: Verdict, evidence: EvidenceStore
) -> None:
    entry, submission = _publication(state)
    if not profile.rules.run_dciodvfy:
        verdict.note("dciodvfy", [])
        return
    if not dciodvfy_available():
        verdict.note("dciodvfy", check_dciodvfy_available(False))
        return
    for label, mode in (("-new", None), ("-profile IHEXDSIManifest", "IHEXDSIManifest")):
        result = run_dciodvfy(entry.document, profile=mode)
        output = evidence.record("oracle", f"dciodvfy {label}", result.output.encode("utf-8"), result.output, suffix="txt")
        found = oracle_findings(label, errors=result.errors, warnings=result.warnings, problem=result.problem)
        verdict.judge(f"dciodvfy {label}", read_oracle_findings(found, rule_options), seqs_of(output) + submission.exchanges)


@then("un nouveau KOS conforme remplace le précédent dans le DMP")
def kos_replaced(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    previous = state.published
    mark = state.dmp_mark  # an entry registered before the correction (another study's KOS) is not its replacement
    entry = _require_publication(
        verdict, dmp, state, profile, "KOS de remplacement",
        accept=lambda e: e.status == APPROVED and e.entry_uuid != previous.entry_uuid and e.submission_index >= mark,
    )
    submission = dmp.submissions[entry.submission_index]
    findings = list(check_replacement(_iti41(submission), previous.entry_uuid))
    old = next((e for e in dmp.entries() if e.entry_uuid == previous.entry_uuid), previous)
    findings += check_replaced_deprecated(previous.entry_uuid, old.status)
    findings += check_kos(entry.document, state.context(), sut.endpoints, rule_options)
    verdict.judge("remplacement du KOS", findings, submission.exchanges)


@then("le KOS du second examen reste publié, intact, et ne référence que son examen")
def other_study_kept(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    """Judged once the correction's KOS is registered (a DRIMbox may acknowledge first), or after the publication wait."""
    other = state.other
    if other is None:
        raise AssertionError("the scenario has no second study")
    kept = other.published
    mark = state.dmp_mark
    _await_publication(dmp, state, profile, lambda e: e.status == APPROVED and e.submission_index >= mark)
    now = next((e for e in dmp.entries() if e.entry_uuid == kept.entry_uuid), kept)
    since = dmp.submissions[state.dmp_mark :]
    touched = [
        f"submission {s.index}: {a.type.rsplit(':', 1)[-1]} {a.source} -> {a.target}"
        for s in since for a in (s.request.associations if s.request else ()) if a.target == kept.entry_uuid
    ] + [
        f"submission {s.index}: ITI-57 {c.original_status} -> {c.new_status}"
        for s in since for c in (s.update.status_updates if s.update else ()) if c.target == kept.entry_uuid
    ]  # fmt: skip
    findings = check_other_study_kept(kept.entry_uuid, other.spec.study_uid, now.status, touched)
    findings += check_kos(now.document, other.context(), sut.endpoints, rule_options)
    verdict.judge("KOS du second examen", findings, _entry_exchanges(dmp, kept) + _exchanges_since(dmp, state.dmp_mark))


@then("le KOS précédemment publié n'est plus disponible dans le DMP")
def kos_withdrawn(state: ScenarioState, dmp: DmpSimulator, profile: Profile, verdict: Verdict) -> None:
    previous = state.published
    entry = poll(
        lambda: next((e for e in dmp.entries() if e.entry_uuid == previous.entry_uuid and e.status != APPROVED), None),
        profile.timeouts.publication_s,
        what="le changement de statut du KOS dans le DMP",
    )
    if entry is None:
        state.unless_sut_gone("en attendant le retrait du KOS")
    status = entry.status if entry is not None else APPROVED
    findings = check_withdrawn(previous.entry_uuid, status, profile.timeouts.publication_s, _submissions_since(dmp, state.dmp_mark))
    updates = [(s.update, s.exchanges) for s in dmp.submissions[state.dmp_mark :] if s.update is not None]
    judged = _exchanges_since(dmp, state.dmp_mark)
    if not findings and updates:  # withdrawn by ITI-57 (judged) or by an RPLC submission (the entry's status says so)
        update, judged = updates[-1]
        findings = check_status_update(update, previous.entry_uuid)
    verdict.judge("retrait du KOS", findings, judged)


@then("le KOS publié porte le numéro d'accession du CR, ou aucun KOS n'est publié si le profil le prévoit")
def kos_with_cr_accession_or_none(
    state: ScenarioState, dmp: DmpSimulator, sut: SutHandle, profile: Profile, rule_options: RuleOptions, verdict: Verdict
) -> None:
    """What the profile declares the SUT does when the PACS's accession is not the CR's (rules.pacs_accession_mismatch)."""
    if profile.rules.pacs_accession_mismatch == "no_publication":
        nothing_published(state, dmp, profile, verdict)
    else:
        kos_carries_cr_identity(state, dmp, sut, profile, rule_options, verdict)


@then("aucun KOS n'est publié dans le DMP pour ce patient")
def nothing_published(state: ScenarioState, dmp: DmpSimulator, profile: Profile, verdict: Verdict) -> None:
    # The whole grace unless a KOS shows up: it must cover a SUT that acknowledges before it publishes.
    entries = poll(
        lambda: _patient_entries(dmp, state), profile.timeouts.no_publication_grace_s,
        what="le délai de grâce : aucun KOS publié pour ce patient",
    )  # fmt: skip
    if not entries:  # a SUT that stopped during the grace published nothing, but was not seen refusing to
        state.unless_sut_gone("pendant le délai de grâce où aucun KOS ne doit être publié")
    verdict.judge(
        "absence de publication", check_no_publication(EntryRecord(e.unique_id, e.status) for e in entries or []),
        tuple(seq for e in entries or [] for seq in _entry_exchanges(dmp, e)),
    )

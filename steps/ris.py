"""Steps of ``ris.feature``: the RIS is the system under test, the harness plays the DRIMbox.

Thin by design: wait (within the session) for what the RIS sends to the
harness's listeners, and hand the judgements made on arrival, plus the
session-level rules, to the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from pytest_bdd import given, then, when

from drimva.outcomes import HarnessError, Outcome, skip_reason
from drimva.ris_judge import ReportJudgement, session_patient
from drimva.rules.contextual_call import check_patient_known
from drimva.rules.hl7_report import report_event
from drimva.rules.ris_report import check_deletion_target, check_replaced_in_session, check_replacement_link, designated
from drimva.rules.ris_session import ack_returned, call_not_received, check_report_event, report_not_received
from drimva.verdict import Verdict
from fixtures.ris_harness import STEP_LABELS, RisDriver, RisScenario, SessionEnded, SessionInterrupted, StepSkipped

_T = TypeVar("_T")
WHAT = {
    "initial": "initial CR (ORU^R01 OBX-11 F / MDM^T02)",
    "replace": "corrected CR (ORU^R01 OBX-11 C / MDM^T10)",
    "delete": "deletion of the CR (ORU^R01 OBX-11 D / MDM^T04)",
}


def _within_session(wait: Callable[[], _T]) -> _T:
    """``wait()``; a wait the session ended (count reached), the operator skipped, or a stop signal cut short ends the scenario."""
    try:
        return wait()
    except SessionEnded as ended:
        pytest.skip(skip_reason(Outcome.SKIPPED, str(ended)))
    except StepSkipped as skipped:
        pytest.skip(skip_reason(Outcome.SKIPPED, f"opérateur : étape « {STEP_LABELS[str(skipped)]} » passée depuis la console"))
    except SessionInterrupted as stopped:
        pytest.skip(skip_reason(Outcome.INTERRUPTED, (
            f"session interrompue par {stopped.signal_name} avant que le RIS n'envoie ce qu'attend ce scénario")))


def _received_report(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict, event: str) -> None:
    found = _within_session(lambda: ris_driver.next_report(event))
    if found is None:
        missing = report_not_received(WHAT[event], event, ris_driver.waited_text(), ris_driver.unmatched())
        verdict.reject(f"réception : {WHAT[event]}", missing)
    ris_scenario.event = event
    ris_scenario.report = found


def _report(ris_scenario: RisScenario) -> ReportJudgement:
    if ris_scenario.report is None:
        raise AssertionError("no report was received in this scenario")
    return ris_scenario.report.judgement


def _exchanges(ris_scenario: RisScenario) -> tuple[int, ...]:
    """The recorded exchanges of the report the scenario judges (the message and the ACK the harness sent)."""
    return ris_scenario.report.exchanges if ris_scenario.report is not None else ()


def _initial(ris_scenario: RisScenario) -> ReportJudgement:
    if ris_scenario.initial is None:
        raise AssertionError("the scenario has no initial report")
    return ris_scenario.initial


# -- Given ----------------------------------------------------------------------------


# The scenarios that follow an accepted initial CR: a RIS whose initial CR was refused sends neither.
FOLLOWS_ACCEPTED = {"remplacement": "replace", "suppression": "delete"}


@given("le CR initial reçu de ce RIS")
def initial_received(
    request: pytest.FixtureRequest, ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict
) -> None:
    """A precondition of the replacement, deletion and contextual-call scenarios (RIS-1 judges the initial CR).

    When the harness refused the initial CR (ACK other than AA), a correct RIS
    sends no replacement nor deletion of it: that scenario cannot happen any
    more and is ``skipped`` at once, unless the RIS sent the message anyway
    (then it is judged). The contextual call does not depend on the ACK.
    """
    initial = _within_session(ris_driver.initial_report)
    if initial is None:
        verdict.blocked(
            "précondition : CR initial", "aucun CR initial reçu du RIS", "RIS-SENT",
            f"nothing within the wait for it ({ris_driver.waited_text()})",
        )
    ris_scenario.initial = initial
    marks = {mark.name for mark in request.node.iter_markers()}
    event = next((e for tag, e in FOLLOWS_ACCEPTED.items() if tag in marks), None)
    code = ris_driver.ack_code(initial) if initial is not None else ""
    if event is not None and code not in ("", "AA") and not ris_driver.pending_report(event):
        pytest.skip(skip_reason(Outcome.SKIPPED, (
            f"le CR initial ({initial.label if initial else '?'}) a été refusé (MSA-1 {code}) : "
            f"un RIS conforme n'envoie pas de suite à un CR refusé ({WHAT[event]})"
        )))


# -- When -----------------------------------------------------------------------------


@when("le RIS transmet un CR initial (ORU^R01 ou MDM^T02)")
def sends_initial(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    _received_report(ris_driver, ris_scenario, verdict, "initial")


@when("le RIS transmet le CR corrigé (ORU^R01 OBX-11 « C » ou MDM^T10)")
def sends_replacement(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    _received_report(ris_driver, ris_scenario, verdict, "replace")


@when("le RIS transmet la suppression du CR (ORU^R01 OBX-11 « D » ou MDM^T04)")
def sends_deletion(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    _received_report(ris_driver, ris_scenario, verdict, "delete")


@when("le RIS fait un appel contextuel à la DRIMbox consommatrice")
def makes_contextual_call(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    found = _within_session(ris_driver.next_call)
    if found is None:
        refused = [r.describe() for r in ris_driver.endpoint.refused]
        verdict.reject("réception de l'appel contextuel", call_not_received(ris_driver.endpoint.url, ris_driver.waited_text(), refused))
    ris_scenario.call = found


# -- Then -----------------------------------------------------------------------------


@then("le CR reçu est conforme et la DRIMbox l'acquitte AA")
def report_conformant(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    received = ris_scenario.report
    judgement = _report(ris_scenario)
    if judgement.harness_error:
        raise HarnessError(judgement.harness_error)
    findings = ris_driver.first_time(list(judgement.findings))  # an MSH-5/6 mismatch is warned once per session
    if judgement.message is not None:
        read: str
        try:
            read = report_event(judgement.message)
        except ValueError as error:
            read = str(error)
        findings += check_report_event(ris_scenario.event, read)
    judged = received.exchanges if received else ()
    verdict.note("acquittement renvoyé par la DRIMbox simulée", ack_returned(received.ack if received else ""), judged)
    verdict.judge(f"CR reçu ({judgement.label})", findings, judged, evaluated=judgement.rules)


@then("le CR corrigé remplace le CR initial (même patient, même examen, lien RPLC)")
def replaces_initial(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    """Judged against the CR the replacement names (RPLC parent) when it was sent in the session, else the initial."""
    initial, replacement = _initial(ris_scenario), _report(ris_scenario)
    if initial.cda is None or replacement.cda is None:
        verdict.judge("lien de remplacement", [])  # no readable CDA: already judged by the CR checks
        return
    versions = [v.cda for v in ris_driver.versions if v is not replacement and v.cda is not None]
    target = designated(versions, replacement.cda) if replacement.cda.replaces_id else None
    findings = check_replaced_in_session(versions, replacement.cda) + check_replacement_link(target or initial.cda, replacement.cda)
    verdict.judge("lien de remplacement", findings, _exchanges(ris_scenario))


@then("la suppression désigne un CR transmis dans la session (même patient, même examen)")
def deletion_targets_session_report(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    deletion = _report(ris_scenario)
    versions = [v.cda for v in ris_driver.versions if v is not deletion and v.cda is not None]
    if deletion.cda is None:
        verdict.judge("CR supprimé", [])  # no readable CDA: already judged by the CR checks
        return
    verdict.judge("CR supprimé", check_deletion_target(versions, deletion.cda), _exchanges(ris_scenario))


@then("l'appel contextuel porte les dix paramètres obligatoires, bien formés, pour le patient du CR, et la DRIMbox le redirige (303)")
def contextual_call_conformant(ris_driver: RisDriver, ris_scenario: RisScenario, verdict: Verdict) -> None:
    """A call that came before any CR (in any order) is compared now with the patient of the CRs received since."""
    call = ris_scenario.call
    if call is None:
        raise AssertionError("no contextual call was received in this scenario")
    known = call.judgement.patient_known
    late = None if known else session_patient([r.judgement for r in ris_driver.listener.received])
    findings = list(call.judgement.findings) + check_patient_known(known, call.judgement.body, late)
    verdict.judge(f"appel contextuel (réponse {call.status})", findings, call.exchanges, evaluated=call.judgement.rules)


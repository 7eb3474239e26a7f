"""Judging what a RIS under test sends, as the harness's DRIMbox receives it.

The DRIMbox Source listener calls :func:`judge_report` on every framed
message (after writing it to the evidence) and answers the ACK built from the
findings; the contextual-call endpoint calls :func:`judge_call`. The
judgements are kept for the steps, which hand their findings to the verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from drimva.cda import CdaReport
from drimva.context import INS_OIDS, Patient, is_valid_ins
from drimva.evaluated import RuleTrace
from drimva.findings import Finding
from drimva.hl7msg import Hl7Error, Hl7Message, parse_message
from drimva.rules.hl7_charset import check_declared_charset
from drimva.rules.contextual_call import CONSENT_NAMES, CONSENT_VALUES, check_call_target, check_contextual_call
from drimva.rules.hl7_report import EVENT_BY_OBX11, EVENT_BY_TRIGGER, document_obx, unreadable_message
from drimva.rules.ris_report import check_sent_report, report_cda

EVENT_BY_ORC = {"NW": "initial", "RO": "replace", "CA": "delete"}


@dataclass(frozen=True)
class RisJudgeOptions:
    """The profile settings the judgement of a RIS needs."""

    qualified_statuses: tuple[str, ...] = ("VALI", "QUAL")
    viewer_url_template: str | None = None
    sender: tuple[str, str] = ("", "")  # expected MSH-3 / MSH-4 ("" = any)
    receiver: tuple[str, str] = ("", "")  # expected MSH-5 / MSH-6 ("" = any)
    consent_names: tuple[str, ...] = CONSENT_NAMES
    ins_system_form: str = "either"  # rules.contextual_ins_system
    consent_values: tuple[str, ...] = CONSENT_VALUES  # rules.contextual_consent_values
    viewer_host: str = ""  # viewer.host: the host every viewer URL of a CR must name ("" = not checked)


@dataclass(frozen=True)
class ReportJudgement:
    """One CR message received from the RIS and what the rules say about it."""

    raw: bytes
    message: Hl7Message | None
    findings: list[Finding]
    claims: frozenset[str] = frozenset()  # events the message claims: initial / replace / delete
    cda: CdaReport | None = None
    patient: Patient | None = None
    harness_error: str = ""  # the harness failed to judge the message (a harness problem, not a finding on the RIS)
    rules: frozenset[str] = frozenset()  # the rule ids judged, passed or not (drimva.evaluated)

    @property
    def label(self) -> str:
        if self.message is None:
            return "non-HL7 message"
        return f"{self.message.message_type} {self.message.control_id}".strip()


@dataclass(frozen=True)
class CallJudgement:
    """One contextual call received from the RIS."""

    method: str
    path: str
    content_type: str
    body: bytes
    findings: list[Finding] = field(default_factory=list)
    patient_known: bool = False  # the call was compared with the patient of the session's reports
    rules: frozenset[str] = frozenset()  # the rule ids judged, passed or not (drimva.evaluated)


def claimed_events(message: Hl7Message) -> frozenset[str]:
    """Every event the message says it is: MDM trigger, ORC-1, document OBX-11 (they may disagree)."""
    claims = set()
    if message.message_code == "MDM" and message.trigger in EVENT_BY_TRIGGER:
        claims.add(EVENT_BY_TRIGGER[message.trigger])
    if message.get("ORC-1") in EVENT_BY_ORC:
        claims.add(EVENT_BY_ORC[message.get("ORC-1")])
    obx = document_obx(message)
    if obx is not None and obx.get("11") in EVENT_BY_OBX11:
        claims.add(EVENT_BY_OBX11[obx.get("11")])
    return frozenset(claims)


def patient_from_message(message: Hl7Message) -> Patient | None:
    """The patient of a CR message's PID (INS and IPP by CX.5, legal name, traits); None without an INS."""
    ins = message.cx_by_type("PID-3", "INS")
    if ins is None or not ins.id:
        return None
    ipp = message.cx_by_type("PID-3", "PI")
    names = message.repetitions("PID-5")
    legal = next((i for i in range(len(names)) if message.get("PID-5.7", i) == "L"), 0)
    places = message.repetitions("PID-11")
    birth_place = next((message.get("PID-11.9", i) for i in range(len(places)) if message.get("PID-11.7", i) == "BDL"), "")
    return Patient(
        ins=ins.id,
        ins_oid=ins.oid,
        ipp=ipp.id if ipp else "",
        ipp_oid=ipp.oid if ipp else "",
        ipp_authority=ipp.namespace if ipp else "",
        birth_name=message.get("PID-5.1", legal),
        given_name=message.get("PID-5.2", legal),
        birth_date=message.get("PID-7.1")[:8],
        sex=message.get("PID-8"),
        birth_place=birth_place,
    )


def judge_report(raw: bytes, options: RisJudgeOptions) -> ReportJudgement:
    """Parse and judge one received CR message (never raises for a bad message), noting the rules evaluated."""
    with RuleTrace() as trace:
        judgement = _judge_report(raw, options)
    return dataclasses.replace(judgement, rules=frozenset(trace.rule_ids()))


def _judge_report(raw: bytes, options: RisJudgeOptions) -> ReportJudgement:
    try:
        message = parse_message(raw)
    except Hl7Error as error:
        return ReportJudgement(raw, None, unreadable_message(str(error)))
    findings = check_sent_report(
        message,
        qualified_statuses=options.qualified_statuses,
        viewer_url_template=options.viewer_url_template,
        sender=options.sender,
        receiver=options.receiver,
        viewer_host=options.viewer_host,
    )
    findings = check_declared_charset(raw) + findings  # the parser is lenient: the bytes are judged here
    return ReportJudgement(
        raw, message, findings, claimed_events(message), report_cda(message), patient_from_message(message)
    )


def judge_call(
    method: str,
    path: str,
    content_type: str,
    body: bytes,
    options: RisJudgeOptions,
    patient: Patient | None,
    expected_path: str = "",
) -> CallJudgement:
    """Judge one HTTP request to the contextual-call endpoint (``expected_path`` "" = any path)."""
    with RuleTrace() as trace:
        findings = check_call_target(path, expected_path) + check_contextual_call(
            method, content_type, body, consent_names=options.consent_names, patient=patient,
            ins_system_form=options.ins_system_form, consent_values=options.consent_values,
        )
    return CallJudgement(method, path, content_type, body, findings, patient is not None, frozenset(trace.rule_ids()))


def session_patient(reports: list[ReportJudgement]) -> Patient | None:
    """The patient of the session: the latest report whose PID carries a well-formed INS with an INS OID."""
    for report in reversed(reports):
        patient = report.patient
        if patient is not None and is_valid_ins(patient.ins) and patient.ins_oid in INS_OIDS:
            return patient
    return None


"""``drimva ris``: the DRIMbox Source listener, the ACK mapping, the contextual-call judgement, a short run."""

from __future__ import annotations

import ast
import dataclasses
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from pydicom.uid import generate_uid

from drimva.cda import parse_cda
from drimva.context import INS_NIR_TEST_OID, Organisation
from drimva.evidence import NullEvidence
from drimva.findings import Finding, Severity
from drimva.hl7msg import parse_message
from drimva.mllp import send_and_receive
from drimva.profile import ProfileError, load_profile, profile_from_mapping
from drimva.ris_judge import (
    ReportJudgement,
    RisJudgeOptions,
    judge_call,
    judge_report,
    patient_from_message,
)
from drimva.rules.contextual_call import check_contextual_call
from drimva.rules.hl7_ack import TABLE_0357, check_ack
from drimva.rules.ris_report import check_deletion_target, check_replacement_link
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.pki import TestPki
from fixtures.reports import ReportSpec, new_report_spec
from simulators.conso_endpoint import ContextualCallEndpoint
from simulators.drimbox_source import DrimboxSourceSimulator, report_judge
from simulators.drimbox_source.ack import build_ack, error_code, error_location
from simulators.ris import build_report_message

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load_profile(ROOT / "drimva" / "profiles" / "ris-reference.toml").viewer.url_template
OPTIONS = RisJudgeOptions(viewer_url_template=TEMPLATE, sender=("DRIMVA_RIS", "DRIMVA_FAC"), receiver=("DRIMBOX", "DB_FAC"))
ORG = Organisation("Centre d'imagerie test", "750803447", "FINEG")


def spec() -> ReportSpec:
    return new_report_spec(new_patient(), generate_uid(), ("CT",), viewer_url_template=TEMPLATE, organisation=ORG)


def message(report: ReportSpec, kind: str = "ORU", event: str = "initial", control_id: str = "MSG1") -> str:
    return build_report_message(report, build_cda(report), kind=kind, event=event, control_id=control_id)  # type: ignore[arg-type]


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == Severity.ERROR]


# -- ACK mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "code", "erl"),
    [
        (Finding("HL7-PID32", "", "PID-32", "VALI", "(empty)"), "101", "PID^1^32"),
        (Finding("HL7-PID3-INS", "", "PID-3[0].1", "valid key", "123"), "102", "PID^1^3^1^1"),
        (Finding("HL7-EVENT", "", "ORC-1", "RO", "NW"), "103", "ORC^1^1"),
        (Finding("HL7-EVENT", "", "OBX[1]-11", "D", "F"), "103", "OBX^1^11"),
        (Finding("HL7-VERSION", "", "MSH-12", "2.5", "2.4"), "203", "MSH^1^12"),
        (Finding("HL7-MSH-FIELDS", "", "MSH-11", "P, T or D", "X"), "202", "MSH^1^11"),
        (Finding("HL7-PRT", "", "PRT[1]-8.10", "the structure id", "(empty)"), "101", "PRT^1^8^1^10"),
        (Finding("HL7-STRUCTURE", "", "message", "grammar", "MSH PID"), "100", ""),
        (Finding("CDA-ACCESSION", "", "/ClinicalDocument/inFulfillmentOf", "1", "0"), "207", "OBX^1^5"),
    ],
)
def test_findings_map_to_table_0357_and_an_error_location(finding: Finding, code: str, erl: str) -> None:
    assert error_code(finding) == code
    assert error_location(finding) == erl


def test_message_type_errors_are_200_or_201() -> None:
    oru = parse_message(message(spec()))
    finding = Finding("HL7-MSH9", "", "MSH-9", "ORU^R01^ORU_R01", "x")
    assert error_code(finding, oru) == "201"
    assert error_code(finding, None) == "200"


def test_conformant_message_gets_aa_and_a_faulty_one_ae_with_0357_codes() -> None:
    report = spec()
    sent = parse_message(message(report))
    judged = judge_report(sent.text.encode(), OPTIONS)
    assert errors(judged.findings) == []
    ack = build_ack(judged.message, judged.findings)
    assert check_ack(ack, sent) == []

    broken = message(report).replace("|VALI\r", "|\r")  # PID-32 emptied
    judged = judge_report(broken.encode(), OPTIONS)
    refusal = parse_message(build_ack(judged.message, judged.findings))
    assert refusal.get("MSA-1") == "AE" and refusal.get("MSA-2") == "MSG1"
    codes = [err.get("3.1") for err in refusal.segments("ERR")]
    assert "101" in codes and set(codes) <= set(TABLE_0357)
    assert any(err.get("2.1") == "PID" and err.get("2.3") == "32" for err in refusal.segments("ERR"))
    assert check_ack(refusal, parse_message(broken), expect_accept=False) == []


def test_unjudged_message_is_rejected_ar() -> None:
    sent = parse_message(message(spec()))
    ack = parse_message(build_ack(sent, [], judged=False, reason="harness down"))
    assert ack.get("MSA-1") == "AR" and ack.get("ERR-3.1") == "207"


# -- report judgement --------------------------------------------------------------------


def test_judgement_reads_events_and_patient() -> None:
    report = spec()
    assert judge_report(message(report, "MDM", "replace").encode(), OPTIONS).claims == {"replace"}
    wrong = message(report, "ORU", "delete").replace("OBX|1|ED|", "OBX|1|ED|", 1)
    wrong = wrong.replace("|D\rPRT", "|F\rPRT")  # ORC-1 CA but OBX-11 F
    judged = judge_report(wrong.encode(), OPTIONS)
    assert judged.claims == {"delete", "initial"}
    assert any(f.rule == "HL7-EVENT" for f in errors(judged.findings))
    patient = patient_from_message(parse_message(message(report)))
    assert patient == report.patient


def test_unexpected_sender_is_an_error_and_unexpected_receiver_a_warning() -> None:
    report = spec()
    text = build_report_message(report, build_cda(report), kind="ORU", event="initial", control_id="M",
                                sending=("OTHER", "DRIMVA_FAC"), receiving=("DB", "DB_FAC"))
    findings = [f for f in judge_report(text.encode(), OPTIONS).findings if f.rule == "RIS-ROUTING"]
    assert [(f.location, f.severity) for f in findings] == [("MSH-3", Severity.ERROR), ("MSH-5", Severity.WARNING)]


def test_replacement_and_deletion_are_tied_to_the_session() -> None:
    first = spec()
    corrected = first.corrected()
    initial_cda, corrected_cda = parse_cda(build_cda(first)), parse_cda(build_cda(corrected))
    assert check_replacement_link(initial_cda, corrected_cda) == []
    orphan = parse_cda(build_cda(dataclasses.replace(corrected, replaces_cda_id="")))
    assert [f.rule for f in check_replacement_link(initial_cda, orphan)] == ["RIS-RPLC-PARENT"]
    assert check_deletion_target([initial_cda, corrected_cda], corrected_cda) == []
    other = parse_cda(build_cda(spec()))
    rules = {f.rule for f in check_deletion_target([initial_cda, corrected_cda], other)}
    assert rules == {"RIS-DELETE-TARGET", "RIS-SAME-EXAM"}


def test_a_correction_of_a_document_the_session_never_saw_says_so() -> None:
    from drimva.rules.ris_report import check_replaced_in_session

    first = spec()
    initial_cda = parse_cda(build_cda(first))
    corrected_cda = parse_cda(build_cda(first.corrected()))
    assert check_replaced_in_session([initial_cda], corrected_cda) == []
    elsewhere = parse_cda(build_cda(dataclasses.replace(first.corrected(), replaces_cda_id="1.2.250.1.999.1")))
    [finding] = check_replaced_in_session([initial_cda], elsewhere)
    assert (finding.rule, finding.severity) == ("RIS-RPLC-UNKNOWN-PARENT", Severity.WARNING)
    assert finding.actual == "1.2.250.1.999.1 (not sent in this session)" and initial_cda.id_root in finding.expected
    assert check_replaced_in_session([initial_cda], parse_cda(build_cda(dataclasses.replace(first.corrected(), replaces_cda_id="")))) == []


def test_a_deletion_is_judged_against_the_cr_it_names_not_the_last_message() -> None:
    """No cascade: a stray replacement for another study does not make a correct deletion of the initial CR fail."""
    from drimva.rules.ris_report import designated

    first = spec()
    initial_cda = parse_cda(build_cda(first))
    stray = parse_cda(build_cda(spec().corrected()))  # another patient and study, sent after the initial CR
    assert designated([initial_cda, stray], initial_cda) is initial_cda
    assert check_deletion_target([initial_cda, stray], initial_cda) == []
    corrected = parse_cda(build_cda(first.corrected()))
    assert designated([stray, initial_cda], corrected) is initial_cda  # by its RPLC parent id
    assert designated([stray], corrected) is None  # names a document not sent in the session


# -- contextual call ---------------------------------------------------------------------


def call_params(report: ReportSpec, consent: str = "InformationEtOppositionConsultation") -> dict[str, str]:
    p = report.patient
    return {
        "Patient.identifier.value": p.ins,
        "Patient.identifier.system": f"urn:oid:{p.ins_oid}",
        "Patient.name.family": p.birth_name,
        "Patient.name.given": p.given_name,
        "Patient.gender": p.sex,
        "Patient.birthDate": p.birth_date,
        "Address.district": p.birth_place,
        consent: "true",
        "PatientID": p.ipp,
        "PatientIDIssuer": f"{p.ipp_authority}&{p.ipp_oid}&ISO",
    }


FORM = "application/x-www-form-urlencoded"


def judge_form(params: dict[str, str], report: ReportSpec, **kwargs: object) -> list[Finding]:
    return check_contextual_call("POST", FORM, urlencode(params).encode(), patient=report.patient, **kwargs)  # type: ignore[arg-type]


def test_contextual_call_with_either_consent_name_passes() -> None:
    report = spec()
    assert judge_form(call_params(report), report) == []
    assert judge_form(call_params(report, "InformationEtConsentement"), report) == []
    pinned = judge_form(call_params(report, "InformationEtConsentement"), report,
                        consent_names=("InformationEtOppositionConsultation",))
    assert {f.rule for f in errors(pinned)} == {"CTX-PARAM-MISSING", "CTX-CONSENT-NAME"}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda p: p.pop("PatientIDIssuer"), "CTX-PARAM-MISSING"),
        (lambda p: p.update({"Patient.birthDate": ""}), "CTX-PARAM-EMPTY"),
        (lambda p: p.update({"Patient.identifier.value": p["Patient.identifier.value"][:13] + "00"}), "CTX-INS"),
        (lambda p: p.update({"Patient.identifier.system": "urn:oid:1.2.3"}), "CTX-INS-SYSTEM"),
        (lambda p: p.update({"Patient.gender": "X"}), "CTX-GENDER"),
        (lambda p: p.update({"Patient.birthDate": "19791332"}), "CTX-BIRTHDATE"),
        (lambda p: p.update({"Address.district": "7501"}), "CTX-DISTRICT"),
        (lambda p: p.update({"PatientIDIssuer": "AUTH"}), "CTX-IPP-ISSUER"),
        (lambda p: p.update({"Patient.name.family": "OTHER"}), "CTX-PATIENT"),
    ],
)
def test_contextual_call_errors(change, rule: str) -> None:  # type: ignore[no-untyped-def]
    report = spec()
    params = call_params(report)
    change(params)
    assert rule in {f.rule for f in errors(judge_form(params, report))}


def test_bare_ins_oid_is_accepted_by_default_and_an_error_when_the_profile_asks_urn_oid() -> None:
    """trust-list-and-identity.md §7's example uses a bare OID (open question 6): a reading, hence a setting."""
    report = spec()
    params = call_params(report) | {"Patient.identifier.system": INS_NIR_TEST_OID, "Extra": "1"}
    found = judge_form(params, report)
    assert errors(found) == []
    assert {f.rule for f in found} == {"CTX-PARAM-UNKNOWN"}
    strict = judge_form(params, report, ins_system_form="urn-oid")
    assert [f.rule for f in errors(strict)] == ["CTX-INS-SYSTEM"]
    urn = call_params(report) | {"Patient.identifier.system": f"urn:oid:{INS_NIR_TEST_OID}"}
    assert errors(judge_form(urn, report, ins_system_form="urn-oid")) == []
    loaded = profile_from_mapping({"sut": {"kind": "ris"}, "rules": {"contextual_ins_system": "urn-oid"}})
    assert loaded.rules.contextual_ins_system == "urn-oid"
    with pytest.raises(ProfileError, match="contextual_ins_system"):
        profile_from_mapping({"sut": {"kind": "ris"}, "rules": {"contextual_ins_system": "bare"}})


def test_a_repeated_parameter_is_a_warning_and_the_first_value_is_judged() -> None:
    report = spec()
    params = call_params(report)
    body = (urlencode(params) + "&" + urlencode({"Patient.gender": "X"})).encode()
    found = check_contextual_call("POST", FORM, body, patient=report.patient)
    assert [(f.rule, f.severity, f.location) for f in found] == [
        ("CTX-PARAM-DUPLICATE", Severity.WARNING, "form parameter Patient.gender")
    ]


def test_a_corrected_cr_with_another_set_id_is_a_warning() -> None:
    first = spec()
    initial_cda = parse_cda(build_cda(first))
    moved = parse_cda(build_cda(first.corrected(cda_set_id="0F0F0F0F-0000-4000-8000-000000000000")))
    [finding] = check_replacement_link(initial_cda, moved)
    assert (finding.rule, finding.severity) == ("RIS-RPLC-SETID", Severity.WARNING)
    assert (finding.expected, finding.actual) == (first.cda_set_id, "0F0F0F0F-0000-4000-8000-000000000000")


def test_the_consent_value_set_is_a_setting() -> None:
    report = spec()
    params = call_params(report) | {"InformationEtOppositionConsultation": "accord"}
    [finding] = [f for f in judge_form(params, report) if f.rule == "CTX-CONSENT"]
    assert finding.severity == Severity.WARNING and finding.actual == "accord"
    assert [f for f in judge_form(params, report, consent_values=("accord", "refus")) if f.rule == "CTX-CONSENT"] == []
    loaded = profile_from_mapping({"sut": {"kind": "ris"}, "rules": {"contextual_consent_values": ["accord", "refus"]}})
    assert loaded.rules.contextual_consent_values == ("accord", "refus")
    with pytest.raises(ProfileError, match="contextual_consent_values"):
        profile_from_mapping({"sut": {"kind": "ris"}, "rules": {"contextual_consent_values": []}})


def test_wrong_method_content_type_and_url() -> None:
    judged = judge_call("GET", "/other", "text/plain", b"", OPTIONS, None, expected_path="/appel-contextuel")
    assert {"CTX-METHOD", "CTX-CONTENT-TYPE", "CTX-URL", "CTX-PARAM-MISSING"} <= {f.rule for f in judged.findings}


# -- simulators over real sockets ----------------------------------------------------------


def test_listener_records_before_judging_and_answers_the_ack() -> None:
    evidence = NullEvidence()
    seen_at_judging: list[int] = []
    judge = report_judge(OPTIONS)

    def recording_judge(raw: bytes):  # type: ignore[no-untyped-def]
        seen_at_judging.append(len(evidence.records))
        return judge(raw)

    report = spec()
    with DrimboxSourceSimulator(evidence, recording_judge, timeout=5) as listener:
        port = listener.port
        good = send_and_receive("127.0.0.1", port, message(report, control_id="A1").encode(), ack_timeout=5)
        assert listener.wait_for(lambda r: True, 0, 2) is not None  # the ACK is recorded once sent: wait for it before the next message
        bad_text = "".join(s + "\r" for s in message(report, control_id="A2").split("\r") if s and not s.startswith("PRT|"))
        bad = send_and_receive("127.0.0.1", port, bad_text.encode(), ack_timeout=5)
        assert listener.wait_for(lambda r: True, 1, 2) is not None
    assert good.ack is not None and parse_message(good.ack).get("MSA-1") == "AA"
    assert bad.ack is not None and parse_message(bad.ack).get("MSA-1") == "AE"
    assert seen_at_judging == [1, 3]  # the message was written before each judgement
    assert [r[1] for r in evidence.records][:2] == ["ORU^R01^ORU_R01 A1 from RIS", "ACK of ORU^R01^ORU_R01 A1"]
    assert [r.index for r in listener.received] == [0, 1]
    with socket.create_server(("127.0.0.1", port)):
        pass  # stop() released the port



@pytest.fixture(params=[True, False], ids=["https", "http"])
def endpoint(request: pytest.FixtureRequest, pki: TestPki) -> Iterator[ContextualCallEndpoint]:
    report = spec()
    request.node.report = report

    def judge(req):  # type: ignore[no-untyped-def]
        return judge_call(req.method, req.path, req.content_type, req.body, OPTIONS, report.patient, "/appel-contextuel")

    cert, key = pki.issue_server_cert("conso")
    with ContextualCallEndpoint(NullEvidence(), judge, cert, key, tls=request.param, timeout=5) as server:
        yield server


def test_contextual_endpoint_redirects_a_conformant_call_and_refuses_others(
    endpoint: ContextualCallEndpoint, pki: TestPki, request: pytest.FixtureRequest
) -> None:
    report = request.node.report
    verify = ssl.create_default_context(cafile=str(pki.ca_cert))
    with httpx.Client(verify=verify, timeout=5, follow_redirects=False) as http:
        ok = http.post(endpoint.url, data=call_params(report))
        assert ok.status_code == 303
        page = http.get(ok.headers["Location"])
        assert page.status_code == 200 and report.patient.ins in page.text
        params = call_params(report)
        params["Patient.birthDate"] = ""
        refused = http.post(endpoint.url, data=params)
        assert refused.status_code == 400 and "CTX-PARAM-EMPTY" in refused.text
    assert [c.status for c in endpoint.received] == [303, 400]
    assert endpoint.wait_for(1, 0) is endpoint.received[1] and endpoint.wait_for(2, 0.05) is None


# -- profile, architecture, end to end ------------------------------------------------------


def test_ris_profiles_load_and_kind_is_checked() -> None:
    embedded = load_profile(ROOT / "drimva" / "profiles" / "ris-reference.toml")
    assert embedded.is_ris and embedded.is_embedded and embedded.harness.drimbox_source.port == 0
    example = load_profile(ROOT / "drimva" / "profiles" / "example-ris.toml")
    assert example.is_ris and not example.is_embedded
    with pytest.raises(ProfileError, match="needs kind = 'ris'"):
        profile_from_mapping({"sut": {"embedded": "ris-simulator"}})
    with pytest.raises(ProfileError, match="sut.ris.consent: unknown key"):
        profile_from_mapping({"sut": {"kind": "ris", "ris": {"consent": "x"}}})
    with pytest.raises(ProfileError, match="harness.contextual_call.path"):
        profile_from_mapping({"harness": {"contextual_call": {"path": "appel"}}})


def test_the_judge_never_imports_the_ris_process() -> None:
    """Only the RIS process itself uses simulators.ris.__main__ / .session / .faults."""
    private = {"simulators.ris.__main__", "simulators.ris.session", "simulators.ris.faults"}
    offenders = []
    for package in ("drimva", "steps", "fixtures", "simulators"):
        for path in (ROOT / package).rglob("*.py"):
            if (ROOT / "simulators" / "ris") in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                    if isinstance(node, ast.ImportFrom) and node.module else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n in private]
    assert offenders == []


def _ris_run(tmp_path: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-m", "drimva", "ris", "--run-dir", str(tmp_path), "--quiet", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    results = tmp_path / "results.json"
    assert results.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    return done.returncode, json.loads(results.read_text("utf-8"))


def test_embedded_ris_passes_every_scenario(tmp_path: Path) -> None:
    code, results = _ris_run(tmp_path)
    assert code == 0, results["scenarios"]
    assert results["kind"] == "ris"
    assert [(i["id"], i["outcome"]) for i in results["items"]] == [(f"RIS-{n}", "passed") for n in range(1, 5)]
    assert all(s["feature"] == "ris.feature" for s in results["scenarios"])
    # Each scenario's folder holds what the RIS sent for it (filed by content): a CR and its ACK, or the call.
    for scenario in results["scenarios"]:
        log = (tmp_path / scenario["evidence"] / "exchanges.jsonl").read_text("utf-8").splitlines()
        channels = {json.loads(line)["channel"] for line in log}
        assert channels & {"drimbox_source", "contextual_call"}, (scenario["name"], channels)
    session_log = tmp_path / "evidence" / "_session" / "exchanges.jsonl"
    if session_log.exists():
        assert "drimbox_source" not in session_log.read_text("utf-8")


def test_a_fault_fails_its_target_only(tmp_path: Path) -> None:
    code, results = _ris_run(tmp_path, "--fault", "replace_no_parent")
    assert code == 1
    outcomes = {s["name"]: s["outcome"] for s in results["scenarios"]}
    assert outcomes.pop("Le RIS transmet un CR corrigé qui remplace le CR initial") == "failed"
    assert set(outcomes.values()) == {"passed"}


def test_a_short_count_skips_what_the_session_did_not_reach(tmp_path: Path) -> None:
    code, results = _ris_run(tmp_path, "--count", "1")
    outcomes = [s["outcome"] for s in results["scenarios"]]
    assert outcomes[0] == "passed" and set(outcomes[1:]) == {"skipped"} and code == 0


# -- MSH-18 charset (issue 11) -------------------------------------------------------------


def test_utf8_declaration_over_latin1_bytes_is_a_finding_and_refused_ae() -> None:
    from drimva.rules.hl7_charset import check_declared_charset, declared_charset

    text = message(spec())
    assert "é" in text and declared_charset(text.encode("utf-8")) == "UNICODE UTF-8"
    assert check_declared_charset(text.encode("utf-8")) == []
    latin1 = text.encode("latin-1")
    [finding] = check_declared_charset(latin1)
    assert finding.rule == "HL7-CHARSET" and finding.location == "MSH-18" and "0xE9" in finding.actual
    judged = judge_report(latin1, OPTIONS)
    assert any(f.rule == "HL7-CHARSET" for f in errors(judged.findings))
    assert parse_message(build_ack(judged.message, judged.findings)).get("MSA-1") == "AE"
    declared_latin = text.replace("|UNICODE UTF-8|", "|8859/15|").encode("iso-8859-15")
    assert check_declared_charset(declared_latin) == []  # the volet's other charset, bytes in it


def test_charset_fault_fails_the_initial_cr_and_what_follows_it_is_skipped(tmp_path: Path) -> None:
    """Refused-then-stopped: the initial CR is refused AE, so no replacement nor deletion can follow."""
    code, results = _ris_run(tmp_path, "--fault", "msh18_utf8_over_latin1")
    assert code == 1
    by_name = {s["name"]: s for s in results["scenarios"]}
    assert by_name["Le RIS transmet un CR initial conforme"]["outcome"] == "failed"
    for name in ("Le RIS transmet un CR corrigé qui remplace le CR initial", "Le RIS transmet la suppression du CR"):
        assert by_name[name]["outcome"] == "skipped", by_name[name]
        assert "refusé (MSA-1 AE)" in json.dumps(by_name[name], ensure_ascii=False)
    assert by_name["Le RIS fait un appel contextuel pour le patient de ses CR"]["outcome"] == "passed"


# -- evidence filed by content ---------------------------------------------------------------


def test_a_burst_is_filed_under_the_scenario_each_message_is(tmp_path: Path) -> None:
    """Sent in one burst while no scenario runs, each CR and its ACK go to the folder of the event it claims."""
    from drimva.evidence import EvidenceStore
    from fixtures.ris_harness import ContentRouting, scenario_folder

    store = EvidenceStore(tmp_path)
    report = spec()
    listener = DrimboxSourceSimulator(ContentRouting(store), report_judge(OPTIONS))
    with listener:
        for kind, event, control_id in (("ORU", "initial", "B1"), ("MDM", "replace", "B2"), ("ORU", "delete", "B3")):
            exchange = send_and_receive("127.0.0.1", listener.port, message(report, kind, event, control_id).encode(),
                                        connect_timeout=5, ack_timeout=5)
            assert exchange.ack is not None
    by_folder: dict[str, list[str]] = {}
    for exchange in store.exchanges():
        by_folder.setdefault(exchange.scenario, []).append(exchange.label)
    for event, control_id in (("initial", "B1"), ("replace", "B2"), ("delete", "B3")):
        labels = by_folder.pop(store.scenario_dir(scenario_folder(event)).name)
        assert len(labels) == 2 and all(control_id in label for label in labels), labels
    assert by_folder == {}  # nothing left in _session


def test_a_routing_mismatch_is_warned_once_per_session() -> None:
    from fixtures.ris_harness import RisDriver

    driver = RisDriver(None, None, print, 4, 1.0)  # type: ignore[arg-type]
    report = spec()
    options = dataclasses.replace(OPTIONS, receiver=("DRIMBOX", "OTHER_FAC"))
    first = judge_report(message(report, control_id="W1").encode(), options).findings
    second = judge_report(message(report, "MDM", "replace", "W2").encode(), options).findings
    assert [f.location for f in first if f.rule == "RIS-ROUTING"] == ["MSH-6"]
    assert [f.rule for f in driver.first_time(first) if f.rule == "RIS-ROUTING"] == ["RIS-ROUTING"]
    assert [f for f in driver.first_time(second) if f.rule == "RIS-ROUTING"] == []
    assert [f.rule for f in driver.first_time(second) if f.severity == Severity.ERROR] == [
        f.rule for f in second if f.severity == Severity.ERROR]  # errors are never dropped


def test_a_viewer_url_naming_another_host_is_a_finding() -> None:
    from drimva.rules.ris_report import check_viewer_host, report_cda

    report = spec()
    cda = report_cda(parse_message(message(report)))
    assert cda is not None and cda.viewer_urls
    host = cda.viewer_urls[0].split("/")[2]
    assert check_viewer_host(cda, host) == []
    [finding] = check_viewer_host(cda, "vi.other-drimbox.test")
    assert finding.rule == "RIS-VIEWER-HOST" and finding.actual == host.lower()
    judged = judge_report(message(report).encode(), dataclasses.replace(OPTIONS, viewer_host="vi.other-drimbox.test"))
    assert "RIS-VIEWER-HOST" in {f.rule for f in errors(judged.findings)}


def test_the_banner_shows_everything_the_ris_must_match() -> None:
    from drimva.ris_console import RisBanner, banner_lines
    from drimva.rules.contextual_call import MANDATORY

    banner = RisBanner("192.0.2.10", 2575, ("DRIMBOX", "DB_FAC"), "https://{host}/view?studyUID={study_uid}",
                       "vi.drimbox.test", "https://192.0.2.10:8444/appel-contextuel", "/tmp/ca.pem")
    text = "\n".join(banner_lines(banner))
    for expected in ("192.0.2.10:2575", "MSH-5 attendu              : DRIMBOX", "MSH-6 attendu              : DB_FAC",
                     "https://vi.drimbox.test/view?studyUID={study_uid}", "POST https://192.0.2.10:8444/appel-contextuel",
                     "/tmp/ca.pem", *MANDATORY, "InformationEtOppositionConsultation"):
        assert expected in text, expected
    assert "ATTENTION" not in text
    wildcard = "\n".join(banner_lines(dataclasses.replace(banner, mllp_host="0.0.0.0")))
    assert "harness.advertise_host" in wildcard


def test_each_step_is_prompted_once_per_session() -> None:
    from fixtures.ris_harness import RisDriver

    asked: list[str] = []
    driver = RisDriver(None, None, asked.append, 4, 1.0)  # type: ignore[arg-type]
    for step in ("initial", "initial", "contextual", "initial"):
        driver._prompt_once(step)
    assert asked == ["initial", "contextual"]


def test_an_unreadable_report_is_an_hl7_parse_finding_and_a_readable_one_is_not() -> None:
    broken = judge_report(b"this is not HL7", OPTIONS)
    assert broken.message is None and [(f.rule, f.location) for f in broken.findings] == [("HL7-PARSE", "MSH")]
    assert parse_message(build_ack(broken.message, broken.findings)).get("MSA-1") in ("AE", "AR")
    assert "HL7-PARSE" not in {f.rule for f in judge_report(message(spec()).encode("utf-8"), OPTIONS).findings}


def test_the_contextual_call_at_the_published_url_has_no_ctx_url_finding() -> None:
    from drimva.rules.contextual_call import check_call_target

    assert check_call_target("/appel-contextuel", "/appel-contextuel") == [] and check_call_target("/x", "") == []
    [finding] = check_call_target("/other", "/appel-contextuel")
    assert (finding.rule, finding.expected, finding.actual) == ("CTX-URL", "/appel-contextuel", "/other")


def test_a_harness_failure_while_judging_is_no_finding_on_the_ris(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulators.drimbox_source as drimbox_source

    def broken(raw: bytes, options: RisJudgeOptions) -> ReportJudgement:
        raise RuntimeError("bug")

    monkeypatch.setattr(drimbox_source, "judge_report", broken)
    judgement, ack = drimbox_source.report_judge(OPTIONS)(message(spec()).encode("utf-8"))
    assert judgement.findings == [] and judgement.harness_error == "harness error while judging: RuntimeError: bug"
    assert parse_message(ack).get("MSA-1") == "AR"

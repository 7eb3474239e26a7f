"""drimva.rules.ris_session and the ACK / CTX-PATIENT rules the RIS-mode and block B steps call."""

from __future__ import annotations

from rule_findings import whole

from drimva.rules.contextual_call import check_patient_known
from drimva.rules.ris_session import ack_returned, call_not_received, check_report_event, report_not_received


def test_nothing_received_within_the_session() -> None:
    assert whole([report_not_received("initial CR", "initial", "30 s", "none")]) == [(
        "RIS-SENT", "DRIMbox Source (MLLP)", "the initial CR: a message whose MSH-9 / ORC-1 / OBX-11 says initial",
        "nothing within the wait of this step (30 s); other messages: none", "error",
    )]  # fmt: skip
    assert whole([call_not_received("https://h/ctx", "30 s")]) == [
        ("RIS-CONTEXTUAL-SENT", "https://h/ctx", "a POST", "no HTTP request within the wait of this step (30 s)", "error")
    ]
    refused = call_not_received("https://h/ctx", "30 s", ["requête HTTP en clair sur le port HTTPS"])
    assert refused.actual.endswith("; 1 connexion(s) refusée(s) : requête HTTP en clair sur le port HTTPS")


def test_the_event_read_must_be_the_one_awaited() -> None:
    assert check_report_event("replace", "replace") == []
    assert whole(check_report_event("replace", "initial")) == [
        ("RIS-EVENT", "MSH-9 / document OBX-11", "replace", "initial", "error")
    ]


def test_the_returned_ack_is_information() -> None:
    assert whole(ack_returned("MSH|^~\\&|A\rMSA|AE|42\r")) == [("RIS-ACK", "MSA", "MSA|AA|…", "MSA|AE|42", "info")]
    assert whole(ack_returned("")) == [("RIS-ACK", "MSA", "MSA|AA|…", "?", "info")]


def test_an_unknown_patient_is_information() -> None:
    assert check_patient_known(True) == []
    assert whole(check_patient_known(False)) == [(
        "CTX-PATIENT", "form parameters", "a report with a qualified INS received before the call",
        "none: the patient could not be compared", "info",
    )]  # fmt: skip


def test_a_call_before_any_report_is_compared_with_the_patient_of_the_reports_received_since() -> None:
    from drimva.context import Patient

    patient = Patient(ins="279035121518989", ipp="IPP1", birth_name="PAT", given_name="D", birth_date="19790328", sex="F")
    body = b"Patient.identifier.value=179035121518989"  # another INS
    findings = check_patient_known(False, body, patient)
    assert findings[-1].actual == "received after the call: compared with it now" and findings[-1].rule == "CTX-PATIENT"
    (mismatch,) = [f for f in findings if f.location == "form parameter Patient.identifier.value"]
    assert mismatch.expected.startswith("279035121518989") and mismatch.actual == "179035121518989"

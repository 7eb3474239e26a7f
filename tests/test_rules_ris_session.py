"""drimva.rules.ris_session and the ACK / CTX-PATIENT rules the RIS-mode and block B steps call."""

from __future__ import annotations

from rule_findings import whole

from drimva.rules.contextual_call import check_patient_known
from drimva.rules.ris_session import ack_returned, call_not_received, check_report_event, report_not_received


def test_nothing_received_within_the_session() -> None:
    assert whole([report_not_received("initial CR", "initial", 30.0, "none")]) == [(
        "RIS-SENT", "DRIMbox Source (MLLP)", "the initial CR: a message whose MSH-9 / ORC-1 / OBX-11 says initial",
        "nothing within the session (30 s); other messages: none", "error",
    )]  # fmt: skip
    assert whole([call_not_received("https://h/ctx", 30.0)]) == [
        ("RIS-CONTEXTUAL-SENT", "https://h/ctx", "a POST", "nothing within the session (30 s)", "error")
    ]


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

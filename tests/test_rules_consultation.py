"""drimva.rules.consultation: what the consumer DRIMbox did after the contextual call (VA-D1, VA-D2, VA-D3, VA-A)."""

from __future__ import annotations

import pytest
from rule_findings import whole

from drimva.rules import consultation

KOS = "1.2.9"
GOOD = consultation.SeriesRequest("GET", "/wado-rs/studies/1/series/1.1", 200, KOS, True)


def test_no_answer_to_the_call() -> None:
    assert whole([consultation.call_unreachable("https://sut/ctx", "ConnectError: refused")]) == [
        ("CALL-REACHABLE", "POST https://sut/ctx", "an HTTP answer", "ConnectError: refused", "error")
    ]


@pytest.mark.parametrize("status", [302, 303])
def test_a_redirect_passes(status: int) -> None:
    assert consultation.check_call_redirect(status, "") == []


def test_another_answer_to_a_valid_call_fails() -> None:
    assert whole(consultation.check_call_redirect(200, "x" * 300)) == [
        ("CALL-REDIRECT", "HTTP status", "302 or 303", "200: " + "x" * 200, "error")
    ]


def test_an_incomplete_call_must_get_400() -> None:
    assert consultation.check_call_refused(400) == []
    assert whole(consultation.check_call_refused(303)) == [("CALL-400", "HTTP status", "400", "303", "error")]


def test_the_dmp_consulted_passes_and_each_missing_transaction_fails() -> None:
    assert consultation.check_dmp_consulted("123^^^&1.2.250&ISO", True, 1, True) == []
    assert whole(consultation.check_dmp_consulted("123^^^&1.2.250&ISO", False, 2, False)) == [
        ("DMP-ITI-18", "DMP registry", "a FindDocuments on 123^^^&1.2.250&ISO", "2 successful ITI-18 for other patients", "error"),
        ("DMP-ITI-43", "DMP repository", "a RetrieveDocumentSet of the KOS", "none", "error"),
    ]
    assert whole([consultation.kos_not_retrieved(303, 5.0)]) == [(
        "DMP-ITI-43", "DMP repository", "a RetrieveDocumentSet of the KOS",
        "contextual call answered HTTP 303; no successful ITI-43 within 5 s", "error",
    )]  # fmt: skip


def test_a_series_fetched_with_token_and_header_passes() -> None:
    assert consultation.check_series_fetched({"1.1": [GOOD]}, KOS) == []


@pytest.mark.parametrize(
    "request_", [
        consultation.SeriesRequest("GET", "/s/1.1", 200, KOS, False),  # invalid token
        consultation.SeriesRequest("GET", "/s/1.1", 200, "9.9", True),  # another KOS
        consultation.SeriesRequest("GET", "/s/1.1", 404, KOS, True),  # not served
    ],
)  # fmt: skip
def test_a_series_fetched_without_each_element_fails(request_: consultation.SeriesRequest) -> None:
    assert whole(consultation.check_series_fetched({"1.1": [request_]}, KOS)) == [(
        "WADO-SERIES-FETCHED", "GET …/series/1.1", f"200 with a valid token and KOS-SOPInstanceUID {KOS}",
        f"status {request_.status}, KOS header {request_.kos_header!r}", "error",
    )]  # fmt: skip


def test_a_series_never_requested_fails() -> None:
    assert whole(consultation.check_series_fetched({"1.1": [GOOD], "1.2": []}, KOS)) == [
        ("WADO-SERIES-FETCHED", "GET …/series/1.2", f"200 with a valid token and KOS-SOPInstanceUID {KOS}", "no request", "error")
    ]


def test_unserved_series_name_the_count() -> None:
    assert consultation.unserved_series({"1.1": [GOOD]}) is None
    missing = consultation.unserved_series({"1.1": [GOOD], "1.2": [consultation.SeriesRequest("GET", "/s/1.2", 401, KOS, False)]})
    assert missing is not None
    assert whole([missing]) == [(
        "WADO-SERIES-FETCHED", "GET …/series/…", "every series of the KOS served (200)",
        "1 of 2 series never served (200) to the DRIMbox", "error",
    )]  # fmt: skip


def test_the_declared_node_service_passes_and_another_is_a_warning() -> None:
    assert consultation.check_node_transport("c-store", ["C-STORE", "C-STORE"], "NODE") == []
    assert whole(consultation.check_node_transport("c-store", ["C-STORE", "STOW-RS"], "NODE")) == [
        ("NODE-TRANSPORT", "DICOM node NODE", "C-STORE (sut.consumer.node_transport)", "STOW-RS", "warning")
    ]


def test_an_untrusted_source_must_not_be_contacted() -> None:
    assert consultation.check_untrusted_not_contacted("https://127.0.0.3:1", []) == []
    assert whole(consultation.check_untrusted_not_contacted("https://127.0.0.3:1", [GOOD])) == [(
        "TRUST-UNLISTED-PEER", "WADO-RS to https://127.0.0.3:1", "no request",
        "1 request(s): GET /wado-rs/studies/1/series/1.1 -> 200", "error",
    )]  # fmt: skip


def test_nothing_of_an_untrusted_source_reaches_the_node() -> None:
    assert consultation.check_node_untouched(0) == []
    assert whole(consultation.check_node_untouched(3)) == [
        ("TRUST-UNLISTED-PEER", "DICOM node C-STORE", "no instance of this study", "3 instance(s)", "error")
    ]

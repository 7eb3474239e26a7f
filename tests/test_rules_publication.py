"""drimva.rules.publication: what the DMP and PACS simulators recorded of a publication (VA-B2, VA-B3)."""

from __future__ import annotations

import pytest
from rule_findings import whole

from drimva.rules import publication

REFUSED = publication.SubmissionRecord("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b", "Failure", "XDSRegistryError")


def test_a_missing_publication_says_what_reached_the_dmp() -> None:
    assert whole([publication.publication_missing("1234567890123", 5.0, [REFUSED])]) == [(
        "DMP-PUBLICATION", "DMP registry (ITI-41)", "an approved KOS entry for patient 1234567890123 within 5.0 s",
        "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b -> Failure (XDSRegistryError)", "error",
    )]  # fmt: skip
    assert publication.publication_missing("1", 1.0, []).actual == "no request reached the DMP"


def test_a_c_find_from_the_declared_ae_passes() -> None:
    assert publication.check_pacs_query("1.2.3", ["DRIMBOX", "OTHER"], "DRIMBOX", 5.0, 2) == []


def test_no_c_find_fails() -> None:
    assert whole(publication.check_pacs_query("1.2.3", [], "DRIMBOX", 5.0, 7)) == [(
        "PACS-CFIND", "PACS C-FIND identifier (0020,000D)", "1.2.3",
        "no C-FIND on this study within 5.0 s (7 DICOM requests seen in the run)", "error",
    )]  # fmt: skip


def test_a_c_find_from_another_ae_is_a_warning() -> None:
    assert whole(publication.check_pacs_query("1.2.3", ["B", "A", "B"], "DRIMBOX", 5.0, 3)) == [
        ("PACS-CFIND-CALLING-AE", "A-ASSOCIATE-RQ calling AE title", "DRIMBOX", "A, B", "warning")
    ]


def test_the_organisation_certificate_passes_and_another_fails() -> None:
    assert publication.check_client_certificate("CN=x,OU=499700367909006,O=y", "499700367909006") == []
    expected = "a certificate of the run's CA with OU=499700367909006"
    assert whole(publication.check_client_certificate("CN=x,OU=1", "499700367909006")) == [
        ("DMP-CLIENT-CERT", "TLS client certificate subject", expected, "CN=x,OU=1", "error")
    ]
    assert whole(publication.check_client_certificate(None, "499700367909006")) == [
        ("DMP-CLIENT-CERT", "TLS client certificate subject", expected, "(none presented)", "error")
    ]


def test_a_replaced_entry_still_approved_fails() -> None:
    assert publication.check_replaced_deprecated("urn:uuid:1", publication.DEPRECATED) == []
    assert whole(publication.check_replaced_deprecated("urn:uuid:1", publication.APPROVED)) == [
        ("XDS-RPLC-DEPRECATES", "registry entry urn:uuid:1", publication.DEPRECATED, publication.APPROVED, "error")
    ]


def test_a_withdrawn_entry_passes_and_one_still_approved_fails() -> None:
    assert publication.check_withdrawn("urn:uuid:1", "urn:asip:ci-sis:2010:StatusType:Deleted", 5.0, []) == []
    assert whole(publication.check_withdrawn("urn:uuid:1", publication.APPROVED, 5.0, [])) == [(
        "DMP-WITHDRAWN", "registry entry urn:uuid:1", "status Deleted or Deprecated",
        "still Approved after 5.0 s; no request reached the DMP", "error",
    )]  # fmt: skip


def test_no_entry_passes_and_an_entry_fails_the_no_publication_rule() -> None:
    assert publication.check_no_publication([]) == []
    assert whole(publication.check_no_publication([publication.EntryRecord("1.2.3.4", publication.APPROVED)])) == [
        ("DMP-NO-PUBLICATION", "DMP registry (ITI-41)", "no entry for this patient", f"1.2.3.4 ({publication.APPROVED})", "error")
    ]


def test_an_absent_dciodvfy_is_a_warning() -> None:
    assert publication.check_dciodvfy_available(True) == []
    assert whole(publication.check_dciodvfy_available(False)) == [
        ("DCIODVFY", "dciodvfy", "installed (apt dicom3tools)", "absent", "warning")
    ]


def test_the_other_study_entry_approved_and_untouched_passes() -> None:
    assert publication.check_other_study_kept("urn:uuid:2", "1.2.3", publication.APPROVED, []) == []


def test_the_other_study_entry_replaced_or_touched_fails() -> None:
    expected = "status Approved, untouched by the correction of the other study"
    assert whole(publication.check_other_study_kept(
        "urn:uuid:2", "1.2.3", publication.DEPRECATED, ["submission 2: RPLC urn:uuid:3 -> urn:uuid:2"],
    )) == [(
        "DMP-OTHER-STUDY-KEPT", "registry entry urn:uuid:2 (study 1.2.3)", expected,
        f"status {publication.DEPRECATED}; submission 2: RPLC urn:uuid:3 -> urn:uuid:2", "error",
    )]  # fmt: skip
    # still Approved, but a request aimed at it (an ITI-57 the registry refused, say) is a fault too
    touched = publication.check_other_study_kept("urn:uuid:2", "1.2.3", publication.APPROVED, ["submission 3: ITI-57 A -> D"])
    assert [f.rule for f in touched] == ["DMP-OTHER-STUDY-KEPT"]


@pytest.mark.parametrize("status", [0x0000, 0xB000, 0xB007])
def test_a_stored_rejection_note_passes(status: int) -> None:
    assert publication.check_rejection_note(status, "", "DRIMBOX") == []


@pytest.mark.parametrize(("status", "failure", "actual"), [
    (0xA700, "", "C-STORE status 0xA700"),
    (0xC000, "", "C-STORE status 0xC000"),
    (None, "association rejected by DRIMBOX at 127.0.0.1:11113", "association rejected by DRIMBOX at 127.0.0.1:11113"),
    (None, "", "no C-STORE response"),
])
def test_a_refused_or_unanswered_rejection_note_fails(status: int | None, failure: str, actual: str) -> None:
    (finding,) = publication.check_rejection_note(status, failure, "DRIMBOX")
    assert (finding.rule, finding.actual, finding.location) == ("IOCM-NOTE-ACCEPTED", actual, "C-STORE of the rejection note to DRIMBOX")

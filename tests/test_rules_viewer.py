"""drimva.rules.viewer: what the browser saw of the viewer (VA-C1, VA-C2)."""

from __future__ import annotations

from rule_findings import whole

from drimva.rules.viewer import check_study_shown, check_study_withheld, no_login_page, shows_study, viewer_unreachable

STUDY = "1.2.250.1.999.1"
PAGE = f"<html><body>Examen {STUDY}</body></html>"


def test_the_study_is_shown_only_with_200_and_its_uid() -> None:
    assert shows_study(200, PAGE, STUDY)
    assert not shows_study(403, PAGE, STUDY)
    assert not shows_study(200, "<html>login</html>", STUDY)


def test_the_study_shown_passes_and_a_login_page_fails() -> None:
    assert check_study_shown("https://v/s", 200, PAGE, STUDY) == []
    assert whole(check_study_shown("https://v/login", 200, "login", STUDY)) == [
        ("VIEWER-STUDY", "GET https://v/login", f"200 and a page naming the Study Instance UID {STUDY}", "HTTP 200", "error")
    ]


def test_a_study_withheld_passes_and_one_shown_fails() -> None:
    assert check_study_withheld("https://v/s", 403, "refused", STUDY, "a refusal (401/403), not the study") == []
    assert whole(check_study_withheld("https://v/s", 200, PAGE, STUDY, "a refusal (401/403), not the study")) == [
        ("VIEWER-ACCESS", "GET https://v/s", "a refusal (401/403), not the study", f"HTTP 200, the page names the study {STUDY}", "error")
    ]


def test_no_answer_and_no_login_page() -> None:
    assert whole([viewer_unreachable("https://v/x", "refused")]) == [
        ("VIEWER-REACHABLE", "GET https://v/x", "an HTTP answer", "refused", "error")
    ]
    assert whole([no_login_page("https://v/x", "https://psc", 200, "https://v/home")]) == [
        ("VIEWER-IDP", "GET https://v/x", "a redirect (or a link) to the login page of https://psc", "HTTP 200 at https://v/home", "error")
    ]

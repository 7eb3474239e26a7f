"""What the browser the harness drives saw of the viewer (VA-C1, VA-C2), judged.

Why a module: the checks used to live in ``steps/visualisation.py``; they
take the final URL, status and page text of a navigation.
"""

from __future__ import annotations

from drimva.findings import Finding


def viewer_unreachable(url: str, error: str) -> Finding:
    """VIEWER-REACHABLE: the viewer gave no HTTP answer."""
    return Finding("VIEWER-REACHABLE", "", f"GET {url}", "an HTTP answer", error)


def no_login_page(url: str, issuer: str, status: int, final_url: str) -> Finding:
    """VIEWER-IDP: neither the viewer URL nor a link of its page led to the login page of ``issuer``."""
    return Finding("VIEWER-IDP", "", f"GET {url}", f"a redirect (or a link) to the login page of {issuer}", f"HTTP {status} at {final_url}")


def shows_study(status: int, page: str, study_uid: str) -> bool:
    """The viewer shows the study: 200 and a page naming its Study Instance UID."""
    return status == 200 and study_uid in page


def check_study_shown(final_url: str, status: int, page: str, study_uid: str) -> list[Finding]:
    """VIEWER-STUDY: after login, the viewer shows the study of the CR."""
    if shows_study(status, page, study_uid):
        return []
    return [Finding("VIEWER-STUDY", "", f"GET {final_url}", f"200 and a page naming the Study Instance UID {study_uid}", f"HTTP {status}")]


def check_study_withheld(final_url: str, status: int, page: str, study_uid: str, expected: str) -> list[Finding]:
    """VIEWER-ACCESS: without a session, or to someone else, the viewer does not show the study."""
    if not shows_study(status, page, study_uid):
        return []
    return [Finding("VIEWER-ACCESS", "", f"GET {final_url}", expected, f"HTTP {status}, the page names the study {study_uid}")]

"""VA-C1 / VA-C2 in a real headless browser: ``drimva run --browser chromium`` against the reference DRIMbox.

The viewer scenarios of ``visualisation.feature`` run as a user would run
them (a ``drimva`` process of its own), with Debian's Chromium driven through
Playwright instead of the built-in HTTP client: they pass against the
faultless reference and fail where its viewer serves the study without a
login (``viewer_no_login``). Those two are skipped, saying why, where
Chromium or Playwright is missing (``make test`` installs both on Debian as
root); a profile asking for a Chromium that is not there is tested everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from va_runs import reference_profile, run_va, scenarios_by_name

from drimva.browser import unavailable_reason

pytestmark = pytest.mark.long(40)  # seconds, roughly: handed out first under pytest-xdist

VIEWER_SCENARIOS = "visionneuse or ouvre_lexamen or ouvre_son_examen or autre_identité"
NO_SESSION = "Sans session, la visionneuse ne montre pas l'examen"

needs_chromium = pytest.mark.skipif(bool(unavailable_reason()), reason=f"headless Chromium variant not run: {unavailable_reason()}")


def _run_in_chromium(run_dir: Path, fault: str | None = None, profile: Path | None = None, select: str = VIEWER_SCENARIOS) -> dict[str, Any]:
    return scenarios_by_name(run_va(run_dir, "--browser", "chromium", "-k", select, fault=fault, profile=profile))


@needs_chromium
def test_the_viewer_scenarios_pass_in_chromium_against_the_reference(tmp_path: Path) -> None:
    scenarios = _run_in_chromium(tmp_path)
    assert len(scenarios) == 5
    assert {name: s["outcome"] for name, s in scenarios.items()} == {name: "passed" for name in scenarios}
    # the browser did the navigation: its requests and rendered pages are in each scenario's evidence
    for scenario in scenarios.values():
        files = [p.name for p in (tmp_path / scenario["evidence"]).iterdir()]
        assert any("viewer-browser-request-" in f for f in files), scenario["name"]
        assert any("viewer-browser-page-" in f and f.endswith(".html") for f in files), scenario["name"]
    logged_in = scenarios["Un professionnel ouvre l'examen depuis l'URL du CR avec Pro Santé Connect"]
    posts = [p for p in (tmp_path / logged_in["evidence"]).glob("*viewer-browser-request-*") if p.read_bytes().startswith(b"POST ")]
    assert any(b"auth_request=" in p.read_bytes() for p in posts), "the login form was not submitted by the browser"


@needs_chromium
def test_in_chromium_a_viewer_serving_without_login_fails_the_no_session_scenario(tmp_path: Path) -> None:
    scenarios = _run_in_chromium(tmp_path, "viewer_no_login")
    no_session = scenarios[NO_SESSION]
    assert no_session["outcome"] == "failed"
    assert [f["rule"] for f in no_session["findings"] if f["severity"] == "error"] == ["VIEWER-ACCESS"]


def test_without_chromium_the_viewer_scenarios_are_harness_errors_that_say_why(tmp_path: Path) -> None:
    """Runs everywhere: a profile asking for a Chromium that is not there gets ``error``, not ``failed``."""
    profile = reference_profile(tmp_path, '[harness.browser]\nkind = "chromium"\nexecutable = "/nonexistent/chromium"\n')
    scenarios = _run_in_chromium(tmp_path / "run", profile=profile, select="sans_session")
    assert list(scenarios) == [NO_SESSION]
    assert scenarios[NO_SESSION]["outcome"] == "error"
    assert "harness.browser.kind" in scenarios[NO_SESSION]["message"] and "/nonexistent/chromium" in scenarios[NO_SESSION]["message"]

"""MetaDMPMSS DESTDMP = N (VA-B3 ``@securite``): a CR the RIS does not destine to the DMP is not published.

The scenario passes on the reference, fails on its fault ``publish_despite_destdmp``
(a privacy defect: the KOS reaches the patient's record against the RIS's flag),
and is not applicable when the profile reads the flag otherwise
(``rules.publish_requires_destdmp = false``, ``hl7v2-ris-to-drimbox.md`` open
question 7): then the reference publishes, and nothing is judged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from va_runs import reference_profile, run_va

pytestmark = pytest.mark.long(15)  # seconds, roughly: handed out first under pytest-xdist

SCENARIO = "Aucun KOS n'est publié pour un CR que le RIS ne destine pas au DMP"


def _the_scenario(results: dict) -> dict:  # type: ignore[type-arg]
    (found,) = [s for s in results["scenarios"] if s["name"] == SCENARIO]
    return found


def test_the_flag_is_honoured_and_a_publication_against_it_is_caught(tmp_path: Path) -> None:
    assert _the_scenario(run_va(tmp_path / "ok", "--scenario", SCENARIO))["outcome"] == "passed"
    faulty = _the_scenario(run_va(tmp_path / "fault", "--scenario", SCENARIO, fault="publish_despite_destdmp"))
    assert faulty["outcome"] == "failed", faulty["message"]
    (finding,) = [f for f in faulty["findings"] if f["severity"] == "error"]
    assert finding["rule"] == "DMP-NO-PUBLICATION" and "DESTDMP = N" in finding["requirement"]


def test_a_profile_that_reads_the_flag_otherwise_skips_the_scenario_with_its_reason(tmp_path: Path) -> None:
    profile = reference_profile(tmp_path, settings={"rules.publish_requires_destdmp": "false"})
    found = _the_scenario(run_va(tmp_path / "run", "--scenario", SCENARIO, profile=profile))
    assert found["outcome"] == "not_applicable" and "rules.publish_requires_destdmp = false" in found["message"], found

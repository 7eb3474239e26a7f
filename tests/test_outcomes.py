from datetime import datetime, timezone
from pathlib import Path

import pytest

from drimva.findings import Finding, Severity
from drimva.evidence import EvidenceStore
from drimva.outcomes import OUTCOME_LABELS_FR, NonConformance, Outcome, aggregate, blocked_by, outcome_of_skip, skip_reason
from drimva.results import ScenarioResult, build_results, exit_code, write_results
from drimva.selftest import kill_matrix
from drimva.verdict import Verdict


def test_aggregate_worst_first() -> None:
    assert aggregate([Outcome.PASSED, Outcome.FAILED, Outcome.ERROR]) is Outcome.FAILED
    assert aggregate([Outcome.PASSED, Outcome.ERROR]) is Outcome.ERROR
    assert aggregate([Outcome.PASSED, Outcome.PASSED]) is Outcome.PASSED
    assert aggregate([Outcome.PASSED, Outcome.DEFERRED]) is Outcome.DEFERRED
    assert aggregate([Outcome.NOT_APPLICABLE]) is Outcome.NOT_APPLICABLE
    assert aggregate([]) is Outcome.SKIPPED


def test_aggregate_of_an_interrupted_item() -> None:
    assert aggregate([Outcome.PASSED, Outcome.INTERRUPTED, Outcome.NOT_RUN]) is Outcome.INTERRUPTED
    assert aggregate([Outcome.FAILED, Outcome.INTERRUPTED]) is Outcome.FAILED
    assert aggregate([Outcome.ERROR, Outcome.INTERRUPTED]) is Outcome.ERROR
    assert aggregate([Outcome.NOT_RUN, Outcome.NOT_RUN]) is Outcome.NOT_RUN
    assert aggregate([Outcome.PASSED, Outcome.NOT_RUN]) is Outcome.NOT_RUN  # not wholly checked
    assert aggregate([Outcome.SKIPPED, Outcome.NOT_RUN]) is Outcome.NOT_RUN
    assert aggregate([Outcome.NOT_APPLICABLE, Outcome.NOT_RUN]) is Outcome.NOT_RUN


def test_every_outcome_has_its_own_french_label() -> None:
    assert set(OUTCOME_LABELS_FR) == set(Outcome)
    assert len(set(OUTCOME_LABELS_FR.values())) == len(Outcome)


def test_skip_reasons_round_trip() -> None:
    for outcome in (Outcome.DEFERRED, Outcome.NOT_APPLICABLE, Outcome.MANUAL, Outcome.SKIPPED):
        assert outcome_of_skip(skip_reason(outcome, "why")) == (outcome, "why")
    assert outcome_of_skip("dcmtk missing") == (Outcome.SKIPPED, "dcmtk missing")


def test_a_failed_precondition_blocks_the_scenario_and_names_what_failed(tmp_path: Path) -> None:
    verdict = Verdict(EvidenceStore(tmp_path))
    no_ack = Finding("ACK-PRESENT", "the DRIMbox returns a technical ACK", "MSH", "an HL7 ACK", "no ACK: connection refused")
    with pytest.raises(pytest.skip.Exception) as skipped:
        verdict.precondition("précondition : CR initial acquitté", [no_ack], "pas d'ACK du CR initial")
    outcome, reason = outcome_of_skip(str(skipped.value.msg))
    assert outcome is Outcome.SKIPPED
    assert reason == blocked_by("pas d'ACK du CR initial", "ACK-PRESENT", "no ACK: connection refused")
    assert reason == "bloqué par : pas d'ACK du CR initial (ACK-PRESENT) — no ACK: connection refused"
    assert verdict.findings == [] and verdict.checks[-1]["outcome"] == "blocked"  # the ACK is VA-B1's finding
    warning = Finding("ACK-MSH3", "r", "MSH-3", "a", "b", Severity.WARNING)
    assert verdict.precondition("précondition", [warning], "x") == [warning]  # a warning does not block
    assert verdict.findings == [warning]
    with pytest.raises(NonConformance):  # strict: warnings fail, and block too when they are a precondition
        Verdict(EvidenceStore(tmp_path), strict=True).judge("c", [warning])
    with pytest.raises(pytest.skip.Exception):
        Verdict(EvidenceStore(tmp_path), strict=True).precondition("c", [warning], "x")


def _scenario(name: str, tags: tuple[str, ...], outcome: Outcome) -> ScenarioResult:
    finding = Finding("R", "req", "loc", "a", "b", Severity.ERROR)
    return ScenarioResult("f.feature", name, tags, outcome, findings=[finding] if outcome is Outcome.FAILED else [])


def test_results_group_scenarios_by_va_item(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    results = build_results(
        run_id="r1",
        scenarios=[
            _scenario("a", ("VA-B1", "x"), Outcome.PASSED),
            _scenario("b", ("VA-B1",), Outcome.FAILED),
            _scenario("c", ("VA-B2",), Outcome.PASSED),
        ],
        profile_source="p",
        sut_name="s",
        fault=None,
        started=now,
        finished=now,
    )
    items = {item["id"]: item for item in results["items"]}
    assert items["VA-B1"]["outcome"] == "failed"
    assert items["VA-B2"]["outcome"] == "passed"
    assert items["VA-F"]["outcome"] == "skipped" and items["VA-F"]["message"]
    assert exit_code(results) == 1
    write_results(tmp_path, results)
    page = (tmp_path / "rapport-va.html").read_text("utf-8")
    assert "non conforme" in page and "VA-B1" in page


def _run(outcomes: dict[str, str]) -> dict:
    """A run's results: scenario ``f::A`` has the stable id ``A`` (its ``@id:A`` tag), which faults target."""
    return {"scenarios": [{"key": k, "id": k.split("::")[-1], "outcome": v, "message": ""} for k, v in outcomes.items()]}


def test_kill_matrix_accepts_a_complete_matrix() -> None:
    runs = {
        "reference": _run({"f::A": "passed", "f::B": "passed"}),
        "fa": _run({"f::A": "failed", "f::B": "passed"}),
        "fb": _run({"f::A": "passed", "f::B": "failed"}),
    }
    faults = [{"name": "fa", "targets": ["A"]}, {"name": "fb", "targets": ["B"]}]
    matrix, problems = kill_matrix(runs, faults)
    assert problems == []
    assert matrix["scenarios"]["f::A"] == {"reference": "passed", "killed_by": ["fa"], "id": "A"}


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ({"reference": _run({"f::A": "failed"}), "fa": _run({"f::A": "failed"})}, "on the faultless reference"),
        ({"reference": _run({"f::A": "passed"}), "fa": _run({"f::A": "passed"})}, "does not make its target fail"),
        ({"reference": _run({"f::A": "passed"}), "fa": _run({"f::A": "error"})}, "ended in error"),
        ({"reference": _run({"f::A": "passed"}), "fa": "run timed out"}, "fa: run timed out"),
    ],
)
def test_kill_matrix_reports_problems(runs: dict, expected: str) -> None:
    _, problems = kill_matrix(runs, [{"name": "fa", "targets": ["A"]}])
    assert any(expected in p for p in problems), problems


def test_unkilled_scenario_is_a_problem() -> None:
    runs = {"reference": _run({"f::A": "passed", "f::B": "passed"}), "fa": _run({"f::A": "failed", "f::B": "passed"})}
    _, problems = kill_matrix(runs, [{"name": "fa", "targets": ["A"]}])
    assert problems == ["f::B: no fault makes this scenario fail"]

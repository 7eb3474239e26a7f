"""The self-test: every VA scenario passes on the reference DRIMbox and fails on a fault of it.

This runs ``drimva selftest`` (the faultless reference plus one run per fault,
each a separate process over the network) and checks the kill matrix.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, dciodvfy_available, run_dciodvfy
from drimva.selftest import COMBINED, combinable, combined_variant_runs, kill_matrix, variant_report

pytestmark = pytest.mark.long(150)  # seconds, roughly: handed out first under pytest-xdist

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(1800)  # the whole self-test: ~45 runs of the suite, about 5 min on 2 cores
def test_kill_matrix_is_complete(tmp_path: Path) -> None:
    out = ROOT / "reports" / "selftest.json"
    done = subprocess.run(
        [sys.executable, "-m", "drimva", "selftest", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    print(done.stdout[-6000:], done.stderr[-3000:])
    matrix = json.loads(out.read_text("utf-8"))
    assert matrix["problems"] == [], matrix["problems"]
    assert done.returncode == 0
    assert matrix["scenarios"], "no scenario ran"
    for key, row in matrix["scenarios"].items():
        assert row["reference"] == "passed", key
        assert row["killed_by"], key
    drimbox_scenarios = {key for key in matrix["scenarios"] if not key.startswith("ris.feature::")}
    assert "ack_before_processing" in matrix["variants"]
    for name, row in matrix["variants"].items():  # a conformant variant passes every scenario its profile claims
        not_applicable = {key for key, outcome in row["other"].items() if outcome == "not_applicable"}
        assert set(row["passed"]) | not_applicable == drimbox_scenarios, name
    published = sorted((Path(matrix["runs_dir"]) / "reference" / "reference" / "state" / "kos").glob("*.dcm"))
    assert published, "the faultless reference published no KOS"
    check_with_dciodvfy(published)


def _run(*outcomes: tuple[str, str]) -> dict[str, object]:
    return {"scenarios": [{"key": key, "outcome": outcome, "message": f"{outcome} here"} for key, outcome in outcomes]}


def test_a_variant_that_does_not_pass_every_scenario_is_a_problem() -> None:
    variants = [{"name": "early", "description": "d", "reading": "r"}, {"name": "late"}, {"name": "broken"}]
    runs = {
        "reference": _run(("f::a", "passed"), ("f::b", "passed"), ("f::c", "passed")),
        "variant:early": _run(("f::a", "passed"), ("f::b", "passed"), ("f::c", "passed")),
        "variant:late": _run(("f::a", "failed"), ("f::b", "skipped")),
        "variant:broken": "run timed out after 600 s",
    }
    report, problems = variant_report(runs, variants)  # type: ignore[arg-type]
    assert report["early"]["passed"] == ["f::a", "f::b", "f::c"] and report["early"]["reading"] == "r"
    assert report["late"]["failed"] == ["f::a"] and report["late"]["other"] == {"f::b": "skipped"}
    assert "broken" not in report
    assert len(problems) == 4
    assert [p for p in problems if p.startswith("variant early")] == []
    assert any("f::a: failed with a conformant variant" in p for p in problems)
    assert any("f::b: skipped" in p for p in problems)
    assert "variant late: f::c did not run" in problems
    assert "variant broken: run timed out after 600 s" in problems


def _tagged(key: str, outcome: str, *tags: str) -> dict[str, object]:
    return {"key": key, "outcome": outcome, "message": f"{outcome} here", "tags": list(tags)}


def test_not_applicable_is_accepted_only_where_the_variant_says_its_profile_makes_it_so() -> None:
    variants = [{"name": "lenient", "not_applicable": ["DESTDMP"]}, {"name": "other"}, {"name": "third"}]
    reference = {"scenarios": [_tagged("f::a", "passed", "VA-B3"), _tagged("f::d", "passed", "VA-B3", "DESTDMP")]}
    mine = {"scenarios": [_tagged("f::a", "passed", "VA-B3"), _tagged("f::d", "not_applicable", "VA-B3", "DESTDMP")]}
    runs = {"reference": reference, "variant:lenient": mine, "variant:other": mine}
    report, problems = variant_report(runs, variants[:2])  # type: ignore[arg-type]
    assert report["lenient"]["other"] == {"f::d": "not_applicable"}
    assert problems == ["variant other: f::d: not_applicable with a conformant variant (false fail): not_applicable here"]
    elsewhere = {"scenarios": [_tagged("f::a", "not_applicable", "VA-B3"), _tagged("f::d", "passed", "DESTDMP")]}
    assert len(variant_report({"reference": reference, "variant:lenient": elsewhere}, variants[:1])[1]) == 1  # type: ignore[arg-type]
    # such a variant runs alone: in the combined run it would take the scenario away from the others
    assert combinable(variants) == (variants[1:], variants[:1])  # type: ignore[arg-type]
    combined_runs, alone = combined_variant_runs({"reference": reference, COMBINED: mine}, variants[1:])  # type: ignore[arg-type]
    assert combined_runs == {} and alone == ["other", "third"]


def check_with_dciodvfy(files: list[Path]) -> None:
    """Every KOS the reference DRIMbox published passes dciodvfy in both modes (external oracle)."""
    if not dciodvfy_available():
        print("dciodvfy check skipped: dicom3tools is not installed (apt-get install dicom3tools)")
        return
    failures = []
    for path in files:
        for mode in (None, XDSI_MANIFEST_PROFILE):
            result = run_dciodvfy(path.read_bytes(), profile=mode)
            if result.errors or not result.ran:
                failures.append(f"{path.name} ({mode or '-new'}): {result.errors or result.problem}")
    assert failures == []


def test_a_combined_variant_run_stands_for_each_variant_only_when_it_passes_everything() -> None:
    variants = [{"name": "early"}, {"name": "late"}]
    reference = _run(("f::a", "passed"), ("f::b", "passed"))
    passing = {"reference": reference, COMBINED: _run(("f::a", "passed"), ("f::b", "passed"))}
    runs, alone = combined_variant_runs(passing, variants)  # type: ignore[arg-type]
    assert alone == [] and set(runs) == {"variant:early", "variant:late"}
    assert variant_report({**passing, **runs}, variants)[1] == []  # type: ignore[arg-type]
    for combined in (_run(("f::a", "passed"), ("f::b", "failed")), _run(("f::a", "passed")), "run timed out after 600 s"):
        runs, alone = combined_variant_runs({"reference": reference, COMBINED: combined}, variants)  # type: ignore[arg-type]
        assert runs == {} and alone == ["early", "late"], combined  # each variant must then run on its own


def test_a_fault_must_fail_its_target_through_the_rules_it_names() -> None:
    def run(*findings: str) -> dict[str, object]:
        return {"scenarios": [{"key": "f::a", "outcome": "failed", "message": "m",
                               "findings": [{"rule": rule, "severity": "error"} for rule in findings]}]}

    faults = [{"name": "x", "targets": ["F-A"], "rules": ["KOS-RETRIEVE-URL"]}, {"name": "y", "targets": ["F-A"]}]
    reference = {"scenarios": [{"key": "f::a", "id": "F-A", "outcome": "passed", "message": ""}]}
    _, problems = kill_matrix({"reference": reference, "x": run("KOS-RETRIEVE-URL", "DCIODVFY"), "y": run("ACK-MSA1")}, faults)
    assert problems == []  # y names no rule: only the kill is checked
    _, problems = kill_matrix({"reference": reference, "x": run("ACK-MSA1"), "y": run("ACK-MSA1")}, faults)
    assert problems == ["fault x fails f::a through ['ACK-MSA1'], not through its rules ['KOS-RETRIEVE-URL']"]


def test_a_fault_names_its_targets_by_stable_id_not_by_title() -> None:
    reference = {"scenarios": [{"key": "f::Le titre", "tags": ["VA-A", "id:A-ONE"], "outcome": "passed", "message": ""}]}
    killed = {"scenarios": [{"key": "f::Le titre", "outcome": "failed", "message": "m", "findings": []}]}
    matrix, problems = kill_matrix({"reference": reference, "x": killed}, [{"name": "x", "targets": ["A-ONE"]}])
    assert problems == [] and matrix["scenarios"]["f::Le titre"] == {"reference": "passed", "killed_by": ["x"], "id": "A-ONE"}
    _, problems = kill_matrix({"reference": reference, "x": killed}, [{"name": "x", "targets": ["Le titre"]}])
    assert problems == ["fault x does not make its target fail: Le titre (not run)"]

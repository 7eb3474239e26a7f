"""VA-F during the whole run: the background supervision probes of a ``drimva run`` against the reference.

Runs ``drimva run -k supervision`` as a user would (a process of its own),
once against the faultless reference and once under ``supervision_wrong_status``,
and reads what the run folder keeps: ``supervision.json``, the evidence of
every background probe, and the VA-F scenario's campaign findings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from va_runs import reference_profile, run_va


def _run(run_dir: Path, fault: str | None = None, profile: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    (scenario,) = run_va(run_dir, "-k", "supervision", fault=fault, profile=profile)["scenarios"]
    assert (run_dir / "supervision.json").exists(), "no supervision.json"
    return json.loads((run_dir / "supervision.json").read_text("utf-8")), scenario


def _campaign(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in scenario["findings"] if f["rule"] == "SUPERVISION-CAMPAIGN"]


def test_the_reference_is_available_for_the_whole_run(tmp_path: Path) -> None:
    summary, scenario = _run(tmp_path)
    assert scenario["outcome"] == "passed"
    assert summary["probes"] >= 1 and summary["ok"] == summary["probes"] and summary["availability"] == 1.0
    assert summary["failures"] == [] and summary["ended"] > summary["started"]
    probes = sorted((tmp_path / summary["evidence"]).glob("*-supervision-GET-supervision.http"))
    answers = sorted((tmp_path / summary["evidence"]).glob("*-supervision-answer-200.http"))
    assert len(probes) == len(answers) == summary["probes"]
    assert [f["severity"] for f in _campaign(scenario)] == ["info"]
    (scenario_probes,) = [f["actual"] for f in scenario["findings"] if f["rule"] == "SUPERVISION-AVAILABILITY"]
    assert scenario_probes == "5/5"  # sut.supervision.probes, default 5
    # the run's results and its report carry the figures too
    results = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert results["supervision"]["probes"] == summary["probes"] and results["supervision"]["availability"] == 1.0
    report = (tmp_path / "rapport-va.html").read_text("utf-8")
    assert f"<b>{summary['probes']}/{summary['probes']}</b> sondes conformes (100 %)" in report


def test_a_wrong_status_is_recorded_for_the_whole_run(tmp_path: Path) -> None:
    profile = reference_profile(tmp_path, "[sut.supervision]\nprobes = 2\n")
    summary, scenario = _run(tmp_path / "run", "supervision_wrong_status", profile)
    assert scenario["outcome"] == "failed"
    assert summary["probes"] >= 1 and summary["ok"] == 0 and summary["availability"] == 0.0
    assert len(summary["failures"]) == summary["probes"] and "DOWN" in summary["failures"][0]["problem"]
    campaign = _campaign(scenario)
    assert campaign and all(f["severity"] == "warning" for f in campaign)
    assert [f["actual"] for f in scenario["findings"] if f["rule"] == "SUPERVISION-AVAILABILITY"] == ["0/2"]

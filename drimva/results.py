"""Run results: ``results.json``, the French HTML VA report, the console summary."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from drimva.findings import Finding
from drimva.installation import commit, version
from drimva.interruption import signal_exit_code
from drimva.report import write_html_report
from drimva.report.values_fr import reason_fr
from drimva.scenario_ids import scenario_id
from drimva.outcomes import Outcome, aggregate
from drimva.va import VA_BY_ID, VA_ITEMS, VaItem

RESULTS_FILE = "results.json"
REPORT_FILE = "rapport-va.html"
SUPERVISION_FILE = "supervision.json"  # the background supervision probes of the run (VA-F)


@dataclass
class ScenarioResult:
    feature: str  # file name, e.g. "alimentation_mes.feature"
    name: str
    tags: tuple[str, ...]
    outcome: Outcome
    duration_s: float = 0.0
    message: str = ""
    findings: list[Finding] = field(default_factory=list)
    evidence: str = ""  # folder, relative to the run folder
    rules: list[str] = field(default_factory=list)  # the rule ids it evaluated, passed or not (drimva.evaluated)

    @property
    def key(self) -> str:
        return f"{self.feature}::{self.name}"

    @property
    def id(self) -> str:
        """The stable id of its ``@id:`` tag (:mod:`drimva.scenario_ids`)."""
        return scenario_id(self.tags)

    @property
    def va_items(self) -> list[str]:
        return [tag for tag in self.tags if tag in VA_BY_ID]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.id,
            "feature": self.feature,
            "name": self.name,
            "tags": list(self.tags),
            "outcome": self.outcome.value,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "evidence": self.evidence,
            "findings": [f.to_dict() for f in self.findings],
            "rules": list(self.rules),
        }


def build_results(
    *,
    run_id: str,
    scenarios: list[ScenarioResult],
    profile_source: str,
    sut_name: str,
    fault: str | None,
    started: datetime,
    finished: datetime,
    item_table: Sequence[VaItem] = VA_ITEMS,
    kind: str = "drimbox",
    interrupted_by: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """``item_table``: the checklist the run reports on (the VA items of a DRIMbox, or the RIS items);
    ``interrupted_by``: the signal that stopped the run (``"SIGINT"``, ``"SIGTERM"``), None when it ran to its end."""
    items = []
    for va in item_table:
        mine = [s for s in scenarios if va.id in s.tags]
        outcome = aggregate(s.outcome for s in mine)
        items.append(
            {
                "id": va.id,
                "label": va.label,
                "outcome": outcome.value,
                "message": "" if mine else "aucun scénario de cette version de drimva ne couvre cet item",
                "scenarios": [s.to_dict() for s in mine],
            }
        )
    counts: dict[str, int] = {}
    for scenario in scenarios:
        counts[scenario.outcome.value] = counts.get(scenario.outcome.value, 0) + 1
    return {
        "run_id": run_id,
        "drimva": {"version": version(), "commit": commit()},
        "kind": kind,
        "sut": sut_name,
        "profile": profile_source,
        "fault": fault,
        "interrupted": interrupted_by is not None,
        "signal": interrupted_by,
        "variant": variant,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "duration_s": round((finished - started).total_seconds(), 3),
        "scenario_counts": counts,
        "items": items,
        "scenarios": [s.to_dict() for s in scenarios],
    }


def write_results(run_dir: Path, results: dict[str, Any]) -> Path:
    path = run_dir / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False), "utf-8")

    write_html_report(run_dir, results)
    return path


def load_results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / RESULTS_FILE).read_text("utf-8"))


def exit_code(results: dict[str, Any]) -> int:
    """0 when no scenario failed or errored; 1 when the SUT failed; 3 on a harness error;
    128 + the signal's number when the run was interrupted (130 SIGINT, 143 SIGTERM), whatever the outcomes."""
    if results.get("interrupted"):
        return signal_exit_code(signal.Signals[results.get("signal") or "SIGINT"])
    counts = results.get("scenario_counts", {})
    if counts.get(Outcome.FAILED.value):
        return 1
    if counts.get(Outcome.ERROR.value):
        return 3
    if not results.get("scenarios"):
        return 3
    return 0


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The final summary of a run on the console, in French (:mod:`drimva.console`'s words and shortening).

    The counts are ``scenario_counts``: those of ``results.json``, ``junit.xml`` and the report."""
    from drimva.console import counts_text, outcome_word, scenario_detail, seconds_text

    head = f"drimva {_build_of(results)} — {results['sut']} — exécution {results['run_id']} ({seconds_text(results['duration_s'])})"
    if results.get("fault"):
        head += f" — défaut {results['fault']}"
    if results.get("variant"):
        head += f" — variante {results['variant']}"
    lines = [head]
    for item in results["items"]:
        count = len(item["scenarios"])
        lines.append(f"  {item['id']:<6} {outcome_word(item['outcome']):<15} {count:>2} scénario(s)  {item['label']}")
        for scenario in item["scenarios"]:
            detail = scenario_detail(scenario, shown=1)
            if detail:
                lines.append(f"           - {outcome_word(scenario['outcome'])} : {scenario['name']}")
                lines += [f"             {text}" for text in detail]
    lines.append(f"  scénarios : {counts_text(results['scenario_counts'])}")
    if results.get("interrupted"):
        lines.append(
            f"  INTERROMPU par {results['signal']} : les résultats sont partiels ; les preuves recueillies jusque-là sont conservées"
        )
    preflight = results.get("preflight") or {}
    for failure in preflight.get("failed") or ():
        lines.append(f"  pré-vol : {reason_fr(str(failure))}")
    return lines


def _build_of(results: dict[str, Any]) -> str:
    build = results.get("drimva") or {}
    return f"{build.get('version', '?')} (commit {build.get('commit', '?')})"

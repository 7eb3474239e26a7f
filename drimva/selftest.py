"""The self-test: every scenario must pass on the reference DRIMbox and fail on a fault of it.

Runs ``drimva run`` once against the faultless embedded reference, once with
every conformant variant of it on (every scenario; when that run does not
pass, once per variant, to name the one at fault; a variant whose profile makes
a scenario not applicable always alone, and that scenario may be
``not_applicable`` there) and once per named fault (the
scenarios it targets, ``--scenario``: ``killed_by`` lists the targets a fault
kills, not what else it would break), and ``drimva ris`` once
against the faultless embedded RIS simulator and once per RIS fault
(separate processes, ``jobs`` at a time; RIS faults are named ``ris:<fault>``
in the matrix), then builds the kill matrix ``{"scenarios":
{"<feature>::<scenario>": {"reference": outcome, "killed_by": [fault, ...]}},
"variants": {"<variant>": {"passed": [...], "failed": [...], ...}}}``. It
fails when a scenario does not pass on the reference or on a variant (a
variant is a behaviour the sources allow: failing it is a false fail of the
harness), when a scenario is killed by no fault, when a fault does not kill
a scenario it declares as its target, or when any run ends in ``error``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from drimva.coverage import VARIANTS_FILE
from drimva.runs import FAULTS_CHECKED, UsageError, new_run_id
from drimva.results import RESULTS_FILE
from drimva.scenario_ids import scenario_id
from fixtures.embedded import list_faults, list_variants
from fixtures.ris_process import list_ris_faults

REFERENCE = "reference"
# (matrix key, run folder, fault given to the SUT, subcommand, variant, scenario ids: empty = all)
PlannedRun = tuple[str, Path, str | None, str, str | None, tuple[str, ...]]
RIS_PREFIX = "ris:"
VARIANT_PREFIX = "variant:"
COMBINED = VARIANT_PREFIX + "*"  # every variant on at once: one run instead of one per variant


def combined_variant_runs(
    runs: dict[str, dict[str, Any] | str], variants: list[dict[str, Any]], reference_key: str = REFERENCE
) -> tuple[dict[str, dict[str, Any] | str], list[str]]:
    """Each variant's run taken from the run with every variant on, when that run passed all the reference's scenarios.

    Returns the runs keyed ``variant:<name>`` (empty when the combined run did not pass: then each variant must run
    alone, so that a false fail is charged to the variant that caused it) and the names still to run alone. Every
    variant reads a different point of the sources (``simulators/reference/variants.py``), so a combined run that
    passes shows each of them judged conformant.
    """
    names = [variant["name"] for variant in variants]
    combined, reference = runs.get(COMBINED), runs.get(reference_key)
    if len(names) < 2 or not isinstance(combined, dict) or not isinstance(reference, dict):
        return {}, names
    outcomes = {s["key"]: s["outcome"] for s in combined["scenarios"]}
    if any(outcomes.get(s["key"]) != "passed" for s in reference["scenarios"]):
        return {}, names
    return {VARIANT_PREFIX + name: combined for name in names}, []


def combinable(variants: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The variants that run together, and those that run alone: a variant whose profile makes a scenario not
    applicable (``Variant.not_applicable``) would take that scenario away from every other variant of the run."""
    apart = [variant for variant in variants if variant.get("not_applicable")]
    return [variant for variant in variants if variant not in apart], apart


def _as_expected(scenario: dict[str, Any], not_applicable: set[str]) -> bool:
    """Passed, or not applicable where a variant's profile says the scenario does not apply to it."""
    if scenario["outcome"] == "passed":
        return True
    return scenario["outcome"] == "not_applicable" and bool(not_applicable & set(scenario.get("tags", ())))


def _run_one(
    run_dir: Path, fault: str | None, timeout_s: float, subcommand: str = "run", variant: str | None = None,
    scenarios: tuple[str, ...] = (),
) -> dict[str, Any] | str:
    """One run; ``scenarios``: only those scenario ids (a DRIMbox fault's targets)."""
    command = [sys.executable, "-P", "-m", "drimva", subcommand, "--run-dir", str(run_dir), "--quiet"]
    for target in scenarios:
        command += ["--scenario", target]
    if fault:
        command += ["--fault", fault]
    if variant:
        command += ["--variant", variant]
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            command, cwd=run_dir, capture_output=True, text=True, timeout=timeout_s, check=False,
            env={**os.environ, FAULTS_CHECKED: "1"},  # checked by run_selftest: no listing process per run
        )
    except subprocess.TimeoutExpired:
        return f"run timed out after {timeout_s} s"
    (run_dir / "console.log").write_text(done.stdout + done.stderr, "utf-8")
    results = run_dir / RESULTS_FILE
    if not results.exists():
        return f"no results (exit {done.returncode}): {(done.stdout + done.stderr)[-800:]}"
    return json.loads(results.read_text("utf-8"))


def kill_matrix(
    runs: dict[str, dict[str, Any] | str], faults: list[dict[str, Any]], reference_key: str = REFERENCE,
    *, every_fault: bool = True,
) -> tuple[dict[str, Any], list[str]]:
    """The kill matrix and the problems it shows (``runs`` keyed by ``reference_key`` and fault names).

    ``every_fault``: ``faults`` are all the faults, so a scenario none kills is a problem (a partial
    matrix, ``selftest --only``, cannot tell)."""
    problems: list[str] = []
    for target, run in runs.items():
        if isinstance(run, str):
            problems.append(f"{target}: {run}")
    reference = runs.get(reference_key)
    scenarios: dict[str, dict[str, Any]] = {}
    by_id: dict[str, str] = {}  # a fault names its targets by stable scenario id (drimva.scenario_ids)
    if isinstance(reference, dict):
        for scenario in reference["scenarios"]:
            scenarios[scenario["key"]] = {"reference": scenario["outcome"], "killed_by": []}
            stable = scenario.get("id") or scenario_id(scenario.get("tags", ()))
            if stable:
                by_id[stable] = scenario["key"]
                scenarios[scenario["key"]]["id"] = stable
            if scenario["outcome"] != "passed":
                problems.append(
                    f"{scenario['key']}: {scenario['outcome']} on the faultless reference: {scenario['message'][:300]}"
                )
    fault_report: dict[str, Any] = {}
    for fault in faults:
        name = fault["name"]
        fault_run = runs.get(name)
        outcomes = (
            {s["key"]: s["outcome"] for s in fault_run["scenarios"]} if isinstance(fault_run, dict) else {}
        )
        killed = sorted(key for key, outcome in outcomes.items() if outcome == "failed")
        errored = sorted(key for key, outcome in outcomes.items() if outcome == "error")
        targets = [by_id.get(t, t) for t in fault["targets"]]
        missed = [t for t in targets if t not in killed]
        for key in killed:
            scenarios.setdefault(key, {"reference": "absent", "killed_by": []})["killed_by"].append(name)
        for key in missed:
            problems.append(f"fault {name} does not make its target fail: {key} ({outcomes.get(key, 'not run')})")
        expected_rules = set(fault.get("rules") or ())
        for key in (t for t in targets if t in killed) if expected_rules else ():
            seen_rules = _error_rules(fault_run, key)
            if not seen_rules & expected_rules:
                problems.append(
                    f"fault {name} fails {key} through {sorted(seen_rules) or 'no error finding'}, not through its rules "
                    f"{sorted(expected_rules)}"
                )
        for key in errored:
            problems.append(f"fault {name}: {key} ended in error, not failed")
        fault_report[name] = {
            "description": fault.get("description", ""),
            "targets": targets,
            "rules": sorted(expected_rules),
            "killed": killed,
        }
    for key, row in scenarios.items():
        if every_fault and not row["killed_by"]:
            problems.append(f"{key}: no fault makes this scenario fail")
    return {"scenarios": scenarios, "faults": fault_report, "problems": problems}, problems


def _error_rules(run: dict[str, Any] | str | None, key: str) -> set[str]:
    """The rule ids of the error findings of scenario ``key`` in ``run``."""
    if not isinstance(run, dict):
        return set()
    for scenario in run.get("scenarios", []):
        if scenario["key"] == key:
            return {f["rule"] for f in scenario.get("findings", []) if f.get("severity") == "error" and f.get("rule")}
    return set()


def variant_report(
    runs: dict[str, dict[str, Any] | str], variants: list[dict[str, Any]], reference_key: str = REFERENCE
) -> tuple[dict[str, Any], list[str]]:
    """Per variant (``runs`` keyed ``variant:<name>``), which scenarios passed and which did not; and the problems:
    every scenario of the reference run must pass with every variant too, except the ones a variant's profile makes
    not applicable (its ``not_applicable`` tags; such a variant runs alone, see :func:`combinable`)."""
    problems: list[str] = []
    reference = runs.get(reference_key)
    expected = [s["key"] for s in reference["scenarios"]] if isinstance(reference, dict) else []
    report: dict[str, Any] = {}
    for variant in variants:
        name = variant["name"]
        run = runs.get(VARIANT_PREFIX + name)
        if not isinstance(run, dict):
            problems.append(f"variant {name}: {run or 'not run'}")
            continue
        seen = {s["key"]: s for s in run["scenarios"]}
        allowed = set(variant.get("not_applicable", ()))
        passed = sorted(key for key, s in seen.items() if s["outcome"] == "passed")
        others = {key: s["outcome"] for key, s in sorted(seen.items()) if s["outcome"] != "passed"}
        problems += [
            f"variant {name}: {key}: {outcome} with a conformant variant (false fail): {seen[key]['message'][:300]}"
            for key, outcome in others.items()
            if not _as_expected(seen[key], allowed)
        ]
        problems += [f"variant {name}: {key} did not run" for key in expected if key not in seen]
        report[name] = {
            "description": variant.get("description", ""),
            "reading": variant.get("reading", ""),
            "passed": passed,
            "failed": sorted(key for key, outcome in others.items() if outcome == "failed"),
            "other": {key: outcome for key, outcome in others.items() if outcome != "failed"},
        }
    return report, problems


def merge_matrices(*parts: tuple[dict[str, Any], list[str]]) -> tuple[dict[str, Any], list[str]]:
    """One kill matrix from several (DRIMbox and RIS): scenario keys and fault names do not overlap."""
    merged: dict[str, Any] = {"scenarios": {}, "faults": {}, "problems": []}
    for matrix, _ in parts:
        for key in ("scenarios", "faults"):
            merged[key].update(matrix[key])
        merged["problems"] += matrix["problems"]
    return merged, merged["problems"]


def only(named: list[dict[str, Any]], names: set[str] | None) -> list[dict[str, Any]]:
    return named if names is None else [item for item in named if item["name"] in names]


def run_selftest(out: Path, jobs: int = 2, timeout_s: float = 600.0, names: set[str] | None = None) -> int:
    """The whole matrix, or with ``names`` (faults, ``ris:<fault>``, variants) the reference and those only."""
    started = time.monotonic()
    out = out.resolve()
    all_faults, all_variants = list_faults(), list_variants()
    all_ris_faults = [{**f, "name": RIS_PREFIX + f["name"]} for f in list_ris_faults()]
    unknown = sorted((names or set()) - {item["name"] for item in all_faults + all_variants + all_ris_faults})
    if unknown:
        known = ", ".join(item["name"] for item in all_faults + all_ris_faults + all_variants)
        raise UsageError(f"--only: unknown fault or variant {', '.join(unknown)}; known: {known}")
    faults, variants, ris_faults = only(all_faults, names), only(all_variants, names), only(all_ris_faults, names)
    base = out.parent / f"selftest-{new_run_id()}"
    # (matrix key, run folder, fault given to the SUT, subcommand, variant, scenarios); the variants first:
    # their runs are the longest (their grace periods are), so they do not end the self-test alone. The
    # reference and the variants run every scenario; a DRIMbox fault runs its targets only (what the
    # matrix asks of it is that it kills them: the whole suite per fault cost about 3 minutes more)
    drimbox = names is None or bool(faults or variants)  # --only ris:… runs no DRIMbox at all
    plan: list[PlannedRun] = [(REFERENCE, base / REFERENCE, None, "run", None, ())] if drimbox else []
    together, apart = combinable(variants)
    if len(together) > 1:
        plan.append((COMBINED, base / "variants-combined", None, "run", ",".join(v["name"] for v in together), ()))
    else:
        apart = together + apart
    plan += [(VARIANT_PREFIX + v["name"], base / f"variant-{v['name']}", None, "run", v["name"], ()) for v in apart]
    plan += [(f["name"], base / f["name"], f["name"], "run", None, tuple(f["targets"])) for f in faults]
    if names is None or ris_faults:
        plan.append((RIS_PREFIX + REFERENCE, base / f"ris-{REFERENCE}", None, "ris", None, ()))
    plan += [
        (f["name"], base / f"ris-{f['name'][len(RIS_PREFIX):]}", f["name"][len(RIS_PREFIX):], "ris", None, ())
        for f in ris_faults
    ]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            key: pool.submit(_run_one, folder, fault, timeout_s, command, variant, scenarios)
            for key, folder, fault, command, variant, scenarios in plan
        }
        runs = {name: future.result() for name, future in futures.items()}
        from_combined, alone = combined_variant_runs(runs, together) if COMBINED in runs else ({}, [])
        runs.update(from_combined)
        if alone:  # the combined run failed somewhere: which variant is to blame, each on its own
            print(f"drimva selftest: the combined variant run did not pass; running the {len(alone)} variants one by one")
            again = {name: pool.submit(_run_one, base / f"variant-{name}", None, timeout_s, "run", name) for name in alone}
            runs.update({VARIANT_PREFIX + name: future.result() for name, future in again.items()})
    if variants:  # what drimva coverage reads: the rule ids whose reading each variant exercises
        base.mkdir(parents=True, exist_ok=True)
        (base / VARIANTS_FILE).write_text(json.dumps(variants, ensure_ascii=False, indent=2), "utf-8")
    drimbox_runs = {k: v for k, v in runs.items() if not k.startswith((RIS_PREFIX, VARIANT_PREFIX))}
    if COMBINED in runs:
        matrix_note = "combined" if not alone else "combined run failed; each variant alone"
    else:
        matrix_note = "alone"
    ris_runs = {k: v for k, v in runs.items() if k.startswith(RIS_PREFIX)}
    every = names is None
    parts = [kill_matrix(drimbox_runs, faults, every_fault=every)] if drimbox else []
    if ris_runs:
        parts.append(kill_matrix(ris_runs, ris_faults, reference_key=RIS_PREFIX + REFERENCE, every_fault=every))
    matrix, problems = merge_matrices(*parts)
    if names is not None:
        matrix["partial"] = sorted(names)  # not every fault ran: whether every scenario is killed is not known
    matrix["variants"], variant_problems = variant_report(runs, variants)
    matrix["variant_runs"] = matrix_note
    problems = matrix["problems"] = problems + variant_problems
    faults = faults + ris_faults
    matrix["runs_dir"] = str(base)
    matrix["duration_s"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(matrix, indent=2, ensure_ascii=False), "utf-8")
    width = max((len(k) for k in matrix["scenarios"]), default=10)
    print(
        f"drimva selftest: {len(faults)} faults, {len(variants)} conformant variants, "
        f"{len(matrix['scenarios'])} scenarios, {matrix['duration_s']} s"
    )
    for key, row in sorted(matrix["scenarios"].items()):
        print(f"  {key:<{width}}  reference={row['reference']:<7} killed_by={','.join(row['killed_by']) or '-'}")
    for name, row in sorted(matrix["variants"].items()):
        not_passed = len(row["failed"]) + len(row["other"])
        print(f"  variant {name}: {len(row['passed'])} passed, {not_passed} not passed")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print(f"  kill matrix: {out}")
    return 1 if problems else 0

"""``drimva coverage``: per catalogue entry, its rule, the scenarios that exercise it, the faults that kill it.

Why: the kill matrix proves every scenario fails on some fault; it says nothing
of which requirement is judged. This lists, per VA item, every catalogue entry
with its rule (judged live, ``validate`` only or not judged, with the reason)
and, from a self-test folder (``reports/selftest-<id>/``):

- the scenarios that exercise it: those of the faultless reference runs
  (DRIMbox and RIS) whose ``rules`` (the rule ids each evaluated, passed or
  not, :mod:`drimva.evaluated`) hold its id, and those a fault failed through
  it (a rule that only words a failure, "nothing published in time", is not
  called when all goes well);
- the faults that kill it: whose run failed a scenario with an error finding
  of its id (RIS faults named ``ris:<fault>``, as in the kill matrix);
- the conformant variants that pass it: whose run passed every scenario that
  exercises it.

An entry stands out (``!``, *left over*) when it has no rule (``not_judged``),
or when a judged entry has no scenario or no killing fault and the catalogue
states no ``reason`` for it. Without a self-test folder only the rules are
known: a judged entry is not marked then.

Per entry too, the conformant variants that *name* its rule id
(``variants.json`` of the self-test folder: the other reading of it they
exercise) and whose run passed (``readings``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from drimva.rules.catalogue import Requirement, by_va_item, counts, entries

REFERENCE_RUNS = ("reference", "ris-reference")  # the faultless runs of a self-test folder
RULE_TEXT = {"judged": "jugée en direct", "validate_only": "validate seulement", "not_judged": "non jugée"}
VARIANTS_FILE = "variants.json"  # the self-test's variants, as --list-variants gives them


def coverage(catalogue: Mapping[str, Requirement] | None = None) -> dict[str, Any]:
    """The coverage table as plain data: entries per VA item, and the counts."""
    listed = entries() if catalogue is None else catalogue
    items = {
        item: [
            {"id": e.id, "status": e.status, "reason": e.reason, "text": e.text_fr, "source": e.source, "reference": e.reference}
            for e in group
        ]
        for item, group in by_va_item(listed).items()
    }
    unjudged = sorted(e.id for e in listed.values() if e.status != "judged")
    table: dict[str, Any] = {"counts": counts(listed), "unjudged": unjudged, "va_items": items}
    table["entries"] = {e.id: _entry_row(e, None) for e in listed.values()}
    table["counts"].update(tally(table["entries"]))
    return table


def _runs(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(run_dir.glob("*/results.json"))]


def _label(scenario: Mapping[str, Any]) -> str:
    return str(scenario.get("id") or scenario["key"])


def _evaluated(scenario: Mapping[str, Any]) -> set[str]:
    """The rule ids a scenario evaluated (``rules``; from an older results.json, the ids of its findings)."""
    return set(scenario.get("rules") or ()) | {f["rule"] for f in scenario.get("findings", []) if f.get("rule")}


def selftest_by_item(run_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Per VA item, from a self-test folder: its scenarios (the reference run's, by their VA tag),
    the faults that fail one of them, the variants that pass all of them."""
    reference = run_dir / "reference" / "results.json"
    if not reference.is_file():
        if (run_dir / "ris-reference" / "results.json").is_file():
            return {}  # ``selftest --only ris:…``: no DRIMbox run, and the RIS scenarios have no VA item
        raise FileNotFoundError(f"{run_dir}: no reference/results.json nor ris-reference/results.json (not a self-test run folder)")
    runs = [run for run in _runs(run_dir) if run.get("fault") or run.get("variant")]
    out: dict[str, dict[str, list[str]]] = {}
    for scenario in json.loads(reference.read_text("utf-8"))["scenarios"]:
        for item in (tag for tag in scenario["tags"] if tag.startswith("VA-")):
            out.setdefault(item, {"scenarios": [], "faults": [], "variants": []})["scenarios"].append(scenario["key"])
    not_applicable = _not_applicable_tags(run_dir)
    for item, row in out.items():
        mine = set(row["scenarios"])
        for run in runs:
            names = str(run.get("variant") or "").split(",")  # a combined run names every variant it had on
            allowed = {tag for name in names for tag in not_applicable.get(name, ())}
            seen = {s["key"]: _outcome(s, allowed) for s in run.get("scenarios", []) if s["key"] in mine}
            if run.get("fault") and "failed" in seen.values():
                row["faults"].append(str(run["fault"]))
            elif run.get("variant") and seen and set(seen.values()) == {"passed"} and set(seen) == mine:
                row["variants"] += names
        row["faults"].sort()
        row["variants"].sort()
    return dict(sorted(out.items()))


def _not_applicable_tags(run_dir: Path) -> dict[str, list[str]]:
    """Per variant of the self-test (``variants.json``), the tags of the scenarios its profile makes not applicable."""
    path = run_dir / VARIANTS_FILE
    variants = json.loads(path.read_text("utf-8")) if path.is_file() else []
    return {variant["name"]: list(variant.get("not_applicable", ())) for variant in variants}


def _outcome(scenario: Mapping[str, Any], not_applicable: set[str]) -> str:
    """The outcome, ``passed`` for a scenario not applicable where the variant says its profile makes it so."""
    if scenario["outcome"] == "not_applicable" and not_applicable & set(scenario.get("tags", ())):
        return "passed"
    return str(scenario["outcome"])


def selftest_by_entry(run_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Per rule id: ``scenarios`` that exercise it on the faultless references, ``killed_by`` (the faults whose
    run failed a scenario with an error finding of it), ``killed_in`` (those scenarios), ``variants`` that pass it."""
    runs = _runs(run_dir)
    out: dict[str, dict[str, set[str]]] = {}

    def row(rule: str) -> dict[str, set[str]]:
        return out.setdefault(rule, {"scenarios": set(), "keys": set(), "killed_by": set(), "killed_in": set(), "variants": set()})

    for name in REFERENCE_RUNS:
        path = run_dir / name / "results.json"
        for scenario in json.loads(path.read_text("utf-8"))["scenarios"] if path.is_file() else []:
            for rule in _evaluated(scenario):
                row(rule)["scenarios"].add(_label(scenario))
                row(rule)["keys"].add(scenario["key"])
    for run in runs:
        if not run.get("fault"):
            continue
        fault = f"ris:{run['fault']}" if run.get("kind") == "ris" else str(run["fault"])
        for scenario in run.get("scenarios", []):
            if scenario.get("outcome") != "failed":
                continue
            for finding in scenario.get("findings", []):
                if finding.get("severity") == "error" and finding.get("rule"):
                    row(finding["rule"])["killed_by"].add(fault)
                    row(finding["rule"])["killed_in"].add(_label(scenario))
                    # a rule that only builds the finding of a failure (nothing published in time, no answer)
                    # is not called on the faultless run: the scenario that failed through it exercises it
                    row(finding["rule"])["scenarios"].add(_label(scenario))
    for run in (r for r in runs if r.get("variant") and not r.get("fault")):
        outcomes = {s["key"]: s["outcome"] for s in run.get("scenarios", [])}
        for values in out.values():
            if values["keys"] and all(outcomes.get(key) == "passed" for key in values["keys"]):
                values["variants"].update(str(run["variant"]).split(","))
    return {
        rule: {key: sorted(v) for key, v in values.items() if key != "keys"} for rule, values in sorted(out.items())
    }


def _entry_row(entry: Requirement, seen: Mapping[str, list[str]] | None) -> dict[str, Any]:
    """One entry's line: its rule, what the self-test saw of it (``seen``: None without a self-test folder),
    and whether it is left over (``mark``) or covered by its stated ``reason``."""
    scenarios = list(seen.get("scenarios", [])) if seen else []
    killed_by = list(seen.get("killed_by", [])) if seen else []
    row: dict[str, Any] = {
        "status": entry.status, "reason": entry.reason, "severity": entry.severity,
        "scenarios": scenarios, "killed_by": killed_by,
        "killed_in": list(seen.get("killed_in", [])) if seen else [],
        "variants": list(seen.get("variants", [])) if seen else [],
    }
    if entry.status == "not_judged":
        missing = ["rule"]
    elif entry.status == "validate_only" or seen is None:
        missing = []
    else:
        missing = [what for what, have in (("scenario", scenarios), ("fault", killed_by)) if not have]
    row["missing"] = missing
    row["mark"] = entry.status == "not_judged" or bool(missing and not entry.reason)
    return row


def tally(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The figures of issue 11: entries with a rule, exercised live, killed by a fault, with a stated reason, left over."""
    return {
        "with_rule": sum(1 for r in rows.values() if r["status"] != "not_judged"),
        "exercised": sum(1 for r in rows.values() if r["scenarios"]),
        "killed": sum(1 for r in rows.values() if r["killed_by"]),
        "stated_reason": sum(1 for r in rows.values() if r["reason"] and (r["missing"] or r["status"] != "judged") and not r["mark"]),
        "left_over": sum(1 for r in rows.values() if r["mark"]),
    }


def with_selftest(table: dict[str, Any], folder: Path, catalogue: Mapping[str, Requirement] | None = None) -> dict[str, Any]:
    """``table`` with what the self-test folder saw: per VA item and per entry."""
    listed = entries() if catalogue is None else catalogue
    seen = selftest_by_entry(folder)
    table["selftest_dir"] = str(folder)
    table["selftest"] = selftest_by_item(folder)
    table["entries"] = {e.id: _entry_row(e, seen.get(e.id, {})) for e in listed.values()}
    for rule, names in selftest_variants_by_entry(folder).items():
        if rule in table["entries"]:
            table["entries"][rule]["readings"] = names
    table["counts"].update(tally(table["entries"]))
    table["left_over"] = sorted(rule for rule, row in table["entries"].items() if row["mark"])
    return table


def selftest_variants_by_entry(run_dir: Path) -> dict[str, list[str]]:
    """Per rule id: the variants that name it (``rules``) and whose run passed every scenario (or left one
    ``not_applicable`` where the variant says its profile does). A variant's own run counts over the combined one."""
    path = run_dir / VARIANTS_FILE
    if not path.is_file():
        return {}
    runs: dict[str, dict[str, Any]] = {}
    for results in sorted(run_dir.glob("*/results.json")):
        run = json.loads(results.read_text("utf-8"))
        for name in str(run.get("variant") or "").split(","):
            if name and (name not in runs or results.parent.name == f"variant-{name}"):
                runs[name] = run
    out: dict[str, list[str]] = {}
    for variant in json.loads(path.read_text("utf-8")):
        run, allowed = runs.get(variant["name"]), set(variant.get("not_applicable", ()))
        scenarios = run.get("scenarios", []) if run else []
        if scenarios and all(_outcome(s, allowed) == "passed" for s in scenarios):
            for rule in variant.get("rules", ()):
                out.setdefault(rule, []).append(variant["name"])
    return {rule: sorted(names) for rule, names in sorted(out.items())}


def latest_selftest(reports: Path) -> Path | None:
    """The newest ``selftest-*`` folder under ``reports`` that has a reference run, or None."""
    folders = sorted(p for p in reports.glob("selftest-*") if (p / "reference" / "results.json").is_file())
    return folders[-1] if folders else None


def entry_line(entry_id: str, row: Mapping[str, Any], selftest: bool) -> str:
    """One entry in French: ``! ID — règle · scénarios · fautes · variantes`` (those three from a self-test folder)."""
    mark = "! " if row["mark"] else "  "
    parts = [RULE_TEXT[row["status"]] + (f" ({row['reason']})" if row["reason"] else "")]
    if selftest and row["status"] != "not_judged":
        parts.append(f"scénarios : {', '.join(row['scenarios'])}" if row["scenarios"] else "aucun scénario")
        parts.append(f"tuée par {', '.join(row['killed_by'])}" if row["killed_by"] else "aucune faute ne la met en défaut")
        if row["variants"]:
            parts.append(f"variantes conformes : {len(row['variants'])}")
        if row.get("readings"):
            parts.append(f"autre lecture passée par {', '.join(row['readings'])}")
    return f"  {mark}{entry_id} — " + " · ".join(parts)


def render(table: Mapping[str, Any]) -> str:
    """The console form (French, like the rest of the console)."""
    lines: list[str] = []
    runs = table.get("selftest", {})
    rows = table["entries"]
    for item, group in table["va_items"].items():
        lines.append(f"{item} — {len(group)} exigence(s)")
        if table.get("selftest_dir"):
            row = runs.get(item, {"scenarios": [], "faults": [], "variants": []})
            mark = "! " if not row["scenarios"] or not row["faults"] else ""
            lines.append(
                f"  {mark}{len(row['scenarios'])} scénario(s), tués par {', '.join(row['faults']) or 'aucune faute'}, "
                f"variantes conformes : {', '.join(row['variants']) or 'aucune'}"
            )
        lines += [entry_line(entry["id"], rows[entry["id"]], bool(table.get("selftest_dir"))) for entry in group]
    c = table["counts"]
    lines.append(
        f"{c['entries']} exigences : {c['with_rule']} avec une règle ({c['judged']} jugées en direct, "
        f"{c['validate_only']} par validate seulement), {c['not_judged']} sans règle"
    )
    if table.get("selftest_dir"):
        lines.append(
            f"  auto-test {table['selftest_dir']} : {c['exercised']} exercées par un scénario, {c['killed']} tuées par une faute, "
            f"{c['stated_reason']} avec une raison donnée, {c['left_over']} restantes (marquées !)"
        )
    else:
        lines.append(f"  {c['left_over']} restantes (marquées !) ; sans dossier d'auto-test, scénarios et fautes inconnus")
    return "\n".join(lines)


def run_coverage(
    *, as_json: bool = False, selftest: Path | None = None, reports: Path = Path("reports"), html: Path | None = None,
    page: Callable[[Mapping[str, Any]], str] | None = None,
) -> int:
    """Print the coverage; exit 1 when some entry is left over (marked ``!``), so CI sees it; 2 for a folder that is
    not a self-test's. ``html``: also write there the ``page`` of the table (:func:`drimva.report.coverage_html.coverage_page`, which
    imports this module: the caller hands it in)."""
    table = coverage()
    folder = selftest if selftest is not None else latest_selftest(reports)
    if folder is not None:
        try:
            with_selftest(table, folder)
        except FileNotFoundError as error:
            print(f"drimva coverage: {error}", file=sys.stderr)
            return 2
    table.setdefault("left_over", sorted(rule for rule, row in table["entries"].items() if row["mark"]))
    print(json.dumps(table, ensure_ascii=False, indent=2) if as_json else render(table))
    if html is not None and page is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(page(table), "utf-8")
        print(f"couverture : {html}", file=sys.stderr if as_json else sys.stdout)
    return 1 if table["left_over"] else 0

"""``drimva coverage``: the requirements catalogue per VA item, the unjudged ones marked.

Why: the kill matrix proves every scenario fails on some fault; it says nothing
of which requirement is judged. This lists, per VA item, every catalogue entry
with its status, and counts the entries no rule judges live (marked ``!``).
From a self-test folder it adds, per VA item, the scenarios, the faults that
fail one of them and the variants that pass them all; and per entry, the
faults whose run failed a scenario with an error finding of that entry's rule
id (the entry is judged live and a fault of the reference breaks it), the
scenarios where that happened. A judged entry that no fault breaks is marked
``!``: its rule is never seen failing live, only in unit tests. Per entry too,
the conformant variants that name its rule id (``variants.json`` of the
self-test folder: the reading of it they exercise) and whose run passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from drimva.rules.catalogue import Requirement, by_va_item, counts, entries

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
    return {"counts": counts(listed), "unjudged": unjudged, "va_items": items}


def selftest_by_item(run_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Per VA item, from a self-test folder (``reports/selftest-<id>/``): its scenarios (the
    reference run's, by their VA tag), the faults that fail one of them, the variants that pass
    all of them. Per item, not per entry, until results.json records the rule ids each scenario
    evaluates."""
    reference = run_dir / "reference" / "results.json"
    if not reference.is_file():
        raise FileNotFoundError(f"{run_dir}: no reference/results.json (not a self-test run folder)")
    runs = [json.loads(p.read_text("utf-8")) for p in sorted(run_dir.glob("*/results.json")) if p != reference]
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
    """Per rule id: the faults whose run failed a scenario with an error finding of that rule, and those scenarios."""
    out: dict[str, dict[str, set[str]]] = {}
    for path in sorted(run_dir.glob("*/results.json")):
        run = json.loads(path.read_text("utf-8"))
        fault = run.get("fault")
        if not fault:
            continue
        for scenario in run.get("scenarios", []):
            if scenario.get("outcome") != "failed":
                continue
            for finding in scenario.get("findings", []):
                if finding.get("severity") == "error" and finding.get("rule"):
                    row = out.setdefault(finding["rule"], {"killed_by": set(), "scenarios": set()})
                    row["killed_by"].add(str(fault))
                    row["scenarios"].add(scenario["key"])
    return {rule: {key: sorted(values) for key, values in row.items()} for rule, row in sorted(out.items())}


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


def render(table: Mapping[str, Any]) -> str:
    """The console form (French, like the rest of the console)."""
    lines: list[str] = []
    runs = table.get("selftest", {})
    for item, group in table["va_items"].items():
        lines.append(f"{item} — {len(group)} exigence(s)")
        if table.get("selftest_dir"):
            row = runs.get(item, {"scenarios": [], "faults": [], "variants": []})
            mark = "! " if not row["scenarios"] or not row["faults"] else ""
            lines.append(
                f"  {mark}{len(row['scenarios'])} scénario(s), tués par {', '.join(row['faults']) or 'aucune faute'}, "
                f"variantes conformes : {', '.join(row['variants']) or 'aucune'}"
            )
        for entry in group:
            mark = "  " if entry["status"] == "judged" else "! "
            why = f" [{entry['status']}: {entry['reason']}]" if entry["status"] != "judged" else ""
            if table.get("selftest_dir") and entry["status"] == "judged":
                killers = table.get("entries", {}).get(entry["id"], {}).get("killed_by", [])
                mark = "  " if killers else "! "
                why = f" — tuée par {', '.join(killers)}" if killers else " — aucune faute ne la met en défaut en direct"
                variants = table.get("entries", {}).get(entry["id"], {}).get("variants", [])
                why += f" ; passe avec les variantes {', '.join(variants)}" if variants else ""
            lines.append(f"  {mark}{entry['id']}{why}")
    c = table["counts"]
    lines.append(
        f"{c['entries']} exigences : {c['judged']} jugées, {c['validate_only']} par validate seulement, "
        f"{c['not_judged']} non jugées (marquées !)"
    )
    if table.get("selftest_dir"):
        judged = [e["id"] for group in table["va_items"].values() for e in group if e["status"] == "judged"]
        killed = sorted({i for i in judged if table.get("entries", {}).get(i, {}).get("killed_by")})
        lines.append(f"  dont {len(killed)} mises en défaut en direct par une faute, {len(set(judged)) - len(killed)} jamais (marquées !)")
    return "\n".join(lines)


def run_coverage(*, as_json: bool = False, selftest: Path | None = None, reports: Path = Path("reports")) -> int:
    """Print the coverage; exit 1 when some entry is not judged live, so CI sees it."""
    table = coverage()
    folder = selftest if selftest is not None else latest_selftest(reports)
    if folder is not None:
        table["selftest_dir"] = str(folder)
        table["selftest"] = selftest_by_item(folder)
        table["entries"] = selftest_by_entry(folder)
        for rule, names in selftest_variants_by_entry(folder).items():
            table["entries"].setdefault(rule, {"killed_by": [], "scenarios": []})["variants"] = names
    print(json.dumps(table, ensure_ascii=False, indent=2) if as_json else render(table))
    return 1 if table["unjudged"] else 0

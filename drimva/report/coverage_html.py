"""The coverage of the requirements catalogue in HTML (French): per VA item its counts and, from a self-test
folder, one row per entry (rule, scenarios, faults that kill it, conformant variants); left-over entries marked.

Two uses: the section "Couverture des exigences" of the VA report (:func:`run_counts_section`: per VA item, the
catalogue entries and those the run's scenarios evaluated) and ``drimva coverage --html FILE`` (:func:`coverage_page`,
from :func:`drimva.coverage.coverage`'s table).
"""

from __future__ import annotations

import html
from typing import Any, Mapping

from drimva.coverage import RULE_TEXT, tally
from drimva.rules.catalogue import by_va_item

esc = html.escape


def item_counts(table: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per VA item: entries, with a rule, exercised by a scenario, killed by a fault, with a stated reason, left over."""
    rows = table["entries"]
    return {
        item: {"entries": len(group), **tally({entry["id"]: rows[entry["id"]] for entry in group})}
        for item, group in table["va_items"].items()
    }


def _counts_table(counts: Mapping[str, Mapping[str, int]]) -> str:
    head = (
        "<tr><th>item</th><th>exigences</th><th>avec une règle</th><th>exercées</th><th>tuées par une faute</th>"
        "<th>raison donnée</th><th>restantes</th></tr>"
    )
    body = "".join(
        f"<tr class='{'failed' if c['left_over'] else 'passed'}'><td>{esc(item)}</td><td>{c['entries']}</td>"
        f"<td>{c['with_rule']}</td><td>{c['exercised']}</td><td>{c['killed']}</td><td>{c['stated_reason']}</td>"
        f"<td>{c['left_over']}</td></tr>"
        for item, c in counts.items()
    )
    return f"<table>{head}{body}</table>"


def coverage_page(table: Mapping[str, Any]) -> str:
    """A standalone page: the counts per VA item, then every entry of every item."""
    rows = table["entries"]
    sections = []
    for item, group in table["va_items"].items():
        lines = []
        for entry in group:
            row = rows[entry["id"]]
            rule = RULE_TEXT[row["status"]] + (f" — {row['reason']}" if row["reason"] else "")
            lines.append(
                f"<tr class='{'failed' if row['mark'] else 'passed'}'><td>{'! ' if row['mark'] else ''}<code>{esc(entry['id'])}</code>"
                f"<br>{esc(entry['text'])}</td><td>{esc(rule)}</td><td>{esc(', '.join(row['scenarios']) or '—')}</td>"
                f"<td>{esc(', '.join(row['killed_by']) or '—')}</td><td>{esc(', '.join(row['variants']) or '—')}</td></tr>"
            )
        sections.append(
            f"<h2>{esc(item)}</h2><table><colgroup><col style='width:38%'><col style='width:20%'><col><col><col></colgroup>"
            "<tr><th>exigence</th><th>règle</th><th>scénarios</th><th>fautes qui la tuent</th><th>variantes conformes</th></tr>"
            + "".join(lines) + "</table>"
        )
    c = table["counts"]
    where = f"auto-test <code>{esc(str(table['selftest_dir']))}</code>" if table.get("selftest_dir") else "sans dossier d'auto-test"
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Couverture des exigences drimva</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}}th{{background:#eef}}
.passed{{background:#dff5df}}.failed{{background:#fbdcdc}}</style></head><body>
<h1>Couverture du catalogue des exigences</h1>
<p>{where} : {c['entries']} exigences, {c['with_rule']} avec une règle, {c['exercised']} exercées par un scénario,
{c['killed']} tuées par une faute, {c['stated_reason']} avec une raison donnée, {c['left_over']} restantes (marquées !).</p>
{_counts_table(item_counts(table))}
{''.join(sections)}
</body></html>
"""


def run_counts_section(results: Mapping[str, Any]) -> str:
    """The VA report's section: per VA item of the run, the catalogue's entries, those with a rule, those the run's
    scenarios evaluated (their ``rules``, passed or not)."""
    evaluated: dict[str, set[str]] = {}
    for scenario in results.get("scenarios", []):
        for tag in scenario.get("tags", []):
            evaluated.setdefault(tag, set()).update(scenario.get("rules") or ())
    catalogue = by_va_item()
    rows = []
    for item in results.get("items", []):
        group = catalogue.get(item["id"], [])
        if not group:
            continue
        ran = evaluated.get(item["id"], set())
        with_rule = sum(1 for e in group if e.status != "not_judged")
        rows.append(
            f"<tr><td>{esc(item['id'])}</td><td>{len(group)}</td><td>{with_rule}</td>"
            f"<td>{sum(1 for e in group if e.id in ran)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h2>Couverture des exigences</h2><p>Par item, les exigences du catalogue de drimva, celles qu'une règle juge, "
        "et celles que les scénarios de cette exécution ont évaluées (réussies ou non). <code>drimva coverage</code> "
        "détaille chaque exigence, les scénarios qui l'exercent et les fautes qui la mettent en défaut.</p>"
        "<table><tr><th>item</th><th>exigences</th><th>avec une règle</th><th>évaluées dans cette exécution</th></tr>"
        + "".join(rows) + "</table>"
    )

"""``drimva coverage``: the requirements catalogue per VA item, the unjudged ones marked.

Why: the kill matrix proves every scenario fails on some fault; it says nothing
of which requirement is judged. This lists, per VA item, every catalogue entry
with its status, and counts the entries no rule judges live (marked ``!``).
The scenario and fault columns (issue 11 §5) wait on results.json recording the
rule ids each scenario evaluates (issue 11 §4).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from drimva.rules.catalogue import Requirement, by_va_item, counts, entries


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


def render(table: Mapping[str, Any]) -> str:
    """The console form (French, like the rest of the console)."""
    lines: list[str] = []
    for item, group in table["va_items"].items():
        lines.append(f"{item} — {len(group)} exigence(s)")
        for entry in group:
            mark = "  " if entry["status"] == "judged" else "! "
            why = f" [{entry['status']}: {entry['reason']}]" if entry["status"] != "judged" else ""
            lines.append(f"  {mark}{entry['id']}{why}")
    c = table["counts"]
    lines.append(
        f"{c['entries']} exigences : {c['judged']} jugées, {c['validate_only']} par validate seulement, "
        f"{c['not_judged']} non jugées (marquées !)"
    )
    return "\n".join(lines)


def run_coverage(*, as_json: bool = False) -> int:
    """Print the coverage; exit 1 when some entry is not judged live, so CI sees it."""
    table = coverage()
    print(json.dumps(table, ensure_ascii=False, indent=2) if as_json else render(table))
    return 1 if table["unjudged"] else 0

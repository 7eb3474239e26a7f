"""The requirements catalogue: one entry per requirement the harness judges, or should.

Why: ~160 rule ids used to carry their requirement prose inline, and nothing
listed them, so nobody could say which requirement was judged, by which
scenario, killed by which fault. The entries live in ``catalogue.toml`` beside
this module (read once); findings carry the id, the report and
``drimva coverage`` read the text and the VA items from here.

``source`` is the public clause (AF-IMG-DB-Va2 §…, CI-SIS volet …, IHE ITI TF-…,
HL7 v2.5 ch.…, DICOM PS3.…), never a file of ours; ``reference`` is our
``../shared/reference/<file>.md §n`` reading of it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

DATA = Path(__file__).with_name("catalogue.toml")
STATUSES = ("judged", "not_judged", "validate_only")
SEVERITIES = ("error", "warning", "info")


class CatalogueError(ValueError):
    """The catalogue data is malformed; the message names the entry and the key."""


@dataclass(frozen=True)
class Requirement:
    """One checkable requirement and where it comes from."""

    id: str  # the rule id findings carry, e.g. "KOS-EVIDENCE-COMPLETE"
    fr: str  # the requirement in French, for the report ("" while untranslated: ``text_fr`` falls back)
    en: str  # the requirement in English
    source: str  # public document and clause
    reference: str  # our ../shared/reference/<file>.md §n
    va_items: tuple[str, ...]  # e.g. ("VA-B3",)
    severity: str = "error"  # default severity of a failure
    setting: str | None = None  # the profile ``rules.*`` key that changes its reading, if any
    status: str = "judged"  # judged / not_judged / validate_only
    reason: str = ""  # why not judged live (required unless status is "judged")
    module: str = ""  # the drimva.rules module that judges it ("" when not judged)

    @property
    def text_fr(self) -> str:
        """The French text for the report, the English one until it is translated."""
        return self.fr or self.en


def _entry(raw: Mapping[str, Any], index: int) -> Requirement:
    name = raw.get("id") or f"entry #{index + 1}"
    for key in ("id", "en", "source", "reference", "va_items"):
        if key not in raw:
            raise CatalogueError(f"catalogue {name}: missing key {key!r}")
    unknown = set(raw) - set(Requirement.__dataclass_fields__)
    if unknown:
        raise CatalogueError(f"catalogue {name}: unknown key(s) {sorted(unknown)}")
    status = raw.get("status", "judged")
    if status not in STATUSES:
        raise CatalogueError(f"catalogue {name}: status {status!r} not one of {STATUSES}")
    if status != "judged" and not raw.get("reason"):
        raise CatalogueError(f"catalogue {name}: status {status!r} needs a 'reason'")
    severity = raw.get("severity", "error")
    if severity not in SEVERITIES:
        raise CatalogueError(f"catalogue {name}: severity {severity!r} not one of {SEVERITIES}")
    items = raw["va_items"]
    if not isinstance(items, list) or not all(isinstance(i, str) and i.startswith("VA-") for i in items):
        raise CatalogueError(f"catalogue {name}: va_items must be a list of 'VA-…' strings")
    return Requirement(
        id=str(raw["id"]),
        fr=str(raw.get("fr", "")),
        en=str(raw["en"]),
        source=str(raw["source"]),
        reference=str(raw["reference"]),
        va_items=tuple(items),
        severity=severity,
        setting=raw.get("setting"),
        status=status,
        reason=str(raw.get("reason", "")),
        module=str(raw.get("module", "")),
    )


def parse(text: str) -> dict[str, Requirement]:
    """Entries by id from the TOML text; a duplicate id is an error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"catalogue: {error}") from error
    out: dict[str, Requirement] = {}
    for index, raw in enumerate(data.get("requirement", [])):
        entry = _entry(raw, index)
        if entry.id in out:
            raise CatalogueError(f"catalogue {entry.id}: duplicate id")
        out[entry.id] = entry
    return out


@lru_cache(maxsize=1)
def entries() -> dict[str, Requirement]:
    """Every catalogue entry, by id (read once)."""
    return parse(DATA.read_text(encoding="utf-8"))


def requirement(rule_id: str) -> Requirement | None:
    """The entry of ``rule_id``, or None when the catalogue does not list it."""
    return entries().get(rule_id)


def counts(catalogue: Mapping[str, Requirement] | None = None) -> dict[str, int]:
    """How many entries, and how many of each status (the figures issue 11 asks for)."""
    listed = entries() if catalogue is None else catalogue
    out = {"entries": len(listed)}
    for status in STATUSES:
        out[status] = sum(1 for e in listed.values() if e.status == status)
    return out


def by_va_item(catalogue: Mapping[str, Requirement] | None = None) -> dict[str, list[Requirement]]:
    """The entries of each VA item, sorted by item then id (what ``drimva coverage`` lists)."""
    listed = entries() if catalogue is None else catalogue
    out: dict[str, list[Requirement]] = {}
    for entry in sorted(listed.values(), key=lambda e: e.id):
        for item in entry.va_items:
            out.setdefault(item, []).append(entry)
    return dict(sorted(out.items()))

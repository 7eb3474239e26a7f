"""French texts of the report: requirement texts and public sources, never a file of ours.

:func:`requirement_fr` takes the French text and public source of the requirement
catalogue (``drimva.rules.catalogue``); for an entry not translated yet it falls back on
what the finding carries, with every reference to one of our protocol notes replaced by
the public document it summarises.
"""

from __future__ import annotations

import re

from drimva.rules import catalogue

# Our reference notes (../shared/reference/*.md) -> the public documents they summarise (their headers).
PUBLIC_SOURCES: dict[str, str] = {
    "cda-cr-imagerie.md": "CI-SIS modèle IMG-CR-IMG",
    "demonstrator-notes.md": "démonstrateur ANS DRIM-M (non normatif)",
    "dicom-query-retrieve.md": "DICOM PS3.4 (C.4, C.6)",
    "dicomweb-between-drimboxes.md": "DICOM PS3.18 (§8, §10.4)",
    "dmp-xds.md": "IHE ITI TF (XDS.b) et IHE RAD XDS-I.b",
    "hl7v2-ris-to-drimbox.md": "CI-SIS volet Transmission d'un document CDA-R2 en HL7v2",
    "kos-manifest.md": "DICOM PS3.3 (A.35.4, C.17.6) et AF-IMG-DB-Va2 §1.2",
    "trust-list-and-identity.md": "AF-IMG-DB-Va2 (espace de confiance)",
    "va-checklist.md": "AF-IMG-DB-Va2",
    "where-sources-disagree.md": "AF-IMG-DB-Va2 et CI-SIS (lecture retenue par le profil)",
    "README.md": "AF-IMG-DB-Va2",
}

_OUR_FILE = re.compile(r"`?([A-Za-z0-9_-]+\.md)`?(\s*§\s*[0-9.]+)?")

SEVERITY_FR = {"error": "erreur", "warning": "avertissement", "info": "information"}


def public_source(text: str) -> str:
    """``text`` with every name of one of our reference files replaced by the public document it summarises."""

    def replace(match: re.Match[str]) -> str:
        return PUBLIC_SOURCES.get(match.group(1), "documentation publique DRIM-M")

    return _OUR_FILE.sub(replace, text)


def _catalogue_text(rule_id: str) -> str | None:
    """The French text of ``rule_id`` in the requirement catalogue, with its public source; None when untranslated."""
    entry = catalogue.requirement(rule_id)
    if entry is None or not entry.fr:
        return None
    return f"{entry.fr} ({entry.source})" if entry.source else entry.fr


def requirement_fr(rule_id: str, fallback: str) -> str:
    """The requirement of ``rule_id`` in French, citing public documents only; ``fallback`` is the finding's text."""
    return public_source(_catalogue_text(rule_id) or fallback)


def severity_fr(severity: str) -> str:
    return SEVERITY_FR.get(severity, severity)

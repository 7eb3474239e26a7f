"""dciodvfy's verdict on a DICOM object as findings (the tool is run by :mod:`drimva.oracles.dciodvfy`). Pure.

One ERROR finding per dciodvfy error, one WARNING per warning, located at the
attribute path dciodvfy prints with ``-new``; a WARNING when the tool could not
run (not installed, timed out), so its absence is never silent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from drimva.findings import Finding, FindingList, Severity

RULE = "DCIODVFY"
_PATH = re.compile(r"^</([^>]*)>\s*-\s*(.*)$")
_COMPONENT = re.compile(r"\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)(?:\[(\d+)\])?$")


def oracle_findings(mode_label: str, *, errors: Sequence[str], warnings: Sequence[str], problem: str = "") -> list[Finding]:
    """One ERROR finding per dciodvfy error, one WARNING per warning; a WARNING when it could not run
    (``problem``: why, e.g. not installed or timed out; ``OracleResult`` of :mod:`drimva.oracles.dciodvfy` gives all three)."""
    findings = FindingList(source=f"dciodvfy {mode_label}")
    requirement = f"DICOM PS3.3 IOD conformance as checked by dciodvfy ({mode_label})"
    if problem:
        findings.add(RULE, requirement, "(file)", "dciodvfy verdict", f"not run: {problem}", Severity.WARNING)
        return findings.items
    for severity, messages in ((Severity.ERROR, errors), (Severity.WARNING, warnings)):
        for message in messages:
            location, text = split_location(message)
            findings.add(RULE, requirement, location, "no dciodvfy " + severity.value, text, severity)
    return findings.items


def split_location(message: str) -> tuple[str, str]:
    """``</A(0040,a375)[1]/B(0008,1115)[2]/C(0008,0054)> - text`` -> ``(0040,A375)[0]>(0008,1115)[1]>(0008,0054)``."""
    match = _PATH.match(message)
    if not match:
        return "(file)", message
    parts: list[str] = []
    components = match.group(1).split("/")
    for position, component in enumerate(components):
        tag = _COMPONENT.search(component)
        if tag is None:
            parts.append(component)
            continue
        text = f"({tag.group(1).upper()},{tag.group(2).upper()})"
        if tag.group(3) and position < len(components) - 1:  # item index of a sequence, 1-based
            text += f"[{int(tag.group(3)) - 1}]"
        parts.append(text)
    return ">".join(parts), match.group(2)

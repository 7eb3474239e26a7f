"""A finding as the tuple the rule unit tests compare whole: rule, location, expected, actual, severity."""

from __future__ import annotations

from typing import Iterable

from drimva.findings import Finding


def whole(findings: Iterable[Finding]) -> list[tuple[str, str, str, str, str]]:
    """Every finding as (rule, location, expected, actual, severity): a test asserts all of it at once."""
    return [(f.rule, f.location, f.expected, f.actual, f.severity.value) for f in findings]

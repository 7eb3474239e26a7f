"""Findings: what a rule says about an artefact.

A finding names the rule, the requirement it enforces, where in the artefact
it looked (HL7 field, DICOM path, XPath, HTTP header), what was expected and
what was found. Rules return lists of findings; they never raise for a
non-conformance and never print a stack trace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any, Iterable


class Severity(str, Enum):
    """How much a finding weighs on the outcome."""

    ERROR = "error"  # the artefact is non-conformant: the scenario fails
    WARNING = "warning"  # worth reporting; never fails a scenario unless strict mode
    INFO = "info"  # context, e.g. which variant of a tolerated form was used


@dataclass(frozen=True)
class Finding:
    rule: str  # rule id, e.g. "KOS-EVIDENCE-COMPLETE"
    requirement: str  # what the rule enforces and where it comes from
    location: str  # e.g. "(0040,A375)>(0008,1115)[2]", "PID-3", "/rim:ExtrinsicObject/@mimeType"
    expected: str
    actual: str
    severity: Severity = Severity.ERROR
    source: str = ""  # the artefact judged (file name, evidence path)
    note: str = ""  # e.g. "the ANS sample departs from the financing annex here"
    # The sequence numbers (``exchanges.jsonl``) of the recorded exchanges this finding judges; set by the
    # step's verdict when it records the findings (rules stay pure), empty for offline ``validate``.
    exchanges: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # A finding names its rule, requirement and location and says what was expected and
        # what was found (evidence first): a rule that passes something else has a defect,
        # refused here rather than shown as an empty column of the report.
        for name in ("rule", "requirement", "location", "expected", "actual"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"finding of rule {self.rule!r}: {name} must be a text, got {value!r}")
        if not all(isinstance(seq, int) and seq > 0 for seq in self.exchanges):
            raise TypeError(f"finding of rule {self.rule!r}: exchanges must be sequence numbers, got {self.exchanges!r}")
        if not self.rule.strip() or not self.location.strip():
            raise ValueError(f"finding of rule {self.rule!r}: the rule id and the location must not be empty")
        if not self.requirement.strip():
            object.__setattr__(self, "requirement", catalogue_text(self.rule))
        for name in ("expected", "actual"):
            if not getattr(self, name).strip():
                object.__setattr__(self, name, "(vide)")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["exchanges"] = list(self.exchanges)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        values = dict(data)
        values["severity"] = Severity(values.get("severity", "error"))
        values["exchanges"] = tuple(values.get("exchanges") or ())
        return cls(**values)

    def judging(self, exchanges: tuple[int, ...]) -> "Finding":
        """This finding tied to the recorded ``exchanges`` it judges, unless it names its own already."""
        return self if self.exchanges or not exchanges else replace(self, exchanges=exchanges)

    def describe(self) -> str:
        text = (
            f"[{self.severity.value}] {self.rule} at {self.location}: "
            f"expected {self.expected!s}, got {self.actual!s} ({self.requirement})"
        )
        if self.note:
            text += f" - {self.note}"
        return text


@dataclass
class FindingList:
    """A small helper for rules that accumulate findings."""

    source: str = ""
    items: list[Finding] = field(default_factory=list)

    def add(
        self,
        rule: str,
        requirement: str,
        location: str,
        expected: object,
        actual: object,
        severity: Severity = Severity.ERROR,
        note: str = "",
    ) -> None:
        self.items.append(
            Finding(
                rule=rule,
                requirement=requirement,
                location=location,
                expected=_expected_text(rule, expected),
                actual=_text(actual),
                severity=severity,
                source=self.source,
                note=note,
            )
        )

    def check_equal(
        self,
        rule: str,
        requirement: str,
        location: str,
        expected: object,
        actual: object,
        severity: Severity = Severity.ERROR,
        note: str = "",
    ) -> bool:
        """Add a finding when ``actual != expected``; return whether they matched."""
        if actual == expected:
            return True
        self.add(rule, requirement, location, expected, actual, severity, note)
        return False

    def extend(self, findings: Iterable[Finding]) -> None:
        self.items.extend(findings)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def catalogue_text(rule: str) -> str:
    """The requirement text of ``rule`` from the catalogue, for a rule that gives none inline."""
    from drimva.rules.catalogue import requirement  # late: the catalogue reads a data file once

    entry = requirement(rule)
    if entry is None:
        raise ValueError(f"rule {rule!r}: no requirement text given and no catalogue entry (drimva/rules/catalogue.toml)")
    return entry.en


def _expected_text(rule: str, value: object) -> str:
    """What a rule expected: never nothing (a rule that expects a field absent says so in words)."""
    if value is None:
        raise TypeError(f"finding of rule {rule!r}: the expected value is missing")
    return _text(value)


def _text(value: object) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        return "[" + ", ".join(str(v) for v in items) + "]"
    return str(value)


def errors(findings: Iterable[Finding], strict: bool = False) -> list[Finding]:
    """The findings that make an artefact non-conformant (warnings too in strict mode)."""
    blocking = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return [f for f in findings if f.severity in blocking]

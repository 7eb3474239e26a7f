"""A scenario's verdict: the findings its steps gathered, written to the evidence."""

from __future__ import annotations

from typing import Iterable, NoReturn

from drimva.evidence import EvidenceStore
from drimva.findings import Finding, Severity, errors
from drimva.outcomes import NonConformance


class Verdict:
    """Collects the findings of one scenario; a step calls :meth:`judge` after each check."""

    def __init__(self, evidence: EvidenceStore, strict: bool = False) -> None:
        self.evidence = evidence
        self.strict = strict
        self.findings: list[Finding] = []
        self.checks: list[dict[str, object]] = []

    def judge(self, check: str, findings: Iterable[Finding]) -> list[Finding]:
        """Record the findings of one check; raise :class:`NonConformance` when any is blocking."""
        found = list(findings)
        self.findings.extend(found)
        blocking = errors(found, strict=self.strict)
        self.checks.append(
            {
                "check": check,
                "outcome": "failed" if blocking else "passed",
                "findings": [f.to_dict() for f in found],
            }
        )
        self.evidence.write_json("findings.json", self.checks)
        if blocking:
            raise NonConformance(blocking, f"{check}: " + "; ".join(f.describe() for f in blocking[:3]))
        return found

    def fail(
        self,
        check: str,
        rule: str,
        requirement: str,
        location: str,
        expected: str,
        actual: str,
    ) -> NoReturn:
        """Record one blocking finding about the SUT's behaviour (e.g. nothing arrived in time)."""
        finding = Finding(rule, requirement, location, expected, actual, Severity.ERROR)
        self.judge(check, [finding])
        raise NonConformance([finding])  # not reached: judge() raised; keeps the type checker informed

    def note(self, check: str, findings: Iterable[Finding]) -> None:
        """Record findings that never fail the scenario (information, oracle output)."""
        found = list(findings)
        self.findings.extend(found)
        self.checks.append(
            {"check": check, "outcome": "noted", "findings": [f.to_dict() for f in found]}
        )
        self.evidence.write_json("findings.json", self.checks)

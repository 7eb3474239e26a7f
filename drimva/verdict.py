"""A scenario's verdict: the findings its steps gathered, written to the evidence."""

from __future__ import annotations

from typing import Iterable, NoReturn, Sequence

import pytest

from drimva.evidence import EvidenceStore
from drimva.findings import Finding, errors
from drimva.outcomes import NonConformance, Outcome, blocked_by, skip_reason


class Verdict:
    """Collects the findings of one scenario; a step calls :meth:`judge` after each check.

    ``exchanges``: the sequence numbers of the recorded exchanges the check judged (the artefacts the
    simulators recorded before the step read them); each finding that names none is tied to them, so
    the report links it to that evidence.
    """

    def __init__(self, evidence: EvidenceStore, strict: bool = False) -> None:
        self.evidence = evidence
        self.strict = strict
        self.findings: list[Finding] = []
        self.checks: list[dict[str, object]] = []
        self.evaluated: set[str] = set()  # rule ids evaluated outside the scenario's thread (drimva.evaluated)

    def judge(
        self, check: str, findings: Iterable[Finding], exchanges: Sequence[int] = (), evaluated: Iterable[str] = ()
    ) -> list[Finding]:
        """Record the findings of one check; raise :class:`NonConformance` when any is blocking.

        ``exchanges``: the sequence numbers of the exchanges the check judged (the findings link to them);
        ``evaluated``: the rule ids the check evaluated in another thread (a listener's judgement), passed or not."""
        found = _judging(findings, exchanges)
        self.findings.extend(found)
        self.evaluated.update(evaluated)
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

    def reject(self, check: str, finding: Finding, exchanges: Sequence[int] = (), also: Iterable[Finding] = ()) -> NoReturn:
        """Record ``finding`` (an error) and ``also`` (what the rules found in the exchanges) and fail the scenario."""
        found = [finding, *also]
        self.judge(check, found, exchanges)
        raise NonConformance(found)  # not reached: judge() raised; keeps the type checker informed

    def precondition(self, check: str, findings: Iterable[Finding], what: str, exchanges: Sequence[int] = ()) -> list[Finding]:
        """Judge a precondition that is not the scenario's subject (e.g. the ACK of the CR whose KOS it judges).

        Blocking findings end the scenario ``skipped``, "bloqué par : <what> (<rule>) — <actual>"
        (:meth:`blocked`); otherwise they are noted and returned.
        """
        found = _judging(findings, exchanges)
        blocking = errors(found, strict=self.strict)
        if blocking:
            self.blocked(check, what, blocking[0].rule, blocking[0].actual, found)
        self.note(check, found)
        return found

    def blocked(self, check: str, what: str, rule: str, detail: str = "", findings: Iterable[Finding] = ()) -> NoReturn:
        """End the scenario ``skipped``: ``what`` (checked by ``rule``) failed, so its subject cannot be judged.

        The findings of the failed precondition go to the evidence, not to the scenario's
        findings: the scenario whose subject they are reports them.
        """
        reason = blocked_by(what, rule, detail)
        self.checks.append({"check": check, "outcome": "blocked", "reason": reason, "findings": [f.to_dict() for f in findings]})
        self.evidence.write_json("findings.json", self.checks)
        pytest.skip(skip_reason(Outcome.SKIPPED, reason))

    def note(self, check: str, findings: Iterable[Finding], exchanges: Sequence[int] = ()) -> None:
        """Record findings that never fail the scenario (information, oracle output)."""
        found = _judging(findings, exchanges)
        self.findings.extend(found)
        self.checks.append(
            {"check": check, "outcome": "noted", "findings": [f.to_dict() for f in found]}
        )
        self.evidence.write_json("findings.json", self.checks)


def _judging(findings: Iterable[Finding], exchanges: Sequence[int]) -> list[Finding]:
    seqs = tuple(exchanges)
    return [finding.judging(seqs) for finding in findings]

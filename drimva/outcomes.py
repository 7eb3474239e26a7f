"""Outcome vocabulary of a scenario and of a VA item.

``passed``         the SUT did what the requirement asks
``failed``         the SUT is non-conformant (findings say where)
``error``          a harness or environment problem, not the SUT's fault
``skipped``        a precondition is missing (the reason says which)
``not_applicable`` the profile says the SUT does not claim this function
``deferred``       the client's RIS is not yet vague 2 (AF-IMG-DB-Va2 §4.4)
``manual``         needs a human attestation (the reason says what to check)
``interrupted``    the run was stopped (SIGINT, SIGTERM) while this scenario ran
``not_run``        selected but never started (the run was stopped before it,
                   or its VA item was left out of the selection)
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable

from drimva.findings import Finding


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    NOT_APPLICABLE = "not_applicable"
    DEFERRED = "deferred"
    MANUAL = "manual"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not_run"


# French labels for the VA report.
OUTCOME_LABELS_FR = {
    Outcome.PASSED: "conforme",
    Outcome.FAILED: "non conforme",
    Outcome.ERROR: "erreur du banc",
    Outcome.SKIPPED: "non exécuté",
    Outcome.NOT_APPLICABLE: "non applicable",
    Outcome.DEFERRED: "différé (RIS non vague 2)",
    Outcome.MANUAL: "attestation manuelle",
    Outcome.INTERRUPTED: "interrompu",
    Outcome.NOT_RUN: "non lancé",
}

# A skip reason that starts with one of these prefixes maps to that outcome.
_SKIP_PREFIXES = {
    f"{o.value}:": o
    for o in (Outcome.NOT_APPLICABLE, Outcome.DEFERRED, Outcome.MANUAL, Outcome.SKIPPED, Outcome.INTERRUPTED)
}


class NonConformance(AssertionError):
    """Raised by a step when the SUT's behaviour breaks a requirement."""

    def __init__(self, findings: list[Finding], summary: str = "") -> None:
        self.findings = list(findings)
        text = summary or "; ".join(f.describe() for f in self.findings[:5])
        if len(self.findings) > 5:
            text += f" (+{len(self.findings) - 5} more)"
        super().__init__(text)


class HarnessError(RuntimeError):
    """A harness or environment problem (a simulator could not start, a tool is missing...)."""


def skip_reason(outcome: Outcome, reason: str) -> str:
    """The pytest skip message that the results plugin maps back to ``outcome``."""
    return f"{outcome.value}: {reason}"


BLOCKED_BY = "bloqué par : "


def blocked_by(what: str, rule: str, detail: str = "") -> str:
    """Why a scenario is skipped: a precondition it does not judge failed, ``bloqué par : <what> (<rule>) — <detail>``.

    ``rule`` is the rule id of the failed check, under which the scenario that judges it reports it."""
    reason = f"{BLOCKED_BY}{what} ({rule})"
    return f"{reason} — {detail}" if detail else reason


def outcome_of_skip(message: str) -> tuple[Outcome, str]:
    for prefix, outcome in _SKIP_PREFIXES.items():
        if message.startswith(prefix):
            return outcome, message[len(prefix) :].strip()
    return Outcome.SKIPPED, message


def aggregate(outcomes: Iterable[Outcome]) -> Outcome:
    """The outcome of a VA item from those of its scenarios.

    Worst first: ``failed``, ``error``, then ``interrupted`` (the item's check
    was cut short); an item whose scenarios all share one of ``passed``,
    ``not_applicable``, ``not_run`` takes it; otherwise the first partial
    outcome present (``not_run``, ``deferred``, ``skipped``, ``manual``), as
    the item was not wholly checked.
    """
    seen = set(outcomes)
    if not seen:
        return Outcome.SKIPPED
    for worst in (Outcome.FAILED, Outcome.ERROR, Outcome.INTERRUPTED):
        if worst in seen:
            return worst
    for whole in (Outcome.PASSED, Outcome.NOT_APPLICABLE, Outcome.NOT_RUN):
        if seen == {whole}:
            return whole
    for partial in (Outcome.NOT_RUN, Outcome.DEFERRED, Outcome.SKIPPED, Outcome.MANUAL):
        if partial in seen:
            return partial
    return Outcome.PASSED

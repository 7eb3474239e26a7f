"""What the probes of the ANS supervision tool the harness plays saw (VA-F), judged.

Why a module: the checks used to live in ``steps/supervision.py``. They take
the probe records (``simulators.supervision.ProbeRecord`` fits the protocol).
"""

from __future__ import annotations

import time
from typing import Protocol, Sequence

from drimva.findings import Finding, Severity

CAMPAIGN_WARNINGS = 5  # failed background probes reported one by one; the count says the rest


class Probe(Protocol):
    """One probe: when, whether it passed, what went wrong, how long it took."""

    @property
    def at(self) -> float: ...

    @property
    def ok(self) -> bool: ...

    @property
    def problem(self) -> str: ...

    @property
    def elapsed_s(self) -> float: ...


def check_probes(probes: Sequence[Probe], where: str, expected: str) -> list[Finding]:
    """SUPERVISION-PROBE: every probe got the expected answer in time (``where``: method and URL)."""
    return [
        Finding("SUPERVISION-PROBE", "", f"{where} (probe {index + 1})", expected, f"{p.problem} ({p.elapsed_s:.2f} s)")
        for index, p in enumerate(probes)
        if not p.ok
    ]


def availability(probes: Sequence[Probe], url: str) -> list[Finding]:
    """SUPERVISION-AVAILABILITY: how many of the scenario's probes passed (information)."""
    ok = sum(1 for p in probes if p.ok)
    return [Finding("SUPERVISION-AVAILABILITY", "", url, f"{len(probes)}/{len(probes)}", f"{ok}/{len(probes)}", Severity.INFO)]


def campaign(probes: Sequence[Probe], where: str) -> list[Finding]:
    """SUPERVISION-CAMPAIGN: a warning per failed background probe (at most 5), then the availability.

    Warnings, not errors: the background probes record the availability during
    the run; the scenario's own probes are the pass / fail check.
    """
    failed = [p for p in probes if not p.ok]
    findings = [
        Finding("SUPERVISION-CAMPAIGN", "", f"{where} at {time.strftime('%H:%M:%S', time.localtime(p.at))}",
                "the expected answer in time", f"{p.problem} ({p.elapsed_s:.2f} s)", Severity.WARNING)
        for p in failed[:CAMPAIGN_WARNINGS]
    ]  # fmt: skip
    findings.append(Finding(
        "SUPERVISION-CAMPAIGN", "", where, f"{len(probes)}/{len(probes)}", f"{len(probes) - len(failed)}/{len(probes)}",
        Severity.WARNING if failed else Severity.INFO,
    ))  # fmt: skip
    return findings

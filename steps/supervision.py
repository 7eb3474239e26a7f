"""Steps of ``supervision.feature`` (VA-F): the harness plays the ANS supervision tool."""

from __future__ import annotations

import time

from pytest_bdd import then, when

from drimva.evidence import EvidenceStore
from drimva.findings import Finding, Severity
from drimva.profile import Profile
from drimva.verdict import Verdict
from fixtures.exam import ScenarioState
from fixtures.harness import MONITOR_FOLDER, SutHandle, supervision_prober
from fixtures.pki import TestPki
from simulators.supervision import SupervisionProber


@when("l'outil de supervision de l'ANS sonde la DRIMbox à plusieurs reprises")
def probe(state: ScenarioState, sut: SutHandle, profile: Profile, evidence: EvidenceStore, pki: TestPki) -> None:
    """``sut.supervision.probes`` probes, ``interval_s`` apart."""
    settings = profile.sut.supervision
    count = settings.probes
    prober = supervision_prober(profile, sut, pki, evidence, max(settings.interval_s, 0.01))
    records = []
    for index in range(count):
        records.append(prober.probe_once())
        if index + 1 < count:
            time.sleep(settings.interval_s)
    state.probes = records


@then("chaque sonde reçoit dans le délai la réponse attendue")
def every_probe_ok(
    state: ScenarioState, sut: SutHandle, profile: Profile, verdict: Verdict, supervision_monitor: SupervisionProber | None
) -> None:
    settings = profile.sut.supervision
    findings = [
        Finding("SUPERVISION-PROBE", "VA-F: the DRIMbox answers the ANS supervision tool (profile: URL, method, expected answer, time limit)",
                f"{settings.method} {sut.supervision_url} (probe {index + 1})",
                f"HTTP {settings.expect_status}, JSON status {settings.expect_json_status!r}, within {settings.timeout_s} s",
                f"{record.problem} ({record.elapsed_s:.2f} s)")
        for index, record in enumerate(state.probes) if not record.ok
    ]
    ok = sum(1 for record in state.probes if record.ok)
    verdict.note("disponibilité", [Finding("SUPERVISION-AVAILABILITY", "availability seen by the probes", sut.supervision_url,
                                           f"{len(state.probes)}/{len(state.probes)}", f"{ok}/{len(state.probes)}",
                                           severity=Severity.INFO)])
    if supervision_monitor is not None:
        verdict.note("disponibilité pendant la campagne", _campaign(supervision_monitor, sut))
    verdict.judge("réponse à la supervision", findings)


def _campaign(monitor: SupervisionProber, sut: SutHandle) -> list[Finding]:
    """What the background probes saw since the SUT came up: a warning per failed probe (at most 5), else info.

    Warnings, not errors: the issue asks to record the availability during the
    run; the scenario's own probes are the pass / fail check.
    """
    records = monitor.records
    ok = sum(1 for record in records if record.ok)
    where = f"{sut.supervision_url} (background, every {monitor.interval_s:g} s, evidence/{MONITOR_FOLDER})"
    failed = [record for record in records if not record.ok]
    findings = [
        Finding("SUPERVISION-CAMPAIGN", "VA-F: the DRIMbox stays available to the ANS supervision tool during the run",
                f"{where} at {time.strftime('%H:%M:%S', time.localtime(record.at))}", "the expected answer in time",
                f"{record.problem} ({record.elapsed_s:.2f} s)", severity=Severity.WARNING)
        for record in failed[:5]
    ]  # fmt: skip
    findings.append(Finding("SUPERVISION-CAMPAIGN", "availability seen by the background probes so far", where,
                            f"{len(records)}/{len(records)}", f"{ok}/{len(records)}",
                            severity=Severity.WARNING if failed else Severity.INFO))  # fmt: skip
    return findings

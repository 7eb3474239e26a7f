"""Steps of ``supervision.feature`` (VA-F): the harness plays the ANS supervision tool."""

from __future__ import annotations

import time

from pytest_bdd import then, when

from drimva.evidence import EvidenceStore
from drimva.findings import Finding
from drimva.profile import Profile
from drimva.rules.supervision import availability, campaign, check_probes
from drimva.sut_calls import SutUnreachable
from drimva.verdict import Verdict
from fixtures.exam import ScenarioState
from fixtures.harness import MONITOR_FOLDER, SutHandle, supervision_prober
from fixtures.pki import TestPki
from simulators.supervision import SupervisionProber


@when("l'outil de supervision de l'ANS sonde la DRIMbox à plusieurs reprises")
def probe(state: ScenarioState, sut: SutHandle, profile: Profile, evidence: EvidenceStore, pki: TestPki) -> None:
    """``sut.supervision.probes`` probes, ``interval_s`` apart; ``error`` when every one was refused (the SUT is
    not running: nothing to judge). A slow or silent answer is what VA-F judges (the time limit): a failed probe."""
    settings = profile.sut.supervision
    count = settings.probes
    prober = supervision_prober(profile, sut, pki, evidence, max(settings.interval_s, 0.01))
    records = []
    for index in range(count):
        records.append(prober.probe_once())
        if index + 1 < count:
            time.sleep(settings.interval_s)
    state.probes = records
    if records and all(record.refused for record in records):  # recorded already; nothing listens: not judged
        raise SutUnreachable(
            f"la DRIMbox n'écoute plus (supervision, {sut.supervision_url}) : connexion refusée à chacune des "
            f"{len(records)} sondes (processus arrêté ?)"
        )


@then("chaque sonde reçoit dans le délai la réponse attendue")
def every_probe_ok(
    state: ScenarioState, sut: SutHandle, profile: Profile, verdict: Verdict, supervision_monitor: SupervisionProber | None
) -> None:
    settings = profile.sut.supervision
    expected = f"HTTP {settings.expect_status}, JSON status {settings.expect_json_status!r}, within {settings.timeout_s} s"
    findings = check_probes(state.probes, f"{settings.method} {sut.supervision_url}", expected)
    verdict.note("disponibilité", availability(state.probes, sut.supervision_url))
    if supervision_monitor is not None:
        verdict.note("disponibilité pendant la campagne", _campaign(supervision_monitor, sut))
    verdict.judge("réponse à la supervision", findings, tuple(seq for probe in state.probes for seq in probe.exchanges))


def _campaign(monitor: SupervisionProber, sut: SutHandle) -> list[Finding]:
    """What the background probes saw since the SUT came up (rule ``SUPERVISION-CAMPAIGN``)."""
    where = f"{sut.supervision_url} (background, every {monitor.interval_s:g} s, evidence/{MONITOR_FOLDER})"
    return campaign(monitor.records, where)

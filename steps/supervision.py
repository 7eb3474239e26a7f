"""Steps of ``supervision.feature`` (VA-F): the harness plays the ANS supervision tool."""

from __future__ import annotations

import time

from pytest_bdd import parsers, then, when

from drimva.evidence import EvidenceStore
from drimva.findings import Finding, Severity
from drimva.profile import Profile
from drimva.verdict import Verdict
from fixtures.exam import ScenarioState
from fixtures.harness import SutHandle
from fixtures.pki import TestPki
from simulators.supervision import SupervisionProber


@when(parsers.parse("l'outil de supervision de l'ANS sonde la DRIMbox {count:d} fois"))
def probe(state: ScenarioState, sut: SutHandle, profile: Profile, evidence: EvidenceStore, pki: TestPki, count: int) -> None:
    settings = profile.sut.supervision
    prober = SupervisionProber(
        evidence, sut.supervision_url, method=settings.method, expect_status=settings.expect_status,
        expect_json_status=settings.expect_json_status or None, timeout_s=settings.timeout_s,
        interval_s=max(settings.interval_s, 0.01), ca_cert=pki.ca_cert,
    )
    records = []
    for index in range(count):
        records.append(prober.probe_once())
        if index + 1 < count:
            time.sleep(settings.interval_s)
    state.probes = records


@then("chaque sonde reçoit dans le délai la réponse attendue")
def every_probe_ok(state: ScenarioState, sut: SutHandle, profile: Profile, verdict: Verdict) -> None:
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
    verdict.judge("réponse à la supervision", findings)

"""A scenario whose precondition failed is skipped "bloqué par : …", not failed a second time for the same defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from va_runs import run_va, scenarios_by_name

pytestmark = pytest.mark.long(21)  # seconds, roughly: handed out first under pytest-xdist

PUBLISHED = "Le KOS est publié dans le DMP avec le certificat de la structure"
ACKED = "Le CR transmis en ORU^R01 est reçu et acquitté"
SERVED = "La DRIMbox source refuse une requête sans jeton"


def test_no_ack_fails_the_ack_scenario_and_blocks_the_ones_that_need_a_published_cr(tmp_path: Path) -> None:
    select = "orur01_est_reçu or certificat_de_la_structure or requête_sans_jeton"
    scenarios = scenarios_by_name(run_va(tmp_path / "run", "-k", select, fault="hl7_no_ack"))
    assert scenarios[ACKED]["outcome"] == "failed"  # its subject is the ACK
    assert scenarios[PUBLISHED]["outcome"] == "passed"  # the reference publishes without acknowledging: judged as is
    blocked = scenarios[SERVED]
    assert blocked["outcome"] == "skipped" and blocked["findings"] == []
    assert blocked["message"].startswith("bloqué par : pas d'ACK du CR initial (ACK-PRESENT) — no ACK: connection closed")


def test_a_consumer_that_never_retrieves_the_kos_blocks_what_it_would_do_with_it(tmp_path: Path) -> None:
    select = "consulte_le_dmp or nœud_dicom or absente_de_la_liste_blanche"
    scenarios = scenarios_by_name(run_va(tmp_path / "run", "-k", select, fault="dmp_no_client_cert"))
    assert scenarios["L'appel contextuel est accepté et la DRIMbox consulte le DMP"]["outcome"] == "failed"
    for name in ("L'examen complet est transmis intact au nœud DICOM", "La DRIMbox refuse une DRIMbox source absente de la liste blanche"):
        assert scenarios[name]["outcome"] == "skipped", scenarios[name]
        assert scenarios[name]["message"].startswith("bloqué par : KOS non récupéré dans le DMP par la DRIMbox (DMP-ITI-43)")

"""drimva.evidence: the scenario folders the results point at."""

from __future__ import annotations

from pathlib import Path

from drimva.evidence import EvidenceStore
from drimva.pytest_plugin import ScenarioInfo


def test_a_long_scenario_name_gets_the_folder_its_result_points_at(tmp_path: Path) -> None:
    info = ScenarioInfo("visualisation.feature", "Un professionnel ouvre l'examen depuis l'URL du CR avec Pro Santé Connect", ())
    store = EvidenceStore(tmp_path)
    folder = store.begin_scenario(info.evidence_name)
    store.record("viewer", "request-1", b"GET / HTTP/1.1\r\n\r\n")
    store.end_scenario()
    assert folder == tmp_path / info.evidence_name
    assert len(info.evidence_name) > 80 and info.evidence_name.endswith("Pro-Sante-Connect")
    assert [p.name for p in folder.iterdir()]  # the exchange is in the folder the result names

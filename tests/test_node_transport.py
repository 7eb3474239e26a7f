"""VA-D3 and ``sut.consumer.node_transport``: C-STORE (the VA's wording) or STOW-RS (the demonstrator's).

The DICOM node of the harness accepts both; the profile says which the SUT
uses (where-sources-disagree.md). The embedded reference follows the same
setting, so a run with ``node_transport = "stow-rs"`` exercises the STOW-RS
path end to end; a SUT using the other service than declared gets a warning.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from va_runs import REFERENCE_PROFILE, reference_profile, run_va

from drimva.profile import load_profile
from simulators.dicom_node.server import Receipt
from steps.consommation import _node_transport


def test_va_d3_passes_with_a_reference_that_stores_over_stow_rs(tmp_path: Path) -> None:
    profile = reference_profile(tmp_path, '[sut.consumer]\nnode_transport = "stow-rs"\n')
    run_dir = tmp_path / "run"
    (scenario,) = run_va(run_dir, "-k", "nœud_dicom", profile=profile)["scenarios"]
    assert scenario["outcome"] == "passed" and not [f for f in scenario["findings"] if f["rule"] == "NODE-TRANSPORT"]
    files = [p.name for p in (run_dir / scenario["evidence"]).iterdir()]
    assert any("dicom-node-STOW-RS-POST" in name for name in files) and not any("C-STORE" in name for name in files)


def _node(*receipts: tuple[str, str]) -> SimpleNamespace:
    return SimpleNamespace(ae_title="NODE", receipts=[Receipt(via, uid, "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1", "") for via, uid in receipts])


def test_a_service_other_than_the_declared_one_is_a_warning() -> None:
    c_store = load_profile(REFERENCE_PROFILE)
    stow = c_store.model_copy(update={"sut": c_store.sut.model_copy(update={
        "consumer": c_store.sut.consumer.model_copy(update={"node_transport": "stow-rs"})})})  # fmt: skip
    node = _node(("C-STORE", "1.1"), ("C-STORE", "1.2"), ("STOW-RS", "9.9"))
    assert _node_transport(node, {"1.1", "1.2"}, c_store) == []  # type: ignore[arg-type]
    (finding,) = _node_transport(node, {"1.1", "1.2"}, stow)  # type: ignore[arg-type]
    assert (finding.rule, finding.severity.value, finding.expected, finding.actual) == (
        "NODE-TRANSPORT", "warning", "STOW-RS (sut.consumer.node_transport)", "C-STORE")

"""VA-D3 and ``sut.consumer.node_transport``: C-STORE (the VA's wording) or STOW-RS (the demonstrator's).

The DICOM node of the harness accepts both; the profile says which the SUT
uses (where-sources-disagree.md). The embedded reference follows the same
setting, so a run with ``node_transport = "stow-rs"`` exercises the STOW-RS
path end to end; a SUT using the other service than declared gets a warning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from drimva.profile import load_profile
from simulators.dicom_node.server import Receipt
from steps.consommation import _node_transport

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "drimva" / "profiles" / "reference.toml"


def test_va_d3_passes_with_a_reference_that_stores_over_stow_rs(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    text = REFERENCE.read_text("utf-8")
    assert "[sut.consumer]" not in text
    profile.write_text(text + '\n[sut.consumer]\nnode_transport = "stow-rs"\n', "utf-8")
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "drimva", "run", "--profile", str(profile), "-k", "nœud_dicom", "--run-dir", str(run_dir), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert (run_dir / "results.json").exists(), done.stderr[-2000:]
    (scenario,) = json.loads((run_dir / "results.json").read_text("utf-8"))["scenarios"]
    assert scenario["outcome"] == "passed" and not [f for f in scenario["findings"] if f["rule"] == "NODE-TRANSPORT"]
    files = [p.name for p in (run_dir / scenario["evidence"]).iterdir()]
    assert any("dicom-node-STOW-RS-POST" in name for name in files) and not any("C-STORE" in name for name in files)


def _node(*receipts: tuple[str, str]) -> SimpleNamespace:
    return SimpleNamespace(ae_title="NODE", receipts=[Receipt(via, uid, "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1", "") for via, uid in receipts])


def test_a_service_other_than_the_declared_one_is_a_warning() -> None:
    c_store = load_profile(REFERENCE)
    stow = c_store.model_copy(update={"sut": c_store.sut.model_copy(update={
        "consumer": c_store.sut.consumer.model_copy(update={"node_transport": "stow-rs"})})})  # fmt: skip
    node = _node(("C-STORE", "1.1"), ("C-STORE", "1.2"), ("STOW-RS", "9.9"))
    assert _node_transport(node, {"1.1", "1.2"}, c_store) == []  # type: ignore[arg-type]
    (finding,) = _node_transport(node, {"1.1", "1.2"}, stow)  # type: ignore[arg-type]
    assert (finding.rule, finding.severity.value, finding.expected, finding.actual) == (
        "NODE-TRANSPORT", "warning", "STOW-RS (sut.consumer.node_transport)", "C-STORE")

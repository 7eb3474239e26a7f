"""The conformant variant ``ack_before_processing`` end to end: a DRIMbox that acknowledges before it works.

The self-test runs the whole suite with it (every scenario must pass); here,
the scenarios whose checks depend on when the DRIMbox does its work: the
C-FIND comes after the ACK and is still seen, and a KOS the DRIMbox must not
publish, published after the ACK, is still caught (the variant's grace covers
it), so the variant hides none of the faults that target those scenarios.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from va_runs import run_va, scenarios_by_name

VARIANT = "ack_before_processing"
S_PACS = "La DRIMbox interroge le PACS sur l'examen du CR"
S_UNQ = "Aucun KOS n'est publié pour une identité non qualifiée"
S_UNK = "Aucun KOS n'est publié pour un examen inconnu du PACS"


def test_the_pacs_query_after_an_early_ack_is_seen(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = run_va(run_dir, "-k", "interroge_le_pacs or aucun_kos", "--variant", VARIANT)
    assert results["variant"] == VARIANT and f"variant {VARIANT}" in results["profile"]
    outcomes = {name: s["outcome"] for name, s in scenarios_by_name(results).items()}
    assert outcomes == {S_PACS: "passed", S_UNQ: "passed", S_UNK: "passed"}
    log = (run_dir / "reference" / "reference.log").read_text("utf-8")
    assert f"variant {VARIANT}: AA now" in log
    assert log.index("ACK MSA-1 AA") < log.index("PACS: study")  # acknowledged before it queried


@pytest.mark.parametrize(("fault", "scenario", "select"), [
    ("publish_unqualified", S_UNQ, "non_qualifiée"),
    ("publish_unknown_study", S_UNK, "inconnu_du_pacs"),
])  # fmt: skip
def test_a_forbidden_publication_after_an_early_ack_is_still_caught(
    tmp_path: Path, fault: str, scenario: str, select: str
) -> None:
    results = run_va(tmp_path / "run", "-k", select, "--variant", VARIANT, fault=fault)
    (found,) = results["scenarios"]
    assert (found["name"], found["outcome"]) == (scenario, "failed"), found["message"]
    assert any(f["rule"] == "DMP-NO-PUBLICATION" for f in found["findings"])

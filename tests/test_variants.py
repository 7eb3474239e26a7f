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

pytestmark = pytest.mark.long(50)  # seconds, roughly: handed out first under pytest-xdist

VARIANT = "ack_before_processing"
S_PACS = "La DRIMbox interroge le PACS sur l'examen du CR"
S_UNQ = "Aucun KOS n'est publié pour une identité non qualifiée"
S_UNK = "Aucun KOS n'est publié pour un examen inconnu du PACS"
S_DESTDMP = "Aucun KOS n'est publié pour un CR que le RIS ne destine pas au DMP"


def test_the_pacs_query_after_an_early_ack_is_seen(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = run_va(run_dir, "-k", "interroge_le_pacs or aucun_kos", "--variant", VARIANT)
    assert results["variant"] == VARIANT and f"variant {VARIANT}" in results["profile"]
    outcomes = {name: s["outcome"] for name, s in scenarios_by_name(results).items()}
    assert outcomes == {S_PACS: "passed", S_UNQ: "passed", S_UNK: "passed", S_DESTDMP: "passed"}
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


# -- the other variants: each takes effect, and a fault of the same point is still caught --------------

ALL_VARIANTS = "kos_implicit_vr,withdraw_deprecated,vihf_4,contextual_302,stow_rs_node"
S_DELETE = "La suppression du CR transmise en ORU^R01 retire le KOS publié"
S_KOS = "Le KOS est publié dans le DMP avec le certificat de la structure"


def test_the_variants_combine_and_each_behaves_as_it_says(tmp_path: Path) -> None:
    """One run with five variants on (as the self-test's combined run): the deletion and the publication pass, and
    the evidence shows each reading taken: Deprecated, VIHF 4.0, an Implicit VR KOS."""
    run_dir = tmp_path / "run"
    results = run_va(run_dir, "--scenario", S_DELETE, "--scenario", S_KOS, "--variant", ALL_VARIANTS)
    outcomes = {name: s["outcome"] for name, s in scenarios_by_name(results).items()}
    assert outcomes == {S_DELETE: "passed", S_KOS: "passed"}, results["scenarios"]
    assert all(f"variant {name}" in results["profile"] for name in ALL_VARIANTS.split(","))
    sent = b"".join(path.read_bytes() for path in (run_dir / "evidence").rglob("*dmp-request*.http"))
    assert b"urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated" in sent
    assert b'VIHF_Version"><saml2:AttributeValue>4.0<' in sent
    assert b"\x02\x00\x10\x00UI\x12\x001.2.840.10008.1.2\x00" in sent  # the KOS's file meta: Implicit VR Little Endian


def test_a_deletion_ignored_is_caught_whatever_the_status_the_variant_would_use(tmp_path: Path) -> None:
    results = run_va(tmp_path / "run", "--scenario", S_DELETE, "--variant", "withdraw_deprecated", fault="delete_ignored")
    (found,) = results["scenarios"]
    assert found["outcome"] == "failed", found["message"]
    assert any(f["rule"] == "DMP-WITHDRAWN" for f in found["findings"])


def test_an_unknown_variant_in_a_list_is_refused_by_name(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "drimva", "run", "--variant", "vihf_4,no_such_variant", "--run-dir",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "no_such_variant" in done.stderr and "vihf_4" in done.stderr, done.stderr

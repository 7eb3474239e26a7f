"""The conformant variant ``ack_before_processing`` end to end: a DRIMbox that acknowledges before it works.

The self-test runs the whole suite with it (every scenario must pass); here,
the scenarios whose checks depend on when the DRIMbox does its work: the
C-FIND comes after the ACK and is still seen, and a KOS the DRIMbox must not
publish, published after the ACK, is still caught (the variant's grace covers
it), so the variant hides none of the faults that target those scenarios.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from va_runs import run_va, scenarios_by_name

from drimva.rules import catalogue

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


# -- the variants of issue 11's second round -----------------------------------------------------------

NEW_VARIANTS = ("hierarchical_cfind,dsg_signature,no_retrieve_location_uid,qual_only,consent_information_et_consentement,"
                "contextual_bare_oid,publish_destdmp_n,wado_mutual_tls,cmove_retrieve")  # fmt: skip
S_RPLC = "Le CR corrigé transmis en MDM^T10 remplace le KOS publié"
S_CALL = "L'appel contextuel est accepté et la DRIMbox consulte le DMP"
S_E_SERIES = "Une DRIMbox consommatrice récupère chaque série d'un examen publié par la DRIMbox source"


def test_the_new_variants_combine_and_each_behaves_as_it_says(tmp_path: Path) -> None:
    """One run with the nine on (one run only, to keep make test short): the C-FIND, the publication, its
    replacement, the contextual call and the source pass, the DESTDMP scenario is not applicable, and the evidence
    shows each reading taken (SERIES level, Signature01, no (0040,E011) as a warning, QUAL, the consent name, the bare
    OID, C-MOVE and not C-GET)."""
    run_dir = tmp_path / "run"
    chosen = (S_PACS, S_KOS, S_RPLC, S_CALL, S_E_SERIES, S_DESTDMP)
    results = run_va(run_dir, *(a for s in chosen for a in ("--scenario", s)), "--variant", NEW_VARIANTS)
    found = scenarios_by_name(results)
    expected = {**dict.fromkeys(chosen, "passed"), S_DESTDMP: "not_applicable"}
    assert {name: s["outcome"] for name, s in found.items()} == expected, results["scenarios"]
    assert {(f["rule"], f["severity"]) for f in found[S_KOS]["findings"] if f["rule"] == "KOS-RETRIEVE-LOCATION-UID"} == {
        ("KOS-RETRIEVE-LOCATION-UID", "warning")}  # fmt: skip
    evidence = run_dir / "evidence"
    sent = b"".join(path.read_bytes() for path in evidence.rglob("*dmp-request*.http"))
    assert b"urn:ihe:iti:2007:AssociationType:signs" in sent and b'mimeType="text/xml"' in sent
    published = sorted((run_dir / "reference" / "state" / "kos").glob("*.dcm"))
    assert published and all(b"\x40\x00\x11\xe0" not in p.read_bytes() for p in published)  # no (0040,E011)
    assert all(b"\x08\x00\x90\x11" in p.read_bytes() for p in published)  # (0008,1190) RetrieveURL, as a control
    pacs = [path.name for path in evidence.rglob("*-rq*")]
    assert any("C-FIND-rq-SERIES" in name for name in pacs) and any("C-FIND-rq-IMAGE" in name for name in pacs), pacs
    assert any("C-MOVE-rq" in name for name in pacs) and not any("C-GET-rq" in name for name in pacs), pacs
    everything = b"".join(path.read_bytes() for path in evidence.rglob("*") if path.is_file())
    assert b"|QUAL" in everything  # PID-32 of the harness's CRs: the first status the variant's profile lists
    assert b"InformationEtConsentement=true" in everything
    assert b"Patient.identifier.system=1.2.250.1.213.1.4.10&" in everything  # the bare OID


@pytest.mark.parametrize(("variant", "fault", "scenario", "rule"), [
    ("qual_only", "publish_unqualified", S_UNQ, "DMP-NO-PUBLICATION"),
    ("cmove_retrieve", "wado_skip_last_instance", S_E_SERIES, "RETRIEVAL-COMPLETE"),
])  # fmt: skip
def test_a_fault_is_still_caught_with_a_new_variant(tmp_path: Path, variant: str, fault: str, scenario: str, rule: str) -> None:
    results = run_va(tmp_path / "run", "--scenario", scenario, "--variant", variant, fault=fault)
    (found,) = results["scenarios"]
    assert found["outcome"] == "failed", found["message"]
    assert any(f["rule"] == rule and f["severity"] == "error" for f in found["findings"]), found["findings"]


def test_every_variant_names_catalogue_rule_ids() -> None:
    listed = subprocess.run([sys.executable, "-m", "simulators.reference", "--list-variants"], capture_output=True,
                            text=True, timeout=60, check=True)  # fmt: skip
    variants = json.loads(listed.stdout)
    assert len(variants) == 18
    for variant in variants:
        assert variant["rules"], variant["name"]
        for rule in variant["rules"]:
            assert catalogue.requirement(rule) is not None, (variant["name"], rule)


def test_an_unknown_variant_in_a_list_is_refused_by_name(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "drimva", "run", "--variant", "vihf_4,no_such_variant", "--run-dir",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "no_such_variant" in done.stderr and "vihf_4" in done.stderr, done.stderr


# -- the variant of issue 11's situations: an accession the PACS holds otherwise ------------------------

S_ACCESSION = "Quand le PACS porte un autre numéro d'accession que le CR, le KOS porte celui du CR ou rien n'est publié"


def test_refuse_accession_mismatch_publishes_nothing_and_is_judged_so(tmp_path: Path) -> None:
    """The variant's profile (rules.pacs_accession_mismatch = no_publication) reaches both the reference, which then
    publishes nothing, and the judge, which then checks that nothing is published instead of the KOS's accession."""
    run_dir = tmp_path / "run"
    results = run_va(run_dir, "--scenario", S_ACCESSION, "--variant", "refuse_accession_mismatch")
    (found,) = results["scenarios"]
    assert found["outcome"] == "passed", found["message"]
    assert "DMP-NO-PUBLICATION" in found["rules"] and "KOS-REQUEST-ACCESSION" not in found["rules"], found["rules"]
    assert not list((run_dir / "reference" / "state" / "kos").glob("*.dcm"))  # no KOS was even built

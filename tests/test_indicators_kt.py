"""K and T from a real run folder of the harness against the reference DRIMbox (AF-IMG-DB-Va2 §3.3)."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from drimva.indicators.kt import RunFolderError, count_runs, meets_target, rate

ROOT = Path(__file__).resolve().parents[1]
DRIMVA = ROOT / ".venv" / "bin" / "drimva"
# The brief's selection, plus "qualifi" (the PROV scenario: its name does not contain "PROV"),
# one replacement over ORU and one deletion over MDM^T04:
SELECT = "(ORU and acquitt or PROV or inconnu or qualifi or ORU and remplace or MDM and retire) and not visionneuse"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    command = [str(DRIMVA) if DRIMVA.exists() else sys.executable, *([] if DRIMVA.exists() else ["-m", "drimva"])]
    done = subprocess.run(
        [*command, "run", "--run-dir", str(folder), "--quiet", "-k", SELECT],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=180,
    )
    if not (folder / "results.json").exists():
        pytest.fail(f"the run produced no results.json (exit {done.returncode}): {done.stderr[-2000:]}")
    return folder


def test_k_and_t_of_a_real_run(run_dir: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    outcomes = {s["name"]: s["outcome"] for s in results["scenarios"] if not s["message"].startswith("non sélectionné")}
    assert len(outcomes) == 6 and set(outcomes.values()) == {"passed"}, outcomes
    counts = count_runs([run_dir])
    # T: initial reports with a qualified INS and study UID + accession + order in the CDA, acknowledged:
    #   ORU acquitté (1) + study unknown to the PACS (1: the report itself is complete) + source scenario
    #   "jeton d'un émetteur inconnu" (1: it publishes a study first) + the initial reports of the ORU
    #   replacement and of the MDM^T04 deletion scenarios (2) = 5; the PROV report is not in T.
    assert counts.t == 5
    # K: a KOS for each of them except the study unknown to the PACS (the reference rightly publishes
    # nothing) = 4; K/T = 4/5 = 0.8 < 0.99
    assert counts.k == 4
    assert counts.rate == Decimal("0.8000") and meets_target(counts.k, counts.t) is False
    missing = [r for r in counts.reports if r["kos"] is None]
    assert [r["scenario"] for r in missing] == ["alimentation_mes--Aucun-KOS-n-est-publie-pour-un-examen-inconnu-du-PACS"]
    # the PROV report is left out of T, with why
    assert len(counts.not_in_t) == 1 and "PID-32 PROV" in counts.not_in_t[0]["why"][0]
    # replacements and deletions are counted apart: one ORU C report and its RPLC KOS, one MDM^T04 and its ITI-57
    assert (counts.replacement_reports, counts.kos_replacements) == (1, 1)
    assert (counts.deletion_reports, counts.kos_deletions) == (1, 1)
    assert (counts.kos_duplicates, counts.kos_unmatched, counts.not_received, counts.unreadable) == (0, 0, 0, [])


def test_the_same_run_twice_counts_each_report_once(run_dir: Path) -> None:
    # the same CDA documents and KOS uniqueIds: T and K unchanged
    counts = count_runs([run_dir, run_dir])
    assert (counts.t, counts.k) == (5, 4)


def test_indicators_command_on_the_run(run_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "drimva", "indicators", "--run", str(run_dir), "--json", "-"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 1, done.stderr  # K/T < 99 %
    data = json.loads(done.stdout)
    assert (data["kt"]["K"], data["kt"]["T"], data["kt"]["K/T"]) == (4, 5, 0.8)
    notes = data["notes"]
    assert notes[0].startswith("T compte les CR initiaux")  # which reports count in T
    assert sum(int(n.split()[2]) for n in notes if n.startswith("T : ")) == 5  # per scenario, adding up to T
    # a run with results.json of a VA run: why its K/T is no sample
    assert any(n.startswith("une exécution VA n'est pas un échantillon de K/T") for n in notes) == (
        json.loads((run_dir / "results.json").read_text("utf-8")).get("kind") in ("drimbox", "ris")
        if (run_dir / "results.json").exists() else False
    )


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="not a run folder"):
        count_runs([tmp_path])
    (tmp_path / "evidence").mkdir()
    (tmp_path / "results.json").write_text("{", "utf-8")
    with pytest.raises(RunFolderError, match="results.json"):
        count_runs([tmp_path])


def test_rate() -> None:
    assert rate(99, 100) == Decimal("0.9900") and meets_target(99, 100) is True
    assert meets_target(98, 99) is False  # 0.9899 < 0.99
    assert rate(0, 0) is None and meets_target(0, 0) is None

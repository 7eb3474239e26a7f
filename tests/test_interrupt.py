"""A run stopped by SIGINT (Ctrl-C) or SIGTERM: exit 130 / 143, partial results that say so, no process left.

The runs are ``drimva run`` / ``drimva soak`` processes against the embedded
reference DRIMbox. To stop a run *inside* a scenario, deterministically, the
profile sets ``timeouts.no_publication_grace_s`` to 300 s: the scenario « Aucun
KOS n'est publié pour une identité non qualifiée » then waits that long in its
last step, and the signal is sent once ``progress.jsonl`` says it is at that step.
SIGINT goes to the whole process group, as a terminal's Ctrl-C does (the
reference DRIMbox gets it too); SIGTERM to the harness alone, as a supervisor's
``kill`` does (the harness must stop the reference itself).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from drimva.interruption import RunInterrupted, interruptible, signal_exit_code
from drimva.results import exit_code
from va_runs import REPO, reference_profile

pytestmark = pytest.mark.long(22)  # seconds, roughly: handed out first under pytest-xdist

SLOW = "Aucun KOS n'est publié pour une identité non qualifiée"
SLOW_STEP = "Et aucun KOS n'est publié dans le DMP pour ce patient"
SELECT = "orur01_est or non_qualifi or inconnu_du_pacs or outil_de_supervision"  # one before SLOW, two after
START_S = 240.0  # a loaded CI machine: the first scenario, which starts the simulators and the reference, can take 30 s
STOP_S = 90.0


# -- processes ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) from /proc, None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root``, with its start time (so a reused pid is not mistaken for it)."""
    table = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found: dict[int, str] = {}
    parents = {root}
    while parents:
        children = {pid: stat[2] for pid, stat in table.items() if stat and stat[1] in parents and pid not in found}
        found.update(children)
        parents = set(children)
    return found


def _alive(pid: int, started: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and stat[2] == started


@pytest.fixture
def spawn_drimva(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m drimva ARGS…`` in a session of its own (output in ``tmp_path/drimva.out``); its group is killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def spawn(*args: str) -> subprocess.Popen[str]:
        with (tmp_path / "drimva.out").open("w", encoding="utf-8") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "drimva", *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    yield spawn
    for process in started:  # the harness and whatever it left in its group
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout_s: float, what: str, out: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"drimva exited ({process.returncode}) before {what}: {out.read_text('utf-8')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)


def _progress(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "progress.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.endswith("}")]


def _slow_scenario_waits(run_dir: Path) -> bool:
    """A scenario has passed, and SLOW is at its last step (which waits 300 s)."""
    events = [(e["event"], e.get("name"), e.get("outcome") or e.get("step")) for e in _progress(run_dir)]
    return ("end", "Le CR transmis en ORU^R01 est reçu et acquitté", "passed") in events and ("step", SLOW, SLOW_STEP) in events


def _stop(process: subprocess.Popen[str], signum: signal.Signals, *, group: bool) -> dict[int, str]:
    """Send ``signum`` (to the process group: a terminal's Ctrl-C); wait for the exit; the processes it had below it."""
    below = _descendants(process.pid)
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    process.wait(timeout=STOP_S)
    return below


def _assert_none_left(below: dict[int, str], reference: Path) -> None:
    pid = int(json.loads(reference.read_text("utf-8"))["pid"])
    assert pid in below, f"the reference DRIMbox {pid} is not a child of the harness: {sorted(below)}"
    deadline = time.monotonic() + 5  # an orphan is reaped by init a moment after the harness exits
    while any(_alive(p, started) for p, started in below.items()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p, started in below.items() if _alive(p, started)] == []


# -- drimva run --------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["SIGINT-group", "SIGTERM-harness"])
def test_a_run_stopped_in_a_scenario(
    tmp_path: Path, spawn_drimva: Callable[..., subprocess.Popen[str]], signum: signal.Signals, group: bool
) -> None:
    profile = reference_profile(tmp_path, settings={"timeouts.no_publication_grace_s": "300"})
    run_dir = tmp_path / "run"
    process = spawn_drimva("run", "--profile", str(profile), "--run-dir", str(run_dir), "-k", SELECT)
    out = tmp_path / "drimva.out"
    _wait_for(lambda: _slow_scenario_waits(run_dir), process, START_S, f"a scenario passed and « {SLOW} » waits", out)
    below = _stop(process, signum, group=group)
    output = out.read_text("utf-8")
    assert process.returncode == signal_exit_code(signum) == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], output[-3000:]
    assert f"INTERROMPU par {signum.name}" in output

    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert (results["interrupted"], results["signal"]) == (True, signum.name)
    selected = [s for s in results["scenarios"] if not s["message"].startswith("non sélectionné")]
    left_out = {s["outcome"] for s in results["scenarios"] if s not in selected}
    assert left_out == {"not_run"} and len(selected) == 4  # the others, left out by -k, are not_run as such
    outcomes = {s["name"]: s["outcome"] for s in selected}
    assert outcomes == {
        "Le CR transmis en ORU^R01 est reçu et acquitté": "passed",
        SLOW: "interrupted",
        "Aucun KOS n'est publié pour un examen inconnu du PACS": "not_run",
        "La DRIMbox répond à l'outil de supervision de l'ANS": "not_run",
    }
    assert results["scenario_counts"] == {"passed": 1, "interrupted": 1, "not_run": 2 + len(results["scenarios"]) - 4}
    items = {item["id"]: item["outcome"] for item in results["items"]}
    # VA-B1: one of its two scenarios passed, -k left the other out, so not wholly checked
    assert (items["VA-B1"], items["VA-B3"], items["VA-F"]) == ("not_run", "interrupted", "not_run")
    slow = next(s for s in results["scenarios"] if s["name"] == SLOW)
    assert slow["message"] == f"exécution interrompue par {signum.name} pendant ce scénario, à l'étape « {SLOW_STEP} »"
    assert ["not_run"] * 2 == [s["outcome"] for s in selected if s["evidence"] == ""]
    for scenario in selected[:2]:  # the evidence written before the stop is kept
        assert (run_dir / scenario["evidence"] / "exchanges.jsonl").stat().st_size > 0
    assert results["supervision"]["probes"] > 0  # written after the teardown stopped the background probes
    assert ("interrupted", SLOW) in [(e["event"], e.get("name")) for e in _progress(run_dir)]

    # junit.xml is written from the results: the same counts, the scenarios left out by -k included
    junit = ET.parse(run_dir / "junit.xml").getroot()
    total = len(results["scenarios"])
    assert (junit.get("tests"), junit.get("errors"), junit.get("skipped"), junit.get("failures")) == (str(total), "1", str(total - 2), "0")
    assert {p.get("value") for p in junit.iter("property") if p.get("name") == "interrupted"} == {signum.name}
    errors = [(case.get("name"), e.get("type")) for case in junit.iter("testcase") for e in case.iter("error")]
    assert errors == [(SLOW, "interrupted")]

    page = (run_dir / "rapport-va.html").read_text("utf-8")
    assert f"<b>Exécution interrompue</b> par {signum.name}" in page and "non lancé" in page

    _assert_none_left(below, run_dir / "reference" / "ready.json")


# -- drimva soak -------------------------------------------------------------------------------


def test_a_soak_stopped_prints_what_it_measured(tmp_path: Path, spawn_drimva: Callable[..., subprocess.Popen[str]]) -> None:
    reports = tmp_path / "reports"
    profile = reference_profile(tmp_path, settings={"harness.reports_dir": json.dumps(str(reports))})
    figures = tmp_path / "figures.json"
    process = spawn_drimva("soak", "--profile", str(profile), "--count", "5000", "--rate", "5", "--json", str(figures))
    out = tmp_path / "drimva.out"

    def published() -> bool:  # the DMP simulator answered a first submission with Success: there is a K to report
        logs = list(reports.glob("soak-*/evidence/soak/exchanges.jsonl"))
        lines = logs[0].read_text("utf-8").splitlines() if logs else []
        return any('"channel": "dmp"' in line and '"status": "Success"' in line for line in lines)

    _wait_for(published, process, START_S, "a first publication", out)
    below = _stop(process, signal.SIGINT, group=True)
    output = out.read_text("utf-8")
    assert process.returncode == 130, output[-3000:]
    assert output.startswith("soak INTERROMPU par SIGINT") and "INTERROMPU (SIGINT)" in output
    data = json.loads(figures.read_text("utf-8"))
    assert data["interrupted"] == "SIGINT" and not data["passed"]
    assert 1 <= data["sent"] < 5000 and data["k"] >= 1
    run_dir = Path(data["run_dir"])
    assert json.loads((run_dir / "soak.json").read_text("utf-8"))["interrupted"] == "SIGINT"
    _assert_none_left(below, run_dir / "reference" / "ready.json")


# -- the pieces --------------------------------------------------------------------------------


def test_the_first_stop_signal_raises_once_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with interruptible() as interruption:
        with pytest.raises(RunInterrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        assert raised.value.signum is signal.SIGTERM and interruption.signum is signal.SIGTERM
        os.kill(os.getpid(), signal.SIGINT)  # a second signal while stopping: noted, not raised
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_interrupted_run_exits_128_plus_the_signal_whatever_the_outcomes() -> None:
    counts = {"failed": 1, "passed": 3}
    assert exit_code({"scenario_counts": counts, "scenarios": [{}], "interrupted": False, "signal": None}) == 1
    assert exit_code({"scenario_counts": counts, "scenarios": [{}], "interrupted": True, "signal": "SIGINT"}) == 130
    assert exit_code({"scenario_counts": {}, "scenarios": [], "interrupted": True, "signal": "SIGTERM"}) == 143

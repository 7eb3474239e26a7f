"""The console of a run (:mod:`drimva.console`): line formats, shortening, and what a long wait prints.

The waits are driven by :func:`drimva.waiting.poll` with a fake clock, so a
30 s wait takes no time; the last test is a real ``drimva run`` with one fault,
whose output must be drimva's lines only.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from lxml import etree
import pytest

from va_runs import REPO, run_drimva

from drimva.console import Console, finding_text, item_line, scenario_detail, scenario_line, shorten
from drimva.waiting import REPORT_AFTER_S, observed, poll

pytestmark = pytest.mark.long(18)  # seconds, roughly: handed out first under pytest-xdist

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # every control character but \t and \n
PYTEST_WORDS = ("FAILED", "short test summary", "steps/test_va.py", "NonConformance", "deselected", "passed in", "slowest", "=====")


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` of a wait that takes no time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(console: Console, seconds: float, what: str, found_after: float | None = None) -> object:
    clock = FakeClock()
    start = clock.now

    def probe() -> bool:
        return found_after is not None and clock.now - start >= found_after

    with observed(console.waiting):
        return poll(probe, seconds, 0.5, what=what, clock=clock, sleep=clock.sleep)


def test_a_wait_over_two_seconds_says_what_it_awaits_in_plain_lines() -> None:
    out = io.StringIO()
    console = Console(out, live=False)
    assert _wait(console, 25.0, "le KOS du patient dans le DMP (ITI-41)") is False
    lines = out.getvalue().splitlines()
    # at 2 s, then every 10 s: 2, 12, 22
    assert [re.sub(r"depuis \d+ s", "depuis N s", line) for line in lines] == [
        "  … en attente depuis N s (délai 25 s) : le KOS du patient dans le DMP (ITI-41)"
    ] * 3
    assert [int(re.search(r"depuis (\d+) s", line).group(1)) for line in lines] == [2, 12, 22]  # type: ignore[union-attr]
    assert not CONTROL.search(out.getvalue())


def test_a_short_wait_prints_nothing() -> None:
    out = io.StringIO()
    assert _wait(Console(out, live=False), 30.0, "la requête C-FIND", found_after=REPORT_AFTER_S - 0.5) is True
    assert out.getvalue() == ""


def test_on_a_terminal_the_wait_is_one_status_line_rewritten_then_erased() -> None:
    out = io.StringIO()
    console = Console(out, live=True, width=200)
    _wait(console, 30.0, "la requête C-FIND de la DRIMbox au PACS", found_after=4.0)
    console.line("VA-B2 conforme")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("VA-B2 conforme\n")  # the status line never took a line of its own
    assert "\r  … en attente depuis 2 s (délai 30 s) : la requête C-FIND de la DRIMbox au PACS" in text
    assert "\x1b" not in text  # \r and spaces, no escape sequence
    shown = text.split("\r")
    assert shown[-1] == "VA-B2 conforme\n" and shown[-2].strip() == ""  # erased before the next line


def test_a_quiet_console_prints_no_wait() -> None:
    out = io.StringIO()
    _wait(Console(out, live=False, quiet=True), 10.0, "x")
    assert out.getvalue() == ""


def test_text_is_shortened_at_a_word_boundary() -> None:
    text = "attendu DRIMVA0001, constaté (missing value) — ACK-MSA2 (MSA-2) : MSA-2 = MSH-10 of the message acknowledged"
    short = shorten(text, 40)
    assert short == "attendu DRIMVA0001, constaté (missing…" and len(short) <= 40
    assert shorten("a  b\n c", 10) == "a b c"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"  # one word longer than the line: cut inside it


def test_a_finding_reads_expected_and_actual_first() -> None:
    finding = {"rule": "ACK-MSA2", "location": "MSA-2", "expected": "A1", "actual": "A1X", "requirement": "MSA-2 = MSH-10", "severity": "error"}
    assert finding_text(finding) == (  # the requirement in French, from the catalogue, as in the VA report
        "attendu A1, constaté A1X — ACK-MSA2 (MSA-2) : MSA-2 de l'ACK reprend MSH-10 du message acquitté "
        "(CI-SIS volet Transmission CDA-R2 en HL7v2, acquittement technique; HL7 v2.5 ch.2)"
    )
    english = dict(finding, rule="HL7-TXA13", location="TXA-13", expected="the id of the replaced CDA", actual="(empty)")
    assert finding_text(english).startswith("attendu l'identifiant du CDA remplacé, constaté (vide) — HL7-TXA13 (TXA-13) : En MDM")
    info = dict(finding, rule="INFO-ONLY", severity="info")
    scenario = {"outcome": "failed", "message": "x", "findings": [info, finding, finding, finding, finding]}
    detail = scenario_detail(scenario)
    assert detail[0].startswith("attendu A1, constaté A1X") and "INFO-ONLY" not in " ".join(detail)
    assert detail[-1].startswith("(+ 1 autre(s) constat(s)")
    assert scenario_detail({"outcome": "passed", "findings": [finding]}) == []
    assert scenario_detail({"outcome": "skipped", "message": "non applicable : " + "mot " * 80, "findings": []})[0].endswith("…")


def test_the_line_formats() -> None:
    assert scenario_line(["VA-C1", "VA-C2"], "Le patient ouvre l'examen", "failed", 7.94) == (
        "VA-C1+VA-C2 non conforme       7,9 s  Le patient ouvre l'examen"
    )
    assert item_line("VA-B1", "Connexion avec le RIS", "not_run", {"passed": 1, "not_run": 1}) == (
        "== VA-B1 non lancé (2 scénario(s) : conforme : 1, non lancé : 1) — Connexion avec le RIS"
    )


def test_a_run_prints_a_line_per_scenario_and_per_item_and_no_pytest_output(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_drimva("run", "--run-dir", str(run_dir), "--fault", "hl7_ack_wrong_msa2", "--items", "VA-B1")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    out = done.stdout
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    ran = [s for s in results["scenarios"] if s["outcome"] != "not_run"]
    assert len(ran) == 4  # the ACK of every VA-B1 CR, accepted or refused, carries the wrong MSA-2
    for scenario in ran:  # one line each as it ends, its finding under it, expected and actual first
        (line,) = [line for line in out.splitlines() if line.endswith(scenario["name"]) and line.startswith("VA-B1")]
        assert " non conforme " in line and re.search(r"\d+,\d s ", line)
    assert len(re.findall(r"↳ attendu \S+, constaté \S+X — ACK-MSA2", out)) == 4
    assert [line for line in out.splitlines() if line.startswith("== ")] == [
        "== VA-B1 non conforme (4 scénario(s) : non conforme : 4) — "
        "Connexion avec le RIS : réception du compte rendu (HL7 v2 ORU^R01 / MDM^T02)"
    ]
    assert f"scénarios : non conforme : 4, non lancé : {len(results['scenarios']) - 4}" in out  # the counts of results.json
    assert results["scenario_counts"] == {"failed": 4, "not_run": len(results["scenarios"]) - 4}
    for word in PYTEST_WORDS:
        assert word not in out + done.stderr, word
    assert not CONTROL.search(out + done.stderr)  # not a terminal: no \r, no escape sequence
    junit = etree.parse(str(run_dir / "junit.xml"))
    etree.XMLSchema(etree.parse(str(REPO / "tests" / "junit.xsd"))).assertValid(junit)
    root = junit.getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == (str(len(results["scenarios"])), "4", str(len(results["scenarios"]) - 4))


def test_quiet_prints_only_the_summary_and_no_match_is_a_usage_error(tmp_path: Path) -> None:
    done = run_drimva("run", "--run-dir", str(tmp_path / "run"), "--quiet", "--fault", "hl7_ack_wrong_msa2", "--items", "VA-B1", "-k", "ORU")
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("drimva ") and "défaut hl7_ack_wrong_msa2" in lines[0]  # the summary, and nothing before it
    assert "           - non conforme : Le CR transmis en ORU^R01 est reçu et acquitté" in lines
    assert not [line for line in lines if line.startswith(("== ", "VA-B1 ", "drimva :"))]
    done = run_drimva("run", "--run-dir", str(tmp_path / "run2"), "--quiet", "-k", "zzz")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "aucun scénario ne correspond à -k 'zzz'" in done.stderr
    assert not any(word in done.stdout + done.stderr for word in PYTEST_WORDS)

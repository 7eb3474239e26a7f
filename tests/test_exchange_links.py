"""A finding names the recorded exchanges it judges, and the VA report links it to their evidence.

Unit tests of the pieces (the sequence number of a recorded file, the verdict that ties findings to
exchanges, the finding's round trip through results.json), then failing runs of the embedded
reference: every finding that names exchanges has, in ``rapport-va.html``, links to the decoded and
raw files of exactly those exchanges, and the files exist; a finding without one gets the marked guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from drimva.evidence import EvidenceStore, NullEvidence, seq_of, seqs_of
from drimva.findings import Finding, Severity
from drimva.report.html import INFERRED_MARK, write_html_report
from drimva.verdict import Verdict
from drimva.outcomes import NonConformance
from tests.va_runs import run_drimva, run_va


def _finding(rule: str = "ACK-MSA2", exchanges: tuple[int, ...] = ()) -> Finding:
    return Finding(rule, "MSA-2 reprend MSH-10", "MSA-2", "MSG1", "MSG2", Severity.ERROR, exchanges=exchanges)


def test_the_sequence_number_of_a_recorded_file(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    store.begin_scenario("un scénario")
    first = store.record("ris", "ORU^R01 -> SUT", b"MSH|", "MSH|")
    second = store.record("ris", "ACK of ORU^R01", b"MSH|", "MSH|")
    assert (seq_of(first), seq_of(second)) == (1, 2)
    assert [e.seq for e in store.exchanges()] == [1, 2]
    assert seqs_of(first, None, NullEvidence().record("x", "y", b""), second) == (1, 2)  # /dev/null is no exchange


def test_the_verdict_ties_findings_to_the_exchanges_judged(tmp_path: Path) -> None:
    verdict = Verdict(EvidenceStore(tmp_path))
    own = _finding("ACK-MSA1", exchanges=(9,))
    with pytest.raises(NonConformance):
        verdict.judge("acquittement technique", [_finding(), own], exchanges=(3, 4))
    assert [f.exchanges for f in verdict.findings] == [(3, 4), (9,)]  # a finding that names its own keeps it
    verdict.note("sans échange", [_finding("ACK-MSH9")])
    assert verdict.findings[-1].exchanges == ()
    written = json.loads((tmp_path / "_session" / "findings.json").read_text("utf-8"))
    assert written[0]["findings"][0]["exchanges"] == [3, 4]


def test_a_finding_round_trips_with_its_exchanges() -> None:
    finding = _finding(exchanges=(5, 7))
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding
    assert Finding.from_dict({k: v for k, v in finding.to_dict().items() if k != "exchanges"}).exchanges == ()
    with pytest.raises(TypeError, match="exchanges must be sequence numbers"):
        _finding(exchanges=(0,))


def _exchanges(run_dir: Path, scenario: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The exchanges recorded under ``scenario``'s evidence folder, by sequence number."""
    log = run_dir / scenario["evidence"] / "exchanges.jsonl"
    rows = [json.loads(line) for line in log.read_text("utf-8").splitlines()] if log.is_file() else []
    return {row["seq"]: row for row in rows}


@pytest.mark.parametrize(
    "fault, selection",
    [
        ("kos_drop_instance", ("--items", "VA-B3", "-k", "certificat")),  # the DMP's ITI-41 request and response
        ("hl7_ack_wrong_msa2", ("--items", "VA-B1", "-k", "ORU")),  # the CR sent and its ACK
        ("viewer_no_login", ("--items", "VA-C2", "-k", "session")),  # the viewer's final page (request and response)
        ("supervision_wrong_status", ("--items", "VA-F")),  # each probe and its answer
        ("tls_wrong_certificate", ("--items", "VA-A", "-k", "certificat")),  # the server certificate the harness read
    ],
)
def test_a_failing_runs_findings_link_to_their_exchanges(tmp_path: Path, fault: str, selection: tuple[str, ...]) -> None:
    run_dir = tmp_path / "run"
    results = run_va(run_dir, *selection, fault=fault)
    _assert_linked(run_dir, results["scenarios"], fault)


def test_a_failing_ris_runs_findings_link_to_their_exchanges(tmp_path: Path) -> None:
    """``drimva ris``: the harness's listener files the RIS's messages by what they claim, the findings name them."""
    run_dir = tmp_path / "run"
    done = run_drimva("ris", "--run-dir", str(run_dir), "--quiet", "--fault", "replace_no_parent", "--items", "RIS-1,RIS-2")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    _assert_linked(run_dir, results["scenarios"], "replace_no_parent")


def _assert_linked(run_dir: Path, scenarios: list[dict[str, Any]], fault: str) -> None:
    """Every error / warning that names exchanges has a row of the report whose evidence cell links the decoded and
    raw files of exactly those exchanges (files that exist), not an inferred one."""
    linked = [(s, f) for s in scenarios for f in s["findings"] if f["severity"] in ("error", "warning") and f["exchanges"]]
    assert linked, f"the fault {fault} made no finding that names its exchange: the test would prove nothing"
    rows = _evidence_cells(run_dir / "rapport-va.html")
    for scenario, finding in linked:
        exchanges = _exchanges(run_dir, scenario)
        wanted = []
        for seq in finding["exchanges"]:
            assert seq in exchanges, f"{finding['rule']}: exchange {seq} is not in {scenario['evidence']}/exchanges.jsonl"
            for key in ("decoded_path", "raw_path"):
                relative = exchanges[seq][key]
                assert relative, f"{finding['rule']}: exchange {seq} has no {key}"
                assert (run_dir / "evidence" / relative).is_file(), f"{finding['rule']}: {relative} does not exist"
                wanted.append(f"evidence/{relative}")
        cells = [(hrefs, text) for rule, hrefs, text in rows if rule == finding["rule"] and hrefs == wanted]
        assert cells, f"{finding['rule']}: no row of the report links exactly {wanted}"
        assert all(INFERRED_MARK not in text for _, text in cells), f"{finding['rule']}: its exchanges are shown as inferred"


def _evidence_cells(report: Path) -> list[tuple[str, list[str], str]]:
    """(rule, links, text) of the evidence cell of every findings row of the report."""
    page = lxml_html.parse(str(report)).getroot()
    cells = []
    for row in page.xpath("//section//table//tr[count(td) = 7]"):
        tds = row.xpath("td")
        cells.append((tds[1].text_content().strip(), [str(h) for h in tds[6].xpath(".//a/@href")], tds[6].text_content()))
    return cells


def test_a_finding_without_exchange_gets_the_marked_guess(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = json.loads(json.dumps(run_va(run_dir, "--items", "VA-B1", "-k", "ORU", fault="hl7_ack_wrong_msa2")))
    for item in results["items"]:
        for scenario in item["scenarios"]:
            for finding in scenario["findings"]:
                finding["exchanges"] = []
    write_html_report(run_dir, results)
    report = (run_dir / "rapport-va.html").read_text("utf-8")
    assert f"({INFERRED_MARK})</a>" in report

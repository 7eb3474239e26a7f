"""drimva soak against the embedded reference DRIMbox: a short functional run (no timing assertion)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from drimva.evidence import NullEvidence
from drimva.soak import (
    FULL_RIS_MESSAGES,
    ReportRun,
    SoakResult,
    SummarisedRisEvidence,
    _figures,
    nearest_rank,
    run_soak,
)

pytestmark = pytest.mark.long(16)  # seconds, roughly: handed out first under pytest-xdist

REFERENCE_PROFILE = Path(__file__).resolve().parents[1] / "drimva" / "profiles" / "reference.toml"
COUNT = 20
RATE = 5.0  # well below what the reference holds on a loaded 2-core machine (scripts/bench_soak.py: 16-20/s)


def _profile(tmp_path: Path) -> Path:
    """The embedded reference profile, its reports under ``tmp_path``."""
    profile = tmp_path / "profile.toml"
    text = REFERENCE_PROFILE.read_text("utf-8")
    assert "[harness]\n" in text
    profile.write_text(text.replace("[harness]\n", f'[harness]\nreports_dir = "{tmp_path / "reports"}"\n'), "utf-8")
    return profile


def test_short_soak_publishes_every_report(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    code = run_soak(argparse.Namespace(profile=str(_profile(tmp_path)), count=COUNT, rate=RATE, json_out=str(figures)))
    data = json.loads(figures.read_text("utf-8"))
    assert code == 0, data
    assert (data["sent"], data["acked"], data["acked_aa"], data["t"], data["k"]) == (COUNT,) * 5
    assert data["kt"] == 1.0 and data["passed"] and data["errors"] == []
    assert 0 < data["latency_median_s"] <= data["latency_p95_s"] <= data["latency_max_s"]
    assert data["send_rate"] > 0 and data["ack_throughput"] > 0
    run_dir = Path(data["run_dir"])
    assert run_dir.parent == tmp_path / "reports" and run_dir.name.startswith("soak-")
    rows = json.loads((run_dir / "evidence" / "soak" / "soak.json").read_text("utf-8"))["reports"]
    assert len({row["ins"] for row in rows}) == COUNT and all(row["entry_uuid"] for row in rows)
    exchanges = [json.loads(line) for line in (run_dir / "evidence" / "soak" / "exchanges.jsonl").read_text("utf-8").splitlines()]
    assert sum(1 for e in exchanges if e["channel"] == "dmp" and e["meta"].get("direction", "") != "sent") >= COUNT
    assert sum(1 for e in exchanges if e["channel"] == "ris" and e["meta"].get("summarised")) == COUNT - FULL_RIS_MESSAGES


def test_a_soak_against_a_reference_whose_publications_fail_fails(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    code = run_soak(argparse.Namespace(profile=str(_profile(tmp_path)), count=3, rate=RATE, json_out=str(figures), fault="xds_wrong_hash"))
    data = json.loads(figures.read_text("utf-8"))
    assert code == 1 and not data["passed"] and not data["kt_ok"]
    assert (data["t"], data["k"]) == (3, 0) and data["acked_aa"] == 0
    assert all("ACK AR" in error for error in data["errors"]) and len(data["errors"]) == 3


def test_figures_fail_below_99_percent_or_slow_rate() -> None:
    result = SoakResult(asked_count=200, asked_rate=10.0, sent=200, t=200, k=197, send_rate=10.0)
    assert result.kt == 0.985 and not result.kt_ok and not result.passed
    assert SoakResult(asked_count=200, asked_rate=10.0, t=200, k=198, send_rate=9.0).passed
    assert not SoakResult(asked_count=200, asked_rate=10.0, t=200, k=200, send_rate=8.9).passed
    assert not SoakResult(asked_count=1, asked_rate=1.0, t=0, k=0, send_rate=1.0).passed  # nothing received


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 0.95) == 19.0 and nearest_rank(values, 0.5) == 10.0 and nearest_rank([3.0], 0.95) == 3.0


def test_ris_evidence_is_summarised_after_the_first_messages() -> None:
    inner = NullEvidence()
    sink = SummarisedRisEvidence(inner, keep=1)
    message = b"MSH|^~\\&|RIS\rPID|1\rOBX|1|ED|" + b"A" * 1000
    for _ in range(2):
        sink.record("ris", "ORU", message, "full", {"direction": "sent"}, "hl7")
        sink.record("ris", "ACK", b"MSH|ack\rMSA|AA", "ack", {"direction": "received"}, "hl7")
    raws = [record[2] for record in inner.records]
    assert raws[0] == message and raws[1] == raws[3] == b"MSH|ack\rMSA|AA"
    assert raws[2] == b"MSH|^~\\&|RIS" and inner.records[2][4] == {"direction": "sent", "summarised": True, "size": len(message)}


def test_the_figures_are_written_the_french_way() -> None:
    """Decimal commas and a spaced percent sign throughout, as the rest of the console (no '99.50%')."""
    result = SoakResult(asked_count=200, asked_rate=10, sent=200, acked=200, acked_aa=200, t=200, k=199,
                        send_rate=9.87, ack_throughput=9.5, latency_median_s=0.5, duration_s=20.3)
    text = result.to_text()
    assert "K/T = 99,50 % (≥ 99 %)" in text
    assert "9,87/s" in text and "médiane 0,500 s" in text
    assert "." not in text.replace("soak.json", ""), text


def test_a_report_without_ack_is_told_in_french() -> None:
    run = ReportRun(0, "SOAK1", "202098475988816", "1.2.3", True, True, sent_at=1.0,
                    error="connection closed by 127.0.0.1:2575 without an ACK")
    (error,) = _figures([run], 1, 1.0).errors
    assert error == "CR 0 (SOAK1, INS 202098475988816) : pas d'ACK (connexion fermée par 127.0.0.1:2575 sans ACK)"

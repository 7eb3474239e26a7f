"""Under faults (issue 13, item 5): a peer that accepts and never speaks, one that drips a byte a second, and
SIGKILL of the reference DRIMbox mid-run; each ends within its timeout with an error naming what happened."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from drimva.evidence import EvidenceStore
from drimva.sut_calls import http_lost, mllp_lost, send_bounded
from simulators.ris import RisSimulator
from hostile_peers import drip
from va_runs import REPO

TIMEOUT_S = 3.0
MARGIN_S = 2.5
MESSAGE = "MSH|^~\\&|RIS|FAC|DB|DBF|20250102||ORU^R01^ORU_R01|MSG1|P|2.5\rPID|||1\r"


@contextmanager
def fake_sut(mode: str, answer: bytes) -> Iterator[int]:
    """A loopback peer: ``silent`` accepts, reads and never speaks; ``drip`` sends ``answer`` a byte a second."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            if mode == "drip":
                drip(conn, answer, stop)
            stop.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.mark.parametrize("mode", ["silent", "drip"])
def test_mllp_through_the_ris_simulator(mode: str, tmp_path: Path) -> None:
    evidence = EvidenceStore(tmp_path / "evidence")
    ris = RisSimulator(evidence, connect_timeout=TIMEOUT_S, ack_timeout=TIMEOUT_S)
    with fake_sut(mode, b"\x0bMSH|^~\\&|DB|DBF|RIS|FAC") as port:
        started = time.monotonic()
        exchange = ris.send("127.0.0.1", port, MESSAGE)
        elapsed = time.monotonic() - started
    assert TIMEOUT_S - 0.2 <= elapsed < TIMEOUT_S + MARGIN_S
    lost = mllp_lost(exchange.failure, len(exchange.received), "127.0.0.1", port, "CR", TIMEOUT_S, lambda: True)
    if mode == "silent":
        assert exchange.failure == "silent" and "n'a rien répondu en 3 s" in lost and "aucun octet" in lost
    else:
        assert exchange.failure == "slow" and exchange.received.startswith(b"\x0b")
        assert "reçue trop lentement" in lost and f"{len(exchange.received)} octet(s) en 3 s" in lost
    assert f"127.0.0.1:{port}" in lost
    recorded = "\n".join(p.read_text("utf-8", "replace") for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert "no ACK" in recorded  # the partial exchange is in the evidence before anything is judged


@pytest.mark.parametrize("mode", ["silent", "drip"])
def test_http_bounded_as_a_whole(mode: str) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    with fake_sut(mode, answer) as port, httpx.Client(timeout=TIMEOUT_S, trust_env=False) as client:
        url = f"http://127.0.0.1:{port}/supervision"
        started = time.monotonic()
        with pytest.raises(httpx.HTTPError) as caught:
            send_bounded(client, client.build_request("GET", url), TIMEOUT_S)
        elapsed = time.monotonic() - started
    assert TIMEOUT_S - 0.2 <= elapsed < TIMEOUT_S + MARGIN_S
    lost = http_lost(caught.value, url, "supervision", TIMEOUT_S, lambda: True)
    expected = "n'a rien répondu en 3 s" if mode == "silent" else "reçue trop lentement"
    assert expected in lost and url in lost


def test_sigkill_of_the_reference_mid_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    selection = ["B1-ORU", "B3-KOS", "E-SERIES", "D1-CALL", "F-SUPERVISION"]
    command = [sys.executable, "-m", "drimva", "run", "--run-dir", str(run), "--quiet"]
    command += [arg for scenario in selection for arg in ("--scenario", scenario)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        progress, ready = run / "progress.jsonl", run / "reference" / "ready.json"
        while not (progress.exists() and '"start"' in progress.read_text("utf-8") and ready.exists()):
            assert process.poll() is None and time.monotonic() < deadline, "the run never started a scenario"
            time.sleep(0.02)
        pid = int(json.loads(ready.read_text("utf-8"))["pid"])
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        process.communicate(timeout=120)
        after_kill = time.monotonic() - killed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    results = json.loads((run / "results.json").read_text("utf-8"))
    ran = [s for s in results["scenarios"] if s["outcome"] != "not_run"]
    assert len(ran) == len(selection)
    for scenario in ran:
        assert scenario["outcome"] == "error", scenario
        assert "n'écoute plus" in scenario["message"] and "connexion refusée" in scenario["message"], scenario
    assert process.returncode == 3 and after_kill < 60
    assert (run / "rapport-va.html").exists() and (run / "junit.xml").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, nothing left behind
    print(f"SIGKILL mid-run: {len(ran)} scenarios error, run ended {after_kill:.1f} s after the kill")

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from drimva.evidence import EvidenceStore
from drimva.sut_calls import gone_while_waiting, http_lost, mllp_lost, send_bounded
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


def _run_killing_the_reference(
    run: Path, selection: list[str], trigger: Callable[[Path], bool], *extra: str
) -> tuple[dict[str, Any], int, float, int]:
    """``drimva run`` of ``selection``; SIGKILL of the reference DRIMbox once ``trigger(run)`` holds.
    Returns the results, the exit code, the seconds from the kill to the end, and the reference's pid."""
    command = [sys.executable, "-m", "drimva", "run", "--run-dir", str(run), "--quiet", *extra]
    command += [arg for scenario in selection for arg in ("--scenario", scenario)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        ready = run / "reference" / "ready.json"
        while not (ready.exists() and trigger(run)):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before the moment of the kill"
            time.sleep(0.005)
        pid = int(json.loads(ready.read_text("utf-8"))["pid"])
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        process.communicate(timeout=120)
        after_kill = time.monotonic() - killed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, nothing left behind
    assert (run / "rapport-va.html").exists() and (run / "junit.xml").exists()
    return json.loads((run / "results.json").read_text("utf-8")), process.returncode, after_kill, pid


def _evidence(pattern: str) -> Callable[[Path], bool]:
    """The moment a file matching ``pattern`` is in the run's evidence (written as the exchange happens)."""
    return lambda run: any((run / "evidence").glob(f"*/{pattern}"))


def test_sigkill_of_the_reference_mid_run(tmp_path: Path) -> None:
    selection = ["B1-ORU", "B3-KOS", "E-SERIES", "D1-CALL", "F-SUPERVISION"]

    def started(run: Path) -> bool:
        progress = run / "progress.jsonl"
        return progress.exists() and '"start"' in progress.read_text("utf-8")

    results, code, after_kill, _ = _run_killing_the_reference(tmp_path / "run", selection, started)
    ran = [s for s in results["scenarios"] if s["outcome"] != "not_run"]
    assert len(ran) == len(selection)
    for scenario in ran:
        assert scenario["outcome"] == "error", scenario
        assert "n'écoute plus" in scenario["message"] and "connexion refusée" in scenario["message"], scenario
    assert code == 3 and after_kill < 60
    print(f"SIGKILL mid-run: {len(ran)} scenarios error, run ended {after_kill:.1f} s after the kill")


def test_sigkill_while_the_drimbox_processes_the_report(tmp_path: Path) -> None:
    """Killed once it has queried the PACS, before its ACK (it publishes first): the CR's exchange names it."""
    results, code, after_kill, _ = _run_killing_the_reference(tmp_path / "run", ["B3-KOS"], _evidence("*pacs-C-FIND-rq-STUDY*"))
    (scenario,) = [s for s in results["scenarios"] if s["outcome"] != "not_run"]
    assert scenario["outcome"] == "error", scenario
    assert "sans ACK" in scenario["message"] and "plus rien n'écoute" in scenario["message"], scenario
    assert code == 3 and after_kill < 60


def test_sigkill_during_the_grace_is_no_pass(tmp_path: Path) -> None:
    """A DRIMbox that acknowledges first and dies after its ACK publishes nothing: the check that nothing is published
    (DESTDMP = N) must not pass on it, it ends ``error`` saying the DRIMbox stopped listening during the grace."""
    results, code, after_kill, _ = _run_killing_the_reference(
        tmp_path / "run", ["B3-DESTDMP"], _evidence("*ris-ACK-of-*"), "--variant", "ack_before_processing"
    )
    (scenario,) = [s for s in results["scenarios"] if s["outcome"] != "not_run"]
    assert scenario["outcome"] == "error", scenario
    assert "a cessé d'écouter" in scenario["message"] and "délai de grâce" in scenario["message"], scenario
    assert code == 3 and after_kill < 60


def test_a_wait_that_came_up_empty_names_a_sut_that_stopped_listening() -> None:
    assert gone_while_waiting("127.0.0.1", 2575, "en attendant la publication du KOS", lambda: True) == ""
    gone = gone_while_waiting("127.0.0.1", 2575, "en attendant la publication du KOS", lambda: False)
    assert gone.startswith("la DRIMbox a cessé d'écouter (127.0.0.1:2575) en attendant la publication du KOS")

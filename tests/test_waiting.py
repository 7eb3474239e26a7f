"""``drimva.waiting.poll``: how the steps wait for what a SUT does after it has answered."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from drimva import waiting
from drimva.console import Console
from drimva.evidence import NullEvidence
from drimva.waiting import WaitProgress, blocking, observed, poll
from simulators.ris.simulator import RisSimulator


def test_a_value_already_there_is_returned_at_once() -> None:
    calls: list[float] = []
    started = time.monotonic()
    assert poll(lambda: calls.append(time.monotonic()) or ["there"], 5.0) == ["there"]
    assert len(calls) == 1 and time.monotonic() - started < 0.5


def test_a_value_that_comes_late_is_seen_before_the_timeout() -> None:
    seen: list[str] = []
    timer = threading.Timer(0.2, seen.append, ("KOS",))
    timer.start()
    started = time.monotonic()
    try:
        assert poll(lambda: list(seen), 5.0, interval_s=0.01) == ["KOS"]
    finally:
        timer.cancel()
    assert 0.15 < time.monotonic() - started < 2.0


def test_nothing_gives_the_last_falsy_value_after_the_whole_timeout() -> None:
    calls: list[int] = []
    started = time.monotonic()
    assert poll(lambda: calls.append(1) or [], 0.3, interval_s=0.05) == []
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert len(calls) >= 3  # looked again and again, and once at the deadline


def test_a_zero_timeout_is_a_single_look() -> None:
    calls: list[int] = []
    assert poll(lambda: calls.append(1) or None, 0) is None
    assert calls == [1]


# -- blocking calls ------------------------------------------------------------------------------


def _quick_reports(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(waiting, "REPORT_AFTER_S", 0.05)
    monkeypatch.setattr(waiting, "BLOCKING_REPORT_EVERY_S", 0.05)


def test_a_short_blocking_call_is_not_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    heard: list[WaitProgress] = []
    with observed(heard.append), blocking("l'ACK", 15.0):
        time.sleep(0.01)
    assert heard == []


def test_a_long_blocking_call_is_reported_while_it_lasts_then_once_ended(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _quick_reports(monkeypatch)
    heard: list[WaitProgress] = []
    with observed(heard.append), blocking("l'ACK de la DRIMbox", 15.0):
        time.sleep(0.3)
    ongoing, last = heard[:-1], heard[-1]
    assert len(ongoing) >= 2 and all(not p.done and p.what == "l'ACK de la DRIMbox" and p.timeout_s == 15.0 for p in ongoing)
    assert ongoing[0].elapsed_s >= 0.05 and ongoing[-1].elapsed_s > ongoing[0].elapsed_s
    assert last.done and last.found and last.elapsed_s >= 0.3


def test_a_blocking_call_that_raises_ends_its_wait_unfound_and_the_error_goes_on(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _quick_reports(monkeypatch)
    heard: list[WaitProgress] = []
    with observed(heard.append), pytest.raises(TimeoutError):
        with blocking("la réponse", 1.0):
            time.sleep(0.15)
            raise TimeoutError
    assert heard[-1].done and not heard[-1].found


def test_nobody_listening_costs_no_thread() -> None:
    before = threading.active_count()
    with blocking("rien", 1.0):
        assert threading.active_count() == before


def test_an_hl7_message_awaiting_its_ack_shows_on_the_console(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A DRIMbox that takes the message and never acknowledges it: the console says what is awaited, in French."""
    _quick_reports(monkeypatch)
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    stream = io.StringIO()
    console = Console(stream, live=False)
    ris = RisSimulator(NullEvidence(), connect_timeout=1.0, ack_timeout=0.4)
    try:
        with observed(console.waiting):
            exchange = ris.send("127.0.0.1", server.getsockname()[1], "MSH|^~\\&|RIS|F|DB|F|20261202||ORU^R01|C1|P|2.5\rPID|1\r")
    finally:
        server.close()
        for connection in accepted:
            connection.close()
    assert exchange.ack is None
    assert "en attente depuis" in stream.getvalue() and "l'ACK de la DRIMbox (ORU^R01" in stream.getvalue(), stream.getvalue()

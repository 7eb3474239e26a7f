"""``drimva.waiting.poll``: how the steps wait for what a SUT does after it has answered."""

from __future__ import annotations

import threading
import time

from drimva.waiting import poll


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

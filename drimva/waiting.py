"""Waiting for what the system under test does after it has answered.

A SUT may do its work after its answer (a DRIMbox may acknowledge a report
before it queries the PACS and publishes: ``hl7v2-ris-to-drimbox.md`` open
question 2), so a step never looks at a simulator's records once: it polls
them with :func:`poll` up to the profile's timeout (``[timeouts]``), then
judges what it has. A check that something did *not* happen polls for the
grace period instead: it ends early when the thing happens, and otherwise
judges after the whole grace.

Against a real SUT a wait can last tens of seconds, so a person watching the
console must see what is awaited: ``poll(..., what="…")`` names it (French,
for the console), and once a wait has lasted :data:`REPORT_AFTER_S` the
observer set with :func:`observed` (the run's console, :mod:`drimva.console`)
hears of it at every look, then once more when it ends. A call that blocks
until its answer (an HL7 message awaiting its ACK, a request to the SUT) is
wrapped in :func:`blocking`, which the observer hears of the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")

POLL_INTERVAL_S = 0.05
REPORT_AFTER_S = 2.0  # a shorter wait is not worth a line on the console


@dataclass(frozen=True)
class WaitProgress:
    """A wait that has lasted :data:`REPORT_AFTER_S` or more, as the observer hears of it."""

    what: str  # what is awaited, in French ("" when the caller did not say)
    elapsed_s: float
    timeout_s: float
    done: bool = False  # the wait is over (found, or timed out)
    found: bool = False  # ...and what was awaited came


WaitObserver = Callable[[WaitProgress], None]
_observers: list[WaitObserver] = []
_lock = threading.Lock()


@contextmanager
def observed(observer: WaitObserver) -> Iterator[None]:
    """For the duration, ``observer`` hears of every wait of :func:`poll` that lasts :data:`REPORT_AFTER_S` or more."""
    with _lock:
        _observers.append(observer)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(observer)


def _tell(progress: WaitProgress) -> None:
    with _lock:
        observers = list(_observers)
    for observer in observers:
        observer(progress)


def poll(
    probe: Callable[[], T],
    timeout_s: float,
    interval_s: float = POLL_INTERVAL_S,
    *,
    what: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``probe()`` again and again until it returns something truthy or ``timeout_s`` has passed.

    Returns that value, or the last (falsy) one. ``probe`` runs at least once,
    and once more at the deadline, so a zero timeout is a single look.
    ``what`` says what is awaited, for the console; ``clock`` and ``sleep``
    are for tests.
    """
    started = clock()
    timeout_s = max(0.0, timeout_s)
    deadline = started + timeout_s
    reported = False
    while True:
        value = probe()
        now = clock()
        remaining = deadline - now
        over = bool(value) or remaining <= 0
        if now - started >= REPORT_AFTER_S and (reported or not over):
            reported = True
            _tell(WaitProgress(what, now - started, timeout_s, done=over, found=bool(value)))
        if over:
            return value
        sleep(min(interval_s, remaining))


BLOCKING_REPORT_EVERY_S = 1.0


@contextmanager
def blocking(what: str, timeout_s: float, *, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """The block is a call awaiting an answer (``what``, bounded by ``timeout_s``): observers hear of it as of a long poll.

    The call itself keeps its own timeout; a watcher thread tells the
    observers after :data:`REPORT_AFTER_S`, then every
    :data:`BLOCKING_REPORT_EVERY_S`, and once more when the block ends
    (``found``: it ended without an exception). No observer: no thread.
    """
    with _lock:
        watched = bool(_observers)
    if not watched:
        yield
        return
    started = clock()
    stop = threading.Event()
    told: list[bool] = []

    def watch() -> None:
        delay = REPORT_AFTER_S
        while not stop.wait(delay):
            told.append(True)
            _tell(WaitProgress(what, clock() - started, timeout_s))
            delay = BLOCKING_REPORT_EVERY_S

    watcher = threading.Thread(target=watch, name=f"drimva-wait: {what[:40]}", daemon=True)
    watcher.start()
    ended_well = False
    try:
        yield
        ended_well = True
    finally:
        stop.set()
        watcher.join()
        if told:
            _tell(WaitProgress(what, clock() - started, timeout_s, done=True, found=ended_well))

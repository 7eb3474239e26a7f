"""Stopping a run on SIGINT or SIGTERM: both signals take the path of Ctrl-C.

``drimva run`` and ``drimva soak`` run inside :func:`interruptible`: the first
SIGINT or SIGTERM raises :class:`RunInterrupted` (a ``KeyboardInterrupt``) in
the main thread, so pytest ends the session as it does on Ctrl-C (session
teardown, ``pytest_sessionfinish``) and the soak stops sending; the harness
stops what it started and writes what it has. Later signals are noted and not
raised, so that the stop itself is not cut short (each of its waits has a
timeout). The exit code is the shell's for a process ended by a signal:
128 + its number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_EXIT_BASE = 128


class RunInterrupted(KeyboardInterrupt):
    """A stop signal received during a run."""

    def __init__(self, signum: int) -> None:
        self.signum = signal.Signals(signum)
        super().__init__(self.signum.name)


def stop_signal(error: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``error``: a bare ``KeyboardInterrupt`` is Python's own SIGINT handler."""
    return error.signum if isinstance(error, RunInterrupted) else signal.SIGINT


def signal_exit_code(signum: int) -> int:
    """The exit code of a run stopped by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return _SIGNAL_EXIT_BASE + int(signum)


class Interruption:
    """What :func:`interruptible` saw: the first stop signal, if any."""

    def __init__(self) -> None:
        self.signum: signal.Signals | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            print(f"drimva: {signal.Signals(signum).name} again: already stopping what the harness started", file=sys.stderr)
            return
        self.signum = signal.Signals(signum)
        raise RunInterrupted(signum)


@contextmanager
def interruptible() -> Iterator[Interruption]:
    """For the duration, SIGINT and SIGTERM raise :class:`RunInterrupted` once; the former handlers are restored after.

    Outside the main thread (where Python cannot install handlers) nothing is installed.
    """
    interruption = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return
    previous = {signum: signal.signal(signum, interruption.handle) for signum in STOP_SIGNALS}
    try:
        yield interruption
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

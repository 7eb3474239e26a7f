"""The operator's side of a ``drimva ris`` session with a real RIS: a line on the console skips the pending step.

The suite runs under pytest, which replaces file descriptor 0 with
``/dev/null`` while it captures; ``drimva ris`` therefore duplicates the
console's descriptor before pytest starts (:func:`console_input_fd`) and a
reader thread here reads lines from the copy. A line (Enter alone, or « s »)
typed while a step waits asks to skip that step; a line typed while nothing
waits is dropped, so that an early Enter does not skip the next step unseen.
"""

from __future__ import annotations

import os
import sys
import threading


def console_input_fd() -> int | None:
    """A duplicate of the console's input descriptor, None when there is none (closed stdin)."""
    try:
        return os.dup(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):
        return None


SKIP_WORDS = ("", "s", "skip", "passer")


class OperatorInput:
    """Reads lines from ``fd`` in a daemon thread; :meth:`skip_requested` says whether one asked to skip the waiting step."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._waiting = False
        self._skip = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False  # end of input seen (stdin is /dev/null, or the pipe closed)

    @property
    def available(self) -> bool:
        """Whether a line can still come (the countdown offers the skip only then)."""
        return self.fd is not None and not self._closed

    def start(self) -> OperatorInput:
        if self.fd is not None and self._thread is None:
            self._thread = threading.Thread(target=self._read, name="drimva-ris-operator", daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        assert self.fd is not None
        # closefd=False: ``drimva ris`` owns the copy and closes it after the session
        with os.fdopen(self.fd, "r", encoding="utf-8", errors="replace", closefd=False) as lines:
            for line in lines:  # ends at end of input (the console or the pipe closed)
                if line.strip().lower() in SKIP_WORDS:
                    with self._lock:
                        if self._waiting:
                            self._skip.set()
        self._closed = True

    def begin_wait(self) -> None:
        """A step starts waiting: from now on a line skips it."""
        with self._lock:
            self._waiting = True
            self._skip.clear()

    def end_wait(self) -> None:
        with self._lock:
            self._waiting = False
            self._skip.clear()

    def skip_requested(self) -> bool:
        return self._skip.is_set()

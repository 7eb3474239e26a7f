"""Waiting for what the system under test does after it has answered.

A SUT may do its work after its answer (a DRIMbox may acknowledge a report
before it queries the PACS and publishes: ``hl7v2-ris-to-drimbox.md`` open
question 2), so a step never looks at a simulator's records once: it polls
them with :func:`poll` up to the profile's timeout (``[timeouts]``), then
judges what it has. A check that something did *not* happen polls for the
grace period instead: it ends early when the thing happens, and otherwise
judges after the whole grace.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")

POLL_INTERVAL_S = 0.05


def poll(probe: Callable[[], T], timeout_s: float, interval_s: float = POLL_INTERVAL_S) -> T:
    """``probe()`` again and again until it returns something truthy or ``timeout_s`` has passed.

    Returns that value, or the last (falsy) one. ``probe`` runs at least once,
    and once more at the deadline, so a zero timeout is a single look.
    """
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        value = probe()
        remaining = deadline - time.monotonic()
        if value or remaining <= 0:
            return value
        time.sleep(min(interval_s, remaining))

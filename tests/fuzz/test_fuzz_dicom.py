"""Fixed-seed mutation fuzzing of the DICOM UL servers (issue 13, the DICOM part): PACS simulator and DICOM node.

A valid association (A-ASSOCIATE-RQ, P-DATA with a C-ECHO, A-RELEASE-RQ) sent
by pynetdicom is captured, mutated with a fixed seed and sent on a raw socket;
each mutant must get an answer or a close within the bound, and a good C-ECHO
must then be served; no exception may be logged or end a thread, and RSS growth stays bounded.
``DRIMVA_FUZZ_INPUTS`` sets the inputs per server (short run: 60).

Memory: RSS grows by tens of MB in the first few hundred inputs, then stays flat
(glibc's per-thread malloc arenas filling: three threads per connection; with
``MALLOC_ARENA_MAX=2`` the growth is +46 MB at 1 000 as at 500). A leak grows
with the inputs instead, so over ``SLOPE_FROM`` inputs the growth from the
first third of the run to its end must stay under ``SLOPE_MAX_KIB`` per input
(a leaked Association, socket or thread is tens of KiB each); the whole growth
stays under ``GROWTH_MAX_KIB``. Measured: 3 000 inputs on the PACS simulator,
+57.2 MB at 1 000, +58.7 MB at 3 000 (0.8 KiB per input).
During the run, the root logger's records go to the test's recorder only:
pytest's log capture keeps every record for the report (DEBUG, the recorder's
level), +315 MB over 3 000 inputs, which is pytest's memory, not the server's.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from drimva.evidence import EvidenceSink
from simulators.dicom_node import DicomNode
from simulators.pacs import PacsSimulator
from simulators.reference.dicom_server import DicomServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers of tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import DiscardEvidence, rss_kib  # noqa: E402
from test_dicom_limits import BOUND_S, TIMEOUT, _echo, errors  # noqa: E402,F401
from test_fuzz_validate import mutate  # noqa: E402

SEED = 20261203
INPUTS = int(os.environ.get("DRIMVA_FUZZ_INPUTS", "60"))
GROWTH_MAX_KIB = 100 * 1024
SLOPE_FROM = 900
SLOPE_MAX_KIB = 4.0


@pytest.fixture(params=["pacs", "node", "reference"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    """The SCP under fuzz, with an evidence sink that keeps nothing (``NullEvidence`` keeps every exchange)."""
    evidence: EvidenceSink = DiscardEvidence()
    if request.param == "pacs":
        with PacsSimulator(evidence, timeout=TIMEOUT) as pacs:
            yield pacs.port, pacs.ae_title
    elif request.param == "node":
        with DicomNode(evidence, timeout=TIMEOUT) as node:
            yield node.port, node.ae_title
    else:  # the reference DRIMbox's own listener (C-ECHO, IOCM rejection notes), bounded by dicombounds too
        with DicomServer("DRIMBOX", on_rejection=lambda studies: 0x0000, timeout_s=TIMEOUT) as listener:
            yield listener.port, listener.ae_title


@contextmanager
def _without_pytest_capture() -> Iterator[None]:
    """The root logger's handlers from pytest (log capture for the report, live logging) detached until the block ends."""
    root = logging.getLogger()
    detached = [handler for handler in root.handlers if type(handler).__module__.startswith("_pytest")]
    for handler in detached:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in detached:
            root.addHandler(handler)


def _valid_exchange(port: int, called: str) -> bytes:
    sent: list[bytes] = []
    ae = AE()
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=called, evt_handlers=[(evt.EVT_DATA_SENT, lambda e: sent.append(e.data))])
    assert assoc.is_established
    assoc.send_c_echo()
    assoc.release()
    return b"".join(sent)


def _raw(port: int, data: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
        deadline = time.monotonic() + BOUND_S
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not sock.recv(65536):
                    return "closed"
        except TimeoutError:
            return "hang"
        except OSError:
            return "closed"
    return "hang"


def test_mutants_get_an_answer_or_a_close_and_the_server_stays_up(server: tuple[int, str], errors: list[str]) -> None:  # noqa: F811
    port, called = server
    good = _valid_exchange(port, called)
    rng = random.Random(SEED)
    hangs: list[bytes] = []
    third = INPUTS // 3
    before = at_third = rss_kib()
    started = time.monotonic()
    with _without_pytest_capture():
        for index in range(INPUTS):
            mutant = mutate(good, rng)
            if _raw(port, mutant) == "hang":
                hangs.append(mutant)
            if index % 10 == 0:
                assert _echo(port, called) == 0x0000
            if index + 1 == third:
                at_third = rss_kib()
        assert _echo(port, called) == 0x0000
    after = rss_kib()
    growth, slope = after - before, (after - at_third) / (INPUTS - third)
    print(f"\nDICOM {called}: {INPUTS} inputs in {time.monotonic() - started:.1f} s, {len(hangs)} hang(s), "
          f"{len(errors)} exception(s) logged or unhandled, RSS {growth:+} KiB ({at_third - before:+} KiB at {third}, "
          f"{slope:+.2f} KiB per input after)")
    assert hangs == [], f"{len(hangs)} input(s) without answer nor close, first {hangs[0][:40]!r}"
    assert errors == [], errors[:3]
    assert growth < GROWTH_MAX_KIB
    if INPUTS >= SLOPE_FROM:  # shorter runs are all warm-up: the arenas are still filling
        assert slope < SLOPE_MAX_KIB, f"RSS grows with the inputs: {slope:.2f} KiB per input after the first {third}"

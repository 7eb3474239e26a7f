"""Fixed-seed mutation fuzzing of the DICOM UL servers (issue 13, the DICOM part): PACS simulator and DICOM node.

A valid association (A-ASSOCIATE-RQ, P-DATA with a C-ECHO, A-RELEASE-RQ) sent
by pynetdicom is captured, mutated with a fixed seed and sent on a raw socket;
each mutant must get an answer or a close within the bound, and a good C-ECHO
must then be served; no exception may be logged and RSS growth stays bounded.
``DRIMVA_FUZZ_INPUTS`` sets the inputs per server (short run: 60).
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time
from pathlib import Path

import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers of tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import rss_kib  # noqa: E402
from test_dicom_limits import BOUND_S, _echo, errors, server  # noqa: E402,F401
from test_fuzz_validate import mutate  # noqa: E402

SEED = 20261203
INPUTS = int(os.environ.get("DRIMVA_FUZZ_INPUTS", "60"))


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
    before = rss_kib()
    started = time.monotonic()
    for index in range(INPUTS):
        mutant = mutate(good, rng)
        if _raw(port, mutant) == "hang":
            hangs.append(mutant)
        if index % 10 == 0:
            assert _echo(port, called) == 0x0000
    assert _echo(port, called) == 0x0000
    growth = rss_kib() - before
    print(f"\nDICOM {called}: {INPUTS} inputs in {time.monotonic() - started:.1f} s, {len(hangs)} hang(s), "
          f"{len(errors)} logged exception(s), RSS {growth:+} KiB")
    assert hangs == [], f"{len(hangs)} input(s) without answer nor close, first {hangs[0][:40]!r}"
    assert errors == [], errors[:3]
    assert growth < 100 * 1024

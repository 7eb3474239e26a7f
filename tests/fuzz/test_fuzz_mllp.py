"""Fixed-seed mutation fuzzing of the two MLLP listeners (issue 13 §1 and §4, the MLLP part).

The listeners are the real servers on loopback sockets: the ``drimva ris``
DRIMbox Source (judge and ACK of the harness) and the reference DRIMbox's
:class:`MllpServer` with the reference's own HL7 reading and ACK (its whole
``ReferenceService`` needs a PACS and a DMP; the reading is where the inputs
of the issue broke). Each mutant (bytes flipped, cut, duplicated, inserted,
truncated, HL7 splices, bad MLLP framing) is sent, then a valid report must
still be answered. Checks: an answer or a close within the timeout, no
unhandled exception logged, RSS growth bounded. ``DRIMVA_FUZZ_INPUTS`` sets
the number of inputs per listener (the long run); the default is the short run.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers of tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drimva.evidence import EvidenceStore  # noqa: E402
from drimva.mllp import frame, send_and_receive  # noqa: E402
from drimva.ris_judge import RisJudgeOptions  # noqa: E402
from simulators.drimbox_source import DrimboxSourceSimulator, report_judge  # noqa: E402
from simulators.reference.hl7_ack import build_ack  # noqa: E402
from simulators.reference.hl7_in import Hl7Error, read_header, read_message  # noqa: E402
from simulators.reference.mllp_server import MllpServer  # noqa: E402
from hostile_peers import on_root_logger  # noqa: E402
from memory import DiscardEvidence, rss_kib  # noqa: E402
from test_fuzz_validate import mutate  # noqa: E402
from test_validate import report  # noqa: E402

# python-hl7 calls the deprecated Logger.warn on every bad escape (about 18 per mutant); pytest records
# each warning for its summary: 10 000 inputs, ~70 MB of WarningMessage that is not the listeners' memory
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

SEED = 20261203
INPUTS = int(os.environ.get("DRIMVA_FUZZ_INPUTS", "150"))
ANSWER_TIMEOUT_S = 5.0
GOOD = report().encode()
BACKSLASHES = 20000
RSS_INPUTS = 300  # mutants, each followed by a good message (a judgement of about 250 KiB kept before the fix)
RSS_BOUND_KIB = 30 * 1024
REGRESSIONS = {  # the inputs of issue 13 (MLLP)
    "repeated encoding characters (python-hl7 AssertionError)": GOOD.replace(b"MSH|^~\\&", b"MSH|^^\\&", 1),
    "escape character repeated in MSH-2": GOOD.replace(b"MSH|^~\\&", b"MSH|^~\\^", 1),
    "field of N backslashes": GOOD.replace(b"PID|", b"PID|" + b"\\" * BACKSLASHES, 1),
    "control characters in a readable message": GOOD.replace(b"PID|", b"PID|\x01\x02\x07\x1b|", 1),
}


def _reference_handler(raw: bytes) -> bytes | None:
    """The reference DRIMbox's reading and ACK (``ReferenceService.process`` minus PACS and DMP)."""
    header = read_header(raw)
    try:
        read_message(raw)
        return build_ack(header, "AA")
    except Hl7Error as error:
        return build_ack(header, "AE", error)


class _Recorder(logging.Handler):
    """Every record at ERROR or above, and the total size of what was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[str] = []
        self.size = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.size += len(text)
        if record.levelno >= logging.ERROR or record.exc_info:
            self.errors.append(text[:300])


@pytest.fixture
def log() -> Iterator[_Recorder]:
    with on_root_logger(_Recorder()) as recorder:
        yield recorder


@contextmanager
def listener(kind: str) -> Iterator[int]:
    if kind == "ris":
        # evidence counted, not kept: NullEvidence keeps every exchange, its growth is not the listener's
        with DrimboxSourceSimulator(DiscardEvidence(), report_judge(RisJudgeOptions()), timeout=ANSWER_TIMEOUT_S) as ris:
            yield ris.port
    else:
        with MllpServer(_reference_handler, idle_timeout_s=ANSWER_TIMEOUT_S, frame_timeout_s=ANSWER_TIMEOUT_S,
                        max_frame_bytes=4 * 1024 * 1024) as reference:
            yield reference.port


def _msa1(ack: bytes | None) -> str:
    for segment in (ack or b"").split(b"\r"):
        if segment.startswith(b"MSA|"):
            return segment.split(b"|")[1].decode()
    return ""


def _raw_exchange(port: int, data: bytes, timeout: float) -> str:
    """Send raw bytes (framed or not); 'answer', 'closed' or 'hang'."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        deadline = time.monotonic() + timeout
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # the sender is done: an unfinished frame is over too
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    return "closed"
                if b"\x1c\x0d" in chunk:
                    return "answer"
        except (TimeoutError, socket.timeout):
            return "hang"
        except OSError:
            return "closed"
    return "hang"


def _good_is_served(port: int) -> None:
    exchange = send_and_receive("127.0.0.1", port, GOOD, ack_timeout=ANSWER_TIMEOUT_S)
    assert exchange.error is None and _msa1(exchange.ack) in ("AA", "AE"), exchange.error


def _rss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def mllp_mutant(rng: random.Random) -> bytes:
    """A mutated report in a frame, or broken framing."""
    body = mutate(GOOD, rng)
    shape = rng.randrange(10)
    if shape == 0:
        return body  # no frame at all
    if shape == 1:
        return b"\x0b" + body  # never ended
    if shape == 2:
        return frame(body)[: rng.randrange(1, len(body) + 2)]
    if shape == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    return frame(body)


@pytest.mark.parametrize("kind", ["ris", "reference"])
@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_issue_inputs_get_an_ack_quickly_with_a_bounded_log(kind: str, name: str, log: _Recorder) -> None:
    with listener(kind) as port:
        started = time.monotonic()
        exchange = send_and_receive("127.0.0.1", port, REGRESSIONS[name], ack_timeout=ANSWER_TIMEOUT_S)
        elapsed = time.monotonic() - started
        assert exchange.error is None, exchange.error
        code = _msa1(exchange.ack)
        if "control characters" in name or "backslashes" in name:
            assert code in ("AA", "AE"), f"{name}: MSA-1 {code}"  # readable: judged, not refused as unreadable
        else:
            assert code in ("AE", "AR"), f"{name}: MSA-1 {code}"
        assert elapsed < 2.0, f"{name}: ACK after {elapsed:.1f} s"
        _good_is_served(port)
    assert log.size < 100_000, f"{name}: {log.size} bytes of log (python-hl7 escape warnings not capped)"
    assert log.errors == [], log.errors[:3]


@pytest.mark.parametrize("kind", ["ris", "reference"])
def test_a_frame_never_ended_is_dropped_within_the_timeout(kind: str) -> None:
    with listener(kind) as port, socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S * 3) as sock:
        sock.sendall(b"\x0b" + GOOD[:100])
        started = time.monotonic()
        assert sock.recv(10) == b""  # closed by the listener, without an answer
        assert time.monotonic() - started < ANSWER_TIMEOUT_S * 2
        _good_is_served(port)


def test_the_reference_closes_on_an_oversized_frame() -> None:
    with listener("reference") as port:
        assert _raw_exchange(port, b"\x0b" + b"A" * (5 * 1024 * 1024), ANSWER_TIMEOUT_S) == "closed"
        _good_is_served(port)


@pytest.mark.parametrize("kind", ["ris", "reference"])
def test_mutants_get_an_answer_or_a_close_and_the_listener_stays_up(kind: str, log: _Recorder) -> None:
    rng = random.Random(SEED)
    hangs: list[bytes] = []
    with listener(kind) as port:
        _good_is_served(port)
        rss_before, max_before = rss_kib(), _rss_kib()
        started = time.monotonic()
        for index in range(INPUTS):
            mutant = mllp_mutant(rng)
            if _raw_exchange(port, mutant, ANSWER_TIMEOUT_S + 1) == "hang":
                hangs.append(mutant)
            if index % 10 == 0:
                _good_is_served(port)
        _good_is_served(port)
        elapsed = time.monotonic() - started
        growth, max_growth = rss_kib() - rss_before, _rss_kib() - max_before
    print(f"\nMLLP {kind}: {INPUTS} inputs in {elapsed:.1f} s, {len(hangs)} hang(s), "
          f"{len(log.errors)} logged exception(s), RSS {growth:+} KiB (max RSS +{max_growth} KiB), {log.size} bytes of log, "
          f"load {os.getloadavg()[0]:.1f}")
    assert hangs == [], f"{len(hangs)} input(s) without answer nor close, first {hangs[0][:80]!r}"
    assert log.errors == [], log.errors[:3]
    assert growth < 200 * 1024, f"RSS grew by {growth} KiB"


def test_the_ris_listener_memory_stays_bounded(tmp_path: Path) -> None:
    """Issue 13: ``drimva ris``'s listener kept every message with its judgement and every finished
    connection thread (+360 MB over 2 000 inputs); now the first ``keep`` and the rest counted."""
    rng = random.Random(SEED + 1)
    with DrimboxSourceSimulator(EvidenceStore(tmp_path), report_judge(RisJudgeOptions()), timeout=ANSWER_TIMEOUT_S) as ris:
        _good_is_served(ris.port)
        gc.collect()
        before = rss_kib()
        for _ in range(RSS_INPUTS):
            _raw_exchange(ris.port, mllp_mutant(rng), ANSWER_TIMEOUT_S + 1)
            _good_is_served(ris.port)
        gc.collect()
        growth = rss_kib() - before
        print(f"\nMLLP ris: RSS {growth:+} KiB over {ris.total} messages answered, {len(ris.received)} kept, {ris.threads} threads")
        assert growth < RSS_BOUND_KIB, f"RSS grew by {growth} KiB over {RSS_INPUTS} mutants and {RSS_INPUTS} good messages"
        assert ris.threads <= 3, f"{ris.threads} threads tracked after {RSS_INPUTS * 2} connections closed"
        assert ris.total > RSS_INPUTS and len(ris.received) == ris.keep and ris.not_kept == ris.total - ris.keep

"""The harness's DRIMbox Source: an MLLP listener that receives a RIS's CR messages.

Each framed message is written to the evidence first, then handed to the
``judge`` callable (which returns the judgement and the ACK text), the ACK is
sent back and written to the evidence, and the judgement is queued for the
steps. One thread accepts; one thread per connection reads frames; every
socket operation has a timeout.

Memory stays bounded however much a RIS sends (issue 13): a finished
connection's thread is dropped at the next accept, and only the first ``keep``
messages are kept with their judgement (about 250 KiB each, the parsed HL7 and
CDA) for the session's scenarios; later ones are still written to the evidence,
judged and acknowledged, and counted (``total``, ``not_kept``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drimva.evidence import EvidenceSink, seqs_of
from drimva.hl7msg import Hl7Error, parse_message
from drimva.mllp import MllpDecoder, MllpError, frame
from simulators.common.binding import binding

CHANNEL = "drimbox_source"
EVIDENCE_VALUE_LIMIT = 200
POLL_S = 0.2  # how often an idle connection checks whether the listener is stopping
# A RIS session is a few messages (report_count: 4 by default): the first KEEP are kept for the
# scenarios, the rest only in the evidence. The RIS fixture raises it to the session's count.
KEEP = 32
log = logging.getLogger(__name__)
J = TypeVar("J")


@dataclass(frozen=True)
class Received(Generic[J]):
    """One message received and answered."""

    index: int
    peer: tuple[str, int]
    judgement: J
    ack: str
    at: float
    exchanges: tuple[int, ...] = ()  # sequence numbers of the recorded message and of the ACK sent


Judge = Callable[[bytes], tuple[J, str]]  # raw message -> (judgement, ACK text)


class DrimboxSourceSimulator(Generic[J]):
    """``DrimboxSourceSimulator(evidence, judge, host, port)``; ``start()`` / ``stop()`` or a context manager."""

    def __init__(
        self,
        evidence: EvidenceSink,
        judge: Judge[J],
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 30.0,
        keep: int = KEEP,
    ) -> None:
        if keep < 1:
            raise ValueError(f"keep: at least 1 message is kept in memory, got {keep}")
        self.evidence = evidence
        self.judge = judge
        self.host = host
        self.timeout = timeout
        self._requested_port = port
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.keep = keep
        self.received: list[Received[J]] = []  # the first ``keep`` messages (index = position)
        self.total = 0  # every message answered, kept or not
        self.not_kept = 0  # answered and in the evidence, not kept in memory

    @property
    def threads(self) -> int:
        """Threads tracked (the accept loop and the connections not yet pruned): bounded by the open connections."""
        with self._lock:
            return len(self._threads)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("listener not started")
        return int(self._server.getsockname()[1])

    def start(self) -> DrimboxSourceSimulator[J]:
        with self._lock:
            if self._server is not None:
                return self
            with binding(self.host, self._requested_port):  # BindError names the address
                server = socket.create_server((self.host, self._requested_port), reuse_port=False)
            server.settimeout(0.1)
            self._server = server
            self._stopping.clear()
            thread = threading.Thread(target=self._accept_loop, args=(server,), name=f"mllp:{self.port}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            connections = list(self._connections)
        if server is None:
            return
        self._stopping.set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(timeout=self.timeout)
        server.close()
        self._threads.clear()

    def __enter__(self) -> DrimboxSourceSimulator[J]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, accept: Callable[[Received[J]], bool], start: int, timeout: float) -> Received[J] | None:
        """The first message from index ``start`` on that ``accept`` takes, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._arrived:
            while True:
                found = next((r for r in self.received[start:] if accept(r)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._arrived.wait(remaining)

    # -- server side ------------------------------------------------------------------
    def _accept_loop(self, server: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(POLL_S)
            thread = threading.Thread(target=self._serve, args=(conn, peer), name=f"mllp-conn:{peer[1]}", daemon=True)
            with self._lock:
                self._connections.add(conn)
                self._threads = [t for t in self._threads if t.is_alive()]  # finished connections dropped
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        decoder = MllpDecoder()
        frame_started: float | None = None  # a frame begun and not ended is dropped after self.timeout s
        try:
            while not self._stopping.is_set():
                if frame_started is not None and time.monotonic() - frame_started > self.timeout:
                    pending = decoder.pending
                    self.evidence.record(CHANNEL, "unfinished MLLP frame from RIS", pending,
                                         f"(dropped) no MLLP end block within {self.timeout:g} s, {len(pending)} byte(s)\n",
                                         {"direction": "received", "peer": list(peer)}, "bin")
                    return
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue  # an idle RIS connection stays open until the RIS or stop() closes it
                except OSError:
                    return
                if not chunk:
                    return
                try:
                    messages = decoder.feed(chunk)
                except MllpError as error:
                    self.evidence.record(CHANNEL, "non-MLLP data from RIS", chunk, f"(not MLLP) {error}\n",
                                         {"direction": "received", "peer": list(peer)}, "bin")
                    return
                for raw in messages:
                    self._answer(conn, peer, raw)
                frame_started = (frame_started or time.monotonic()) if decoder.pending else None
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _answer(self, conn: socket.socket, peer: tuple[str, int], raw: bytes) -> None:
        label, meta = _describe(raw)
        meta.update(direction="received", peer=list(peer))
        message = self.evidence.record(CHANNEL, f"{label} from RIS", raw, _decoded(raw), meta, "hl7")
        judgement, ack = self.judge(raw)
        try:
            conn.settimeout(self.timeout)
            conn.sendall(frame(ack.encode("utf-8")))
            conn.settimeout(POLL_S)
            sent: dict[str, Any] = {"direction": "sent", "peer": list(peer), "in_reply_to": meta.get("control_id", "")}
        except OSError as error:
            sent = {"direction": "sent", "peer": list(peer), "error": str(error)}
        answer = self.evidence.record(CHANNEL, f"ACK of {label}", ack.encode("utf-8"), _decoded(ack.encode("utf-8")), sent, "hl7")
        with self._arrived:
            kept = len(self.received) < self.keep
            if kept:
                self.received.append(Received(self.total, peer, judgement, ack, time.time(), seqs_of(message, answer)))
            else:
                self.not_kept += 1
            self.total += 1
            self._arrived.notify_all()
        if not kept and self.not_kept == 1:
            log.warning("DRIMbox Source: more than %d messages received, the following ones are answered and in the "
                        "evidence but not kept for the scenarios", self.keep)


def _decoded(raw: bytes) -> str:
    try:
        return parse_message(raw).to_text(EVIDENCE_VALUE_LIMIT)
    except Hl7Error:
        return raw.decode("utf-8", "replace").replace("\r", "\n")


def _describe(raw: bytes) -> tuple[str, dict[str, Any]]:
    try:
        message = parse_message(raw)
    except Hl7Error:
        return "non-HL7 message", {}
    return (
        f"{message.message_type or 'HL7'} {message.control_id}".strip(),
        {"message_type": message.message_type, "control_id": message.control_id, "version": message.version},
    )

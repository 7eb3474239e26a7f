"""Bounded pynetdicom SCPs (issue 13): a server that survives hostile peers, started, tuned and stopped.

pynetdicom's ``AE.start_server`` runs ``serve_forever`` with socketserver's
0.5 s poll, which makes every stop slow; these SCPs run their own loop at
50 ms. Each accepted association gets ``TCP_NODELAY``: a DIMSE message is
written as several P-DATA PDUs (command, then data set), and with Nagle's
algorithm the last one waits for the peer's delayed ACK, about 40 ms on Linux,
on every exchange.

Bounds (issue 13, DICOM UL), set here for every SCP served by :func:`serve_scp`
(pynetdicom reads a PDU with a blocking ``recv(length)``: a length announcing
more bytes than sent, or 0xFFFFFFFF, held the connection and its threads open):

* a P-DATA-TF PDU is at most ``MAX_PDU_LENGTH`` (1 MiB, announced as our
  Maximum Length), any other PDU at most ``MAX_OTHER_PDU_LENGTH`` (64 KiB);
  beyond, the peer gets an A-ABORT (invalid PDU parameter value) and a close;
* a whole PDU (header and body) must arrive within the SCP's ``timeout``
  (per read and per PDU: a peer sending one byte a second is cut);
* the A-ASSOCIATE-RQ must be complete ``timeout`` after the connection, so a
  client that never completes holds no association slot longer than that;
* an association lasts at most ``ASSOCIATION_MAX_S`` (300 s);
* ``MAX_ASSOCIATIONS`` (64) established associations at once, the rest
  A-ASSOCIATE-RJ (local limit exceeded). pynetdicom's own limit counts every
  acceptor thread, also those whose peer has gone and that wait out their ACSE
  timeout, so a burst of dropped connections refused good clients: its limit is
  raised to ``CONNECTION_THREADS_MAX`` (a bound on threads, not on associations)
  and the association limit is applied on the A-ASSOCIATE-RQ (``EVT_REQUESTED``);
* an A-ASSOCIATE-RQ with a presentation context lacking its abstract or
  transfer syntax gets an A-ASSOCIATE-RJ (pynetdicom's negotiation raised).

A local primitive (A-ASSOCIATE-AC or -RJ, P-DATA, A-RELEASE, A-ABORT) that
reaches the DUL once the association is gone (Sta13, awaiting the transport
close, or Sta1) is dropped (:class:`GoneAwareStateMachine`): pynetdicom's state
machine has no transition for it and raised ``InvalidEventError`` in the DUL
thread, unhandled (a peer sending its A-ASSOCIATE-RQ and the next PDU at once,
the acceptor answering after that PDU had made the DUL abort: 127 of 1 000
fuzz inputs).

A refusal is an A-ABORT then a close; no exception text is ever sent.
pynetdicom logs a PDU it cannot decode at ERROR with a traceback, though it
handles it (A-ABORT): :class:`PeerInputLog` makes those one capped WARNING line,
so that a traceback in the log is an unexpected exception.
"""

from __future__ import annotations

import logging
import queue
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Sequence

from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.fsm import TRANSITION_TABLE, StateMachine
from pynetdicom.transport import AssociationSocket, RequestHandler, ThreadedAssociationServer

_log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05
MAX_PDU_LENGTH = 1024 * 1024
MAX_OTHER_PDU_LENGTH = 64 * 1024
ASSOCIATION_MAX_S = 300.0
MAX_ASSOCIATIONS = 64
CONNECTION_THREADS_MAX = 1024
_P_DATA_TF = 0x04
_KNOWN_PDU_TYPES = range(0x01, 0x08)
# A-ABORT, source 2 (service provider), reason 0 (not specified) or 6 (invalid PDU parameter value)
_ABORT_UNSPECIFIED = bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 0])
_ABORT_INVALID_VALUE = bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6])


LOG_QUOTE_MAX = 200
_DECODING_LOGGERS = ("pynetdicom._handlers", "pynetdicom.utils", "pynetdicom.pdu", "pynetdicom.pdu_items", "pynetdicom._validators")


class PeerInputLog(logging.Filter):
    """pynetdicom's records about undecodable peer input: WARNING, no traceback, capped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "pynetdicom.dul" and record.funcName != "_read_pdu_data":
            return True
        if record.name == "pynetdicom.events" and not _in_pynetdicom_logging(record):
            return True  # an exception in one of our handlers: kept, with its traceback
        if record.levelno >= logging.WARNING:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text} ({type(record.exc_info[1]).__name__})"
            record.msg, record.args = text[:LOG_QUOTE_MAX], None
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _in_pynetdicom_logging(record: logging.LogRecord) -> bool:
    """The exception was raised in pynetdicom's own PDU-logging handlers (``_handlers.py``)."""
    trace = record.exc_info[2] if record.exc_info else None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.endswith("pynetdicom/_handlers.py"):
            return True
        trace = trace.tb_next
    return False


_PEER_INPUT_LOG = PeerInputLog()
for _name in ("pynetdicom.dul", "pynetdicom.events", *_DECODING_LOGGERS):
    logging.getLogger(_name).addFilter(_PEER_INPUT_LOG)


class BoundedAssociationSocket(AssociationSocket):
    """pynetdicom's socket with bounded reads: PDU lengths, a deadline per PDU, for the A-ASSOCIATE-RQ and per association.

    A read over a bound answers A-ABORT, shuts the connection and returns what
    was read: pynetdicom sees a short read and closes (Evt17)."""

    read_s: float
    _started: float
    _first_done: bool
    _body_of: int | None
    _pdu_by: float

    @classmethod
    def wrapping(cls, plain: AssociationSocket, read_s: float) -> "BoundedAssociationSocket":
        """The same socket, bounded (no second connection event is queued)."""
        bounded = cls.__new__(cls)
        bounded.__dict__.update(plain.__dict__)
        bounded.read_s = read_s
        bounded._started = time.monotonic()
        bounded._first_done = False
        bounded._body_of = None
        bounded._pdu_by = bounded._started + read_s
        return bounded

    def _deadline(self) -> float:
        deadline = self._started + ASSOCIATION_MAX_S
        return deadline if self._first_done else min(deadline, self._started + self.read_s)

    def _refuse(self, abort: bytes, why: str) -> None:
        sock = self.socket
        _log.warning("DICOM peer cut: %s", why[:200])
        if sock is None:
            return
        try:
            sock.settimeout(1.0)
            sock.sendall(abort)
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def recv(self, nr_bytes: int) -> bytearray:
        sock = self.socket
        data = bytearray()
        if sock is None:
            return data
        header = self._body_of is None
        if header:
            self._pdu_by = min(time.monotonic() + self.read_s, self._deadline())
        else:
            bound = MAX_PDU_LENGTH if self._body_of == _P_DATA_TF else MAX_OTHER_PDU_LENGTH
            if nr_bytes > bound:
                self._refuse(_ABORT_INVALID_VALUE, f"PDU 0x{self._body_of or 0:02X} announces {nr_bytes} bytes, over {bound}")
                self._body_of = None
                return data
        while len(data) < nr_bytes:
            left = self._pdu_by - time.monotonic()
            if left <= 0:
                self._body_of = None
                self._refuse(_ABORT_UNSPECIFIED, f"PDU not complete in time ({len(data)} of {nr_bytes} bytes)")
                return data
            sock.settimeout(left)
            try:
                chunk = sock.recv(min(65536, nr_bytes - len(data)))
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return data
            if not chunk:
                return data
            data += chunk
        if header:
            self._body_of = data[0] if data[0] in _KNOWN_PDU_TYPES else None
        else:
            self._body_of = None
            self._first_done = True
        return data


# The events of a primitive from the local user (PS3.8 9.2.1): A-ASSOCIATE-RQ, -AC, -RJ, P-DATA, A-RELEASE-RQ, -RP, A-ABORT
_LOCAL_PRIMITIVE_EVENTS = frozenset({"Evt1", "Evt7", "Evt8", "Evt9", "Evt11", "Evt14", "Evt15"})


class GoneAwareStateMachine(StateMachine):
    """pynetdicom's DUL state machine; a local primitive without a transition in the current state is dropped.

    PS3.8 table 9-10 defines no action for a local A-ASSOCIATE response, P-DATA,
    A-RELEASE or A-ABORT in Sta13 (the association no longer exists, awaiting
    the transport close) nor in Sta1: the peer has gone or been aborted already,
    there is nobody to send it to. The primitive is taken off the provider queue
    (pynetdicom's reactor only peeks at it) so the DUL goes on to close."""

    def do_action(self, event: str) -> None:
        if event in _LOCAL_PRIMITIVE_EVENTS and (event, self.current_state) not in TRANSITION_TABLE:
            try:
                primitive = self.dul.to_provider_queue.get(False)
            except queue.Empty:
                primitive = None
            _log.info("DICOM %s (%s) dropped in %s: the association is gone", event, type(primitive).__name__, self.current_state)
            return
        super().do_action(event)


class _BoundedHandler(RequestHandler):
    def _create_association(self) -> Association:
        assoc = super()._create_association()
        assoc.dul.state_machine = GoneAwareStateMachine(assoc.dul)
        plain = assoc.dul.socket
        if plain is not None:
            assoc.dul.socket = BoundedAssociationSocket.wrapping(plain, float(self.ae.acse_timeout or 5.0))
        return assoc


class BoundedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server; an error escaping a connection's thread is logged with its traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.exception("unexpected error serving the DICOM connection from %s", client_address)


def serve_scp(
    ae: AE, address: tuple[str, int], handlers: Sequence[tuple[Any, Callable[..., Any]]], name: str
) -> tuple[ThreadedAssociationServer, threading.Thread]:
    """Bind ``address`` and serve in a daemon thread; every association gets ``TCP_NODELAY``.

    A socket that cannot be bound raises the ``OSError`` of its bind."""
    ae.maximum_pdu_size = MAX_PDU_LENGTH
    ae.maximum_associations = CONNECTION_THREADS_MAX
    server = ae.make_server(
        address, evt_handlers=[(evt.EVT_CONN_OPEN, _no_delay), (evt.EVT_REQUESTED, _check_request), *handlers], server_class=BoundedAssociationServer,
        request_handler=_BoundedHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name, daemon=True)
    thread.start()
    return server, thread


def stop_scp(server: Any, thread: threading.Thread | None, timeout: float) -> None:
    """Stop a server started by :func:`serve_scp`: abort its associations, close, join."""
    if server is None:
        return
    for assoc in list(server.active_associations):
        assoc.abort()
    socketserver.TCPServer.shutdown(server)  # stops serve_forever (pynetdicom's shutdown expects start_server)
    server.server_close()
    if thread is not None:
        thread.join(timeout)


def _check_request(event: Any) -> None:
    """A-ASSOCIATE-RJ for an A-ASSOCIATE-RQ pynetdicom cannot negotiate, or beyond ``MAX_ASSOCIATIONS`` established.

    A presentation context without its abstract syntax (or without a transfer
    syntax) sub-item, which PS3.8 9.3.2.2 makes mandatory: pynetdicom's
    negotiation raised TypeError in the acceptor thread, unhandled, and the
    connection stayed open with nobody to answer it (rejected permanent,
    service user, no reason given). Beyond the limit: transient, service
    provider, local limit exceeded."""
    assoc = event.assoc
    contexts = getattr(assoc.requestor.primitive, "presentation_context_definition_list", None) or []
    if any(cx.abstract_syntax is None or not cx.transfer_syntax for cx in contexts):
        _log.warning("DICOM association refused: a presentation context without abstract or transfer syntax")
        _reject(assoc, (0x01, 0x01, 0x01))
        return
    server = getattr(assoc, "_server", None)
    if server is None:
        return
    established = sum(1 for other in server.active_associations if other is not assoc and other.is_established)
    if established >= MAX_ASSOCIATIONS:
        _log.warning("DICOM association refused: %d associations already established", established)
        _reject(assoc, (0x02, 0x03, 0x02))


def _reject(assoc: Association, result_source_reason: tuple[int, int, int]) -> None:
    assoc.acse.send_reject(*result_source_reason)
    assoc.kill()


def _no_delay(event: Any) -> None:
    try:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError) as exc:  # not a TCP socket: nothing to tune
        _log.debug("TCP_NODELAY not set: %s", exc)

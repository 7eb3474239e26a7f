"""MLLP (HL7 Minimal Lower Layer Protocol) framing and a blocking client.

A frame is ``0x0B`` + message + ``0x1C 0x0D``. :class:`MllpDecoder` cuts
complete messages out of a byte stream; :func:`send_and_receive` sends one
message and waits for one framed answer (the technical ACK). The client never
raises for network trouble: a refused connection, a timeout or a peer that
closes without answering is reported in :attr:`MllpExchange.error`, with
what kind of trouble it was (:attr:`MllpExchange.failure`) and the bytes that
came before it (:attr:`MllpExchange.received`). The wait for the answer is
bounded per read and as a whole: a peer that sends one byte a second cannot
keep it past ``ack_timeout``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Literal

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_MESSAGE = 64 * 1024 * 1024  # a CR with its PDF is a few hundred kB; refuse runaway streams
MAX_KEPT = 64 * 1024  # of the bytes received before a failure, those kept for the evidence


def frame(message: bytes) -> bytes:
    """``message`` wrapped in an MLLP frame."""
    return START_BLOCK + message + END_BLOCK


class MllpError(ValueError):
    """The stream is not MLLP (data outside a frame, or a frame larger than the limit)."""


class MllpDecoder:
    """Incremental MLLP decoder: :meth:`feed` bytes, get the complete messages back.

    Bytes between frames other than CR / LF are refused with :class:`MllpError`.
    """

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._max = max_message

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet form a complete message."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            start = self._buffer.find(START_BLOCK)
            if start < 0:
                junk = bytes(self._buffer).strip(b"\r\n")
                self._buffer.clear()
                if junk:
                    raise MllpError(f"{len(junk)} byte(s) outside an MLLP frame: {junk[:40]!r}")
                return messages
            junk = bytes(self._buffer[:start]).strip(b"\r\n")
            if junk:
                del self._buffer[:start]
                raise MllpError(f"{len(junk)} byte(s) before the MLLP start block: {junk[:40]!r}")
            end = self._buffer.find(END_BLOCK, start + 1)
            if end < 0:
                if len(self._buffer) - start > self._max:
                    self._buffer.clear()
                    raise MllpError(f"MLLP frame larger than {self._max} bytes")
                del self._buffer[:start]
                return messages
            messages.append(bytes(self._buffer[start + 1 : end]))
            del self._buffer[: end + len(END_BLOCK)]


Failure = Literal["refused", "connect", "silent", "slow", "closed", "reset", "not_mllp"]
"""``refused``: nothing listens; ``connect``: no connection otherwise (timed out, no route), or it broke on
another socket error; ``silent``: not one byte within ``ack_timeout``; ``slow``: bytes, but no complete frame
within it; ``closed`` / ``reset``: the peer ended the connection without an ACK; ``not_mllp``: it answered
something that is not MLLP."""


@dataclass(frozen=True)
class MllpExchange:
    """The outcome of one send: the ACK bytes (unframed) or why there is none."""

    ack: bytes | None
    error: str | None
    elapsed_s: float
    closed_by_peer: bool = False
    delivered: bool = False  # the message was written to a connection (False: the connection never opened)
    failure: Failure | None = None  # what kind of trouble ``error`` reports (None: an ACK came)
    received: bytes = b""  # what came back before the trouble (the start of an unfinished frame, unframed bytes)


def send_and_receive(
    host: str,
    port: int,
    message: bytes,
    *,
    connect_timeout: float = 5.0,
    ack_timeout: float = 10.0,
) -> MllpExchange:
    """Send ``message`` framed over a new connection; wait ``ack_timeout`` s for one framed answer."""
    started = time.monotonic()
    delivered = False
    received = bytearray()

    def done(ack: bytes | None, error: str | None, failure: Failure | None = None) -> MllpExchange:
        closed = failure in ("closed", "reset")
        return MllpExchange(ack, error, round(time.monotonic() - started, 3), closed, delivered, failure, bytes(received))

    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as error:
        failure: Failure = "refused" if isinstance(error, ConnectionRefusedError) else "connect"
        return done(None, f"cannot connect to {host}:{port}: {_describe(error)}", failure)
    with sock:
        decoder = MllpDecoder()
        deadline = time.monotonic() + ack_timeout
        try:
            sock.settimeout(max(0.001, ack_timeout))
            sock.sendall(frame(message))  # bounded as a whole by the timeout (Python >= 3.5)
            delivered = True
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)  # each read, and all of them, within ack_timeout
                chunk = sock.recv(65536)
                if not chunk:
                    pending = decoder.pending
                    detail = f" ({len(pending)} byte(s) of an unfinished frame)" if pending else ""
                    return done(None, f"connection closed by {host}:{port} without an ACK{detail}", "closed")
                if len(received) < MAX_KEPT:
                    received += chunk[: MAX_KEPT - len(received)]
                messages = decoder.feed(chunk)
                if messages:
                    received.clear()
                    return done(messages[0], None)
        except MllpError as error:
            return done(None, f"answer from {host}:{port} is not MLLP: {error}", "not_mllp")
        except (TimeoutError, socket.timeout):
            if received:
                return done(None, f"no complete ACK from {host}:{port} within {ack_timeout:g} s ({len(received)} byte(s) received)", "slow")
            return done(None, f"no ACK from {host}:{port} within {ack_timeout:g} s", "silent")
        except OSError as error:
            reset = isinstance(error, (ConnectionResetError, BrokenPipeError))
            return done(None, f"connection to {host}:{port} failed: {_describe(error)}", "reset" if reset else "connect")


def _describe(error: OSError) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return error.strerror or type(error).__name__

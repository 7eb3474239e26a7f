"""A threaded MLLP listener: one message at a time per connection, several connections.

Framing (HL7 MLLP): ``0x0B`` + message + ``0x1C 0x0D``. For each complete
frame the handler is called with the message bytes (without framing) and
returns the answer bytes, framed and sent back, or ``None`` to close the
connection without answering. Bounded (issue 13): a frame larger than
``max_frame_bytes`` or not ended within ``frame_timeout_s`` closes the
connection, bytes outside a frame close it, each byte is searched once.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from typing import Callable

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
FRAME_TIMEOUT_S = 30.0  # a frame started and not ended by then is dropped (a slow or stalled sender)

Handler = Callable[[bytes], bytes | None]


def frame(message: bytes) -> bytes:
    return START_BLOCK + message + END_BLOCK


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: MllpServer) -> None:
        self.owner = owner
        super().__init__(address, _Connection)


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        sock.settimeout(owner.idle_timeout_s)
        owner._track(sock, add=True)
        peer = "%s:%s" % self.client_address[:2]
        buffer = bytearray()
        searched = 0  # bytes of buffer already searched for END_BLOCK: each byte is scanned once
        frame_deadline: float | None = None
        try:
            while True:
                start = buffer.find(START_BLOCK)
                if start > 0 and buffer[:start].strip(b"\r\n"):
                    owner.log.warning("MLLP %s: %d byte(s) outside a frame, connection closed", peer, start)
                    return
                end = buffer.find(END_BLOCK, max(start + 1, searched - 1)) if start >= 0 else -1
                if start >= 0 and end >= 0:
                    message = bytes(buffer[start + 1 : end])
                    del buffer[: end + 2]
                    searched, frame_deadline = 0, None
                    try:
                        answer = owner.handler(message)
                    except Exception:  # a handler bug must not kill the listener silently
                        owner.log.exception("MLLP %s: handler failed, connection closed without an answer", peer)
                        return
                    if answer is None:
                        owner.log.info("MLLP %s: connection closed without an answer", peer)
                        return
                    sock.sendall(frame(answer))
                    continue
                searched = len(buffer)
                if start < 0 and buffer.strip(b"\r\n"):
                    owner.log.warning("MLLP %s: data that is not MLLP, connection closed", peer)
                    return
                if len(buffer) > owner.max_frame_bytes:
                    owner.log.warning("MLLP %s: frame larger than %d bytes, connection closed", peer, owner.max_frame_bytes)
                    return
                if start >= 0 and frame_deadline is None:
                    frame_deadline = time.monotonic() + owner.frame_timeout_s
                if frame_deadline is not None:
                    remaining = frame_deadline - time.monotonic()
                    if remaining <= 0:
                        owner.log.warning("MLLP %s: frame not ended within %g s, dropped", peer, owner.frame_timeout_s)
                        return
                    sock.settimeout(min(owner.idle_timeout_s, remaining))
                else:
                    sock.settimeout(owner.idle_timeout_s)
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
        except TimeoutError:
            late = frame_deadline is not None and time.monotonic() >= frame_deadline
            owner.log.info("MLLP %s: %s", peer, f"frame not ended within {owner.frame_timeout_s:g} s, dropped" if late else "idle, closed")
        except OSError as exc:
            owner.log.info("MLLP %s: connection ended (%s)", peer, exc.__class__.__name__)
        finally:
            owner._track(sock, add=False)


class MllpServer:
    """MLLP server on ``host:port`` (port 0 = ephemeral); ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout_s: float = 60.0,
        frame_timeout_s: float = FRAME_TIMEOUT_S,
        max_frame_bytes: int = MAX_MESSAGE_BYTES,
        log: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.idle_timeout_s = idle_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.log = log or logging.getLogger(__name__)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("MLLP server not started")
        return int(self._server.server_address[1])

    def start(self) -> MllpServer:
        if self._server is None:
            self._server = _Server((self.host, self.requested_port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="mllp-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        with self._lock:
            for sock in list(self._connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        server.server_close()  # joins the connection threads (block_on_close)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(sock)

    def __enter__(self) -> MllpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

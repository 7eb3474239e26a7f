"""A threaded MLLP listener: one message at a time per connection, several connections.

Framing (HL7 MLLP): ``0x0B`` + message + ``0x1C 0x0D``. For each complete
frame the handler is called with the message bytes (without framing) and
returns the answer bytes, framed and sent back, or ``None`` to close the
connection without answering.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Callable

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

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
        buffer = b""
        try:
            while True:
                start = buffer.find(START_BLOCK)
                end = buffer.find(END_BLOCK, start + 1) if start >= 0 else -1
                if start >= 0 and end >= 0:
                    message, buffer = buffer[start + 1 : end], buffer[end + 2 :]
                    answer = owner.handler(message)
                    if answer is None:
                        owner.log.info("MLLP %s: connection closed without an answer", peer)
                        return
                    sock.sendall(frame(answer))
                    continue
                if len(buffer) > MAX_MESSAGE_BYTES:
                    owner.log.warning("MLLP %s: frame larger than %d bytes, connection closed", peer, MAX_MESSAGE_BYTES)
                    return
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
        except (TimeoutError, OSError) as exc:
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
        log: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.idle_timeout_s = idle_timeout_s
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

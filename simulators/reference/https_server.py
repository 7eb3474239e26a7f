"""The reference DRIMbox's own HTTPS servers (WADO-RS source, viewer, supervision, contextual call).

Stdlib ``ThreadingHTTPServer`` + ``ssl``: TLS >= 1.2, the handshake in the
connection's thread, socket timeouts, ``TCP_NODELAY``, request bodies up to
``max_body`` (413 beyond). With ``allow_plain`` (fault ``wado_plain_http``) a
connection whose first byte is not a TLS handshake record (0x16) is served in
clear on the same port. The reference is a separate program: it does not
share the harness's simulators/common.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlsplit

_TLS_HANDSHAKE = b"\x16"
DEFAULT_MAX_BODY = 1 << 20
LINGER_BYTES = 8 << 20  # at most this much of a refused body is read (and dropped) before the close
LINGER_S = 2.0  # ... within this long per read


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    client: tuple[str, int] = ("", 0)
    tls: bool = True
    query: str = ""  # the raw query string (the viewer reads it; WADO-RS ignores it)
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def text_response(status: int, message: str, *headers: tuple[str, str]) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), *headers], message.encode("utf-8"))


Handler = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the request threads
    allow_reuse_address = True

    def __init__(self, owner: TlsHttpServer, address: tuple[str, int]) -> None:
        self.owner = owner
        self.live: set[socket.socket] = set()
        self.live_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        owner = self.owner
        raw: socket.socket = request
        raw.settimeout(owner.timeout_s)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the body must not wait for a delayed ACK
        conn: socket.socket = raw
        try:
            if not (owner.allow_plain and raw.recv(1, socket.MSG_PEEK) not in (_TLS_HANDSHAKE, b"")):
                conn = owner.context.wrap_socket(raw, server_side=True)
            with self.live_lock:
                self.live.add(conn)
            super().finish_request(conn, client_address)
        except (ssl.SSLError, OSError) as exc:
            owner.log.info("connection from %s:%s refused: %s", client_address[0], client_address[1], exc)
        finally:
            with self.live_lock:
                self.live.discard(conn)
            if conn is not raw:
                conn.close()

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # a client hanging up mid-request is not a server error


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the owner logs
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= owner.max_body:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._send(text_response(413 if length > 0 else 400, "request body too large" if length > 0 else "bad Content-Length"))
            self._discard_body(min(max(length, 0), LINGER_BYTES))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            headers=tuple(self.headers.items()),
            client=self.client_address,
            tls=isinstance(self.connection, ssl.SSLSocket),
            query=split.query,
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = owner.handler(request)
        except Exception:
            owner.log.exception("error while answering %s %s", request.method, request.path)
            response = text_response(500, "internal error of the DRIMbox")
        self._send(response)

    def _discard_body(self, length: int) -> None:
        """Read (a bounded part of) a refused body before closing: closing a socket with unread
        data resets it, and the client then loses the answer it was sent (a lingering close)."""
        try:
            self.connection.settimeout(LINGER_S)
            while length > 0:
                chunk = self.rfile.read(min(length, 65536))
                if not chunk:
                    return
                length -= len(chunk)
        except OSError:
            return

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")  # else the client reuses a connection about to close
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle


class TlsHttpServer:
    """An HTTPS server on ``host:port`` (0 = ephemeral); ``start()`` / ``stop()`` or a context manager."""

    def __init__(
        self,
        handler: Handler,
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_s: float = 10.0,
        allow_plain: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        client_ca: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.max_body = max_body
        self.host = host
        self.requested_port = port
        self.timeout_s = timeout_s
        self.allow_plain = allow_plain
        self.log = log or logging.getLogger(__name__)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(str(cert), str(key))
        if client_ca is not None:  # mutual TLS: no certificate, or one client_ca did not issue, ends the handshake
            self.context.load_verify_locations(cafile=str(client_ca))
            self.context.verify_mode = ssl.CERT_REQUIRED
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    def url(self, path: str = "") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{path}"

    def start(self) -> TlsHttpServer:
        with self._lock:
            if self._server is None:
                self._server = _Server(self, (self.host, self.requested_port))
                self._thread = threading.Thread(
                    target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"https:{self.port}", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        with server.live_lock:
            live = list(server.live)
        for conn in live:  # end keep-alive reads now
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join(timeout=self.timeout_s)

    def __enter__(self) -> TlsHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_Served = TypeVar("_Served", bound="ServedByTlsHttp")


class ServedByTlsHttp:
    """Life cycle of an endpoint answered by one :class:`TlsHttpServer` kept in ``self.http``."""

    http: TlsHttpServer

    @property
    def port(self) -> int:
        return self.http.port

    def start(self: _Served) -> _Served:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def __enter__(self: _Served) -> _Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


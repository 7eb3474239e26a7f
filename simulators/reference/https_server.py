"""The reference DRIMbox's own HTTPS servers (WADO-RS source, viewer, supervision, contextual call).

Stdlib ``ThreadingHTTPServer`` + ``ssl``: TLS >= 1.2, the handshake in the
connection's thread, socket timeouts, ``TCP_NODELAY``, request bodies up to
``max_body`` (413 beyond). With ``allow_plain`` (fault ``wado_plain_http``) a
connection whose first byte is not a TLS handshake record (0x16) is served in
clear on the same port. The reference is a separate program: it does not
share the harness's simulators/common.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlsplit

_TLS_HANDSHAKE = b"\x16"
DEFAULT_MAX_BODY = 1 << 20
LINGER_BYTES = 8 << 20  # at most this much of a refused body is read (and dropped) before the close
LINGER_S = 2.0  # ... within this long
MAX_REQUEST_LINE = 8 << 10
MAX_HEADER_BYTES = 64 << 10  # the whole header block (the stdlib bounds each line and their count, 100)
LOG_QUOTE = 200  # characters of received data quoted in a log line


def capped(text: str | None) -> str:
    """``repr`` of received text for a log line, cut at ``LOG_QUOTE`` characters."""
    quoted = repr(text)
    return quoted if len(quoted) <= LOG_QUOTE else f"{quoted[:LOG_QUOTE]}… ({len(text or '')} in all)"


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


def _cut_off(sock: socket.socket) -> None:
    """Shut a socket down under the thread blocked reading it."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


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
                conn = owner.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
                watchdog = threading.Timer(owner.request_timeout_s, _cut_off, (raw,))  # a handshake sent a byte at a time
                watchdog.daemon = True
                watchdog.start()
                try:
                    conn.do_handshake()
                finally:
                    watchdog.cancel()
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


class _Refusal(Exception):
    """A request refused before it reaches the handler: an HTTP status and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _DeadlineReader(io.RawIOBase):
    """The socket as read by one request: each read waits at most the per-read timeout and never
    past the request's deadline (a peer sending a byte a second cannot hold a thread)."""

    def __init__(self, handler: _RequestHandler) -> None:
        super().__init__()
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        handler = self._handler
        remaining = handler.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        handler.connection.settimeout(min(handler.server.owner.timeout_s, remaining))
        return handler.connection.recv_into(buffer)


class _HeaderBudget:
    """``readline`` of the header block within ``MAX_HEADER_BYTES`` in all."""

    def __init__(self, rfile: io.BufferedIOBase) -> None:
        self._rfile = rfile
        self._left = MAX_HEADER_BYTES

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            raise http.client.LineTooLong("header block")
        line = self._rfile.readline(min(limit, self._left) if limit >= 0 else self._left)
        self._left -= len(line)
        return line


_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e\x80-\xff]+ HTTP/1\.\d\r?\n")
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")


class _RequestHandler(BaseHTTPRequestHandler):
    """One request read within bounds (request line 414, headers 431, method 501, length 400 /
    411 / 413, slow or short 408 / 400), every refusal answered and followed by a close."""

    protocol_version = "HTTP/1.1"
    server: _Server
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self), 65536)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the owner logs
        pass

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.owner.request_timeout_s
        self.command, self.request_version, self.requestline = "", "HTTP/1.1", ""
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if len(line) > MAX_REQUEST_LINE:
                raise _Refusal(414, "request line too long")
            if _REQUEST_LINE.fullmatch(line) is None:
                raise _Refusal(400, "malformed request line")
            self.raw_requestline = line
            rfile, self.rfile = self.rfile, _HeaderBudget(self.rfile)  # type: ignore[assignment]
            try:
                parsed = self.parse_request()
            finally:
                self.rfile = rfile
            if not parsed:
                self.close_connection = True
                return
            if self.command not in _METHODS:
                raise _Refusal(501, "method not implemented")
            self._handle()
            self.wfile.flush()
        except _Refusal as refusal:
            self._refuse(refusal.status, refusal.message)
        except TimeoutError:
            self._refuse(408, "request not received in time")
        except (ssl.SSLError, OSError, ValueError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's refusals with a fixed text: its own may quote received bytes in the status line."""
        self._refuse(code, "header fields too large or too many" if code == 431 else "bad request")

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # an unread body must not be taken for the next request
        self.request_version = "HTTP/1.1"
        try:
            self._send(text_response(status, message))
            self.wfile.flush()
            self._discard_body(LINGER_BYTES)
        except (ssl.SSLError, OSError, ValueError):
            pass

    def _body_length(self) -> int:
        if self.headers.get("Transfer-Encoding") is not None:
            raise _Refusal(411, "Transfer-Encoding is not accepted: send a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            if self.command in ("POST", "PUT", "PATCH"):
                raise _Refusal(411, "Content-Length required")
            return 0
        values = {value.strip() for value in lengths}
        text = values.pop() if len(values) == 1 else ""
        if not (text.isascii() and text.isdigit() and len(text) <= 20):
            raise _Refusal(400, "bad Content-Length")
        if int(text) > self.server.owner.max_body:
            raise _Refusal(413, "request body too large")
        return int(text)

    def _handle(self) -> None:
        owner = self.server.owner
        length = self._body_length()
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise _Refusal(400, "incomplete request body")
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            headers=tuple((str(k), str(v)) for k, v in self.headers.items()),
            client=self.client_address,
            tls=isinstance(self.connection, ssl.SSLSocket),
            query=split.query,
            body=body,
        )
        try:
            response = owner.handler(request)
        except Exception:
            owner.log.exception("error while answering %s %s", request.method, capped(request.path))
            response = text_response(500, "internal error of the DRIMbox")
        self._send(response)

    def _discard_body(self, length: int) -> None:
        """Read (a bounded part of) a refused body before closing: closing a socket with unread
        data resets it, and the client then loses the answer it was sent (a lingering close)."""
        self.deadline = time.monotonic() + LINGER_S
        try:
            while length > 0:
                chunk = self.rfile.read1(min(length, 65536))
                if not chunk:
                    return
                length -= len(chunk)
        except (TimeoutError, ssl.SSLError, OSError, ValueError):
            return

    def _send(self, response: Response) -> None:
        self.connection.settimeout(self.server.owner.timeout_s)
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
        request_timeout_s: float | None = None,
        allow_plain: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        client_ca: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.max_body = max_body
        self.host = host
        self.requested_port = port
        self.timeout_s = timeout_s  # per read: an idle client is closed after it
        self.request_timeout_s = request_timeout_s if request_timeout_s is not None else 6 * timeout_s  # a whole request
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


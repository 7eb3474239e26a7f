"""A small threaded HTTPS server for the simulators (DMP, peer DRIMbox, trust list, IdP).

Stdlib ``ThreadingHTTPServer`` + ``ssl``: TLS >= 1.2, optional or required
client certificates checked against the run's CA. With ``client_auth="optional"``
a client without a certificate reaches the handler (``peer_cert`` is None) so
the simulator can answer in its own protocol (e.g. a SOAP fault); a client
presenting a certificate the CA did not issue is refused by OpenSSL during
the handshake (TLS alert ``unknown_ca``): the stdlib offers no verify
callback to let it through. Such refusals are reported to ``on_tls_error``.

The TLS handshake runs in the connection's thread, not in the accept loop,
and every socket has a timeout and ``TCP_NODELAY``.
"""

from __future__ import annotations

import hashlib
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
from typing import Callable, Literal, Sequence, TypeVar
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from lxml import etree

from drimva import xmlsafe
from drimva.mime import MimeError, parse_content_type, parse_multipart
from simulators.common.binding import binding

ClientAuth = Literal["none", "optional", "required"]
MAX_BODY = 64 * 1024 * 1024
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024  # the whole header block
MAX_HEADERS = 100  # lines (the stdlib's own bound, http.client._MAXHEADERS)
MAX_CHUNK_LINE = 1024
MAX_QUERY_FIELDS = 1000
LINGER_BYTES = 8 * 1024 * 1024  # at most this much of a refused body is read (and dropped) before the close
LINGER_S = 2.0  # ... within this long
LOG_QUOTE = 200  # characters of received data quoted in a log line


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    target: str = ""  # the request target as sent (path + query)
    version: str = "HTTP/1.1"
    client_address: tuple[str, int] = ("", 0)
    peer_cert: bytes | None = None  # DER of the verified client certificate
    peer_subject: dict[str, str] | None = None  # e.g. {"CN": "DRIMbox", "OU": "499700367909006", ...}
    peer_subject_rfc4514: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), default)

    @property
    def content_type(self) -> str:
        return self.header("Content-Type", "") or ""

    def raw(self) -> bytes:
        """Request line + headers + body, as received (body de-chunked)."""
        head = f"{self.method} {self.target or self.path} {self.version}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        return head.encode("latin-1") + b"\r\n" + self.body


@dataclass
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), default)

    def raw(self) -> bytes:
        from http import HTTPStatus

        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        head = f"HTTP/1.1 {self.status} {reason}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        head += f"Content-Length: {len(self.body)}\r\n"
        return head.encode("latin-1") + b"\r\n" + self.body


Handler = Callable[[HttpRequest], HttpResponse]
TlsErrorCallback = Callable[[tuple[str, int], str], None]


def subject_of(der: bytes) -> tuple[dict[str, str], str]:
    """(short-name dict, RFC 4514 string) of a DER certificate's subject (first value per attribute)."""
    cert = x509.load_der_x509_certificate(der)
    parts: dict[str, str] = {}
    for attr in cert.subject:
        parts.setdefault(attr.rfc4514_attribute_name, str(attr.value))
    return parts, cert.subject.rfc4514_string()


def server_context(cert: Path, key: Path, ca: Path | None, client_auth: ClientAuth) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if client_auth != "none":
        if ca is None:
            raise ValueError(f"client_auth={client_auth!r} needs a CA certificate")
        context.load_verify_locations(cafile=str(ca))
        context.verify_mode = ssl.CERT_REQUIRED if client_auth == "required" else ssl.CERT_OPTIONAL
    return context


def _cut_off(sock: socket.socket) -> None:
    """Shut a socket down under a thread blocked reading it (the plain socket's call: TLS's own would drop its state)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # joined by server_close()
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, owner: "HttpsServer", address: tuple[str, int]) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def get_request(self):  # type: ignore[override]
        raw, address = self.socket.accept()
        raw.settimeout(self.owner.timeout)
        # the response head and body are separate writes: without TCP_NODELAY the body waits
        # for the client's delayed ACK (~40 ms on Linux) on every keep-alive request
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = self.owner.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        with self.conn_lock:
            self.connections.add(conn)
        return conn, address

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        # a ClientHello sent a byte at a time keeps every read under the timeout: the handshake
        # as a whole gets the request deadline, after which the socket is shut down under it
        watchdog = threading.Timer(self.owner.request_timeout, _cut_off, (request,))
        watchdog.daemon = True
        watchdog.start()
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.owner._tls_error(client_address, exc)
            return
        finally:
            watchdog.cancel()
        super().finish_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # a client that hangs up mid-request is not a server error


class HttpError(Exception):
    """A request refused before it reaches the handler: ``status`` and a French message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def quoted(data: bytes | str, limit: int = LOG_QUOTE) -> str:
    """``repr`` of received data for a log line or an answer, cut at ``limit`` characters.

    A log line quoting a hostile value whole grows with it (issue 13): every quote is capped.
    """
    text = repr(data)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(data)} au total)"


class _DeadlineReader(io.RawIOBase):
    """The socket as read by one request: every read waits at most the per-read timeout and
    never past the request's deadline, so a peer sending one byte at a time cannot hold a thread."""

    def __init__(self, handler: "_RequestHandler") -> None:
        super().__init__()
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        handler = self._handler
        remaining = handler.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        handler.connection.settimeout(min(handler.server.owner.timeout, remaining))
        return handler.connection.recv_into(buffer)


class _HeaderBudget:
    """``readline`` of the header block within ``MAX_HEADER_BYTES`` in all (the stdlib bounds each line only)."""

    def __init__(self, rfile: io.BufferedIOBase, budget: int) -> None:
        self._rfile = rfile
        self._left = budget

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            raise http.client.LineTooLong("header block")
        line = self._rfile.readline(min(limit, self._left) if limit >= 0 else self._left)
        self._left -= len(line)
        if self._left <= 0 and not line.endswith(b"\n"):
            raise http.client.LineTooLong("header block")
        return line


_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e\x80-\xff]+ HTTP/(\d)\.(\d)\r?\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r?\n")
_DIGITS = re.compile(r"[0-9]{1,20}")
_WITH_BODY = ("POST", "PUT", "PATCH")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request within bounds and answers every refusal in HTTP (issue 13).

    Request line at most ``MAX_REQUEST_LINE`` bytes (414), headers at most ``MAX_HEADERS``
    lines and ``MAX_HEADER_BYTES`` (431), an unknown method 501, ``Content-Length`` a
    decimal integer not above ``MAX_BODY`` (400 / 413), a POST or PUT with no length 411,
    chunk sizes plain hexadecimal and every chunk complete (400), an idle or slow peer 408
    or a close. A refusal closes the connection, since the body may be unread.
    """

    protocol_version = "HTTP/1.1"
    server: _Server
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.timeout)
        self.rfile = io.BufferedReader(_DeadlineReader(self), 65536)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def handle_one_request(self) -> None:
        owner = self.server.owner
        self.deadline = time.monotonic() + owner.request_timeout
        self.command, self.request_version, self.requestline = "", "HTTP/1.1", ""
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if len(line) > MAX_REQUEST_LINE:
                raise HttpError(414, f"ligne de requête de plus de {MAX_REQUEST_LINE} octets")
            match = _REQUEST_LINE.fullmatch(line)
            if match is None:
                raise HttpError(400, f"ligne de requête illisible : {quoted(line, 120)}")
            if match.group(1) != b"1":
                raise HttpError(505, "seul HTTP/1.x est servi")
            self.raw_requestline = line
            rfile, self.rfile = self.rfile, _HeaderBudget(self.rfile, MAX_HEADER_BYTES)  # type: ignore[assignment]
            try:
                parsed = self.parse_request()  # answers 400 / 431 itself (through send_error)
            finally:
                self.rfile = rfile
            if not parsed:
                self.close_connection = True
                return
            if self.command not in METHODS:
                raise HttpError(501, f"méthode non prise en charge : {quoted(self.command, 40)}")
            self._handle()
            self.wfile.flush()
        except HttpError as refusal:
            self._refuse(refusal)
        except TimeoutError:
            self._refuse(HttpError(408, "requête non reçue dans le délai"))
        except (ssl.SSLError, OSError, ValueError):
            self.close_connection = True  # the peer is gone or broke TLS: no one to answer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's refusals, answered with the standard reason phrase only: its own text may
        quote received bytes in the status line."""
        text = {431: "en-têtes trop nombreux ou trop longs", 400: "requête mal formée"}.get(code, "requête refusée")
        self._send_refusal(code, text)

    def _refuse(self, refusal: HttpError) -> None:
        self._send_refusal(refusal.status, refusal.message)

    def _send_refusal(self, status: int, message: str) -> None:
        self.close_connection = True
        self.request_version = "HTTP/1.1"
        try:
            self._send(HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], (message + "\n").encode("utf-8")))
            self.wfile.flush()
            self._linger()
        except (ssl.SSLError, OSError, ValueError):
            pass

    def _linger(self) -> None:
        """Read (a bounded part of) what the peer is still sending before the close: closing a
        socket with unread data resets it, and the peer would lose the refusal it was sent."""
        self.deadline = time.monotonic() + LINGER_S
        left = LINGER_BYTES
        try:
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    return
                left -= len(chunk)
        except (TimeoutError, ssl.SSLError, OSError, ValueError):
            return

    def _handle(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        der = self.connection.getpeercert(binary_form=True) if isinstance(self.connection, ssl.SSLSocket) else None
        subject, rfc4514 = subject_of(der) if der else (None, None)
        split = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS),
            headers=tuple((str(k), str(v)) for k, v in self.headers.items()),
            body=body,
            target=self.path,
            version=self.request_version,
            client_address=self.client_address,
            peer_cert=der,
            peer_subject=subject,
            peer_subject_rfc4514=rfc4514,
        )
        try:
            response = owner.handler(request)
        except Exception:  # a simulator's bug: logged, answered 500 without its text, and the server goes on
            owner.log.exception("erreur du simulateur en répondant à %s", quoted(f"{request.method} {request.target}"))
            response = HttpResponse(500, [("Content-Type", "text/plain; charset=utf-8")], "erreur interne du simulateur\n".encode())
        self._send(response)

    def _read_body(self) -> bytes:
        coding = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if coding:
            if lengths:
                raise HttpError(400, "Transfer-Encoding et Content-Length ensemble")
            if [c.strip().lower() for c in ",".join(coding).split(",")] != ["chunked"]:
                raise HttpError(501, f"Transfer-Encoding non pris en charge : {quoted(','.join(coding), 60)}")
            return self._read_chunked()
        if not lengths:
            if self.command in _WITH_BODY:
                raise HttpError(411, f"{self.command} sans Content-Length ni Transfer-Encoding: chunked")
            return b""
        values = {v.strip() for value in lengths for v in value.split(",")}
        if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
            raise HttpError(400, f"Content-Length invalide : {quoted(','.join(lengths), 60)}")
        length = int(values.pop())
        if length > MAX_BODY:
            raise HttpError(413, f"corps de {length} octets, au-delà de la limite de {MAX_BODY}")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise HttpError(400, f"corps incomplet : {len(body)} octets reçus sur {length} annoncés")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            match = _CHUNK_SIZE.fullmatch(size_line)
            if match is None:
                problem = "corps incomplet" if not size_line.endswith(b"\n") and len(size_line) <= MAX_CHUNK_LINE else "taille de bloc invalide"
                raise HttpError(400, f"{problem} : {quoted(size_line, 60)}")
            size = int(match.group(1), 16)
            if size == 0:
                self._read_trailers()
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise HttpError(413, f"corps en blocs au-delà de la limite de {MAX_BODY} octets")
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise HttpError(400, f"bloc incomplet : {len(chunk)} octets reçus sur {size} annoncés")
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise HttpError(400, "bloc non suivi de CRLF")
            chunks.append(chunk)

    def _read_trailers(self) -> None:
        left = MAX_HEADER_BYTES
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(min(left, MAX_CHUNK_LINE) + 1)
            if line in (b"\r\n", b"\n"):
                return
            if not line.endswith(b"\n"):
                raise HttpError(400, "fin de corps en blocs incomplète")
            left -= len(line)
        raise HttpError(431, "trop de champs après le dernier bloc")

    def _send(self, response: HttpResponse) -> None:
        self.connection.settimeout(self.server.owner.timeout)
        self.send_response_only(response.status)
        self.send_header("Server", "drimva-simulator")
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")  # else the client reuses a connection about to close
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle


class HttpsServer:
    """``HttpsServer(handler, cert, key, ca)``; ``start()`` / ``stop()``, or use as a context manager."""

    def __init__(
        self,
        handler: Handler,
        cert: Path,
        key: Path,
        ca: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        client_auth: ClientAuth = "optional",
        timeout: float = 10.0,
        on_tls_error: TlsErrorCallback | None = None,
        request_timeout: float | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        """``timeout``: per read (an idle peer is closed after it); ``request_timeout``: for a whole
        request, line to last body byte (default six reads' worth); ``log``: where a handler's
        unexpected exception goes, with its traceback."""
        self.handler = handler
        self.request_timeout = request_timeout if request_timeout is not None else 6 * timeout
        self.log = log or logging.getLogger("simulators.https")
        self.host = host
        self.public_host = ""  # the name clients reach it by, in base_url (default: host)
        self.timeout = timeout
        self.on_tls_error = on_tls_error
        self.context = server_context(Path(cert), Path(key), Path(ca) if ca else None, client_auth)
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        name = self.public_host or self.host
        host = f"[{name}]" if ":" in name else name
        return f"https://{host}:{self.port}"

    def start(self) -> "HttpsServer":
        with self._lock:
            if self._server is not None:
                return self
            with binding(self.host, self._requested_port):  # BindError names the address
                server = _Server(self, (self.host, self._requested_port))
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"https:{self.port}", daemon=True
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
        with server.conn_lock:
            open_connections = list(server.connections)
        for conn in open_connections:  # unblock keep-alive reads so the threads end now
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()  # closes the listening socket, joins the request threads
        if thread is not None:
            thread.join(timeout=self.timeout)

    def __enter__(self) -> "HttpsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tls_error(self, client_address: tuple[str, int], exc: Exception) -> None:
        if self.on_tls_error is not None:
            try:
                self.on_tls_error(client_address, f"{type(exc).__name__}: {exc}")
            except Exception:
                pass


# -- evidence views ------------------------------------------------------------------------


def decoded_view(start_line: str, headers: Sequence[tuple[str, str]], body: bytes) -> str:
    """A readable view of an HTTP message: headers, pretty XML, multipart parts summarised.

    Binary parts are shown as their size and SHA-1; XML parts are pretty-printed
    (parsed without entities or network access).
    """
    lines = [start_line] + [f"{k}: {v}" for k, v in headers] + [""]
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    try:
        mime_type = parse_content_type(content_type)[0] if content_type else ""
    except MimeError:
        mime_type = ""
    if mime_type.startswith("multipart/"):
        try:
            parts = parse_multipart(body, content_type)
        except MimeError as exc:
            lines.append(f"[multipart body not readable: {exc}; {_summary(body)}]")
            return "\n".join(lines)
        for index, part in enumerate(parts, 1):
            lines.append(f"--- part {index}: " + "; ".join(f"{k}: {v}" for k, v in part.headers))
            lines.append(_content_view(part.mime_type, part.content))
        return "\n".join(lines)
    lines.append(_content_view(mime_type, body))
    return "\n".join(lines)


def _content_view(mime_type: str, content: bytes) -> str:
    if not content:
        return "(empty body)"
    if "xml" in mime_type or content.lstrip()[:1] == b"<":
        try:
            root = xmlsafe.parse(content, remove_blank_text=True)
            return etree.tostring(root, pretty_print=True, encoding="unicode")
        except xmlsafe.XmlError:
            pass
    if mime_type.startswith("text/") or mime_type in ("application/json", ""):
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return f"[{mime_type or 'binary'} content: {_summary(content)}]"


def _summary(content: bytes) -> str:
    return f"{len(content)} bytes, SHA-1 {hashlib.sha1(content).hexdigest()}"


_Served = TypeVar("_Served", bound="ServedOverHttps")


class ServedOverHttps:
    """Lifecycle of a simulator answered by one :class:`HttpsServer` kept in ``self._server``."""

    _server: HttpsServer

    def start(self: _Served) -> _Served:
        self._server.start()
        return self

    def advertise(self: _Served, host: str) -> _Served:
        """Name its URLs with ``host``, the address its clients reach it by (it listens on another, e.g. 0.0.0.0)."""
        self._server.public_host = host
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self: _Served) -> _Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.base_url

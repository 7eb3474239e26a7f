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
import socket
import ssl
import threading
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
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.owner._tls_error(client_address, exc)
            return
        super().finish_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # a client that hangs up mid-request is not a server error


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.timeout)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        try:
            body = self._read_body()
        except ValueError as exc:
            self._send(HttpResponse(400, [("Content-Type", "text/plain")], str(exc).encode()))
            return
        der = self.connection.getpeercert(binary_form=True) if isinstance(self.connection, ssl.SSLSocket) else None
        subject, rfc4514 = subject_of(der) if der else (None, None)
        split = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=tuple(self.headers.items()),
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
        except Exception as exc:  # the simulator's bug must not kill the connection silently
            response = HttpResponse(500, [("Content-Type", "text/plain")], f"simulator error: {exc!r}".encode())
        self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError(f"bad chunk size line {size_line[:40]!r}") from None
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


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
    ) -> None:
        self.handler = handler
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

"""Whether an address of the SUT answers: DNS resolution, TCP connect, TLS handshake, HTTP answer.

:func:`check` walks the stages in that order and stops at the first that
fails; each stage is bounded by ``timeout_s``. The cause is worded for the
field engineer who has to fix the environment: ``db.example.fr does not
resolve``, ``connection refused``, ``timed out after 5 s``, ``TLS: certificate
verify failed: …``. Any HTTP answer counts: its status is for the scenarios to
judge. :func:`connect` (DNS and TCP) and :func:`tls_cause` serve the steps
that open a connection of their own.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509

WHOLE_MARGIN_S = 0.5  # a wait bounded as a whole ends this long after its per-read bound, so silence is told from a drip
Stage = Literal["dns", "tcp", "tls", "http"]
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]  # one getaddrinfo() entry


class Unreachable(Exception):
    """A stage failed; ``cause`` says why, in words."""

    def __init__(self, stage: Stage, cause: str) -> None:
        super().__init__(cause)
        self.stage: Stage = stage
        self.cause = cause


@dataclass(frozen=True)
class Reachability:
    """What :func:`check` saw at one address."""

    target: str
    failed_stage: Stage | None  # None: every stage passed
    cause: str = ""
    elapsed_s: float = 0.0
    resolved: tuple[str, ...] = ()  # the addresses the name resolved to
    tls_subject: str = ""  # subject of the verified server certificate (https)
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed_stage is None

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target, "ok": self.ok, "failed_stage": self.failed_stage, "cause": self.cause,
            "elapsed_s": self.elapsed_s, "resolved": list(self.resolved), "tls_subject": self.tls_subject,
            "http_status": self.http_status,
        }  # fmt: skip


def check(
    target: str,
    *,
    timeout_s: float,
    ca_cert: Path | None = None,
    client_cert: tuple[Path, Path] | None = None,
) -> Reachability:
    """Probe ``target``: ``tcp://host:port`` (DNS, TCP) or an ``http(s)://`` URL (then TLS, then one GET).

    ``ca_cert``: what the server certificate must chain to (default: the system's);
    ``client_cert``: (certificate, key) presented when the server asks for one.
    """
    started = time.monotonic()
    url = urlsplit(target)
    host = url.hostname or ""
    resolved: tuple[str, ...] = ()
    tls_subject = ""

    def seen(stage: Stage | None, cause: str = "", status: int | None = None) -> Reachability:
        elapsed = round(time.monotonic() - started, 3)
        return Reachability(target, stage, cause, elapsed, resolved, tls_subject, status)

    try:
        port = url.port or {"https": 443, "http": 80}.get(url.scheme, 0)
    except ValueError as error:
        return seen("dns", f"not a valid address: {error}")
    try:
        infos = resolve(host, port, timeout_s)
        resolved = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        sock = _connect_any(infos, timeout_s)
    except Unreachable as failure:
        return seen(failure.stage, failure.cause)
    try:
        if url.scheme == "tcp":
            return seen(None)
        if url.scheme == "https":
            sock = _handshake(sock, host, timeout_s, ca_cert, client_cert)
            tls_subject = _subject(sock)
        status = _http_status(sock, url.scheme, host, port, url.path or "/", url.query, timeout_s)
    except Unreachable as failure:
        return seen(failure.stage, failure.cause)
    finally:
        sock.close()
    return seen(None, status=status)


def connect(host: str, port: int, timeout_s: float) -> socket.socket:
    """A TCP connection to ``host:port`` (name resolution and connect, each bounded); raises :class:`Unreachable`."""
    return _connect_any(resolve(host, port, timeout_s), timeout_s)


def resolve(host: str, port: int, timeout_s: float) -> list[AddrInfo]:
    """``getaddrinfo`` bounded by ``timeout_s`` (it has no timeout of its own: it runs in a daemon thread)."""
    if not host:
        raise Unreachable("dns", "no host name")
    found: list[AddrInfo] = []
    failure: list[OSError] = []

    def work() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as error:
            failure.append(error)

    worker = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise Unreachable("dns", f"resolving {host} timed out after {timeout_s:g} s")
    if failure or not found:
        detail = f" ({failure[0].strerror or failure[0]})" if failure else ""
        raise Unreachable("dns", f"{host} does not resolve{detail}")
    return found


def os_cause(error: OSError, timeout_s: float) -> str:
    """A socket error in words: ``connection refused``, ``timed out after 5 s``, ``No route to host``…"""
    if isinstance(error, TimeoutError | socket.timeout):
        return f"timed out after {timeout_s:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset by the server"
    return error.strerror or str(error) or type(error).__name__


def tls_cause(error: OSError, timeout_s: float) -> str:
    """A failed TLS handshake in words, ``TLS: certificate verify failed: …`` for a certificate the CA does not vouch for."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        reason = (error.reason or "").replace("_", " ").lower() or str(error)
        return f"TLS: handshake failed: {reason}"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"TLS: no handshake within {timeout_s:g} s"
    return f"TLS: handshake failed: {os_cause(error, timeout_s)}"


def _connect_any(infos: list[AddrInfo], timeout_s: float) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            last = error
            continue
        return sock
    raise Unreachable("tcp", os_cause(last, timeout_s) if last else f"timed out after {timeout_s:g} s")


def _handshake(
    sock: socket.socket, host: str, timeout_s: float, ca_cert: Path | None, client_cert: tuple[Path, Path] | None
) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(ca_cert) if ca_cert else None)
    if client_cert is not None:
        context.load_cert_chain(str(client_cert[0]), str(client_cert[1]))
    sock.settimeout(timeout_s)
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except OSError as error:
        raise Unreachable("tls", tls_cause(error, timeout_s)) from error


def _subject(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else ""


def _http_status(sock: socket.socket, scheme: str, host: str, port: int, path: str, query: str, timeout_s: float) -> int:
    """One GET over the open connection; its status (any answer counts). Each read waits at most ``timeout_s``,
    and all of them :data:`WHOLE_MARGIN_S` more: a server that sends its status line a byte a second is cut off then."""
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = kind(host, port, timeout=timeout_s)
    connection.sock = sock  # already connected (and TLS-wrapped): request() uses it as is
    sock.settimeout(timeout_s)
    cut = threading.Timer(timeout_s + WHOLE_MARGIN_S, _shutdown, (sock,))  # a silent server: the read times out first
    cut.daemon = True
    cut.start()
    try:
        connection.request("GET", path + (f"?{query}" if query else ""), headers={"Connection": "close", "User-Agent": "drimva-preflight"})
        status = connection.getresponse().status
    except (http.client.HTTPException, OSError) as error:
        if cut.finished.is_set():
            raise Unreachable("http", f"no whole HTTP answer head within {timeout_s + WHOLE_MARGIN_S:g} s (bytes came too slowly)") from error
        raise _http_cause(error, timeout_s) from error
    finally:
        cut.cancel()
        cut.join(timeout=5.0)
        connection.sock = None  # the caller closes the socket
    return status


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain shutdown, for a TLS socket too
    except OSError:
        pass  # closed already


def _http_cause(error: http.client.HTTPException | OSError, timeout_s: float) -> Unreachable:
    if isinstance(error, ssl.SSLError):  # e.g. the server wanted a client certificate (TLS 1.3 says so after the handshake)
        return Unreachable("tls", tls_cause(error, timeout_s))
    if isinstance(error, TimeoutError | socket.timeout):
        return Unreachable("http", f"no HTTP answer within {timeout_s:g} s")
    if isinstance(error, http.client.RemoteDisconnected):
        return Unreachable("http", "connection closed without an HTTP answer")
    if isinstance(error, http.client.HTTPException):
        return Unreachable("http", f"the answer is not HTTP ({type(error).__name__}: {error})")
    return Unreachable("http", f"no HTTP answer: {os_cause(error, timeout_s)}")

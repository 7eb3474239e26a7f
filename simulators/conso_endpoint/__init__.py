"""The DRIMbox Conso contextual-call endpoint the harness plays when the RIS is the system under test.

A real HTTPS server (``simulators.common.https.HttpsServer``, the run's test
PKI; plain HTTP when the profile says ``tls = false``). Every request is
written to the evidence before it is judged; a call whose judgement has no
error is answered ``303 See Other`` to a harness page showing the values
received (``GET /drimva/appel-contextuel/<n>``), any other ``400`` with the
problems in the body. Judgements are queued for the steps.

A connection that never becomes an HTTP request is also evidence: a RIS
calling ``http://`` on the HTTPS port, or one that does not trust the run's CA
and aborts the TLS handshake, is recorded (channel ``contextual_call``,
direction ``refused``) and kept in :attr:`ContextualCallEndpoint.refused`,
so the RIS-4 finding can name it instead of « nothing received ».
"""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

from drimva.evidence import EvidenceSink, seqs_of
from drimva.findings import Finding, Severity
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, decoded_view

CHANNEL = "contextual_call"
PAGE_PREFIX = "/drimva/appel-contextuel/"


class CallJudgementLike(Protocol):
    @property
    def findings(self) -> list[Finding]: ...


J = TypeVar("J", bound=CallJudgementLike)


@dataclass(frozen=True)
class ReceivedCall(Generic[J]):
    index: int
    judgement: J
    status: int
    at: float
    exchanges: tuple[int, ...] = ()  # sequence number of the recorded request (its answer is recorded after it is judged)


@dataclass(frozen=True)
class RefusedConnection:
    """A connection to the endpoint that failed before any HTTP request: what it was, as the operator reads it."""

    client: tuple[str, int]
    reason: str  # French, e.g. « requête HTTP en clair sur le port HTTPS »
    detail: str  # the TLS library's error
    at: float

    def describe(self) -> str:
        return f"{self.reason} (client {self.client[0]}:{self.client[1]} ; {self.detail})"


def refusal_reason(detail: str) -> str:
    """What a TLS handshake error means for a RIS calling the endpoint (OpenSSL's reason codes)."""
    upper = detail.upper()
    if "HTTP_REQUEST" in upper or "HTTPS_PROXY_REQUEST" in upper:
        return "requête HTTP en clair sur le port HTTPS (le RIS appelle http:// au lieu de https://)"
    if "UNKNOWN_CA" in upper or "BAD_CERTIFICATE" in upper or "CERTIFICATE_UNKNOWN" in upper:
        return "poignée de main TLS abandonnée par le client : il ne fait pas confiance à l'AC du banc"
    if "WRONG_VERSION_NUMBER" in upper or "UNSUPPORTED_PROTOCOL" in upper or "NO_PROTOCOLS" in upper:
        return "poignée de main TLS refusée : version de TLS non acceptée (TLS 1.2 au moins)"
    if "NO_SHARED_CIPHER" in upper:
        return "poignée de main TLS refusée : aucune suite cryptographique commune"
    if "EOF" in upper or "CONNECTION RESET" in upper:
        return "connexion fermée par le client avant la fin de la poignée de main TLS"
    return "poignée de main TLS échouée"


class _PlainSocket(socket.socket):
    """A plain TCP socket with the no-op handshake ``HttpsServer`` expects of a TLS socket."""

    def do_handshake(self) -> None:
        return None


class _PlainContext:
    """Stands in for the ``ssl.SSLContext`` of ``HttpsServer`` to serve plain HTTP (profile ``tls = false``)."""

    def wrap_socket(self, sock: socket.socket, server_side: bool = True, do_handshake_on_connect: bool = False) -> socket.socket:
        timeout = sock.gettimeout()
        plain = _PlainSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        plain.settimeout(timeout)
        return plain


class ContextualCallEndpoint(Generic[J]):
    """``ContextualCallEndpoint(evidence, judge, cert, key, ...)``; ``start()`` / ``stop()`` or a context manager."""

    def __init__(
        self,
        evidence: EvidenceSink,
        judge: Callable[[HttpRequest], J],
        cert: Path,
        key: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/appel-contextuel",
        public_host: str = "127.0.0.1",
        tls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.evidence = evidence
        self.judge = judge
        self.path = path
        self.public_host = public_host
        self.tls = tls
        self._server = HttpsServer(self._handle, cert, key, None, host, port, client_auth="none", timeout=timeout,
                                   on_tls_error=self._refuse if tls else None)
        if not tls:
            self._server.context = _PlainContext()  # type: ignore[assignment]
        self._lock = threading.Condition()
        self.received: list[ReceivedCall[J]] = []
        self._bodies: dict[int, bytes] = {}  # for the harness page
        self.refused: list[RefusedConnection] = []

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.public_host}:{self.port}"

    @property
    def url(self) -> str:
        """The contextual-call URL the RIS is configured with."""
        return self.base_url + self.path

    def start(self) -> ContextualCallEndpoint[J]:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ContextualCallEndpoint[J]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, start: int, timeout: float) -> ReceivedCall[J] | None:
        """The first call from index ``start`` on, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while len(self.received) <= start:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)
            return self.received[start]

    # -- server side ---------------------------------------------------------------
    def _refuse(self, client_address: tuple[str, int], detail: str) -> None:
        """A TLS handshake that failed: recorded, then kept for the finding (no HTTP request ever came)."""
        refused = RefusedConnection((str(client_address[0]), int(client_address[1])), refusal_reason(detail), detail, time.time())
        meta: dict[str, Any] = {"direction": "refused", "client": list(refused.client), "tls": True, "error": detail}
        self.evidence.record(CHANNEL, f"connexion refusée : {refused.reason}", detail.encode("utf-8"),
                             refused.describe() + "\n", meta, "txt")
        with self._lock:
            self.refused.append(refused)
            self._lock.notify_all()

    def _handle(self, request: HttpRequest) -> HttpResponse:
        meta: dict[str, Any] = {"direction": "received", "client": list(request.client_address), "tls": self.tls}
        label = f"{request.method} {request.path} from RIS"
        recorded = self.evidence.record(CHANNEL, label, request.raw(), decoded_view(f"{request.method} {request.target} {request.version}",
                                                                                     request.headers, request.body), meta, "http")
        if request.method == "GET" and request.path.startswith(PAGE_PREFIX):
            response = self._page(request.path[len(PAGE_PREFIX):])
        else:
            judgement = self.judge(request)
            failed = any(f.severity == Severity.ERROR for f in judgement.findings)
            with self._lock:
                index = len(self.received)
                if failed:
                    problems = "\n".join(f.describe() for f in judgement.findings if f.severity == Severity.ERROR)
                    response = HttpResponse(400, [("Content-Type", "text/plain; charset=utf-8")], problems.encode("utf-8"))
                else:
                    response = HttpResponse(303, [("Location", f"{self.base_url}{PAGE_PREFIX}{index}"),
                                                  ("Content-Type", "text/plain; charset=utf-8")], b"See Other\n")
                self.received.append(ReceivedCall(index, judgement, response.status, time.time(), seqs_of(recorded)))
                self._bodies[index] = request.body
                self._lock.notify_all()
        self.evidence.record(CHANNEL, f"{response.status} to {label}", response.raw(),
                             decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body),
                             {"direction": "sent", "status": response.status}, "http")
        return response

    def _page(self, number: str) -> HttpResponse:
        """The harness page a conformant call is redirected to: the values received."""
        with self._lock:
            body = self._bodies.get(int(number)) if number.isdigit() else None
        if body is None:
            return HttpResponse(404, [("Content-Type", "text/plain")], b"unknown contextual call\n")
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                       for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        page = (f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Appel contextuel reçu</title></head>"
                f"<body><h1>Appel contextuel reçu par drimva</h1><table>{rows}</table></body></html>")
        return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], page.encode("utf-8"))

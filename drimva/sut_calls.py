"""The harness's calls to the SUT: bounded as a whole, and named when the SUT did not answer them.

A call to the SUT waits per read and as a whole: :func:`drimva.mllp.send_and_receive`
gives an HL7 message ``ack_timeout`` for its whole ACK, and :func:`send_bounded`
gives an HTTP request ``deadline_s`` for its status line, headers and body (a
watchdog shuts the connection down at the deadline), so a peer that sends one
byte a second cannot keep a scenario alive.

When the SUT did not answer at the transport level, nothing can be judged:
nothing listens at its address any more (connection refused), it accepted the
connection and said nothing, it answered too slowly to finish within the
deadline, or it closed the connection and no longer accepts one (its process
stopped). :func:`mllp_lost` and :func:`http_lost` word that in French, naming
the address and the exchange, and the step raises :class:`SutUnreachable`
(a :class:`HarnessError`: the scenario ends ``error``, an environment problem,
not a non-conformity). A SUT that did answer — by closing the connection while
it still listens, with bytes that are not the protocol, with a TLS handshake
the trust space refuses — is judged by the rules as before. The caller records
the exchange (what came, and why no more) before it asks.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from typing import Any

import httpx

from drimva.mllp import Failure
from drimva.outcomes import HarnessError
from drimva.reachability import WHOLE_MARGIN_S, Unreachable, connect

SUT = "la DRIMbox"


class SutUnreachable(HarnessError):
    """The SUT did not answer an exchange at the transport level; the message says where and what happened."""


class HttpDeadline(httpx.ReadTimeout):
    """No whole HTTP answer within the deadline: the watchdog shut the connection down."""

    def __init__(self, message: str, *, request: httpx.Request, headers_received: bool, body_bytes: int) -> None:
        super().__init__(message, request=request)
        self.headers_received = headers_received
        self.body_bytes = body_bytes


def still_listening(host: str, port: int, timeout_s: float) -> bool:
    """Whether ``host:port`` still accepts a TCP connection (closed at once)."""
    try:
        connect(host, port, timeout_s).close()
    except Unreachable:
        return False
    return True


def mllp_lost(
    failure: Failure | None, received: int, host: str, port: int, what: str, ack_timeout: float, listening: Callable[[], bool]
) -> str:
    """Why an HL7 message got no ACK when that is the environment's problem (in French); "" when the SUT answered
    (closed while still listening, or not MLLP: the ACK rules judge it). ``received``: bytes that came back."""
    where = f"{what}, {host}:{port}"
    if failure == "refused":
        return f"{SUT} n'écoute plus ({where}) : connexion refusée (processus arrêté ?)"
    if failure == "connect":
        return f"{SUT} est injoignable ({where}) : connexion impossible"
    if failure == "silent":
        return f"{SUT} n'a rien répondu en {ack_timeout:g} s ({where} ; connexion acceptée, aucun octet)"
    if failure == "slow":
        return f"réponse MLLP reçue trop lentement ({where}) : {received} octet(s) en {ack_timeout:g} s, sans ACK complet"
    if failure in ("closed", "reset") and not listening():
        return f"connexion fermée par {SUT} sans ACK ({where}), et plus rien n'écoute à cette adresse (processus arrêté ?)"
    return ""


def gone_while_waiting(host: str, port: int, what: str, listening: Callable[[], bool]) -> str:
    """Why a wait for what the SUT does after its answer came up empty when that is the environment's problem
    (in French; ``what`` says which wait, "en attendant la publication du KOS"): nothing listens at its address
    any more. "" while it listens: then the rules judge the absence."""
    if listening():
        return ""
    return (
        f"{SUT} a cessé d'écouter ({host}:{port}) {what} : "
        "connexion refusée ou impossible, rien ne peut être jugé (processus arrêté ?)"
    )


def http_lost(error: httpx.HTTPError, url: str, what: str, deadline_s: float, listening: Callable[[], bool]) -> str:
    """Why an HTTP request got no answer when that is the environment's problem (in French); "" when the SUT
    answered (a TLS handshake that failed, a connection closed while it still listens: the rules judge it)."""
    where = f"{what}, {url}"
    if isinstance(error, HttpDeadline):
        if error.headers_received:
            return f"réponse HTTP reçue trop lentement ({where}) : en-têtes puis {error.body_bytes} octet(s) du corps en {deadline_s:g} s, réponse incomplète"
        return f"réponse HTTP reçue trop lentement ({where}) : en-têtes encore incomplets après {deadline_s:g} s"
    if _tls(error):
        return ""
    if isinstance(error, httpx.ConnectTimeout):
        return f"{SUT} est injoignable ({where}) : connexion non établie en {deadline_s:g} s"
    if isinstance(error, httpx.ConnectError):
        if is_refused(error):
            return f"{SUT} n'écoute plus ({where}) : connexion refusée (processus arrêté ?)"
        return f"{SUT} est injoignable ({where}) : {error}"
    if isinstance(error, httpx.ReadTimeout):
        return f"{SUT} n'a rien répondu en {deadline_s:g} s ({where} ; connexion acceptée, aucun octet)"
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)) and not listening():
        return f"connexion fermée par {SUT} sans réponse HTTP ({where}), et plus rien n'écoute à cette adresse (processus arrêté ?)"
    return ""


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    return seen


def _tls(error: BaseException) -> bool:
    return any(isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError) for cause in _causes(error))


def is_refused(error: BaseException) -> bool:
    """Whether ``error`` (an httpx error, an OSError) comes from a refused connection: nothing listened."""
    return any(
        isinstance(cause, ConnectionRefusedError) or (isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED)
        for cause in _causes(error)
    )


# -- HTTP: the whole answer within a deadline ---------------------------------------------------

_opened: "weakref.WeakKeyDictionary[httpx.Client, weakref.WeakSet[socket.socket]]" = weakref.WeakKeyDictionary()
_opened_lock = threading.Lock()


def _sockets(client: httpx.Client) -> "weakref.WeakSet[socket.socket]":
    with _opened_lock:
        return _opened.setdefault(client, weakref.WeakSet())


def send_bounded(client: httpx.Client, request: httpx.Request, deadline_s: float, **options: Any) -> httpx.Response:
    """``client.send(request)``, its body read, all of it within ``deadline_s``.

    Each read waits at most ``deadline_s`` (less if the client says so); just
    after the deadline (:data:`WHOLE_MARGIN_S`, so that a peer silent from
    the start ends in a read time-out, "nothing received") a watchdog shuts
    down every connection the client opened (they are learnt from httpcore's
    ``trace`` extension), the read in progress ends, and :class:`HttpDeadline`
    says how far the answer had come. Every connection a client bounded so uses
    goes through here (a connection it keeps alive is known from its first use).
    """
    opened = _sockets(client)
    timeouts = dict(request.extensions.get("timeout") or client.timeout.as_dict())
    timeouts["read"] = min(timeouts.get("read") or deadline_s, deadline_s)  # a silent peer: ReadTimeout, not the watchdog
    request.extensions = {**request.extensions, "trace": _tracer(opened), "timeout": timeouts}
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        for sock in list(opened):
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain shutdown, for a TLS socket too
            except OSError:
                pass  # already closed

    watchdog = threading.Timer(max(0.0, deadline_s) + WHOLE_MARGIN_S, fire)
    watchdog.daemon = True
    watchdog.start()
    response: httpx.Response | None = None
    try:
        response = client.send(request, stream=True, **options)
        response.read()
        return response  # whole (even if the deadline struck as the last byte came)
    except Exception as error:
        if not fired.is_set():
            raise
        if response is not None:
            response.close()
        body = response.num_bytes_downloaded if response is not None else 0
        message = (
            f"no complete HTTP answer within {deadline_s:g} s "
            + (f"(headers received, {body} byte(s) of the body)" if response is not None else "(headers incomplete)")
        )
        raise HttpDeadline(message, request=request, headers_received=response is not None, body_bytes=body) from error
    finally:
        watchdog.cancel()
        watchdog.join(timeout=5.0)


def _tracer(opened: "weakref.WeakSet[socket.socket]") -> Callable[[str, dict[str, Any]], None]:
    def trace(event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                opened.add(sock)

    return trace

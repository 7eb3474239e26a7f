"""Life cycle of the simulators' DICOM SCPs (PACS, DICOM node): start, tune, stop (:class:`ServedScp`).

pynetdicom's ``AE.start_server`` runs ``serve_forever`` with socketserver's
0.5 s poll, which makes every stop slow; these SCPs run their own loop at
50 ms. Each accepted association gets ``TCP_NODELAY``: a DIMSE message is
written as several P-DATA PDUs (command, then data set), and with Nagle's
algorithm the last one waits for the peer's delayed ACK, about 40 ms on Linux,
on every exchange.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Any, Callable, Sequence, TypeVar

from pynetdicom import AE, evt
from pynetdicom.transport import ThreadedAssociationServer

from simulators.common.binding import binding

_log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05


def serve_scp(
    ae: AE, address: tuple[str, int], handlers: Sequence[tuple[Any, Callable[..., Any]]], name: str
) -> tuple[ThreadedAssociationServer, threading.Thread]:
    """Bind ``address`` and serve in a daemon thread; every association gets ``TCP_NODELAY``.

    A socket that cannot be bound raises :class:`~simulators.common.binding.BindError`."""
    with binding(*address):
        server = ae.make_server(
            address, evt_handlers=[(evt.EVT_CONN_OPEN, _no_delay), *handlers], server_class=ThreadedAssociationServer
        )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name, daemon=True)
    thread.start()
    return server, thread


def stop_scp(server: Any, thread: threading.Thread | None, timeout: float) -> None:
    """Stop a server started by :func:`serve_scp`: abort its associations, close, join."""
    if server is None:
        return
    for assoc in list(server.active_associations):
        assoc.abort()
    socketserver.TCPServer.shutdown(server)  # stops serve_forever (pynetdicom's shutdown expects start_server)
    server.server_close()
    if thread is not None:
        thread.join(timeout)


_Scp = TypeVar("_Scp", bound="ServedScp")


class ServedScp:
    """``start()`` / ``stop()``, context manager and ``port`` of a simulator answering DICOM on its own SCP.

    The simulator sets ``_ae``, ``host``, ``timeout`` and ``_requested_port``, and
    says which events it handles (``_scp_handlers``) and how its thread is named.
    """

    _ae: AE
    host: str
    timeout: float
    _requested_port: int
    _server: ThreadedAssociationServer | None = None
    _thread: threading.Thread | None = None

    def _scp_handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        raise NotImplementedError

    def _scp_name(self) -> str:
        raise NotImplementedError

    def start(self: _Scp) -> _Scp:
        if self._server is None:
            address = (self.host, self._requested_port)
            self._server, self._thread = serve_scp(self._ae, address, self._scp_handlers(), self._scp_name())
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        stop_scp(server, thread, self.timeout)

    def __enter__(self: _Scp) -> _Scp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port once started, else the requested one."""
        return int(self._server.server_address[1]) if self._server is not None else self._requested_port


def _no_delay(event: Any) -> None:
    try:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError) as exc:  # not a TCP socket: nothing to tune
        _log.debug("TCP_NODELAY not set: %s", exc)

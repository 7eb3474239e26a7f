"""Life cycle of the simulators' DICOM SCPs (PACS, DICOM node): start, tune, stop.

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
from typing import Any, Callable, Sequence

from pynetdicom import AE, evt
from pynetdicom.transport import ThreadedAssociationServer

_log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05


def serve_scp(
    ae: AE, address: tuple[str, int], handlers: Sequence[tuple[Any, Callable[..., Any]]], name: str
) -> tuple[ThreadedAssociationServer, threading.Thread]:
    """Bind ``address`` and serve in a daemon thread; every association gets ``TCP_NODELAY``."""
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


def _no_delay(event: Any) -> None:
    try:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError) as exc:  # not a TCP socket: nothing to tune
        _log.debug("TCP_NODELAY not set: %s", exc)

"""The simulators' DICOM SCPs: :mod:`dicombounds.scp`'s bounded server, bound to the address the profile names.

The bounds themselves (PDU lengths and deadlines, the association limit, the
DUL state machine that drops a primitive once the association is gone, the
A-ASSOCIATE-RQ check) live in :mod:`dicombounds`, a package that is neither
judge nor judged, so that the reference DRIMbox's own DICOM listener can use
them too (it imports nothing of ``simulators/common``). Here: a bind failure
names its address (:class:`~simulators.common.binding.BindError`) and
:class:`ServedScp` gives a simulator ``start`` / ``stop``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence, TypeVar

from pynetdicom import AE
from pynetdicom.transport import ThreadedAssociationServer

from dicombounds import scp as bounds
from dicombounds.scp import MAX_OTHER_PDU_LENGTH, stop_scp
from simulators.common.binding import binding

__all__ = ["MAX_OTHER_PDU_LENGTH", "ServedScp", "serve_scp", "stop_scp"]


def serve_scp(
    ae: AE, address: tuple[str, int], handlers: Sequence[tuple[Any, Callable[..., Any]]], name: str
) -> tuple[ThreadedAssociationServer, threading.Thread]:
    """:func:`dicombounds.scp.serve_scp`; a socket that cannot be bound raises
    :class:`~simulators.common.binding.BindError`."""
    with binding(*address):
        return bounds.serve_scp(ae, address, handlers, name)


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

"""A listening socket that cannot be bound says which address it was asked for (:class:`BindError`).

The simulators bind their sockets in three places (the HTTPS server, the DICOM
SCP, the MLLP listener); each wraps the bind in :func:`binding`, so that whoever
started the simulator can name the setting behind the address (the harness
names the profile key) without parsing an errno message.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


class BindError(OSError):
    """``host``:``port`` could not be bound (or ``host`` not resolved); ``errno`` and ``strerror`` are the cause's."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.host = host
        self.port = port
        self.cause = cause

    @property
    def unresolved(self) -> bool:
        """The host name did not resolve (or not to an address of the socket's family)."""
        return isinstance(self.cause, socket.gaierror)

    def __str__(self) -> str:
        return f"cannot listen on {self.host}:{self.port}: {self.strerror}"


@contextmanager
def binding(host: str, port: int) -> Iterator[None]:
    """An OSError raised in the block (which binds ``host``:``port``) becomes a :class:`BindError`."""
    try:
        yield
    except BindError:
        raise
    except OSError as error:
        raise BindError(host, port, error) from error

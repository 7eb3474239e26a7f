"""What the robustness tests share: a peer that sends one byte at a time, and a handler on the root logger."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

H = TypeVar("H", bound=logging.Handler)


def drip(sock: socket.socket, data: bytes, stop: threading.Event, every_s: float = 1.0) -> None:
    """Send ``data`` one byte every ``every_s`` until all is sent, ``stop`` is set or the connection fails."""
    for byte in data:
        if stop.wait(every_s):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


@contextmanager
def on_root_logger(handler: H) -> Iterator[H]:
    """``handler`` hears every record of every logger (root at DEBUG) until the block ends; the level is restored."""
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

"""What the robustness tests share: a peer that sends one byte at a time, a handler on the root logger, and the
exceptions no thread handled."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

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


@contextmanager
def unhandled_in_threads(found: list[str]) -> Iterator[list[str]]:
    """Appends to ``found`` the exceptions that end a thread unhandled until the block ends
    (``threading.excepthook``), one line each; the previous hook is still called, and restored."""
    previous = threading.excepthook

    def hook(args: Any) -> None:
        name = args.thread.name if args.thread is not None else "?"
        found.append(f"unhandled in thread {name}: {args.exc_type.__name__}: {str(args.exc_value)[:200]}")
        previous(args)

    threading.excepthook = hook
    try:
        yield found
    finally:
        threading.excepthook = previous

"""Loopback ports for the tests."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A port of 127.0.0.1 free now: bound, then released, so nothing listens on it (a connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

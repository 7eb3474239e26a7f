"""What the long fuzz runs measure memory with (issue 13): the process's resident size now, and an
evidence sink that keeps nothing (``NullEvidence`` keeps every exchange: its growth is not the server's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def rss_kib() -> int:
    """Resident set size of this process now, in KiB (``/proc/self/status`` ``VmRSS``: Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmRSS line")


class DiscardEvidence:
    """An evidence sink that counts exchanges and keeps none of them."""

    def __init__(self) -> None:
        self.count = 0

    def record(self, channel: str, label: str, raw: bytes, decoded: str | None = None,
               meta: dict[str, Any] | None = None, suffix: str = "bin") -> Path:
        self.count += 1
        return Path("/dev/null")

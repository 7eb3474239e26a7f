"""What the SUT source answered to the peer consumer the harness plays (VA-E), judged.

Why a module: the checks used to live in ``steps/source.py``; the answers
are plain data the peer consumer recorded (series, status, problems).
"""

from __future__ import annotations

from typing import Iterable, Protocol

from drimva.findings import Finding


class SeriesAnswer(Protocol):
    """What one series' RetrieveURL answered (``simulators.peer.consumer.SeriesFetch`` fits)."""

    @property
    def series_uid(self) -> str: ...

    @property
    def status(self) -> int | None: ...

    @property
    def problems(self) -> list[str]: ...


def check_series_served(series: Iterable[SeriesAnswer]) -> list[Finding]:
    """WADO-SERIES-200: every series of the KOS is served (200) to a consumer with a valid request."""
    return [
        Finding("WADO-SERIES-200", "", f"GET …/series/{s.series_uid}", "200", f"{s.status}: {'; '.join(s.problems)}")
        for s in series
        if s.status != 200
    ]


def check_security_probe(url: str, omitted: Iterable[str], status: int | None, error: str, expected: Iterable[int]) -> list[Finding]:
    """WADO-SECURITY: a request missing a security element is refused with one of the ``expected`` codes."""
    codes = sorted(set(expected))
    if status in codes:
        return []
    return [Finding(
        "WADO-SECURITY", "", f"GET {url} without {', '.join(sorted(omitted)) or 'a valid request element'}",
        " or ".join(str(c) for c in codes), str(status if status is not None else error),
    )]  # fmt: skip


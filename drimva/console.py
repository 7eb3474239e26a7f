"""What a run prints, for a person at a terminal and for a CI log: line formats and the live status line.

One line per scenario as it ends (its VA items, its French outcome, its
seconds, its title), its findings under it (expected and actual first,
shortened at a word boundary with ``…``), one line per VA item when its last
scenario is done, and what is being awaited when a wait lasts more than
:data:`drimva.waiting.REPORT_AFTER_S`. On a terminal the wait is a live
status line, rewritten in place with ``\\r`` and erased with spaces (no
escape sequence); anywhere else (a CI log, a pipe) it is a plain line when
the wait passes 2 s and another every :data:`WAIT_REPEAT_S`, so the log holds
no control character at all.

Used by ``drimva run`` / ``demo`` / ``ris`` (through :mod:`drimva.pytest_console`)
and ``drimva soak``. The words are those of the VA report
(:data:`drimva.outcomes.OUTCOME_LABELS_FR`).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from drimva.outcomes import OUTCOME_LABELS_FR, Outcome
from drimva.report.texts import requirement_fr
from drimva.report.values_fr import location_fr, reason_fr, value_fr
from drimva.waiting import WaitProgress

FINDING_WIDTH = 160  # characters of one finding line, indent excluded
MESSAGE_WIDTH = 200  # characters of a scenario's message (skip reason, harness error)
FINDINGS_SHOWN = 3  # findings printed under a scenario; the others are counted
WAIT_REPEAT_S = 10.0  # not a terminal: a wait still running is printed again after this long
ELLIPSIS = "…"
# the outcomes a person must read the reason of (passed and not_run have none worth a line)
EXPLAINED = frozenset(o.value for o in Outcome) - {Outcome.PASSED.value, Outcome.NOT_RUN.value}


def outcome_word(outcome: str | Outcome) -> str:
    """The French word of an outcome, as in the VA report."""
    return OUTCOME_LABELS_FR[Outcome(outcome)]


def shorten(text: str, limit: int) -> str:
    """``text`` on one line and at most ``limit`` characters, cut at a word boundary and ended with ``…``."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else cut inside the (very long) word
        cut = cut[:space]
    return cut.rstrip(" ,;:—-") + ELLIPSIS


def seconds_text(seconds: float) -> str:
    """``7,9 s``: one decimal, French decimal comma."""
    return f"{seconds:.1f} s".replace(".", ",")


def finding_text(finding: Mapping[str, Any]) -> str:
    """One finding in French, expected and actual first: ``attendu X, constaté Y — RULE (location) : requirement``.

    The same French as the VA report's (:mod:`drimva.report.values_fr`, the catalogue's requirement texts)."""
    rule = str(finding.get("rule", ""))
    expected, actual = (value_fr(str(finding.get(key, "")), rule) for key in ("expected", "actual"))
    text = f"attendu {expected}, constaté {actual} — {rule}"
    if finding.get("location"):
        text += f" ({location_fr(str(finding['location']))})"
    if finding.get("requirement") or rule:
        requirement = requirement_fr(rule, str(finding.get("requirement", ""))) if rule else str(finding["requirement"])
        text += f" : {requirement}" if requirement else ""
    return text


def blocking_findings(scenario: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The findings worth a line: errors first, then warnings (info findings are context)."""
    findings = [f for f in scenario.get("findings") or () if f.get("severity") in ("error", "warning")]
    return sorted(findings, key=lambda f: f.get("severity") != "error")


def scenario_detail(scenario: Mapping[str, Any], shown: int = FINDINGS_SHOWN) -> list[str]:
    """The lines under a scenario that did not pass: its findings, else its message (empty when it passed)."""
    if scenario.get("outcome") not in EXPLAINED:
        return []
    findings = blocking_findings(scenario)
    if not findings:
        message = scenario.get("message") or ""
        return [shorten(reason_fr(message), MESSAGE_WIDTH)] if message else []
    lines = [shorten(finding_text(f), FINDING_WIDTH) for f in findings[:shown]]
    if len(findings) > shown:
        lines.append(f"(+ {len(findings) - shown} autre(s) constat(s) : voir results.json et le rapport VA)")
    return lines


def scenario_line(items: Sequence[str], title: str, outcome: str | Outcome, seconds: float) -> str:
    """``VA-B1   non conforme      7,9 s  Le CR transmis en ORU^R01 est reçu et acquitté``."""
    return f"{'+'.join(items) or '-':<11} {outcome_word(outcome):<15} {seconds_text(seconds):>8}  {title}"


def counts_text(counts: Mapping[str, int]) -> str:
    """``non conforme : 2, non lancé : 30`` in the order of the outcome vocabulary (``aucun`` when empty)."""
    parts = [f"{outcome_word(o)} : {counts[o.value]}" for o in Outcome if counts.get(o.value)]
    return ", ".join(parts) or "aucun"


def tally(outcomes: Iterable[str | Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = Outcome(outcome).value
        counts[key] = counts.get(key, 0) + 1
    return counts


def item_line(item_id: str, label: str, outcome: str | Outcome, counts: Mapping[str, int]) -> str:
    """``== VA-B1 non conforme (2 scénario(s) : non conforme : 2) — Connexion avec le RIS …``."""
    total = sum(counts.values())
    return f"== {item_id} {outcome_word(outcome)} ({total} scénario(s) : {counts_text(counts)}) — {label}"


def wait_text(progress: WaitProgress) -> str:
    """``en attente depuis 4 s (délai 30 s) : le KOS du patient au DMP``."""
    what = progress.what or "réponse du système testé"
    return f"en attente depuis {progress.elapsed_s:.0f} s (délai {progress.timeout_s:.0f} s) : {what}"


class Console:
    """Lines for people and CI on one stream, and the live status line when the stream is a terminal.

    Thread-safe: waits are heard from the steps' thread, lines written from pytest's hooks.
    """

    def __init__(self, stream: TextIO, *, live: bool | None = None, quiet: bool = False, width: int | None = None) -> None:
        self.stream = stream
        self.width = width  # of the live status line; None: the terminal's
        self.live = _isatty(stream) if live is None else live
        self.quiet = quiet  # only the final summary: per-scenario lines and waits are not printed
        self._status = ""  # the live status line shown (terminal only)
        self._wait_printed_at: float | None = None  # not a terminal: elapsed time of the last wait line
        self._lock = threading.Lock()

    @classmethod
    def for_stdout(cls, *, quiet: bool = False) -> Console:
        """A console on a copy of the process's standard output, so that pytest's capture of fd 1 cannot swallow it."""
        try:
            sys.stdout.flush()
            stream: TextIO = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            stream = sys.stdout  # no file descriptor (a test's captured stdout): write where print would
        return cls(stream, quiet=quiet)

    def close(self) -> None:
        with self._lock:
            self._erase_status()
            self.stream.flush()
            if self.stream is not sys.stdout and self.stream is not sys.__stdout__:
                self.stream.close()

    # -- lines -------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """A line of its own (the status line, if shown, is erased first and not redrawn)."""
        with self._lock:
            self._erase_status()
            self.stream.write(text + "\n")
            self.stream.flush()

    def lines(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.line(text)

    def scenario_done(self, scenario: Mapping[str, Any], items: Sequence[str]) -> None:
        """The line of a scenario that ended (a ``results.json`` scenario), and its findings under it."""
        if self.quiet:
            return
        self._wait_printed_at = None
        self.line(scenario_line(items, scenario["name"], scenario["outcome"], float(scenario.get("duration_s") or 0.0)))
        for detail in scenario_detail(scenario):
            self.line(f"{'':14}↳ {detail}")

    def item_done(self, item_id: str, label: str, outcome: str | Outcome, counts: Mapping[str, int]) -> None:
        if not self.quiet:
            self.line(item_line(item_id, label, outcome, counts))

    # -- waits -------------------------------------------------------------------------
    def waiting(self, progress: WaitProgress) -> None:
        """A :func:`drimva.waiting.poll` observer: the live status line, or a plain line at 2 s and every 10 s."""
        if self.quiet:
            return
        if progress.done:
            self._wait_printed_at = None
            with self._lock:
                self._erase_status()
            return
        text = f"  … {wait_text(progress)}"
        if self.live:
            self.status(text)
            return
        last = self._wait_printed_at
        if last is None or progress.elapsed_s - last >= WAIT_REPEAT_S or progress.elapsed_s < last:
            self._wait_printed_at = progress.elapsed_s
            self.line(text)

    def status(self, text: str) -> None:
        """Show ``text`` as the live status line (a terminal only; elsewhere nothing)."""
        if not self.live:
            return
        width = self.width or max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        indent = len(text) - len(text.lstrip(" "))
        text = " " * indent + shorten(text, width - indent)
        with self._lock:
            padding = " " * max(0, len(self._status) - len(text))
            self.stream.write("\r" + text + padding)
            self.stream.flush()
            self._status = text

    def _erase_status(self) -> None:
        if self._status:
            self.stream.write("\r" + " " * len(self._status) + "\r")
            self._status = ""


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

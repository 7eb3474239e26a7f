"""drimva's own console in a VA run: pytest's terminal reporter is off (``-p no:terminal``), this prints instead.

Registered by :mod:`drimva.pytest_plugin` when ``drimva run`` passes
``--drimva-console``. A line per scenario as it ends and a line per VA item
when its last selected scenario is done (:mod:`drimva.console`); the waits of
:func:`drimva.waiting.poll` that last more than 2 s say what they await, or,
when the step did not say, the Gherkin step that waits. The outcome and the
counts are those ``results.json`` will hold: the item line aggregates the
item's scenarios as :func:`drimva.results.build_results` does, the scenarios
the selection left out counting ``not_run``.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Protocol, Sequence

import pytest

from drimva.console import Console, tally
from drimva.outcomes import Outcome, aggregate
from drimva.results import ScenarioResult
from drimva.va import VaItem
from drimva.waiting import WaitProgress, observed


class Progress(Protocol):
    """What the reporter reads of the run's progress (``drimva.pytest_plugin.RunProgress``)."""

    @property
    def selected(self) -> dict[str, pytest.Item]: ...
    @property
    def deselected(self) -> list[pytest.Item]: ...
    @property
    def step(self) -> str: ...


class Run(Protocol):
    """What the reporter reads of the run (``drimva.pytest_plugin.RunState``), which owns this reporter."""

    @property
    def run_dir(self) -> Path: ...
    @property
    def item_table(self) -> tuple[VaItem, ...]: ...
    @property
    def progress(self) -> Progress: ...
    def result_of(self, item: pytest.Item) -> ScenarioResult | None: ...


class Tagged(Protocol):
    @property
    def tags(self) -> tuple[str, ...]: ...


class ConsoleReporter:
    """The per-scenario and per-item lines of a run, and its waits."""

    def __init__(self, console: Console, state: Run, scenario_info: Callable[[pytest.Item], Tagged]) -> None:
        self.console = console
        self.state = state
        self.scenario_info = scenario_info  # the plugin's reading of a scenario's tags
        self.pending: dict[str, set[str]] = {}  # item id -> node ids of its selected scenarios not yet ended
        self.outcomes: dict[str, list[Outcome]] = {}  # item id -> outcomes so far (left out: not_run)
        self._stack = ExitStack()
        self._stack.enter_context(observed(self._waiting))

    def _items_of(self, item: pytest.Item) -> list[str]:
        tags = set(self.scenario_info(item).tags)
        return [va.id for va in self.state.item_table if va.id in tags]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            for item_id in self._items_of(item):
                self.pending.setdefault(item_id, set()).add(item.nodeid)
        for item in self.state.progress.deselected:
            for item_id in self._items_of(item):
                self.outcomes.setdefault(item_id, []).append(Outcome.NOT_RUN)
        count = len(session.items)
        if count and not self.console.quiet:
            self.console.line(f"drimva : {count} scénario(s) à jouer — dossier {self.state.run_dir}")

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        item = self.state.progress.selected.get(nodeid)
        result = self.state.result_of(item) if item is not None else None
        if item is None or result is None:
            return
        items = self._items_of(item)
        self.console.scenario_done(result.to_dict(), items)
        for item_id in items:
            self.outcomes.setdefault(item_id, []).append(result.outcome)
            waiting = self.pending.get(item_id, set())
            waiting.discard(nodeid)
            if not waiting:
                self._item_done(item_id)

    def _item_done(self, item_id: str) -> None:
        va = _find(self.state.item_table, item_id)
        outcomes = self.outcomes.get(item_id, [])
        self.console.item_done(item_id, va.label if va else "", aggregate(outcomes), tally(outcomes))

    def _waiting(self, progress: WaitProgress) -> None:
        if not progress.what:
            step = self.state.progress.step
            progress = WaitProgress(
                f"étape « {step} »" if step else "", progress.elapsed_s, progress.timeout_s, progress.done, progress.found
            )
        self.console.waiting(progress)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """With the terminal reporter off, a feature or step module that cannot be collected would go unsaid."""
        if report.failed:
            print(f"drimva : impossible de charger {report.nodeid or 'la suite'} :\n{report.longreprtext}", file=sys.stderr)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """``pytest.exit(message)`` (e.g. a profile the session fixture cannot load) said only by the terminal reporter."""
        if isinstance(excinfo.value, pytest.exit.Exception):
            print(f"drimva : {excinfo.value.msg}", file=sys.stderr)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._stack.close()
        self.console.close()


def _find(table: Sequence[VaItem], item_id: str) -> VaItem | None:
    return next((va for va in table if va.id == item_id), None)

"""pytest plugin of a VA run: options, scenario bookkeeping, outcomes, results.

Loaded with ``-p drimva.pytest_plugin`` by ``drimva run``; the simulator
fixtures come from ``fixtures.harness``. It maps each pytest-bdd scenario to
its VA items (tags), turns the pytest outcome into the drimva vocabulary
(:mod:`drimva.outcomes`) and writes ``results.json`` and the HTML report when
the session ends.

As the run goes, ``progress.jsonl`` gets a line when a scenario starts, at
each of its steps, and when it ends. A run stopped by SIGINT or SIGTERM (:mod:`drimva.interruption`)
still writes its results, after the session's teardown has stopped the
simulators and the SUT: the scenario that was running is ``interrupted``,
those selected that had not started are ``not_run``. ``junit.xml`` is written
from the same results (:mod:`drimva.junit`); with ``--drimva-console`` the
plugin prints drimva's console lines itself (:mod:`drimva.pytest_console`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Generator, Sequence

import pytest

from drimva.evaluated import RuleTrace
from drimva.evidence import SCENARIO_FOLDER_LIMIT, slug
from drimva.interruption import stop_signal
from drimva.junit import write_junit
from drimva.outcomes import HarnessError, NonConformance, Outcome, outcome_of_skip
from drimva.preflight import PREFLIGHT_FILE
from drimva.results import ScenarioResult, build_results, write_results
from drimva.scenario_ids import ID_TAG, scenario_id
from drimva.va import VA_ITEMS, VaItem
from drimva.verdict import Verdict

SCENARIO_KEY = pytest.StashKey["ScenarioInfo"]()
VERDICT_KEY = pytest.StashKey[Verdict]()
RESULT_KEY = pytest.StashKey[ScenarioResult]()
EVALUATED_KEY = pytest.StashKey[set[str]]()  # the rule ids its steps evaluated (drimva.evaluated)
PROGRESS_FILE = "progress.jsonl"


@dataclass(frozen=True)
class ScenarioInfo:
    feature: str
    name: str
    tags: tuple[str, ...]

    @property
    def id(self) -> str:
        """The stable id of its ``@id:…`` tag ("" when it has none)."""
        return scenario_id(self.tags)

    @property
    def evidence_name(self) -> str:
        return slug(f"{Path(self.feature).stem}--{self.name}", SCENARIO_FOLDER_LIMIT)


class RunProgress:
    """The run as it goes: the scenarios selected, the one running, ``progress.jsonl``, the signal that stopped it.

    Registered as a plugin of its own, as it needs hooks that are given no config.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / PROGRESS_FILE
        self.selected: dict[str, pytest.Item] = {}  # by node id, in the order of the run
        self.deselected: list[pytest.Item] = []  # left out by -m (the other mode's features, --items) or -k
        self.running: pytest.Item | None = None
        self.running_since = 0.0
        self.stopped_at = 0.0
        self.step = ""  # the Gherkin step of the running scenario, once its fixtures are set up
        self.interrupted_by: str | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.selected = {item.nodeid: item for item in session.items}

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.deselected.extend(items)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = self.selected.get(nodeid)
        self.running_since = time.monotonic()
        self.step = ""
        if self.running is not None:
            self._log("start", self.running)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        item, self.running = self.running, None
        if item is not None and item.nodeid == nodeid:
            self._log("end", item)

    def pytest_bdd_before_step(self, step: Any) -> None:
        self.step = f"{step.keyword} {step.name}"
        self._log("step", self.running, step=self.step)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        error = excinfo.value
        # pytest.Session.Interrupted is pytest's own stop (--maxfail), not a signal.
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, pytest.Session.Interrupted):
            self.interrupted_by = stop_signal(error).name
            self.stopped_at = time.monotonic()
            self._log("interrupted", self.running, signal=self.interrupted_by)

    def _log(self, event: str, item: pytest.Item | None, **extra: str) -> None:
        line: dict[str, Any] = {"at": datetime.now(timezone.utc).isoformat(), "event": event, **extra}
        if item is not None:
            info = _scenario_info(item)
            line.update(feature=info.feature, name=info.name)
            result = item.stash.get(RESULT_KEY, None)
            if event == "end" and result is not None:
                line.update(outcome=result.outcome.value, duration_s=round(result.duration_s, 3))
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line, ensure_ascii=False) + "\n")

    def unfinished(self) -> list[tuple[pytest.Item, ScenarioResult]]:
        """After an interruption: the running scenario ``interrupted``, every selected one not started ``not_run``."""
        signal_name = self.interrupted_by or "SIGINT"
        results = []
        for item in self.selected.values():
            if RESULT_KEY in item.stash:
                continue
            if item is self.running:
                where = f"pendant ce scénario, à l'étape « {self.step} »" if self.step else "pendant la mise en place de ce scénario"
                message = f"exécution interrompue par {signal_name} {where}"
                results.append((item, _result(item, Outcome.INTERRUPTED, message, self.stopped_at - self.running_since)))
            else:
                message = f"non lancé : exécution interrompue par {signal_name} avant ce scénario"
                results.append((item, _result(item, Outcome.NOT_RUN, message, evidence=False)))
        return results

    def left_out(self, item_ids: set[str], selection: str) -> list[ScenarioResult]:
        """The scenarios of the checklist ``item_ids`` that the selection left out: ``not_run``."""
        return [
            _result(item, Outcome.NOT_RUN, f"non sélectionné ({selection})", evidence=False)
            for item in self.deselected
            if item_ids & set(_scenario_info(item).tags)
        ]


class RunState:
    def __init__(self, run_dir: Path, fault: str | None, variant: str | None = None) -> None:
        self.run_dir = run_dir
        self.progress = RunProgress(run_dir)
        self.fault = fault
        self.variant = variant
        self.started = datetime.now(timezone.utc)
        self.results: list[ScenarioResult] = []
        self.profile_source = ""
        self.sut_name = ""
        self.kind = "drimbox"
        self.item_table: tuple[VaItem, ...] = VA_ITEMS  # the RIS harness sets the RIS items
        self.supervision: dict[str, Any] | None = None  # the background supervision probes' summary (VA-F)
        self.preflight: dict[str, Any] | None = None  # the pre-flight of the SUT's addresses (drimva.preflight)

    def result_of(self, item: pytest.Item) -> ScenarioResult | None:
        """The result of a scenario that has ended, else None."""
        return item.stash.get(RESULT_KEY, None)


_STATE = pytest.StashKey[RunState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drimva")
    group.addoption("--drimva-profile", default=None, help="SUT profile (TOML); default: embedded reference")
    group.addoption("--drimva-run-dir", default=None, help="folder of this run's evidence and results")
    group.addoption("--drimva-fault", default=None, help="fault of the embedded reference DRIMbox")
    group.addoption("--drimva-selection", default="", help="how the scenarios were selected (--items, -k), for the results")
    group.addoption("--drimva-variant", default=None, help="conformant variant of the embedded reference DRIMbox")
    group.addoption(
        "--drimva-no-preflight", action="store_true", help="do not probe the SUT's addresses before the first scenario"
    )
    group.addoption(
        "--drimva-scenario", action="append", default=[], help="only the scenario of this title (repeatable)"
    )
    group.addoption(
        "--drimva-console", default=None, choices=("normal", "quiet"),
        help="print drimva's console lines (a line per scenario and per item, long waits); quiet: none (drimva run's summary only)",
    )
    group.addoption(
        "--drimva-browser", default=None, choices=("http", "chromium"), help="browser of the viewer scenarios (overrides the profile)"
    )


def pytest_configure(config: pytest.Config) -> None:
    run_dir = config.getoption("--drimva-run-dir", None)
    if not run_dir:
        return
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    state = RunState(path, config.getoption("--drimva-fault"), config.getoption("--drimva-variant"))
    config.stash[_STATE] = state
    config.pluginmanager.register(state.progress, "drimva-progress")
    console = config.getoption("--drimva-console", None)
    if console:
        from drimva.console import Console
        from drimva.pytest_console import ConsoleReporter

        reporter = ConsoleReporter(Console.for_stdout(quiet=console == "quiet"), state, _scenario_info)
        config.pluginmanager.register(reporter, "drimva-console")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--drimva-scenario ID|TITLE``: keep the scenarios of those stable ids (``B1-ORU``) or titles; the others
    are deselected (``not_run``)."""
    wanted = set(config.getoption("--drimva-scenario", None) or ())
    if not wanted:
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        info = _scenario_info(item)
        (kept if info.name in wanted or info.id in wanted else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def run_state(config: pytest.Config) -> RunState:
    try:
        return config.stash[_STATE]
    except KeyError:
        raise HarnessError("the VA suite runs through 'drimva run' (no --drimva-run-dir given)") from None


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    # Gherkin tags such as "VA-B1" become pytest marks; declare them so pytest does not warn.
    # A scenario's stable id ("id:B1-ORU") is no mark (pytest reads "id" as the mark's name).
    if tag.startswith(ID_TAG):
        return True
    from pytest_bdd.scenario import CONFIG_STACK

    if CONFIG_STACK:
        CONFIG_STACK[-1].addinivalue_line("markers", f"{tag}: Gherkin tag")
    return None


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    tags = tuple(sorted(set(scenario.tags) | set(feature.tags)))
    info = ScenarioInfo(Path(feature.filename).name, scenario.name, tags)
    request.node.stash[SCENARIO_KEY] = info
    evidence = request.getfixturevalue("evidence")
    evidence.begin_scenario(info.evidence_name)


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    request.getfixturevalue("evidence").end_scenario()


def _scenario_info(item: pytest.Item) -> ScenarioInfo:
    info = item.stash.get(SCENARIO_KEY, None)
    if info is not None:
        return info
    # The scenario never started (setup failed or skipped): read it from pytest-bdd's registry.
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    if template is None:
        return ScenarioInfo(item.fspath.basename, item.name, tuple(m.name for m in item.iter_markers()))
    tags = tuple(sorted(set(template.tags) | set(template.feature.tags)))
    return ScenarioInfo(Path(template.feature.filename).name, template.name, tags)



def _classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[Outcome, str]:
    if report.passed:
        return Outcome.PASSED, ""
    if report.skipped:
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if message.startswith("Skipped: "):
            message = message[len("Skipped: ") :]
        return outcome_of_skip(message)
    excinfo = call.excinfo
    if excinfo is not None and isinstance(excinfo.value, NonConformance) and report.when == "call":
        return Outcome.FAILED, str(excinfo.value)
    if excinfo is not None and isinstance(excinfo.value, HarnessError):
        return Outcome.ERROR, str(excinfo.value)  # worded for the reader already
    if excinfo is not None:
        kind = type(excinfo.value).__name__
        return Outcome.ERROR, f"{kind}: {excinfo.value}"
    return Outcome.ERROR, "unknown failure"


def _result(item: pytest.Item, outcome: Outcome, message: str, duration_s: float = 0.0, *, evidence: bool = True) -> ScenarioResult:
    """The result of ``item``, with the findings its verdict has so far; ``evidence``: name its evidence folder."""
    info = _scenario_info(item)
    verdict = item.stash.get(VERDICT_KEY, None)
    findings = list(verdict.findings) if verdict else []
    return ScenarioResult(
        feature=info.feature,
        name=info.name,
        tags=info.tags,
        outcome=outcome,
        duration_s=duration_s,
        message=message,
        findings=findings,
        evidence=f"evidence/{info.evidence_name}" if evidence else "",
        rules=sorted(item.stash.get(EVALUATED_KEY, set()) | (verdict.evaluated if verdict else set()) | {f.rule for f in findings}),
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Trace the rules the scenario's steps call, passed or not (``rules`` of its results)."""
    if _STATE not in item.config.stash:
        return (yield)
    trace = RuleTrace()
    trace.start()
    try:
        return (yield)
    finally:
        trace.stop()
        item.stash[EVALUATED_KEY] = trace.rule_ids()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if _STATE not in item.config.stash:
        return
    decisive = report.when == "call" or (report.when == "setup" and not report.passed)
    if not decisive:
        if report.when == "teardown" and report.failed and RESULT_KEY in item.stash:
            result = item.stash[RESULT_KEY]
            if result.outcome == Outcome.PASSED:
                result.outcome = Outcome.ERROR
                result.message = f"teardown: {call.excinfo.value if call.excinfo else 'failed'}"
        return
    kind, message = _classify(report, call)
    result = _result(item, kind, message, report.duration)
    item.stash[RESULT_KEY] = result
    run_state(item.config).results.append(result)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """Results are written around every other session-end hook: after the teardown that an
    interrupted run does here (simulators, SUT, supervision summary) and after ``junit.xml``,
    and even when that teardown raises."""
    try:
        return (yield)
    finally:
        state = session.config.stash.get(_STATE, None)
        if state is not None:
            _write_run_results(session.config, state)


def _write_run_results(config: pytest.Config, state: RunState) -> None:
    progress = state.progress
    unfinished = progress.unfinished() if progress.interrupted_by else []
    selection = config.getoption("--drimva-selection") or "-m"
    left_out = progress.left_out({item.id for item in state.item_table}, selection)
    results = build_results(
        run_id=state.run_dir.name,
        scenarios=state.results + [result for _, result in unfinished] + left_out,
        profile_source=state.profile_source,
        sut_name=state.sut_name,
        fault=state.fault,
        variant=state.variant,
        started=state.started,
        finished=datetime.now(timezone.utc),
        item_table=state.item_table,
        kind=state.kind,
        interrupted_by=progress.interrupted_by,
    )
    if state.supervision is not None:  # set by the supervision monitor's teardown, before this hook
        keys = ("url", "interval_s", "probes", "ok", "availability", "evidence")
        results["supervision"] = {key: state.supervision.get(key) for key in keys}
    if state.preflight is not None:
        summary = ("ran", "not_run", "ok", "duration_s", "failed")
        results["preflight"] = {key: state.preflight.get(key) for key in summary} | {"file": PREFLIGHT_FILE}
    write_results(state.run_dir, results)
    write_junit(state.run_dir, results)  # from the results, so its counts are theirs (drimva.junit)

"""pytest plugin of a VA run: options, scenario bookkeeping, outcomes, results.

Loaded with ``-p drimva.pytest_plugin`` by ``drimva run``; the simulator
fixtures come from ``fixtures.harness``. It maps each pytest-bdd scenario to
its VA items (tags), turns the pytest outcome into the drimva vocabulary
(:mod:`drimva.outcomes`) and writes ``results.json`` and the HTML report when
the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Generator

import pytest

from drimva.evidence import SCENARIO_FOLDER_LIMIT, slug
from drimva.outcomes import HarnessError, NonConformance, Outcome, outcome_of_skip
from drimva.preflight import PREFLIGHT_FILE
from drimva.results import ScenarioResult, build_results, write_results
from drimva.va import VA_ITEMS, VaItem
from drimva.verdict import Verdict

SCENARIO_KEY = pytest.StashKey["ScenarioInfo"]()
VERDICT_KEY = pytest.StashKey[Verdict]()
RESULT_KEY = pytest.StashKey[ScenarioResult]()


@dataclass(frozen=True)
class ScenarioInfo:
    feature: str
    name: str
    tags: tuple[str, ...]

    @property
    def evidence_name(self) -> str:
        return slug(f"{Path(self.feature).stem}--{self.name}", SCENARIO_FOLDER_LIMIT)


class RunState:
    def __init__(self, run_dir: Path, fault: str | None) -> None:
        self.run_dir = run_dir
        self.fault = fault
        self.started = datetime.now(timezone.utc)
        self.results: list[ScenarioResult] = []
        self.profile_source = ""
        self.sut_name = ""
        self.kind = "drimbox"
        self.item_table: tuple[VaItem, ...] = VA_ITEMS  # the RIS harness sets the RIS items
        self.supervision: dict[str, Any] | None = None  # the background supervision probes' summary (VA-F)
        self.preflight: dict[str, Any] | None = None  # the pre-flight of the SUT's addresses (drimva.preflight)


_STATE = pytest.StashKey[RunState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drimva")
    group.addoption("--drimva-profile", default=None, help="SUT profile (TOML); default: embedded reference")
    group.addoption("--drimva-run-dir", default=None, help="folder of this run's evidence and results")
    group.addoption("--drimva-fault", default=None, help="fault of the embedded reference DRIMbox")
    group.addoption(
        "--drimva-no-preflight", action="store_true", help="do not probe the SUT's addresses before the first scenario"
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
    config.stash[_STATE] = RunState(path, config.getoption("--drimva-fault"))


def run_state(config: pytest.Config) -> RunState:
    try:
        return config.stash[_STATE]
    except KeyError:
        raise HarnessError("the VA suite runs through 'drimva run' (no --drimva-run-dir given)") from None


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Any) -> None:
    # Gherkin tags such as "VA-B1" become pytest marks; declare them so pytest does not warn.
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
    info = _scenario_info(item)
    kind, message = _classify(report, call)
    verdict = item.stash.get(VERDICT_KEY, None)
    result = ScenarioResult(
        feature=info.feature,
        name=info.name,
        tags=info.tags,
        outcome=kind,
        duration_s=report.duration,
        message=message,
        findings=list(verdict.findings) if verdict else [],
        evidence=f"evidence/{info.evidence_name}",
    )
    item.stash[RESULT_KEY] = result
    run_state(item.config).results.append(result)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    results = build_results(
        run_id=state.run_dir.name,
        scenarios=state.results,
        profile_source=state.profile_source,
        sut_name=state.sut_name,
        fault=state.fault,
        started=state.started,
        finished=datetime.now(timezone.utc),
        item_table=state.item_table,
        kind=state.kind,
    )
    if state.supervision is not None:  # set by the supervision monitor's teardown, before this hook
        keys = ("url", "interval_s", "probes", "ok", "availability", "evidence")
        results["supervision"] = {key: state.supervision.get(key) for key in keys}
    if state.preflight is not None:
        summary = ("ran", "not_run", "ok", "duration_s", "failed")
        results["preflight"] = {key: state.preflight.get(key) for key in summary} | {"file": PREFLIGHT_FILE}
    write_results(state.run_dir, results)

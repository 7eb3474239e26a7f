"""What ``junit.xml`` says of an interrupted run.

pytest's junitxml writes nothing of an interruption: the scenario that was
running has no report (pytest re-raises ``KeyboardInterrupt`` past its report
hooks), and those that never started are simply absent, so a CI dashboard
shows a shorter, green run. :func:`mark_interrupted` completes the file pytest
wrote: a testsuite property ``interrupted`` (the signal), the running scenario
as a testcase in ``<error type="interrupted">`` (the run, not the SUT, is at
fault: not a ``<failure>``), each one not started as a testcase
``<skipped type="not_run">``, and the suite's counters to match.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from drimva.outcomes import Outcome
from drimva.results import ScenarioResult


@dataclass(frozen=True)
class InterruptedCase:
    """A scenario the interruption left without a pytest report: its pytest node id and its drimva result."""

    nodeid: str
    result: ScenarioResult


def junit_names(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a node id as pytest's junitxml writes them (``_pytest.junitxml.mangle_test_address``)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    return ".".join(names[:-1]), names[-1] + bracket + params


def mark_interrupted(path: Path, signal_name: str, cases: list[InterruptedCase]) -> None:
    """Rewrite ``path`` (pytest's junit.xml) to say the run was stopped by ``signal_name`` and what it left."""
    tree = ET.parse(path)
    suite = tree.getroot().find("testsuite")
    if suite is None:
        return
    properties = suite.find("properties")
    if properties is None:
        properties = ET.Element("properties")
        suite.insert(0, properties)
    ET.SubElement(properties, "property", name="interrupted", value=signal_name)
    for case in cases:
        suite.append(_testcase(case))
    interrupted = sum(1 for case in cases if case.result.outcome is Outcome.INTERRUPTED)
    _add_count(suite, "tests", len(cases))
    _add_count(suite, "errors", interrupted)
    _add_count(suite, "skipped", len(cases) - interrupted)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _testcase(case: InterruptedCase) -> ET.Element:
    classname, name = junit_names(case.nodeid)
    element = ET.Element("testcase", classname=classname, name=name, time=f"{case.result.duration_s:.3f}")
    if case.result.outcome is Outcome.INTERRUPTED:
        ET.SubElement(element, "error", type="interrupted", message=case.result.message)
    else:
        ET.SubElement(element, "skipped", type="not_run", message=case.result.message)
    return element


def _add_count(suite: ET.Element, attribute: str, more: int) -> None:
    suite.set(attribute, str(int(suite.get(attribute, "0")) + more))

"""``junit.xml`` for CI dashboards, written from the run's results (not by pytest's junitxml).

pytest's file named every test by its pytest slug under the one classname
``steps.test_va``, held no VA item, started failure messages with the
exception class and counted a setup problem as pytest does, not as drimva
does. This one is built from ``results.json`` (:func:`drimva.results.build_results`),
so its counts are those of the console and the reports:

- ``<testsuites name="drimva">``: the totals; ``tests`` = every scenario of
  ``results.json``, those a selection left out included (``skipped``);
- one ``<testsuite name="VA-B3 Connexion à Mon espace santé …">`` per item of
  the checklist that has scenarios, with ``<properties>`` (item, its outcome,
  the run's SUT, fault, variant, interruption);
- one ``<testcase classname="VA-B3" name="<scenario title>">`` per scenario,
  in the suite of its *first* item only (a scenario tagged VA-C1 and VA-C2 is
  counted once; its ``items`` property names both), with ``<properties>``:
  ``rule`` (each rule id of its findings, once), ``evidence`` (its folder in
  the run folder), ``feature``, ``items``, ``outcome``;
- ``failed`` → ``<failure type="non conforme" message="the finding texts">``,
  one finding per line in the element's text; ``error`` and ``interrupted`` →
  ``<error>`` (the harness or the run is at fault, not the SUT); the other
  outcomes (``skipped``, ``not_applicable``, ``deferred``, ``manual``,
  ``not_run``) → ``<skipped type="<outcome>" message="<reason>">``.

The shape is that of the common JUnit schema (Ant's / Jenkins' ``junit-10.xsd``),
with testcase ``<properties>`` as pytest, GitLab and Jenkins read them;
``tests/junit.xsd`` checks it.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from drimva.console import blocking_findings, finding_text, outcome_word
from drimva.outcomes import Outcome

JUNIT_FILE = "junit.xml"
FAILURE = frozenset({Outcome.FAILED.value})
ERROR = frozenset({Outcome.ERROR.value, Outcome.INTERRUPTED.value})
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # characters XML 1.0 cannot hold
OUTSIDE = "hors checklist"  # the suite of a scenario tagged with no item of the checklist


def build_junit(results: Mapping[str, Any]) -> etree._Element:
    """The ``<testsuites>`` element of a run's results (a ``results.json`` mapping)."""
    root = etree.Element("testsuites", name="drimva")
    placed: set[str] = set()
    totals = _Counts()
    hostname = socket.gethostname()
    for item in results.get("items") or ():
        mine = [s for s in item.get("scenarios") or () if s["key"] not in placed]
        if not mine:
            continue
        placed.update(s["key"] for s in mine)
        suite = _suite(root, f"{item['id']} {item.get('label', '')}".strip(), results, hostname)
        _properties(suite, [("item", item["id"]), ("outcome", item["outcome"])] + _run_properties(results))
        totals.add(_cases(suite, item["id"], mine))
    rest = [s for s in results.get("scenarios") or () if s["key"] not in placed]
    if rest:
        suite = _suite(root, OUTSIDE, results, hostname)
        _properties(suite, _run_properties(results))
        totals.add(_cases(suite, "drimva", rest))
    totals.write(root)
    root.set("time", f"{float(results.get('duration_s') or 0.0):.3f}")
    return root


def write_junit(run_dir: Path, results: Mapping[str, Any]) -> Path:
    path = run_dir / JUNIT_FILE
    etree.ElementTree(build_junit(results)).write(str(path), encoding="utf-8", xml_declaration=True, pretty_print=True)
    return path


class _Counts:
    def __init__(self) -> None:
        self.tests = self.failures = self.errors = self.skipped = 0
        self.time = 0.0

    def add(self, other: _Counts) -> None:
        self.tests += other.tests
        self.failures += other.failures
        self.errors += other.errors
        self.skipped += other.skipped
        self.time += other.time

    def write(self, element: etree._Element) -> None:
        for name in ("tests", "failures", "errors", "skipped"):
            element.set(name, str(getattr(self, name)))
        element.set("time", f"{self.time:.3f}")


def _suite(root: etree._Element, name: str, results: Mapping[str, Any], hostname: str) -> etree._Element:
    return _element(
        root, "testsuite", name=name, timestamp=str(results.get("started", ""))[:19], hostname=hostname
    )


def _run_properties(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = [("run_id", str(results.get("run_id", ""))), ("sut", str(results.get("sut", "")))]
    for key in ("fault", "variant", "signal"):
        if results.get(key):
            pairs.append((key if key != "signal" else "interrupted", str(results[key])))
    return pairs


def _properties(parent: etree._Element, pairs: Sequence[tuple[str, str]]) -> None:
    properties = _element(parent, "properties")
    for name, value in pairs:
        _element(properties, "property", name=name, value=value)


def _cases(suite: etree._Element, classname: str, scenarios: Sequence[Mapping[str, Any]]) -> _Counts:
    counts = _Counts()
    for scenario in scenarios:
        seconds = float(scenario.get("duration_s") or 0.0)
        case = _element(suite, "testcase", classname=classname, name=scenario["name"], time=f"{seconds:.3f}")
        items = [tag for tag in scenario.get("tags") or () if tag == classname] + [
            tag for tag in scenario.get("tags") or () if tag != classname and _is_item(tag)
        ]
        pairs = [("outcome", scenario["outcome"]), ("feature", scenario.get("feature", ""))]
        pairs += [("items", " ".join(items))] if items else []
        rules = list(dict.fromkeys(f["rule"] for f in scenario.get("findings") or () if f.get("rule")))
        pairs += [("rule", rule) for rule in rules]
        pairs += [("evidence", scenario["evidence"])] if scenario.get("evidence") else []
        _properties(case, pairs)
        outcome = scenario["outcome"]
        counts.tests += 1
        counts.time += seconds
        if outcome in FAILURE:
            counts.failures += 1
            texts = [finding_text(f) for f in blocking_findings(scenario)] or [scenario.get("message") or outcome_word(outcome)]
            failure = _element(case, "failure", type=outcome_word(outcome), message="; ".join(texts))
            failure.text = _clean("\n".join(texts))
        elif outcome in ERROR:
            counts.errors += 1
            message = scenario.get("message") or outcome_word(outcome)
            _element(case, "error", type=outcome, message=message).text = _clean(message)
        elif outcome != Outcome.PASSED.value:
            counts.skipped += 1
            _element(case, "skipped", type=outcome, message=scenario.get("message") or outcome_word(outcome))
    counts.write(suite)
    return counts


def _element(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    """A child element whose attribute values hold only characters XML can (an HL7 segment separator is a space)."""
    return etree.SubElement(parent, tag, {name: _clean(value) for name, value in attributes.items()})


def _clean(text: str) -> str:
    return _NOT_XML.sub(" ", text)


def _is_item(tag: str) -> bool:
    return tag.startswith("VA-") or tag.startswith("RIS-")

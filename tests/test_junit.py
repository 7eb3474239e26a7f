"""``junit.xml`` from the results (:mod:`drimva.junit`): one testsuite per item, the item as classname, properties,
failure messages that are the finding texts, counts that are those of ``results.json``; valid against ``junit.xsd``."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from drimva.findings import Finding
from drimva.junit import write_junit
from drimva.outcomes import Outcome
from drimva.results import ScenarioResult, build_results

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))
MSA2 = Finding("ACK-MSA2", "MSA-2 = MSH-10", "MSA-2", "A1", "A1\x0bX")  # a character XML 1.0 cannot hold, in a value


def _results() -> dict:
    now = datetime.now(timezone.utc)
    scenarios = [
        ScenarioResult("a.feature", "Le CR est acquitté", ("VA-B1",), Outcome.FAILED, 1.5, "x", [MSA2, MSA2], "evidence/a--cr"),
        ScenarioResult("a.feature", "Le KOS est publié", ("VA-B3",), Outcome.PASSED, 2.0, evidence="evidence/a--kos"),
        ScenarioResult("v.feature", "Les deux ouvrent", ("VA-C1", "VA-C2"), Outcome.ERROR, 0.5, "le navigateur n'a pas démarré"),
        ScenarioResult("v.feature", "Le patient", ("VA-C1",), Outcome.NOT_APPLICABLE, message="sut.has_viewer = false"),
        ScenarioResult("a.feature", "Non choisi", ("VA-B1",), Outcome.NOT_RUN, message="non sélectionné (--items VA-B3)"),
    ]
    return build_results(
        run_id="r1", scenarios=scenarios, profile_source="p.toml", sut_name="SUT", fault="hl7_ack_wrong_msa2", started=now, finished=now
    )


def test_junit_has_a_suite_per_item_and_the_counts_of_the_results(tmp_path: Path) -> None:
    results = _results()
    tree = etree.parse(str(write_junit(tmp_path, results)))
    SCHEMA.assertValid(tree)
    root = tree.getroot()
    counts = results["scenario_counts"]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        str(len(results["scenarios"])), str(counts["failed"]), str(counts["error"]), str(counts["not_applicable"] + counts["not_run"])
    )
    suites = root.findall("testsuite")
    assert [s.get("name").split()[0] for s in suites] == ["VA-B1", "VA-B3", "VA-C1"]  # VA-C2's one scenario is in VA-C1's
    assert suites[0].get("name").startswith("VA-B1 Connexion avec le RIS")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 5 and {c.get("classname") for c in suites[0].iter("testcase")} == {"VA-B1"}
    failed = cases["Le CR est acquitté"]
    properties = [(p.get("name"), p.get("value")) for p in failed.find("properties")]
    assert ("rule", "ACK-MSA2") in properties and properties.count(("rule", "ACK-MSA2")) == 1
    assert ("evidence", "evidence/a--cr") in properties
    failure = failed.find("failure")
    assert failure.get("message").startswith("attendu A1, constaté A1 X — ACK-MSA2 (MSA-2)")  # no exception class
    assert failure.text.count("\n") == 1  # one finding per line
    assert ("items", "VA-C1 VA-C2") in [(p.get("name"), p.get("value")) for p in cases["Les deux ouvrent"].iter("property")]
    assert cases["Les deux ouvrent"].find("error").get("message") == "le navigateur n'a pas démarré"
    assert cases["Le patient"].find("skipped").get("type") == "not_applicable"
    assert ("fault", "hl7_ack_wrong_msa2") in [(p.get("name"), p.get("value")) for p in suites[0].find("properties")]


def test_the_schema_refuses_what_dashboards_cannot_read(tmp_path: Path) -> None:
    tree = etree.parse(str(write_junit(tmp_path, _results())))
    case = tree.getroot().find("testsuite/testcase")
    del case.attrib["classname"]
    assert not SCHEMA.validate(tree)

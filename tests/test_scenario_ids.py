"""Stable scenario ids (``@id:`` tags), the faults that target them and the rules they name; the rule trace."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from drimva.evaluated import RuleTrace, ids_by_function, module_functions
from drimva.rules import supervision
from drimva.rules.catalogue import entries
from drimva.scenario_ids import ID_FORM, feature_scenarios, scenario_id
from simulators.reference.faults import FAULTS
from simulators.ris.faults import FAULTS as RIS_FAULTS


def test_every_scenario_has_one_well_formed_unique_id() -> None:
    scenarios = feature_scenarios()
    assert len(scenarios) >= 40
    for scenario in scenarios:
        ids = [tag for tag in scenario.tags if tag.startswith("id:")]
        assert len(ids) == 1, (scenario.feature, scenario.title, ids)
        assert ID_FORM.match(scenario.id), (scenario.title, scenario.id)
        items = {tag[len("VA-"):] for tag in scenario.tags if tag.startswith("VA-")}
        prefix = scenario.id.split("-", 1)[0]
        assert prefix in items or (prefix == "C" and items == {"C1", "C2"}) or prefix.startswith("RIS"), scenario.id
    twice = [name for name, count in Counter(s.id for s in scenarios).items() if count > 1]
    assert twice == []


def test_an_id_is_read_from_the_tags() -> None:
    assert scenario_id(("VA-B1", "id:B1-ORU", "HL7-ACK")) == "B1-ORU"
    assert scenario_id(("VA-B1",)) == ""


def test_the_feature_reader_keeps_only_the_tags_above_each_scenario(tmp_path: Path) -> None:
    (tmp_path / "x.feature").write_text(
        "# language: fr\n@source\nFonctionnalité: X\n\n  @VA-A @id:A-ONE\n  Scénario: Un\n    Alors a\n\n"
        "  Scénario: Deux\n    Alors b\n", "utf-8"
    )
    one, two = feature_scenarios(tmp_path)
    assert (one.title, one.tags, one.id) == ("Un", ("VA-A", "id:A-ONE"), "A-ONE")
    assert (two.title, two.id) == ("Deux", "")


def test_every_fault_targets_scenario_ids_and_names_catalogue_rules() -> None:
    ids = {s.id for s in feature_scenarios()}
    known = entries()
    for fault in FAULTS:
        assert fault.targets and set(fault.targets) <= ids, (fault.name, fault.targets)
        assert fault.rules, f"fault {fault.name} names no rule id"
        for rule in fault.rules:
            assert rule in known, (fault.name, rule)
            assert known[rule].status == "judged" and known[rule].severity == "error", (fault.name, rule)
    for fault in RIS_FAULTS:
        assert fault.targets and set(fault.targets) <= ids, (fault.name, fault.targets)
        assert fault.rules and set(fault.rules) <= set(known), (fault.name, fault.rules)


def test_the_rule_ids_of_a_function_are_read_from_its_source() -> None:
    source = (
        'RULE = "A-B"\nOTHER = "not an id"\n'
        'def one():\n    return ["C-D", RULE, OTHER]\n'
        'def two():\n    def inner():\n        return "E-F"\n    return inner\n'
        'class K:\n    def method(self):\n        return "A-B"\n'
    )
    table = module_functions(source, {"A-B", "C-D", "E-F"})
    assert table == {
        "one": {"A-B", "C-D"}, "two": {"E-F"}, "two.<locals>.inner": {"E-F"}, "K.method": {"A-B"},
    }
    judged = {rule for rule, entry in entries().items() if entry.status == "judged"}
    assert judged <= set().union(*ids_by_function().values())  # every judged id is found in some rule function


def test_the_trace_names_the_rules_called_passed_or_not() -> None:
    trace = RuleTrace()
    assert trace.start()
    try:
        assert supervision.check_probes([], "GET https://x/health", "200") == []  # passes: no finding
    finally:
        trace.stop()
    assert "SUPERVISION-PROBE" in trace.rule_ids()
    assert "SUPERVISION-CAMPAIGN" not in trace.rule_ids()  # not called


def test_a_judge_in_its_own_thread_traces_itself_and_hands_the_ids_to_the_verdict() -> None:
    from drimva.ris_judge import RisJudgeOptions, judge_report

    judgement = judge_report(b"MSH|^~\\&|RIS|SITE|DRIMBOX|SITE|20260101000000||ORU^R01^ORU_R01|1|P|2.5\r", RisJudgeOptions())
    assert judgement.findings and {"HL7-MSH-FIELDS", "HL7-VERSION"} <= judgement.rules  # passed or not, evaluated
    trace = RuleTrace()
    assert trace.start()
    try:
        nested = judge_report(b"not HL7", RisJudgeOptions())  # an enclosing trace sees the same calls
    finally:
        trace.stop()
    assert nested.rules == frozenset() and "HL7-PARSE" in {f.rule for f in nested.findings}

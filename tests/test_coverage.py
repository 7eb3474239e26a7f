"""drimva coverage over a small synthetic catalogue, and the command's exit code."""

from __future__ import annotations

import json

import pytest

from drimva import cli, coverage
from drimva.rules import catalogue

SMALL = (
    '[[requirement]]\nid = "A-B"\nen = "x"\nfr = "x fr"\nsource = "s"\nreference = "r"\nva_items = ["VA-A"]\n'
    '[[requirement]]\nid = "C-D"\nen = "y"\nsource = "s"\nreference = "r"\nva_items = ["VA-A", "VA-E"]\n'
    'status = "not_judged"\nreason = "no scenario yet"\n'
)


def test_table_marks_the_unjudged() -> None:
    table = coverage.coverage(catalogue.parse(SMALL))
    assert table["unjudged"] == ["C-D"]
    assert [e["id"] for e in table["va_items"]["VA-A"]] == ["A-B", "C-D"]
    assert table["va_items"]["VA-A"][0]["text"] == "x fr"
    text = coverage.render(table)
    assert "  ! C-D [not_judged: no scenario yet]" in text
    assert "    A-B" in text
    assert "1 non jugées" in text


def test_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["coverage", "--json"])
    table = json.loads(capsys.readouterr().out)
    assert table["counts"]["entries"] == len(catalogue.entries())
    assert code == (1 if table["unjudged"] else 0)


def _run(folder, fault=None, variant=None, outcomes=(), findings=()):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    scenarios = [{"key": key, "tags": tags, "outcome": outcome, "findings": list(findings)} for key, tags, outcome in outcomes]
    (folder / "results.json").write_text(json.dumps({"fault": fault, "variant": variant, "scenarios": scenarios}))


def test_selftest_per_item(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "selftest-1"
    _run(run / "reference", outcomes=[("a::one", ["VA-A"], "passed"), ("b::two", ["VA-B1"], "passed")])
    _run(run / "no_tl", fault="no_tl", outcomes=[("a::one", ["VA-A"], "failed")])
    _run(run / "variant-late", variant="late", outcomes=[("a::one", ["VA-A"], "passed"), ("b::two", ["VA-B1"], "failed")])
    table = coverage.selftest_by_item(run)
    assert table["VA-A"] == {"scenarios": ["a::one"], "faults": ["no_tl"], "variants": ["late"]}
    assert table["VA-B1"] == {"scenarios": ["b::two"], "faults": [], "variants": []}
    assert coverage.latest_selftest(tmp_path) == run
    coverage.run_coverage(selftest=run)
    text = capsys.readouterr().out
    assert "  1 scénario(s), tués par no_tl, variantes conformes : late" in text
    assert "  ! 1 scénario(s), tués par aucune faute, variantes conformes : aucune" in text


def test_not_a_selftest_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="no reference/results.json"):
        coverage.selftest_by_item(tmp_path)


def test_selftest_per_entry_names_the_faults_that_break_each_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "selftest-1"
    _run(run / "reference", outcomes=[("a::one", ["VA-A"], "passed")])
    _run(run / "no_tl", fault="no_tl", outcomes=[("a::one", ["VA-A"], "failed")],
         findings=[{"rule": "TL-SIGNATURE", "severity": "error"}, {"rule": "TL-INFO", "severity": "info"}])
    _run(run / "late", fault="late", outcomes=[("a::one", ["VA-A"], "passed")], findings=[{"rule": "TL-X", "severity": "error"}])
    _run(run / "variants-combined", variant="early,late", outcomes=[("a::one", ["VA-A"], "passed")])
    assert coverage.selftest_by_entry(run) == {"TL-SIGNATURE": {"killed_by": ["no_tl"], "scenarios": ["a::one"]}}
    assert coverage.selftest_by_item(run)["VA-A"]["variants"] == ["early", "late"]  # a combined run names each variant


def test_a_judged_entry_no_fault_breaks_is_marked() -> None:
    table = coverage.coverage(catalogue.parse(SMALL))
    table["selftest_dir"], table["selftest"] = "reports/selftest-1", {}
    table["entries"] = {}
    assert "  ! A-B — aucune faute ne la met en défaut en direct" in coverage.render(table)
    table["entries"] = {"A-B": {"killed_by": ["f1", "f2"], "scenarios": ["a::one"]}}
    text = coverage.render(table)
    assert "    A-B — tuée par f1, f2" in text and "dont 1 mises en défaut en direct par une faute, 0 jamais" in text


def test_an_entry_shows_the_variants_that_exercise_its_reading_and_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "selftest-1"
    _run(run / "reference", outcomes=[("a::one", ["VA-A"], "passed"), ("a::two", ["VA-B3", "DESTDMP"], "passed")])
    _run(run / "variants-combined", variant="early,broken", outcomes=[("a::one", ["VA-A"], "failed")])
    _run(run / "variant-early", variant="early", outcomes=[("a::one", ["VA-A"], "passed")])
    _run(run / "variant-broken", variant="broken", outcomes=[("a::one", ["VA-A"], "failed")])
    _run(run / "variant-lenient", variant="lenient",
         outcomes=[("a::one", ["VA-A"], "passed"), ("a::two", ["VA-B3", "DESTDMP"], "not_applicable")])
    _run(run / "variant-narrow", variant="narrow", outcomes=[("a::two", ["VA-B3", "DESTDMP"], "not_applicable")])
    (run / coverage.VARIANTS_FILE).write_text(json.dumps([
        {"name": "early", "rules": ["A-B", "TL-X"]}, {"name": "broken", "rules": ["A-B"]},
        {"name": "lenient", "rules": ["A-B"], "not_applicable": ["DESTDMP"]}, {"name": "narrow", "rules": ["A-B"]},
    ]))  # fmt: skip
    assert coverage.selftest_variants_by_entry(run) == {"A-B": ["early", "lenient"], "TL-X": ["early"]}
    by_item = coverage.selftest_by_item(run)  # lenient passes VA-B3: its one scenario is not applicable as it says
    assert by_item["VA-B3"]["variants"] == ["lenient"] and by_item["VA-A"]["variants"] == ["early", "lenient"]
    assert coverage.selftest_variants_by_entry(tmp_path) == {}  # no variants.json: none named
    table = coverage.coverage(catalogue.parse(SMALL))
    table["selftest_dir"], table["selftest"] = str(run), {}
    table["entries"] = {"A-B": {"killed_by": ["f1"], "scenarios": ["a::one"], "variants": ["early", "lenient"]}}
    assert "    A-B — tuée par f1 ; passe avec les variantes early, lenient" in coverage.render(table)

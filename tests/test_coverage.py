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
    assert table["entries"]["C-D"]["mark"] and not table["entries"]["A-B"]["mark"]  # no self-test: faults unknown
    assert {k: table["counts"][k] for k in ("with_rule", "left_over", "exercised")} == {"with_rule": 1, "left_over": 1, "exercised": 0}
    text = coverage.render(table)
    assert "  ! C-D — non jugée (no scenario yet)" in text
    assert "    A-B — jugée en direct" in text
    assert "1 sans règle" in text


def test_command_json(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = coverage.run_coverage(as_json=True, reports=tmp_path)  # no self-test folder there
    table = json.loads(capsys.readouterr().out)
    assert table["counts"]["entries"] == len(catalogue.entries())
    assert code == (1 if table["left_over"] else 0)
    assert cli.main(["coverage", "--selftest", str(tmp_path)]) == 2  # not a self-test folder: a usage error
    assert "no reference/results.json" in capsys.readouterr().err


def _run(folder, fault=None, variant=None, outcomes=(), findings=()):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    scenarios = [
        {"key": key, "tags": tags, "outcome": outcome, "findings": list(findings),
         "id": next((t[3:] for t in tags if t.startswith("id:")), "")}
        for key, tags, outcome in outcomes
    ]
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


def test_a_ris_only_selftest_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``selftest --only ris:…`` runs no DRIMbox: its folder has only ris-reference, and its kills still count."""
    run = tmp_path / "selftest-ris"
    _run(run / "ris-reference", outcomes=[("ris::one", ["RIS-1", "id:RIS1-X"], "passed")])
    bad = {"rule": "A-B", "severity": "error"}
    _run(run / "ris-bad", fault="bad", outcomes=[("ris::one", ["RIS-1", "id:RIS1-X"], "failed")], findings=[bad])
    results = json.loads((run / "ris-bad" / "results.json").read_text())
    (run / "ris-bad" / "results.json").write_text(json.dumps({**results, "kind": "ris"}))
    assert coverage.selftest_by_item(run) == {}
    table = coverage.with_selftest(coverage.coverage(catalogue.parse(SMALL)), run, catalogue.parse(SMALL))
    assert table["entries"]["A-B"]["killed_by"] == ["ris:bad"]


def _folder(tmp_path):  # type: ignore[no-untyped-def]
    run = tmp_path / "selftest-1"
    _run(run / "reference", outcomes=[("a::one", ["VA-A", "id:A-ONE"], "passed")])
    results = json.loads((run / "reference" / "results.json").read_text())
    results["scenarios"][0].update(id="A-ONE", rules=["A-B", "TL-SIGNATURE"])  # evaluated, passed: no finding
    (run / "reference" / "results.json").write_text(json.dumps(results))
    _run(run / "no_tl", fault="no_tl", outcomes=[("a::one", ["VA-A", "id:A-ONE"], "failed")],
         findings=[{"rule": "TL-SIGNATURE", "severity": "error"}, {"rule": "TL-INFO", "severity": "info"},
                   {"rule": "TL-WORDED", "severity": "error"}])
    _run(run / "late", fault="late", outcomes=[("a::one", ["VA-A"], "passed")], findings=[{"rule": "TL-X", "severity": "error"}])
    _run(run / "variants-combined", variant="early,late", outcomes=[("a::one", ["VA-A"], "passed")])
    return run


def test_selftest_per_entry_names_scenarios_faults_and_variants(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _folder(tmp_path)
    seen = coverage.selftest_by_entry(run)
    assert seen["TL-SIGNATURE"] == {
        "scenarios": ["A-ONE"], "killed_by": ["no_tl"], "killed_in": ["A-ONE"], "variants": ["early", "late"],
    }
    assert seen["TL-WORDED"]["scenarios"] == ["A-ONE"]  # not traced on the reference: exercised where a fault fails it
    assert seen["A-B"]["killed_by"] == [] and seen["A-B"]["scenarios"] == ["A-ONE"]
    assert "TL-X" not in seen and "TL-INFO" not in seen  # a passed run's error, an info finding: no kill
    assert coverage.selftest_by_item(run)["VA-A"]["variants"] == ["early", "late"]  # a combined run names each variant


def test_a_judged_entry_no_fault_breaks_is_left_over_unless_the_catalogue_says_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _folder(tmp_path)
    table = coverage.with_selftest(coverage.coverage(catalogue.parse(SMALL)), run, catalogue.parse(SMALL))
    assert table["entries"]["A-B"]["missing"] == ["fault"] and table["left_over"] == ["A-B", "C-D"]
    text = coverage.render(table)
    assert "  ! A-B — jugée en direct · scénarios : A-ONE · aucune faute ne la met en défaut · variantes conformes : 2" in text
    assert "1 exercées par un scénario, 0 tuées par une faute, 0 avec une raison donnée, 2 restantes" in text
    reasoned = SMALL.replace('fr = "x fr"', 'fr = "x fr"\nreason = "an information finding: it never fails a scenario"')
    listed = catalogue.parse(reasoned)
    table = coverage.with_selftest(coverage.coverage(listed), run, listed)
    assert table["left_over"] == ["C-D"] and table["counts"]["stated_reason"] == 1
    assert "    A-B — jugée en direct (an information finding: it never fails a scenario) · scénarios : A-ONE" in coverage.render(table)


def test_the_html_page_and_the_report_section(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from drimva.report.coverage_html import coverage_page, item_counts, run_counts_section

    listed = catalogue.parse(SMALL)
    table = coverage.with_selftest(coverage.coverage(listed), _folder(tmp_path), listed)
    assert item_counts(table)["VA-A"] == {
        "entries": 2, "with_rule": 1, "exercised": 1, "killed": 0, "stated_reason": 0, "left_over": 2,
    }
    page = coverage_page(table)
    assert "<td>! <code>A-B</code><br>x fr</td><td>jugée en direct</td><td>A-ONE</td><td>—</td><td>early, late</td>" in page
    assert "2 restantes (marquées !)" in page
    one = catalogue.entries()["SUPERVISION-PROBE"]
    results = {"items": [{"id": "VA-F"}], "scenarios": [{"tags": ["VA-F"], "rules": [one.id]}]}
    section = run_counts_section(results)
    va_f = len(catalogue.by_va_item()["VA-F"])
    assert f"<tr><td>VA-F</td><td>{va_f}</td><td>{va_f}</td><td>1</td></tr>" in section
    out = tmp_path / "couverture.html"
    assert coverage.run_coverage(selftest=_folder(tmp_path / "again"), html=out, page=coverage_page) == 1 and out.is_file()  # the real catalogue: most entries left over there

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
    listed = catalogue.parse(SMALL)
    table = coverage.with_selftest(coverage.coverage(listed), run, listed)
    assert table["entries"]["A-B"]["readings"] == ["early", "lenient"] and "readings" not in table["entries"]["C-D"]
    assert "· autre lecture passée par early, lenient" in coverage.render(table)

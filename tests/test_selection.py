"""Claims and selection: ``--items`` keeps some VA items, the others are ``not_run``; unclaimed items are
``not_applicable`` naming the profile key; a selection that matches nothing is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from va_runs import reference_profile, run_drimva, run_va

from drimva.runs import UsageError, parse_items
from drimva.va import RIS_ITEMS, VA_ITEMS


def test_items_are_read_case_insensitively_in_the_checklist_order() -> None:
    assert parse_items("va-f, VA-B1", VA_ITEMS) == ("VA-B1", "VA-F")
    assert parse_items(None, VA_ITEMS) == ()
    assert parse_items("RIS-4,RIS-1", RIS_ITEMS) == ("RIS-1", "RIS-4")


@pytest.mark.parametrize("text", ["VA-B9", "VA-B1,nope", ","])
def test_an_unknown_item_is_a_usage_error_listing_the_items(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_items(text, VA_ITEMS)
    assert "--items" in str(raised.value) and "VA-A, VA-B1" in str(raised.value)


def test_items_left_out_are_not_run_and_unclaimed_ones_not_applicable(tmp_path: Path) -> None:
    profile = reference_profile(tmp_path, settings={"sut.has_supervision": "false"})
    results = run_va(tmp_path / "run", "--items", "VA-B1,VA-F", profile=profile)
    items = {item["id"]: item for item in results["items"]}
    assert items["VA-B1"]["outcome"] == "passed"
    assert items["VA-F"]["outcome"] == "not_applicable"
    assert "sut.has_supervision" in items["VA-F"]["scenarios"][0]["message"]
    for item_id in ("VA-A", "VA-B2", "VA-B3", "VA-C1", "VA-D1", "VA-E"):
        assert items[item_id]["outcome"] == "not_run", item_id
        assert items[item_id]["scenarios"], item_id  # its scenarios are listed, not "no scenario covers this item"
        assert {s["message"] for s in items[item_id]["scenarios"]} == {"non sélectionné (--items VA-B1,VA-F)"}
    assert not (tmp_path / "run" / "reference" / "supervision.json").exists()


def test_a_selection_that_matches_nothing_is_a_usage_error(tmp_path: Path) -> None:
    done = run_drimva("run", "--run-dir", str(tmp_path / "run"), "--quiet", "--items", "VA-F", "-k", "nosuchscenario")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "aucun scénario ne correspond à --items VA-F -k 'nosuchscenario'" in done.stderr
    done = run_drimva("run", "--run-dir", str(tmp_path / "run1"), "--quiet", "-k", "not a ( valid expression")
    assert done.returncode == 2 and "Wrong expression passed to '-k'" in done.stderr
    done = run_drimva("run", "--run-dir", str(tmp_path / "run2"), "--items", "VA-Z")
    assert done.returncode == 2 and "unknown item(s) VA-Z" in done.stderr

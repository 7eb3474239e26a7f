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

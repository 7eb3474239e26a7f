"""The expected / actual values in the VA report are French; data values pass through unchanged.

The last test walks the rules: a new English expected text in ``drimva/rules/*.py`` fails it
until ``drimva/report/values_fr.py`` gives it its French.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drimva.report.values_fr import value_fr

RULES_DIR = Path(__file__).resolve().parent.parent / "drimva" / "rules"

SAMPLES = [
    ("a readable DICOM Part-10 file", "un fichier DICOM Part-10 lisible"),
    ("an HTTP answer", "une réponse HTTP"),
    ("one item (113030, DCM, Manifest)", "un item (113030, DCM, Manifest)"),
    ("(not referenced)", "(non référencé)"),
    ("(missing)", "(manquant)"),
    ("an ERR segment", "un segment ERR"),
    ("no entry for this patient", "aucune entrée pour ce patient"),
    ("an http(s) URL ending in /wado-rs", "une URL http(s) se terminant par /wado-rs"),
    ("one of ['1', '2']", "l'une de ['1', '2']"),
    ("one of ['1'] (or 900-905)", "l'une de ['1'] (ou 900-905)"),
    ("one of ['a'] (or set id ['b'])", "l'une de ['a'] (ou set id ['b'])"),
    ("unreadable: InvalidDicomError: bad", "illisible : InvalidDicomError: bad"),
    ("no ACK: connection refused", "aucun ACK : connection refused"),
    ("no ACK from 127.0.0.1:2575 within 5 s", "aucun ACK de 127.0.0.1:2575 dans les 5 s"),
    ("no HTTP answer from http://127.0.0.1:80/x: ConnectError: refused",
     "aucune réponse HTTP de http://127.0.0.1:80/x : ConnectError: refused"),
    ("verification failed: bad signature", "échec de la vérification : bad signature"),
    ("instance 1.2.3.4.5 retrieved", "instance 1.2.3.4.5 récupérée"),
    ("HTTP 200: served in clear", "HTTP 200 : servi en clair"),
    ("3 items", "3 items"),
    ("200 or 206", "200 ou 206"),
    ("<KOS entry> -> urn:uuid:1", "<entrée KOS> -> urn:uuid:1"),
    ("study level", "niveau study"),
    ("pixel data SHA-256 ab12", "données de pixels SHA-256 ab12"),
    ("an approved KOS entry for patient 123 within 30 s", "une entrée KOS approuvée pour le patient 123 dans les 30 s"),
]


@pytest.mark.parametrize(("english", "french"), SAMPLES)
def test_phrases_are_translated(english: str, french: str) -> None:
    assert value_fr(english) == french


@pytest.mark.parametrize("data", [
    "1.2.250.1.213.1.1.1", "http://127.0.0.1:8080/wado-rs/studies/1.2.3", "AA",
    "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved", "(0040,A375)[0]>(0008,1115)[2]", "PID-3",
    "1.2.3.4 / 1.2.3.5 / 1.2.3.6", "ORU^R01^ORU_R01", "3/3", "",
])
def test_data_is_unchanged(data: str) -> None:
    assert value_fr(data) == data


ENGLISH_WORDS = {"a", "an", "the", "one", "no", "of", "with", "not", "every", "within", "at least"}


def _english_words(text: str) -> int:
    words = text.lower().split()
    count = sum(1 for w in words if w in ENGLISH_WORDS)
    return count + sum(1 for a, b in zip(words, words[1:]) if (a, b) == ("at", "least"))


def _expected_literals(path: Path) -> list[tuple[int, str]]:
    """The string literals passed as ``expected`` to ``.add`` / ``.check_equal`` (4th positional or keyword)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "check_equal")):
            continue
        argument = node.args[3] if len(node.args) > 3 else next(
            (k.value for k in node.keywords if k.arg == "expected"), None)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.append((node.lineno, argument.value))
    return found


def test_english_expected_texts_of_the_rules_have_their_french() -> None:
    literals = [(f"{path.name}:{line}", text) for path in sorted(RULES_DIR.glob("*.py"))
                for line, text in _expected_literals(path)]
    english = [(where, text) for where, text in literals if _english_words(text) >= 2]
    assert len(english) >= 20, f"only {len(english)} English expected texts found: the walk is broken"
    untranslated = [f"{where}: {text!r}" for where, text in english if value_fr(text) == text]
    assert not untranslated, "expected texts without French in drimva/report/values_fr.py:\n" + "\n".join(untranslated)


def test_the_html_report_shows_the_french_and_keeps_the_data(tmp_path: Path) -> None:
    from drimva.report.html import write_html_report

    finding = {"rule": "KOS-RETRIEVE-URL", "requirement": "r", "location": "(0040,E010)", "severity": "error",
               "expected": "an http(s) URL ending in /wado-rs", "actual": "unreadable: ValueError: 1.2.3.4.5"}
    scenario = {"key": "s1", "name": "scénario", "feature": "absent.feature", "outcome": "failed", "evidence": "",
                "duration_s": 1.0, "findings": [finding]}
    results = {"items": [{"id": "VA-X", "label": "x", "outcome": "failed", "scenarios": [scenario]}],
               "sut": "sut", "profile": "p.toml", "run_id": "r", "started": "2026-01-01T00:00:00+00:00",
               "finished": "2026-01-01T00:00:01+00:00", "duration_s": 1.0}
    page = write_html_report(tmp_path, results).read_text("utf-8")
    assert "une URL http(s) se terminant par /wado-rs" in page
    assert "illisible : ValueError: 1.2.3.4.5" in page
    assert "an http(s) URL ending in" not in page and "unreadable:" not in page
    assert finding["expected"] == "an http(s) URL ending in /wado-rs", "the report changed the results it was given"

"""The requirements catalogue lists every rule id the rules emit, once each."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from drimva.rules import catalogue

RULES = Path(catalogue.__file__).parent
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]+(-[A-Z0-9]+)+$")
# Upper-case dashed literals in drimva/rules/ that are not rule ids: HL7 field
# names (PID-3, MSH-12 ...), code-system names, a charset, transaction names, a code.
HL7_FIELD = re.compile(r"^[A-Z]{2,4}-[0-9]+$")
NOT_RULE_IDS = {"ASIP-SANTE-INS-NIR", "ASIP-SANTE-INS-NIA", "UTF-8", "ITI-41", "ITI-57", "IMG-KOS", "STOW-RS"}


def _finding_call(node: ast.AST) -> bool:
    """``Finding(<id>, …)``: the first argument is a rule id whatever it looks like."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Finding" and bool(node.args)


def emitted_rule_ids() -> set[str]:
    found: set[str] = set()
    for path in RULES.glob("*.py"):
        if path.name == "catalogue.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and RULE_ID.match(node.value):
                if not HL7_FIELD.match(node.value) and node.value not in NOT_RULE_IDS:
                    found.add(node.value)
            elif _finding_call(node):  # Finding("DCIODVFY", …), Finding("CALL-400", …): ids the pattern misses
                first = node.args[0]  # type: ignore[attr-defined]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def test_every_emitted_rule_id_has_an_entry() -> None:
    ids = emitted_rule_ids()
    assert len(ids) > 100, "the scan found too few rule ids: the pattern is broken"
    missing = sorted(ids - set(catalogue.entries()))
    assert not missing, f"rule ids without a catalogue entry: {missing}"


def test_judged_entries_name_a_rule_module_that_emits_them() -> None:
    ids = emitted_rule_ids()
    stale = sorted(e.id for e in catalogue.entries().values() if e.status == "judged" and e.id not in ids)
    assert not stale, f"entries marked judged that no rule emits: {stale}"


def test_entries_are_complete() -> None:
    for entry in catalogue.entries().values():
        assert entry.en, f"{entry.id}: no English text"
        assert entry.source and "shared/reference" not in entry.source, f"{entry.id}: source must be public"
        assert entry.reference.startswith("../shared/reference/"), f"{entry.id}: reference {entry.reference!r}"
        assert entry.va_items, f"{entry.id}: no VA item"


OUR_FILE = re.compile(r"[\w./-]+\.md\b|shared/reference", re.IGNORECASE)


def test_judged_entries_have_a_french_text_citing_public_documents_only() -> None:
    """The HTML VA report, handed to a French client, shows ``fr``: no English fallback, none of our notes."""
    untranslated = sorted(e.id for e in catalogue.entries().values() if e.status in ("judged", "validate_only") and not e.fr.strip())
    assert not untranslated, f"entries judged without a French text (fr): {untranslated}"
    ours = sorted(f"{e.id}: {e.fr!r}" for e in catalogue.entries().values() if OUR_FILE.search(e.fr))
    assert not ours, f"French texts naming one of our files: {ours}"


def test_our_file_pattern_catches_a_note_name() -> None:
    assert OUR_FILE.search("voir dmp-xds.md §4") and OUR_FILE.search("../shared/reference/x")
    assert not OUR_FILE.search("schématron Entete_IMG-CR-IMG.sch, RFC 9110 §12.4.2")


DICOM_TAG = re.compile(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)")


def test_french_texts_do_not_name_a_dicom_keyword_beside_its_tag() -> None:
    """The HTML report appends its keyword to every (gggg,eeee) tag; the text must not name it a second time."""
    from pydicom.datadict import keyword_for_tag

    doubled = []
    for entry in catalogue.entries().values():
        for match in DICOM_TAG.finditer(entry.fr):
            keyword = keyword_for_tag(int(match.group(1) + match.group(2), 16))
            around = entry.fr[max(0, match.start() - len(keyword) - 2) : match.end() + len(keyword) + 2]
            if keyword and keyword in around:
                doubled.append(f"{entry.id}: {keyword} beside {match.group(0)}")
    assert not doubled, f"keyword named beside its tag (the report doubles it): {doubled}"


def test_lookup() -> None:
    entry = catalogue.requirement("ACK-PRESENT")
    assert entry is not None and entry.va_items == ("VA-B1",)
    assert entry.text_fr
    assert catalogue.requirement("NO-SUCH-RULE") is None


def test_duplicate_id_is_refused() -> None:
    one = '[[requirement]]\nid = "A-B"\nen = "x"\nsource = "s"\nreference = "r"\nva_items = ["VA-A"]\n'
    assert set(catalogue.parse(one)) == {"A-B"}
    with pytest.raises(catalogue.CatalogueError, match="A-B: duplicate id"):
        catalogue.parse(one + one)


def test_bad_entry_names_the_key() -> None:
    with pytest.raises(catalogue.CatalogueError, match="A-B: missing key 'source'"):
        catalogue.parse('[[requirement]]\nid = "A-B"\nen = "x"\nreference = "r"\nva_items = ["VA-A"]\n')
    with pytest.raises(catalogue.CatalogueError, match="needs a 'reason'"):
        catalogue.parse('[[requirement]]\nid = "A-B"\nen = "x"\nsource = "s"\nreference = "r"\nva_items = ["VA-A"]\nstatus = "not_judged"\n')


def test_counts_and_grouping() -> None:
    two = (
        '[[requirement]]\nid = "A-B"\nen = "x"\nsource = "s"\nreference = "r"\nva_items = ["VA-A", "VA-B1"]\n'
        '[[requirement]]\nid = "C-D"\nen = "y"\nsource = "s"\nreference = "r"\nva_items = ["VA-B1"]\n'
        'status = "not_judged"\nreason = "no scenario yet"\n'
    )
    parsed = catalogue.parse(two)
    assert catalogue.counts(parsed) == {"entries": 2, "judged": 1, "not_judged": 1, "validate_only": 0}
    grouped = catalogue.by_va_item(parsed)
    assert list(grouped) == ["VA-A", "VA-B1"]
    assert [e.id for e in grouped["VA-B1"]] == ["A-B", "C-D"]


def test_the_review_findings_are_judged_under_the_ids_of_their_rules() -> None:
    """Issue 11's review findings were listed as not judged; each is now judged live under its rule's id (a
    scenario and a fault of the reference: DESTDMP = N, the second replacement, the refused CR, the VIHF window,
    creationTime, the MSH-18 charset), so the placeholder entries are gone."""
    for gone in ("PUB-DESTDMP-N-NO-PUBLICATION", "XDS-RPLC-SECOND-REPLACEMENT", "ACK-REJECT-NO-PUBLICATION",
                 "VIHF-VALIDITY-WINDOW", "XDS-CREATIONTIME", "RIS-MSH18-CHARSET"):
        assert catalogue.requirement(gone) is None, gone
    for judged in ("DMP-NO-PUBLICATION", "XDS-RPLC", "ACK-MSA1", "VIHF-VALIDITY", "XDS-CREATION-TIME", "HL7-CHARSET"):
        entry = catalogue.requirement(judged)
        assert entry is not None and entry.status == "judged" and entry.fr, judged


def test_settings_name_profile_keys() -> None:
    """A ``setting`` is a dotted key of the profile model (e.g. rules.vihf_versions)."""
    from drimva.profile import Profile

    with_setting = [e for e in catalogue.entries().values() if e.setting]
    assert with_setting, "no entry names its profile setting"
    for entry in with_setting:
        model: type = Profile
        for part in entry.setting.split("."):
            fields = getattr(model, "model_fields", {})
            assert part in fields, f"{entry.id}: setting {entry.setting!r}, no key {part!r}"
            model = fields[part].annotation  # type: ignore[assignment]


def test_a_finding_without_inline_text_takes_the_catalogue_s() -> None:
    from drimva.findings import FindingList

    out = FindingList()
    out.add("ACK-PRESENT", "", "MSH", "an HL7 ACK", "no ACK")
    assert out.items[0].requirement == catalogue.requirement("ACK-PRESENT").en  # type: ignore[union-attr]
    out.add("ACK-PRESENT", "inline wins", "MSH", "an HL7 ACK", "no ACK")
    assert out.items[1].requirement == "inline wins"
    with pytest.raises(ValueError, match="'NO-SUCH-RULE': no requirement text"):
        out.add("NO-SUCH-RULE", "", "MSH", "x", "y")

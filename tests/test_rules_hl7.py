"""Rules on the CR message (drimva.rules.hl7_report) and on the ACK (drimva.rules.hl7_ack)."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from drimva.findings import Severity
from drimva.hl7msg import Hl7Error, Hl7Message, parse_message
from drimva.profile import DEFAULT_VIEWER_TEMPLATE
from drimva.rules.hl7_ack import ack_code, check_ack, check_ack_exchange
from drimva.rules.hl7_report import check_report_message, extract_cda, is_qualified, report_event
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.reports import new_report_spec, replacement_spec
from simulators.ris.messages import build_report_message

from paths import SHARED
HL7_SKELETONS = SHARED / "ans-samples" / "_partial" / "Referencement-DRIMBox" / "Jeux-de-donnees" / "HL7v2"
EVENTS = ("initial", "replace", "delete")


def build(kind: str = "ORU", event: str = "initial") -> tuple[str, bytes]:
    spec = new_report_spec(
        new_patient(random.Random(2)), "1.2.826.0.1.3680043.8.498.77", ("MR",),
        viewer_url_template=DEFAULT_VIEWER_TEMPLATE, rng=random.Random(3),
    )
    if event == "replace":
        spec = replacement_spec(spec)
    cda = build_cda(spec)
    return build_report_message(spec, cda, kind=kind, event=event, control_id="MSG42"), cda


def edit(text: str, address: str, value: str | None) -> str:
    """Set (or, with None, delete) a segment, field or component: "PRT", "PID-32", "OBX[3]-5.1".

    A component is set in the field's first repetition.
    """
    segment, _, rest = address.partition("-")
    name, _, occurrence = segment.partition("[")
    wanted = int(occurrence.rstrip("]") or 1)
    lines = text.rstrip("\r").split("\r")
    index = [i for i, line in enumerate(lines) if line.startswith(name + "|")][wanted - 1]
    if not rest:
        if value is None:
            del lines[index]
        else:
            lines[index] = value
        return "\r".join(lines) + "\r"
    fields = lines[index].split("|")
    number, _, component = rest.partition(".")
    position = int(number) - (1 if name == "MSH" else 0)
    fields += [""] * (position + 1 - len(fields))
    if component:  # in the first repetition
        repetitions = fields[position].split("~")
        parts = repetitions[0].split("^")
        parts += [""] * (int(component) - len(parts))
        parts[int(component) - 1] = value or ""
        fields[position] = "~".join(["^".join(parts)] + repetitions[1:])
    else:
        fields[position] = value or ""
    lines[index] = "|".join(fields)
    return "\r".join(lines) + "\r"


def rules(text: str) -> set[str]:
    return {finding.rule for finding in check_report_message(parse_message(text))}


@pytest.mark.parametrize("kind", ["ORU", "MDM"])
@pytest.mark.parametrize("event", EVENTS)
def test_built_messages_pass(kind, event):
    text, cda = build(kind, event)
    message = parse_message(text)
    assert check_report_message(message) == []
    assert report_event(message) == event
    assert extract_cda(message) == cda
    assert is_qualified(message)


ORU_MUTATIONS = [
    ("MSH-9", "ADT^A01^ADT_A01", {"HL7-MSH9"}),
    ("MSH-12", "2.6", {"HL7-VERSION"}),
    ("MSH-17", "FR", {"HL7-MSH17"}),
    ("MSH-18", "ASCII", {"HL7-MSH18"}),
    ("MSH-21", "", {"HL7-MSH21"}),
    ("MSH-10", "", {"HL7-MSH-FIELDS"}),
    ("MSH-11", "X", {"HL7-MSH-FIELDS"}),
    ("PID-3.1", "279035121518988", {"HL7-PID3-INS"}),  # wrong key
    ("PID-3.4", "ASIP-SANTE-INS-NIR&1.2.3&ISO", {"HL7-PID3-INS"}),
    ("PID-3.5", "NH", {"HL7-PID3-INS"}),
    ("ORC-1", "RO", {"HL7-EVENT"}),
    ("OBX-11", "X", {"HL7-EVENT"}),
    ("OBX-2", "TX", {"HL7-OBX2"}),
    ("OBR-4.1", "11488-4", {"HL7-OBR4-OBX3"}),
    ("OBX-5.4", "Hex", {"HL7-OBX5"}),
    ("OBX-5.5", "not base64!", {"HL7-OBX5"}),
    ("OBX-5.5", base64.b64encode(b"<html/>").decode(), {"HL7-OBX5"}),
    ("PRT", None, {"HL7-PRT"}),
    ("PRT-8.10", "", {"HL7-PRT"}),
    ("PRT-5.13", "ADELI", {"HL7-PRT"}),
    ("OBX[7]", None, {"HL7-FLAGS"}),  # DESTDMP removed
    ("OBX[3]-5.1", "O", {"HL7-FLAGS"}),
    ("OBX[3]-2", "CWE", {"HL7-FLAGS"}),
    ("PV1", "NTE|1", {"HL7-STRUCTURE"}),
]


@pytest.mark.parametrize("address, value, expected", ORU_MUTATIONS, ids=[f"{a}={v!s:.20}" for a, v, _ in ORU_MUTATIONS])
def test_oru_mutations_give_exactly_the_expected_rule(address, value, expected):
    text, _ = build("ORU")
    assert rules(edit(text, address, value)) == expected


MDM_MUTATIONS = [
    ("replace", "MSH-9.2", "T02", {"HL7-EVENT"}),  # T02 with ORC RO / OBX-11 C
    ("replace", "TXA-13", "", {"HL7-TXA13"}),
    ("replace", "TXA-13", "1.2.3", {"HL7-TXA13"}),
    ("initial", "TXA-12", "1.2.3", {"HL7-TXA12"}),
    ("initial", "TXA-17", "IP", {"HL7-TXA"}),
    ("initial", "MSH-12", "2.5", {"HL7-VERSION"}),
    ("initial", "EVN", None, {"HL7-STRUCTURE"}),
    ("initial", "OBX[2]-2", "CE", {"HL7-FLAGS"}),
    ("delete", "OBX-11", "F", {"HL7-EVENT"}),
]


@pytest.mark.parametrize("event, address, value, expected", MDM_MUTATIONS)
def test_mdm_mutations_give_exactly_the_expected_rule(event, address, value, expected):
    text, _ = build("MDM", event)
    assert rules(edit(text, address, value)) == expected


def test_prt_after_a_flag_obx_is_a_structure_error():
    text, _ = build("ORU")
    lines = text.rstrip("\r").split("\r")
    prt = lines.pop(next(i for i, line in enumerate(lines) if line.startswith("PRT|")))
    lines.append(prt)
    findings = check_report_message(parse_message("\r".join(lines)))
    assert [(f.rule, f.expected) for f in findings] == [("HL7-STRUCTURE", "after the document OBX")]


def test_identity_not_qualified_is_a_warning_saying_no_publication():
    text, _ = build("ORU")
    for status in ("PROV", "", "RECUP"):
        message = parse_message(edit(text, "PID-32", status))
        (finding,) = check_report_message(message)
        assert finding.rule == "HL7-PID32" and finding.severity is Severity.WARNING
        assert "no publication expected" in finding.note
        assert not is_qualified(message)
    assert check_report_message(parse_message(edit(text, "PID-32", "PROV")), qualified_statuses=("VALI", "PROV")) == []


def test_missing_ipp_and_destdmp_n_are_warnings():
    text, _ = build("ORU")
    ins_only = edit(text, "PID-3", parse_message(text).repetitions("PID-3")[0])
    assert [(f.rule, f.severity) for f in check_report_message(parse_message(ins_only))] == [("HL7-PID3-IPP", Severity.WARNING)]
    no_dmp = edit(text, "OBX[7]-5.1", "N")
    (finding,) = check_report_message(parse_message(no_dmp))
    assert (finding.rule, finding.severity, finding.actual) == ("HL7-DESTDMP", Severity.WARNING, "N")


def test_report_event_refuses_an_unknown_status():
    text, _ = build("ORU")
    with pytest.raises(ValueError, match="cannot tell"):
        report_event(parse_message(edit(text, "OBX-11", "X")))
    assert extract_cda(parse_message(edit(text, "OBX-5.5", ""))) is None


def skeletons() -> list[Path]:
    return sorted(HL7_SKELETONS.glob("*/*.skeleton"))


def test_official_skeletons_pass_every_rule_but_the_omitted_payload():
    files = skeletons()
    if not files:
        pytest.skip(f"ANS HL7 skeletons not found under {HL7_SKELETONS}")
    for path in files:
        findings = check_report_message(parse_message(path.read_bytes()))
        # the only departure: OBX-5.5 holds "[BASE64-CDA-PAYLOAD-OMITTED-…]" instead of the CDA
        assert [(f.rule, f.location) for f in findings] == [("HL7-OBX5", "OBX[1]-5.5")], path.name
        assert "OMITTED" in findings[0].actual


def test_official_skeleton_events():
    files = {path.name: parse_message(path.read_bytes()) for path in skeletons()}
    if not files:
        pytest.skip(f"ANS HL7 skeletons not found under {HL7_SKELETONS}")
    assert report_event(files["CR_C-ORU.hl7.skeleton"]) == "initial"
    assert report_event(files["CR_C-MDM.hl7.skeleton"]) == "initial"
    assert report_event(files["CR_G1_MAJ-MDM.hl7.skeleton"]) == "replace"
    assert files["CR_G1_MAJ-MDM.hl7.skeleton"].get("TXA-13") == "1.2.250.1.213.4.5.4.407"
    assert report_event(files["CR_I_Depublication-ORU.hl7.skeleton"]) == "delete"
    assert report_event(files["CR_I_Depublication-MDM.hl7.skeleton"]) == "delete"
    # Dataset departure, documented: the ORU of the update ("MAJ") is an initial transmission
    # (ORC-1 NW, OBX-11 F) although the volet's replacement is ORC-1 RO / OBX-11 C; the rules
    # cannot see it (the message is self-consistent), a receiver treats it as a new report.
    assert report_event(files["CR_G1_MAJ-ORU.hl7.skeleton"]) == "initial"


# -- ACK ---------------------------------------------------------------------------------

def make_ack(sent: Hl7Message, code: str = "AA", err: str | None = None) -> str:
    segments = [
        f"MSH|^~\\&|{sent.get('MSH-5')}|{sent.get('MSH-6')}|{sent.get('MSH-3')}|{sent.get('MSH-4')}|20250102101500||"
        f"ACK^{sent.trigger}^ACK|ACK1|P|{sent.version}|||||FRA|UNICODE UTF-8",
        f"MSA|{code}|{sent.control_id}",
    ]
    if err is not None:
        segments.append(f"ERR||MSH^1^12|{err}^Unsupported version^messageErrorCondition|E")
    return "\r".join(segments) + "\r"


@pytest.mark.parametrize("kind, event", [("ORU", "initial"), ("MDM", "initial"), ("MDM", "replace"), ("MDM", "delete")])
def test_a_correct_ack_passes(kind, event):
    sent = parse_message(build(kind, event)[0])
    ack = make_ack(sent)
    assert check_ack(ack, sent) == [] and check_ack(ack.encode(), sent) == [] and check_ack(parse_message(ack), sent) == []
    assert ack_code(ack) == "AA"


ACK_MUTATIONS = [
    ("MSH-9", "ACK^T02^ACK", {"ACK-MSH9"}),
    ("MSH-9", "ACK", {"ACK-MSH9"}),
    ("MSH-12", "2.5", {"ACK-VERSION"}),
    ("MSH-3", "DRIMVA_RIS", {"ACK-ROUTING"}),
    ("MSH-6", "OTHER", {"ACK-ROUTING"}),
    ("MSA-1", "CA", {"ACK-MSA1"}),
    ("MSA-2", "MSG41", {"ACK-MSA2"}),
    ("MSA", None, {"ACK-MSA1"}),
]


@pytest.mark.parametrize("address, value, expected", ACK_MUTATIONS)
def test_ack_mutations_give_exactly_the_expected_rule(address, value, expected):
    sent = parse_message(build("MDM", "replace")[0])
    assert {f.rule for f in check_ack(edit(make_ack(sent), address, value), sent)} == expected


def test_missing_or_unreadable_ack():
    sent = parse_message(build()[0])
    for ack in (None, b"", "   ", "not hl7"):
        assert [f.rule for f in check_ack(ack, sent)] == ["ACK-PRESENT"]
    assert ack_code(None) is None and ack_code("garbage") is None


def test_negative_acks():
    sent = parse_message(build()[0])
    refused = make_ack(sent, "AE", err="203")
    assert ack_code(refused) == "AE"
    assert check_ack(refused, sent, expect_accept=False) == []
    assert [f.rule for f in check_ack(refused, sent)] == ["ACK-MSA1"]
    assert [f.rule for f in check_ack(make_ack(sent, "AR"), sent, expect_accept=False)] == ["ACK-ERR"]
    assert [f.rule for f in check_ack(make_ack(sent, "AE", err="999"), sent, expect_accept=False)] == ["ACK-ERR"]
    assert check_ack(make_ack(sent, "AE", err="902"), sent, expect_accept=False) == []  # volet application code
    assert [f.rule for f in check_ack(make_ack(sent), sent, expect_accept=False)] == ["ACK-MSA1"]


def _one(findings: list, rule: str):
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


def test_ack_findings_say_where_what_was_expected_and_what_was_found():
    """Each ACK finding names its location, the expected and the actual value (killed mutants of
    drimva/rules/hl7_ack.py that blanked one of them: the rule ids alone did not change)."""
    sent = parse_message(build("MDM", "replace")[0])
    wrong_type = _one(check_ack(edit(make_ack(sent), "MSH-9", "ACK^T02^ACK"), sent), "ACK-MSH9")
    assert (wrong_type.location, wrong_type.expected, wrong_type.actual) == ("MSH-9", "ACK^T10^ACK", "ACK^T02^ACK")
    routing = _one(check_ack(edit(make_ack(sent), "MSH-3", "DRIMVA_RIS"), sent), "ACK-ROUTING")
    assert (routing.location, routing.expected, routing.actual) == ("MSH-3", sent.get("MSH-5"), "DRIMVA_RIS")
    assert routing.note == "MSH-3 of the ACK must equal MSH-5 of the message"
    no_msa = _one(check_ack(edit(make_ack(sent), "MSA", None), sent), "ACK-MSA1")
    assert (no_msa.location, no_msa.expected, no_msa.actual) == ("MSA", "an MSA segment", "segments ['MSH']")


def test_an_ack_of_a_message_the_volet_does_not_carry_names_the_events_it_does():
    sent = parse_message(edit(build()[0], "MSH-9", "ORU^R30^ORU_R30"))
    finding = _one(check_ack(make_ack(sent), sent), "ACK-MSH9")
    assert finding.expected == "ACK for one of ['R01', 'T02', 'T04', 'T10']"
    assert finding.actual == "ACK^R30^ACK (sent ORU^R30^ORU_R30)"


def test_err_findings_name_the_err_segment_and_its_code():
    sent = parse_message(build()[0])
    missing = _one(check_ack(make_ack(sent, "AR"), sent, expect_accept=False), "ACK-ERR")
    assert (missing.location, missing.expected, missing.actual) == ("ERR", "an ERR segment", "absent")
    second_bad = make_ack(sent, "AE", err="203") + "ERR||PID^1^3|999^Unknown^messageErrorCondition|E\r"
    bad = _one(check_ack(second_bad, sent, expect_accept=False), "ACK-ERR")
    assert bad.location == "ERR[2]-3" and bad.actual == "999^Unknown^messageErrorCondition"
    assert bad.expected.startswith("one of ['0', '100', '101'") and bad.expected.endswith("(or 900-905)")
    refused_accepted = _one(check_ack(make_ack(sent), sent, expect_accept=False), "ACK-MSA1")
    assert (refused_accepted.location, refused_accepted.expected, refused_accepted.actual) == ("MSA-1", "AE or AR", "AA")


def test_ack_of_an_exchange_says_why_no_ack_came():
    """check_ack_exchange: the RIS simulator's record (ACK text, message sent, error) judged whole."""
    text = build()[0]
    sent = parse_message(text)
    assert check_ack_exchange(make_ack(sent), text) == []
    found = check_ack_exchange(None, text, "timed out after 5 s")
    assert [(f.rule, f.location, f.expected, f.actual) for f in found] == [
        ("ACK-PRESENT", "MSH", "an HL7 ACK", "no ACK: timed out after 5 s")
    ]


def test_ack_of_an_exchange_with_any_code():
    """expect_accept None: AA, AE or AR all do (MSA-1 not judged), the rest of the ACK still is."""
    text = build()[0]
    sent = parse_message(text)
    refused = make_ack(sent, "AE", err="203")
    assert check_ack_exchange(refused, text, expect_accept=None) == []
    assert [f.rule for f in check_ack_exchange(refused, text)] == ["ACK-MSA1"]
    assert check_ack_exchange(refused, text, expect_accept=False) == []
    wrong = edit(make_ack(sent, "AE", err="203"), "MSH-9", "ACK^T02^ACK")
    assert [f.rule for f in check_ack_exchange(wrong, text, expect_accept=None)] == ["ACK-MSH9"]


@pytest.mark.parametrize("text", ["MSH|^", "MSH|", "MSH|^~\\"])
def test_an_msh_cut_short_is_not_an_hl7_message_not_a_crash(text: str) -> None:
    """The validate long fuzz run (80 000 mutants) found "MSH|^": python-hl7 parses it, our separators read failed."""
    with pytest.raises(Hl7Error, match="not an HL7 v2 message"):
        Hl7Message(text)

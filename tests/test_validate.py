"""drimva.filetypes and drimva.validate: type detection, verdicts, exit codes, JSON, strict mode."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest

from drimva.cli import main
from drimva.context import Patient, RuleOptions
from drimva.dicom_text import part10_bytes
from drimva.filetypes import FileType, detect
from drimva.findings import Severity
from drimva.mllp import frame
from drimva.profile import DEFAULT_VIEWER_TEMPLATE
from drimva.validate import UsageError, validate_bytes, validate_paths
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.reports import new_report_spec
from fixtures.studies import make_kos, make_study
from simulators.ris import build_report_message

PATIENT = Patient(ins="279035121518989", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")
WADO = (
    "GET https://db1.example.fr/wado/studies/1.2.3/series/4.5{extra} HTTP/1.1\n"
    'Accept: multipart/related; type="application/dicom";transfer-syntax=1.2.840.10008.1.2.1;q=0.5;boundary=**\n'
    "Authorization: Bearer t\nKOS-SOPInstanceUID: 1.2.3.4\n\n"
)


def rules(findings, severity=Severity.ERROR) -> list[str]:
    return sorted(f.rule for f in findings if f.severity is severity)


def report(kind: str = "ORU", control_id: str = "MSG0001") -> str:
    spec = new_report_spec(new_patient(random.Random(4)), "1.2.826.0.1.3680043.8.498.1", ("CT",),
                           viewer_url_template=DEFAULT_VIEWER_TEMPLATE, rng=random.Random(9))
    return build_report_message(spec, build_cda(spec), kind=kind, event="initial", control_id=control_id,
                                now=datetime(2025, 1, 2, 10, 14, 55))


def kos_bytes(location_uid: str = "1.2.250.1.999.3") -> bytes:
    study = make_study(PATIENT, "ACC1", series=(("CT", 2),), accession_issuer="1.2.250.1.999.1")
    kos = make_kos(study, PATIENT, accession="ACC1", accession_issuer="1.2.250.1.999.1", order_id="ORD1",
                   order_root="1.2.250.1.999.2", wado_base_url="https://db.example.fr/wado", retrieve_location_uid=location_uid)
    if not location_uid:
        for item in kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
            del item.RetrieveLocationUID
    return part10_bytes(kos)


# -- type detection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, name, kind", [
    (b"MSH|^~\\&|A|B\rPID|1", "x.txt", FileType.HL7),
    (b"\x0bMSH|^~\\&|A|B\rPID|1\x1c\r", "x", FileType.HL7),
    (b'<?xml version="1.0"?>\n<!-- c --><ClinicalDocument xmlns="urn:hl7-org:v3"/>', "a.hl7", FileType.CDA),
    (b'<ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA"/>', "", FileType.TRUST_LIST),
    (b'<s:Envelope xmlns:s="x"><s:Body><ProvideAndRegisterDocumentSetRequest/></s:Body></s:Envelope>', "", FileType.XDS_SUBMISSION),
    (b"POST /repo HTTP/1.1\nContent-Type: application/soap+xml\n\n<Envelope><ProvideAndRegisterDocumentSetRequest/></Envelope>", "", FileType.XDS_SUBMISSION),
    (b"--b\nContent-Type: x\n\n<Envelope><Body><RegistryResponse/></Body></Envelope>\n--b--", "", FileType.XDS_RESPONSE),
    (b"\0" * 128 + b"DICM" + b"\0" * 10, "x.bin", FileType.DICOM),
    (b"<file-format><meta-header/></file-format>", "", FileType.DICOM_XML),
    (WADO.format(extra="").encode(), "r.txt", FileType.WADO_REQUEST),
    (b"GET https://h/dcm4chee-arc/aets/X/rs HTTP/1.1\naccept: application/json", "", FileType.HTTP_REQUEST),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", "", FileType.WADO_RESPONSE),
    (b"# just a README\n", "README.md", None),
    (b"<html><body/></html>", "x.xml", None),
])
def test_detect_by_content(data, name, kind):
    assert detect(data, name) is kind


def test_unknown_type_names_the_file():
    with pytest.raises(UsageError, match=r"notes\.txt: unknown file type"):
        validate_bytes(b"hello", "notes.txt")


# -- HL7 --------------------------------------------------------------------------------------------------------


def test_several_messages_any_separator_and_mllp_framing():
    first, second = report("ORU"), report("MDM", control_id="MSG0002")
    result = validate_bytes((first + "\r" + second).replace("\r", "\n").encode(), "two.hl7")
    assert result.type == "hl7" and result.conformant and rules(result.findings) == []
    assert {f.location.split(":")[0] for f in result.findings} == {"message 1", "message 2"}
    assert all(f.source == "two.hl7" for f in result.findings)
    broken = second.replace("|FRA|", "|DEU|", 1)
    result = validate_bytes(frame(first.encode()) + frame(broken.encode()), "framed.hl7")
    assert not result.conformant
    assert [f.location for f in result.findings if f.severity is Severity.ERROR] == ["message 2: MSH-17"]


def test_the_embedded_cda_is_judged_with_the_pid():
    text = report("ORU")
    pid = next(line for line in text.split("\r") if line.startswith("PID|"))
    ipp = pid.split("~", 1)[1].split("^", 1)[0]  # PID-3 repetition 2: the IPP
    found = validate_bytes(text.replace(f"~{ipp}^", "~OTHER-IPP^", 1).encode(), "m.hl7").findings
    assert rules(found) == ["CDA-PID3"]
    assert next(f.location for f in found if f.rule == "CDA-PID3").startswith("OBX-5.5 CDA: /ClinicalDocument/recordTarget")


def test_an_ack_alone():
    good = "MSH|^~\\&|DRIMBOX|DB_FAC|RIS|FAC|20250102101500||ACK^R01^ACK|A1|P|2.5\rMSA|AA|MSG0001"
    assert validate_bytes(good.encode(), "ack.hl7").findings == []
    refused = "MSH|^~\\&|DRIMBOX|DB_FAC|RIS|FAC|20250102101500||ACK^T02^ACK|A1|P|2.6\rMSA|AE|MSG0001"
    assert rules(validate_bytes(refused.encode(), "ack.hl7").findings) == ["ACK-ERR"]
    wrong = "MSH|^~\\&|DRIMBOX|DB_FAC|RIS|FAC|20250102101500||ACK^R01^ACK|A1|P|2.6\rMSA|AA|"
    assert rules(validate_bytes(wrong.encode(), "ack.hl7").findings) == ["ACK-MSA2", "ACK-VERSION"]


def test_other_hl7_messages_are_not_judged():
    result = validate_bytes(b"MSH|^~\\&|A|B|C|D|20250101||OMI^O23^OMI_O23|1|P|2.5.1\rPID|1", "o.hl7")
    assert result.outcome == "non jugé" and not result.conformant and rules(result.findings, Severity.INFO) == ["HL7-NOT-A-CR"]


# -- KOS, profile options, strict ----------------------------------------------------------------------------


def test_kos_and_the_location_uid_switch():
    assert validate_bytes(kos_bytes(), "k.dcm").conformant
    without = kos_bytes(location_uid="")
    assert rules(validate_bytes(without, "k.dcm").findings) == ["KOS-RETRIEVE-LOCATION-UID"]
    relaxed = validate_bytes(without, "k.dcm", options=RuleOptions(require_retrieve_location_uid=False))
    assert relaxed.conformant and rules(relaxed.findings, Severity.WARNING) == ["KOS-RETRIEVE-LOCATION-UID"]
    assert not validate_bytes(without, "k.dcm", options=RuleOptions(require_retrieve_location_uid=False, strict=True)).conformant


def test_validate_paths_reports_unreadable_and_unknown_files(tmp_path):
    good = tmp_path / "k.dcm"
    good.write_bytes(kos_bytes())
    (tmp_path / "notes.txt").write_text("nothing")
    results, problems = validate_paths([good, tmp_path / "notes.txt", tmp_path / "missing.hl7"])
    assert [r.path for r in results] == [str(good)]
    assert len(problems) == 2 and "notes.txt: unknown file type" in problems[0] and "missing.hl7: cannot read" in problems[1]


# -- the command -------------------------------------------------------------------------------------------------


def test_command_exit_codes_json_and_strict(tmp_path, capsys):
    good, warned, bad = tmp_path / "good.hl7", tmp_path / "frames.txt", tmp_path / "bad.dcm"
    good.write_text(report())
    warned.write_text(WADO.format(extra="/instances/6.7/frames/1"))
    bad.write_bytes(kos_bytes(location_uid=""))
    out = tmp_path / "out.json"
    assert main(["validate", str(good), str(warned), "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert [(f["path"], f["type"], f["conformant"]) for f in document["files"]] == [
        (str(good), "hl7", True), (str(warned), "wado-request", True)]
    assert {"rule", "location", "expected", "actual", "severity", "requirement"} <= set(document["files"][1]["findings"][0])
    printed = capsys.readouterr().out
    assert "=> CONFORME" in printed and "WARNING WADO-LEVEL" in printed
    assert main(["validate", str(warned), "--strict"]) == 1
    profile = tmp_path / "strict.toml"
    profile.write_text("[rules]\nstrict = true\n")
    assert main(["validate", str(warned), "--profile", str(profile)]) == 1
    assert main(["validate", str(good), str(bad)]) == 1
    assert "NON CONFORME" in capsys.readouterr().out
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text("[rules]\nrequire_retrieve_location_uid = false\n")
    assert main(["validate", str(bad), "--profile", str(relaxed)]) == 0


def test_command_usage_errors_and_json_on_stdout(tmp_path, capsys):
    good = tmp_path / "good.hl7"
    good.write_text(report())
    assert main(["validate", str(tmp_path / "nope.dcm")]) == 2
    assert "nope.dcm: cannot read" in capsys.readouterr().err
    readme = tmp_path / "README.md"
    readme.write_text("# hi")
    assert main(["validate", str(good), str(readme), "--json", "-"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert [f["path"] for f in document["files"]] == [str(good)] and "README.md: unknown file type" in document["errors"][0]
    assert "README.md: unknown file type" in captured.err and "=> CONFORME" in captured.err
    bad_profile = tmp_path / "bad.toml"
    bad_profile.write_text("[rules]\nnope = 1\n")
    assert main(["validate", str(good), "--profile", str(bad_profile)]) == 2


# -- the file-level findings come from drimva/rules/ (issue 11 §2) ---------------------------------------------


@pytest.mark.parametrize("kind, garbage, rule", [
    (FileType.HL7, b"hello world", "HL7-PARSE"),
    (FileType.XDS_SUBMISSION, b"<not-soap/>", "XDS-PARSE"),
    (FileType.WADO_REQUEST, b"HELLO there\r\n\r\n", "WADO-PARSE"),
])
def test_an_unreadable_file_of_a_forced_type_is_a_finding_of_its_rule(kind, garbage, rule):
    found = validate_bytes(garbage, "f", forced_type=kind).findings
    assert [(f.rule, f.location, f.severity) for f in found] == [(rule, "(file)", Severity.ERROR)]
    assert found[0].source == "f" and found[0].requirement  # the catalogue's text


def test_a_readable_file_of_those_types_has_no_parse_finding():
    readable = [(report().encode(), FileType.HL7), (WADO.format(extra="").encode(), FileType.WADO_REQUEST)]
    for data, kind in readable:
        found = validate_bytes(data, "f", forced_type=kind).findings
        assert not {"HL7-PARSE", "WADO-PARSE"} & {f.rule for f in found}


def test_file_findings_name_the_file_and_say_when_a_value_is_redacted():
    from drimva.findings import Finding
    from drimva.rules.offline import NOTE_REDACTED, located, of_file

    plain = Finding("XDS-HASH", "", "/x", "abc", "def")
    redacted = Finding("VIHF-SIGNATURE", "", "/y", "a valid signature", "certificate XXXXXXX", note="n")
    info = Finding("WADO-ACCEPT-FORM", "", "Accept", "(information)", "XXXXXXX", Severity.INFO)
    marked = of_file([plain, redacted, info], "a.xml")
    assert [f.source for f in marked] == ["a.xml"] * 3
    assert [f.note for f in marked] == ["", f"n; {NOTE_REDACTED}", ""]
    assert [f.location for f in located(marked, "message 2: ")] == ["message 2: /x", "message 2: /y", "message 2: Accept"]


def test_a_wado_capture_is_judged_with_the_profile_reading_of_missing_accept_parameters():
    bare = WADO.format(extra="").replace(";boundary=**", "").encode()
    assert rules(validate_bytes(bare, "r.txt").findings) == ["WADO-ACCEPT-BOUNDARY"]
    relaxed = validate_bytes(bare, "r.txt", options=RuleOptions(wado_accept_parameters="recommended"))
    assert relaxed.conformant and rules(relaxed.findings, Severity.WARNING) == ["WADO-ACCEPT-BOUNDARY"]

"""``drimva validate`` on a KOS history export: directories, the pool, not-judged files, messages, --type, hostile XML."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest

from drimva.cli import main
from drimva.findings import Severity
from drimva.dicom_text import part10_bytes
from drimva.mime import build_multipart_related
from drimva.validate import NOT_JUDGED, UsageError, validate_bytes, validate_paths
from drimva.xds import ACTION_ITI41_RESPONSE, RESPONSE_SUCCESS, registry_response, soap_envelope
from fixtures.studies import make_kos, make_study
from test_validate import PATIENT, kos_bytes, report

XXE_FILE = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA">&x;</ListeBlancheDRIM-M>'
XXE_NETWORK = b'<!DOCTYPE l [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA">&x;</ListeBlancheDRIM-M>'
PARAMETER = b'<!DOCTYPE l [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA"/>'
LAUGHS = (b'<!DOCTYPE l [<!ENTITY a0 "lol">' + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
          + b']><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA">&a9;</ListeBlancheDRIM-M>')
QUADRATIC = (b'<!DOCTYPE l [<!ENTITY a "' + b"x" * 100_000 + b'">]><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA">'
             + b"&a;" * 50_000 + b"</ListeBlancheDRIM-M>")
INTERNAL = b'<!DOCTYPE l [<!ENTITY e "1">]><ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA" versionFormat="&e;"/>'


@pytest.mark.parametrize("data", [XXE_FILE, XXE_NETWORK, PARAMETER, LAUGHS, QUADRATIC, INTERNAL],
                         ids=["xxe-file", "xxe-network", "parameter-entity", "billion-laughs", "quadratic", "internal-entity"])
def test_xml_attacks_are_refused_fast_and_small(data):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        result = validate_bytes(data, "tl.xml")
    except UsageError as exc:  # a DTD so long the root is past the type detector's head: refused as unreadable
        refusal = str(exc)
    else:
        assert [f.rule for f in result.findings] == ["TL-XML"]
        refusal = result.findings[0].actual
        assert b"root:" not in json.dumps(result.to_dict()).encode()
    assert time.perf_counter() - start < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB: nothing was expanded
    assert "DTD" in refusal


def _history(folder: Path, count: int) -> list[Path]:
    study = make_study(PATIENT, "ACC1", series=(("CT", 2),), accession_issuer="1.2.250.1.999.1")
    paths = []
    for index in range(count):
        kos = make_kos(study, PATIENT, accession="ACC1", accession_issuer="1.2.250.1.999.1", order_id=f"ORD{index}",
                       order_root="1.2.250.1.999.2", wado_base_url="https://db.example.fr/wado", retrieve_location_uid="1.2.250.1.999.3")
        path = folder / f"{index % 3}" / f"kos-{index:04d}.dcm"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(part10_bytes(kos))
        paths.append(path)
    return sorted(paths)


def test_a_directory_is_read_recursively_and_the_pool_keeps_the_order(tmp_path):
    paths = _history(tmp_path, 70)
    (tmp_path / "bad.dcm").write_bytes(kos_bytes(location_uid=""))
    serial, serial_problems = validate_paths([tmp_path], workers=1)
    pooled, pooled_problems = validate_paths([tmp_path], workers=2)
    assert [r.path for r in serial] == [r.path for r in pooled] == sorted(str(p) for p in [*paths, tmp_path / "bad.dcm"])
    assert [r.outcome for r in serial] == [r.outcome for r in pooled]
    assert serial_problems == pooled_problems == []
    assert [r.path for r in pooled if not r.conformant] == [str(tmp_path / "bad.dcm")]


def test_the_json_has_the_result_counts_rules_and_files_not_judged(tmp_path, capsys):
    (tmp_path / "k.dcm").write_bytes(kos_bytes(location_uid=""))
    (tmp_path / "omi.hl7").write_bytes(b"MSH|^~\\&|A|B|C|D|20250101||OMI^O23^OMI_O23|1|P|2.5.1\rPID|1")
    (tmp_path / "ok.hl7").write_text(report())
    assert main(["validate", str(tmp_path), "--json", "-"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["result"] == "non conforme"
    assert document["counts"] == {"files": 3, "judged": 2, "conforme": 1, "non conforme": 1, "non jugé": 1}
    assert document["not_judged"] == [str(tmp_path / "omi.hl7")]
    assert document["rules"]["KOS-RETRIEVE-LOCATION-UID"]["files"] == 1
    assert [f["verdict"] for f in document["files"]] == ["non conforme", "conforme", NOT_JUDGED]


def test_nothing_judged_is_not_a_success(tmp_path, capsys):
    omi = tmp_path / "omi.hl7"
    omi.write_bytes(b"MSH|^~\\&|A|B|C|D|20250101||OMI^O23^OMI_O23|1|P|2.5.1\rPID|1")
    assert main(["validate", str(omi)]) == 2
    out = capsys.readouterr().out
    assert "Non jugés (1)" in out and "=> NON JUGÉ" in out


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"  \n", "empty file"),
    (b"<a>\n  <b></a>", "not well-formed XML at line 2, column"),
    (b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "DTD"),
])
def test_clear_messages_for_empty_and_broken_files(data, message):
    with pytest.raises(UsageError, match=message):
        validate_bytes(data, "x.xml")


def test_a_directory_where_a_file_is_expected_and_an_empty_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2
    assert "directory with no file to judge" in capsys.readouterr().err


def test_the_itI41_mtom_response_capture_is_typed_right_and_type_forces_the_reading(tmp_path, capsys):
    envelope = soap_envelope(ACTION_ITI41_RESPONSE, registry_response(RESPONSE_SUCCESS, []), relates_to="urn:uuid:1")
    body, content_type = build_multipart_related([([("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
                                                     ("Content-ID", "<root@drimva>")], envelope)])
    capture = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    result = validate_bytes(capture, "response.http")
    assert result.type == "xds-response" and result.conformant, result.findings
    path = tmp_path / "r.http"
    path.write_bytes(capture)
    assert main(["validate", "--type", "wado-response", str(path)]) == 1  # read as asked, and judged so
    capsys.readouterr()


def test_dciodvfy_is_a_sub_report_and_never_silently_skipped(tmp_path, capsys, monkeypatch):
    from drimva.oracles.dciodvfy import dciodvfy_available

    path = tmp_path / "k.dcm"
    path.write_bytes(kos_bytes())
    if dciodvfy_available():
        assert main(["validate", "--dciodvfy", str(path), "--json", "-"]) == 0
        report_ = json.loads(capsys.readouterr().out)["files"][0]["dciodvfy"]
        assert report_["ran"] and report_["verdict"] in ("conforme", "non conforme") and "KeyObjectSelectionDocument" in report_["iod"]
    monkeypatch.setenv("PATH", str(tmp_path))  # dciodvfy is then not found
    assert main(["validate", "--dciodvfy", str(path)]) == 0
    assert "dciodvfy: non exécuté (dciodvfy not installed" in capsys.readouterr().out


def _ct_mr_publication(tmp_path):
    """A conformant ITI-41 (test_rules_xds) whose KOS references a CT and an MR image; its eventCodeList names MR only."""
    from drimva.context import RuleOptions
    from fixtures.pki import build_pki
    from test_rules_vihf import ORG
    from test_rules_xds import conformant

    study = make_study(PATIENT, "ACC1", series=(("CT", 1), ("MR", 1)), accession_issuer="1.2.250.1.999.1")
    kos = part10_bytes(make_kos(study, PATIENT, accession="ACC1", accession_issuer="1.2.250.1.999.1", order_id="ORD1", order_root="1.2.250.1.999.2",
                                wado_base_url="https://db.example.fr/wado", retrieve_location_uid="1.2.250.1.999.3"))
    pki = build_pki(tmp_path / "pki", ORG)
    publication = conformant(pki)
    publication.documents["DocumentKOS"] = kos
    return publication, RuleOptions(trusted_ca_pem=pki.ca_pem)


def test_the_eventcodelist_is_judged_against_the_modalities_the_kos_references(tmp_path):
    """Issue 11: offline, the live rule XDS-EVENTCODES runs against the SOP classes of the attached KOS."""
    from drimva.rules.offline import check_submission_offline, kos_modalities
    from drimva.xds import DE_EVENT_CODE_LIST
    from test_rules_xds import code

    from io import BytesIO

    from pydicom import dcmread

    publication, options = _ct_mr_publication(tmp_path)
    assert kos_modalities(dcmread(BytesIO(publication.documents["DocumentKOS"]))) == ("CT", "MR")
    events = lambda request: [f for f in check_submission_offline(request, options)
                              if f.rule == "XDS-EVENTCODES" and f.severity is not Severity.INFO]
    missing = events(publication.request())  # the eventCodeList names MR only
    assert len(missing) == 1 and missing[0].expected.startswith("CT")
    publication.kos.classifications.append(code(DE_EVENT_CODE_LIST, "CT", "1.2.840.10008.2.16.4"))
    assert events(publication.request()) == []


def test_the_summary_per_study_gives_versions_duplicates_and_the_latest(tmp_path, capsys):
    paths = _history(tmp_path, 3)  # one study, three versions (ContentTime from the builder)
    (tmp_path / "copy.dcm").write_bytes(paths[0].read_bytes())  # the same KOS exported twice
    assert main(["validate", str(tmp_path), "--json", "-"]) == 0
    studies = json.loads(capsys.readouterr().out)["studies"]
    assert len(studies) == 1
    (entry,) = studies.values()
    assert entry["versions"] == 3 and len(entry["files"]) == 4
    assert [sorted(files) for files in entry["duplicates"].values()] == [sorted([str(paths[0]), str(tmp_path / "copy.dcm")])]
    assert entry["latest"] in entry["files"]


def test_validate_judges_the_eventcodelist_of_a_submission_file_against_its_kos(tmp_path):
    """The same check through the command's entry point: an ITI-41 file whose eventCodeList lacks a modality
    of its KOS is not conformant by XDS-EVENTCODES; with a code per modality that rule says nothing."""
    from drimva.xds import ACTION_ITI41, DE_EVENT_CODE_LIST, provide_and_register_xml, soap_envelope
    from test_rules_xds import code

    publication, options = _ct_mr_publication(tmp_path)

    def eventcode_errors() -> list[str]:
        body = provide_and_register_xml([publication.ss, *publication.entries, *publication.associations], dict(publication.documents))
        envelope = soap_envelope(ACTION_ITI41, body, to="https://dmp.test/repository", security=[publication.assertion])
        result = validate_bytes(envelope, "iti41.xml", options=options)
        assert result.type == "xds-iti41"
        return [f.expected for f in result.findings if f.rule == "XDS-EVENTCODES" and f.severity is Severity.ERROR]

    missing = eventcode_errors()  # the eventCodeList names MR only; the KOS references a CT image too
    assert len(missing) == 1 and missing[0].startswith("CT")
    publication.kos.classifications.append(code(DE_EVENT_CODE_LIST, "CT", "1.2.840.10008.2.16.4"))
    assert eventcode_errors() == []

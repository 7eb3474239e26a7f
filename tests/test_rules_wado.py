"""drimva.wado (captures) and drimva.rules.wado: requests and responses of WADO-RS between DRIMboxes."""

from __future__ import annotations


import pytest

from drimva.context import Patient
from drimva.dicom_text import part10_bytes
from drimva.findings import Severity
from drimva.rules.wado import (
    accepted_syntaxes,
    check_consumer_requests,
    check_other_request,
    check_source_responses,
    check_wado_request,
    check_wado_response,
)
from drimva.wado import (
    WadoParseError,
    parse_accept,
    parse_capture,
    parse_request,
    parse_response,
    parse_retrieve_path,
)
from fixtures.studies import make_study

from paths import SHARED
WADO_SAMPLES = [
    *sorted((SHARED / "ans-samples" / "Echantillons-validateurs" / "Validateur-WADO-RS").rglob("Requete*.txt")),
    *sorted((SHARED / "ans-samples" / "test-a-blanc").rglob("OK_*.txt")),
]
STUDY, SERIES = "1.2.840.113745.101000.108000.38425.5599.7073835", "1.3.12.2.1107.5.1.4.54023.30000005041115305593700013463"
ACCEPT = 'multipart/related; type="application/dicom";transfer-syntax={ts};q={q};boundary=**'
GOOD = (
    f"GET https://db1.example.fr/wado/studies/{STUDY}/series/{SERIES} HTTP/1.1\r\n"
    f"Accept:{ACCEPT.format(ts='1.2.840.10008.1.2.4.70', q='0.9')},{ACCEPT.format(ts='1.2.840.10008.1.2.1', q='0.4')},\r\n"
    "Authorization: Bearer abc.def.ghi\r\n"
    f"KOS-SOPInstanceUID: 1.2.3.4\r\n"
    "\r\n"
)


def rules(findings, severity=Severity.ERROR) -> list[str]:
    return sorted(f.rule for f in findings if f.severity is severity)


def request(text: str = GOOD):
    return parse_request(text.encode())


# -- parsing -----------------------------------------------------------------------------------------------


def test_accept_comma_joined_with_trailing_comma_or_repeated():
    joined = parse_accept([f"{ACCEPT.format(ts='1.2.840.10008.1.2.4.50', q='0.9')},{ACCEPT.format(ts='1.2.840.10008.1.2.1', q='0.4')},"])
    assert [e.transfer_syntax for e in joined.entries] == ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.1"]
    assert (joined.header_count, joined.empty_entries) == (1, 1)
    assert joined.entries[0].params == {"type": "application/dicom", "transfer-syntax": "1.2.840.10008.1.2.4.50", "q": "0.9", "boundary": "**"}
    repeated = parse_accept(["transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9;boundary=b", 'multipart/related; type="a,b"; q=1'])
    assert [e.media_type for e in repeated.entries] == ["", "multipart/related"]
    assert repeated.entries[1].params["type"] == "a,b"  # a comma inside quotes does not split
    assert [e.location for e in repeated.entries] == ["Accept[1] entry 1", "Accept[2] entry 2"]


@pytest.mark.parametrize("path, level, parts", [
    ("/wado/studies/1.2/series/3.4", "series", ("1.2", "3.4", "")),
    ("/studies/1.2", "study", ("1.2", "", "")),
    ("/rs/studies/1.2/series/3.4/instances/5.6", "instance", ("1.2", "3.4", "5.6")),
    ("/rs/studies/1.2/series/3.4/instances/5.6/frames/1", "frames", ("1.2", "3.4", "5.6")),
    ("/rs/studies/1.2/instances/5.6", "unknown", ("1.2", "", "")),
])
def test_retrieve_paths(path, level, parts):
    target = parse_retrieve_path(path)
    assert target is not None and target.level == level
    assert (target.study, target.series, target.instance) == parts


def test_paths_without_a_study_and_suffixes():
    assert parse_retrieve_path("/dcm4chee-arc/aets/SERVEUR_WADO/rs") is None
    assert parse_retrieve_path("/rs/studies/") is None
    assert parse_retrieve_path("/rs/studies/1.2/series/3.4/metadata").suffix == "metadata"


def test_request_line_headers_and_lf_only_last_line_without_newline():
    parsed = parse_request(b"GET /studies/1.2 HTTP/1.1\naccept: application/json\nHost: h")
    assert (parsed.method, parsed.path, parsed.headers.get("Accept"), parsed.headers.get("host")) == ("GET", "/studies/1.2", "application/json", "h")
    assert request().path == f"/wado/studies/{STUDY}/series/{SERIES}"
    with pytest.raises(WadoParseError):
        parse_request(b"HELLO\r\n\r\n")
    with pytest.raises(WadoParseError):
        parse_request(b"GET / HTTP/1.1\r\nbad header\r\n\r\n")


def dicom_part() -> tuple[bytes, str]:
    ds = make_study(Patient(ins="279035121518989"), "ACC1", series=(("CT", 1),))[0]
    return part10_bytes(ds), str(ds.file_meta.TransferSyntaxUID)


def response(parts: list[tuple[str, bytes]], *, content_type: str | None = None, chunked: bool = False, status: str = "200 OK") -> bytes:
    body = b"".join(b"--BOUND\r\nContent-Type: " + ctype.encode() + b"\r\n\r\n" + data + b"\r\n" for ctype, data in parts) + b"--BOUND--\r\n"
    if chunked:
        body = b"%x\r\n" % 7 + body[:7] + b"\r\n" + b"%x\r\n" % (len(body) - 7) + body[7:] + b"\r\n0\r\n\r\n"
    content_type = content_type or 'multipart/related; type="application/dicom"; boundary=BOUND'
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    return head.encode() + b"\r\n" + body


def test_response_parts_and_dechunking():
    data, syntax = dicom_part()
    for chunked in (False, True):
        parsed = parse_response(response([(f"application/dicom; transfer-syntax={syntax}", data)], chunked=chunked))
        assert parsed.status == 200 and [p.content for p in parsed.parts()] == [data]


def test_capture_of_a_request_followed_by_its_response():
    data, _ = dicom_part()
    capture = parse_capture(GOOD.encode() + response([("application/dicom", data)]))
    assert capture.request is not None and capture.response is not None and capture.response.status == 200


# -- request rules ---------------------------------------------------------------------------------------


def test_an_absolute_target_whose_authority_cannot_be_parsed_still_has_its_path_judged():
    """The validate long fuzz run (80 000 mutants) found it: urlsplit raises on "h[ost" (ValueError: Invalid IPv6 URL)."""
    parsed = parse_request(f"GET https://h[ost:8443/wado/studies/{STUDY}/series/{SERIES}?x=1 HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    assert parsed.path == f"/wado/studies/{STUDY}/series/{SERIES}"
    assert parsed.retrieve is not None and parsed.retrieve.level == "series"
    assert parse_request(b"GET https://h[ost HTTP/1.1\r\n\r\n").path == "/"
    check_wado_request(parsed)  # judged, no exception


def test_a_good_request_has_no_error_nor_warning():
    findings = check_wado_request(request())
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == []
    assert rules(findings, Severity.INFO) == ["WADO-ACCEPT-FORM"]


REQUEST_FAULTS = [  # (edit of GOOD, the one rule it breaks)
    (lambda t: t.replace("Authorization: Bearer abc.def.ghi\r\n", ""), "WADO-AUTHORIZATION"),
    (lambda t: t.replace("Bearer abc.def.ghi", "Basic dXNlcg=="), "WADO-AUTHORIZATION"),
    (lambda t: t.replace("KOS-SOPInstanceUID: 1.2.3.4\r\n", ""), "WADO-KOS-HEADER"),
    (lambda t: t.replace("KOS-SOPInstanceUID: 1.2.3.4", "KOS-SOPInstanceUID: 1.02.x"), "WADO-KOS-HEADER"),
    (lambda t: t.replace(f"/series/{SERIES}", "/series/abc"), "WADO-PATH"),
    (lambda t: t.replace(f"/studies/{STUDY}/series/{SERIES}", "/patients/1"), "WADO-PATH"),
    (lambda t: t.replace("GET ", "POST "), "WADO-METHOD"),
    (lambda t: t.replace("q=0.9", "q=1.5"), "WADO-ACCEPT-Q"),
    (lambda t: t.replace(";q=0.9", ""), "WADO-ACCEPT-Q"),
    (lambda t: t.replace("transfer-syntax=1.2.840.10008.1.2.4.70;", ""), "WADO-ACCEPT-TS"),
    (lambda t: t.replace("transfer-syntax=1.2.840.10008.1.2.4.70", "transfer-syntax=jpeg"), "WADO-ACCEPT-TS"),
    (lambda t: t.replace(";boundary=**,multipart/related; type=\"application/dicom\";transfer-syntax=1.2.840.10008.1.2.1", ",multipart/related; type=\"application/dicom\";transfer-syntax=1.2.840.10008.1.2.1"), "WADO-ACCEPT-BOUNDARY"),
    (lambda t: t.replace('type="application/dicom";transfer-syntax=1.2.840.10008.1.2.4.70', 'type="application/pdf";transfer-syntax=1.2.840.10008.1.2.4.70'), "WADO-ACCEPT-MEDIA-TYPE"),
    (lambda t: t.split("Accept:")[0] + "Authorization" + t.split("Authorization", 1)[1], "WADO-ACCEPT"),
    (lambda t: t.replace("q=0.9", "q=0").replace("q=0.4", "q=0.000"), "WADO-ACCEPT-Q"),
]


@pytest.mark.parametrize("edit, rule", REQUEST_FAULTS)
def test_each_request_fault_breaks_its_rule(edit, rule):
    assert rules(check_wado_request(request(edit(GOOD)))) == [rule]


@pytest.mark.parametrize("edit, rule", REQUEST_FAULTS)
def test_each_request_fault_breaks_its_rule_on_a_live_request_too(edit, rule):
    """VA-D2: the same rule, and only it, fails the requests recorded live (a good one beside the bad one);
    a request naming no /studies/{uid} is said not to be a retrieve, as validate says of such a capture."""
    bad = request(edit(GOOD))
    findings = check_consumer_requests([request(), bad])
    if bad.retrieve is None:
        assert rules(findings) == [] and "WADO-NOT-A-RETRIEVE" in rules(findings, Severity.INFO)
    else:
        assert set(rules(findings)) == {rule}


def test_tolerated_forms_are_warnings_or_information():
    bare = GOOD.replace('multipart/related; type="application/dicom";', "")
    findings = check_wado_request(request(bare))
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == ["WADO-ACCEPT-MEDIA-TYPE"]
    unknown = GOOD.replace("1.2.840.10008.1.2.4.70", "1.2.3.4.5")
    assert rules(check_wado_request(request(unknown)), Severity.WARNING) == ["WADO-ACCEPT-TS"]
    frames = GOOD.replace(f"/series/{SERIES}", f"/series/{SERIES}/instances/1.2/frames/1")
    assert rules(check_wado_request(request(frames)), Severity.WARNING) == ["WADO-LEVEL"]
    study = GOOD.replace(f"/series/{SERIES}", "")
    assert rules(check_wado_request(request(study)), Severity.INFO) == ["WADO-ACCEPT-FORM", "WADO-LEVEL"]
    star = GOOD.replace("transfer-syntax=1.2.840.10008.1.2.4.70", "transfer-syntax=*")
    assert rules(check_wado_request(request(star))) == [] and accepted_syntaxes(request(star)) is None


def test_a_healthcheck_is_said_not_judged():
    health = parse_request(b"GET https://h:1/dcm4chee-arc/aets/SERVEUR_WADO/rs HTTP/1.1\naccept: application/json\n")
    (finding,) = check_other_request(health)
    assert finding.severity is Severity.INFO and "healthcheck" in finding.actual


@pytest.mark.parametrize("path", WADO_SAMPLES, ids=lambda p: str(p.relative_to(SHARED)) if SHARED in p.parents else p.name)
def test_official_requests_pass(path):
    req = parse_request(path.read_bytes())
    findings = check_wado_request(req) if req.retrieve is not None else check_other_request(req)
    assert rules(findings) == []


def test_official_samples_present():
    if not WADO_SAMPLES:
        pytest.skip(f"official ANS samples not available under {SHARED}")
    assert len(WADO_SAMPLES) >= 18


# -- response rules ----------------------------------------------------------------------------------------


def test_a_good_response_passes_with_and_without_the_request():
    data, syntax = dicom_part()
    assert syntax == "1.2.840.10008.1.2.1"
    answer = parse_response(response([(f"application/dicom; transfer-syntax={syntax}", data)] * 2))
    assert check_wado_response(answer) == []
    assert check_wado_response(answer, request()) == []


def test_response_faults():
    data, syntax = dicom_part()
    good_part = (f"application/dicom; transfer-syntax={syntax}", data)
    lossy_only = request(GOOD.replace("transfer-syntax=1.2.840.10008.1.2.1;", "transfer-syntax=1.2.840.10008.1.2.4.50;"))
    assert rules(check_wado_response(parse_response(response([good_part])), lossy_only)) == ["WADO-RESPONSE-TS"]
    assert rules(check_wado_response(parse_response(response([("application/dicom", b"not dicom")])))) == ["WADO-PART-DICOM"]
    assert rules(check_wado_response(parse_response(response([("application/octet-stream", data)])))) == ["WADO-PART-TYPE"]
    wrong_declared = ("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.70", data)
    assert rules(check_wado_response(parse_response(response([wrong_declared])))) == ["WADO-PART-TS"]
    assert rules(check_wado_response(parse_response(response([good_part], content_type="application/dicom")))) == ["WADO-CONTENT-TYPE"]
    assert rules(check_wado_response(parse_response(response([good_part], content_type='multipart/related; type="application/dicom"')))) == ["WADO-CONTENT-TYPE"]
    assert rules(check_wado_response(parse_response(response([good_part], status="404 Not Found")))) == ["WADO-STATUS"]
    truncated = response([good_part])[:-12]
    assert rules(check_wado_response(parse_response(truncated))) == ["WADO-PARTS"]


def test_headers_only_response_is_not_failed():
    findings = check_wado_response(parse_response(b'HTTP/1.1 200 OK\r\nContent-Type: multipart/related;type="application/dicom"; boundary=x\r\n\r\n'))
    assert rules(findings) == [] and rules(findings, Severity.INFO) == ["WADO-PARTS"]


# -- the same rules over live exchanges (VA-D2: the consumer's requests; VA-E: the source's answers) -------------


def test_consumer_requests_pass_and_name_the_request_each_finding_is_about():
    findings = check_consumer_requests([request(), request(GOOD.replace(f"/series/{SERIES}", ""))])
    assert rules(findings) == [] and rules(findings, Severity.WARNING) == []
    assert {f.location.split(": ", 1)[0] for f in findings} == {f"GET …/series/{SERIES}", f"GET /wado/studies/{STUDY}"}
    assert check_consumer_requests([]) == []


def test_consumer_requests_fail_with_the_rule_of_the_bad_one():
    no_boundary = GOOD.replace("boundary=**", "x=1")
    findings = check_consumer_requests([request(), request(no_boundary)])
    assert rules(findings) == ["WADO-ACCEPT-BOUNDARY", "WADO-ACCEPT-BOUNDARY"]
    assert {f.location for f in findings if f.severity is Severity.ERROR} == {
        f"GET …/series/{SERIES}: Accept[1] entry 1", f"GET …/series/{SERIES}: Accept[1] entry 2",
    }
    health = parse_request(b"GET https://h:1/wado/rs HTTP/1.1\naccept: application/json\n")
    assert [(f.rule, f.severity) for f in check_consumer_requests([health])] == [("WADO-NOT-A-RETRIEVE", Severity.INFO)]


def test_source_responses_pass():
    data, syntax = dicom_part()
    answer = parse_response(response([(f"application/dicom; transfer-syntax={syntax}", data)]))
    assert check_source_responses([(request(), answer)]) == []
    assert check_source_responses([]) == []


def test_source_responses_fail_against_the_request_they_answer():
    data, syntax = dicom_part()
    answer = parse_response(response([(f"application/dicom; transfer-syntax={syntax}", data)]))
    lossy_only = request(GOOD.replace("transfer-syntax=1.2.840.10008.1.2.1;", "transfer-syntax=1.2.840.10008.1.2.4.50;"))
    [finding] = check_source_responses([(request(), answer), (lossy_only, answer)])
    assert finding.rule == "WADO-RESPONSE-TS" and finding.location == f"GET …/series/{SERIES}: part 1 (0002,0010)"
    not_multipart = parse_response(response([("application/dicom", data)], content_type="application/dicom"))
    assert rules(check_source_responses([(request(), not_multipart)])) == ["WADO-CONTENT-TYPE"]


def _response_faults() -> list[tuple[str, bytes, str]]:
    data, syntax = dicom_part()
    good_part = (f"application/dicom; transfer-syntax={syntax}", data)
    lossy_only = GOOD.replace("transfer-syntax=1.2.840.10008.1.2.1;", "transfer-syntax=1.2.840.10008.1.2.4.50;")
    return [
        (lossy_only, response([good_part]), "WADO-RESPONSE-TS"),
        (GOOD, response([("application/dicom", b"not dicom")]), "WADO-PART-DICOM"),
        (GOOD, response([("application/octet-stream", data)]), "WADO-PART-TYPE"),
        (GOOD, response([("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.70", data)]), "WADO-PART-TS"),
        (GOOD, response([good_part], content_type="application/dicom"), "WADO-CONTENT-TYPE"),
        (GOOD, response([good_part], status="404 Not Found"), "WADO-STATUS"),
        (GOOD, response([good_part])[:-12], "WADO-PARTS"),
    ]


def test_each_response_fault_breaks_its_rule_on_a_live_answer_too():
    """VA-E: the rule each response fault breaks, and only it, fails the answers recorded live (a good one beside it)."""
    data, syntax = dicom_part()
    good = (request(), parse_response(response([(f"application/dicom; transfer-syntax={syntax}", data)])))
    assert check_source_responses([good]) == []
    for sent, answer, rule in _response_faults():
        assert set(rules(check_source_responses([good, (request(sent), parse_response(answer))]))) == {rule}, rule


def test_missing_accept_parameters_fail_or_warn_as_the_profile_reads_them():
    """rules.wado_accept_parameters (open question 3): "recommended" makes a missing transfer-syntax, q or
    boundary a warning; a malformed value stays an error."""
    bare = request(GOOD.replace("transfer-syntax=1.2.840.10008.1.2.4.70;", "").replace(";boundary=**", "").replace(";q=0.4", ""))
    assert set(rules(check_wado_request(bare))) == {"WADO-ACCEPT-TS", "WADO-ACCEPT-Q", "WADO-ACCEPT-BOUNDARY"}
    relaxed = check_consumer_requests([bare], accept_parameters="recommended")
    assert rules(relaxed) == [] and set(rules(relaxed, Severity.WARNING)) == {"WADO-ACCEPT-TS", "WADO-ACCEPT-Q", "WADO-ACCEPT-BOUNDARY"}
    malformed = request(GOOD.replace("q=0.9", "q=1.5"))
    assert rules(check_wado_request(malformed, accept_parameters="recommended")) == ["WADO-ACCEPT-Q"]

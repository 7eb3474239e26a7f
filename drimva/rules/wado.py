"""WADO-RS between DRIMboxes: the Conso's retrieve request and the Source's answer (VA-D2, VA-E).

Sources: ``dicomweb-between-drimboxes.md`` (DICOM PS3.18 §8 / §10.4, the ANS
WADO-RS validator samples, the demonstrator), open question 3 for what a
request must carry. The DRIM-M text itself is not public, so the samples are
the requirement (errors) and the points where ANS samples disagree with
PS3.18 or with each other are warnings. Pure: parsed exchanges in, findings out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import replace
from io import BytesIO

from pydicom.filereader import dcmread
from pydicom.uid import UID

from drimva.findings import Finding, FindingList, Severity
from drimva.mime import MimeError, parse_content_type
from drimva.wado import AcceptEntry, WadoRequest, WadoResponse

SRC = "dicomweb-between-drimboxes.md"
PS3_18 = "DICOM PS3.18 §8.7 / §10.4 (WADO-RS retrieve)"
SAMPLES = f"ANS WADO-RS validator samples ({SRC} §2)"
Q3 = f"{SRC} open question 3: well-formed entries with transfer-syntax, q and boundary"
NOTE_Q3 = "PS3.18 would default to Explicit VR LE without it; every ANS sample carries it and the demonstrator Source answers 400 without it"
DICOM_TYPE = "application/dicom"
# The syntaxes of the ANS Accept profiles and the demonstrator (§3), plus Implicit VR LE and deflate.
KNOWN_SYNTAXES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.100": "MPEG-2 MP@ML",
    "1.2.840.10008.1.2.4.101": "MPEG-2 MP@HL",
    "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 HP@4.1",
    "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD HP@4.1",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_QVALUE = re.compile(r"^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$")  # RFC 9110 §12.4.2


def is_uid(value: str | None) -> bool:
    return bool(value) and len(value) <= 64 and _UID.match(value) is not None  # type: ignore[arg-type]


def check_wado_request(request: WadoRequest, *, accept_parameters: str = "required") -> list[Finding]:
    """A retrieve request from a consumer DRIMbox: resource path, token, KOS header, Accept entries.

    ``accept_parameters`` is the profile's ``rules.wado_accept_parameters``: an Accept entry without
    transfer-syntax, q or boundary is an error when "required", a warning when "recommended" (Q3).
    """
    out = FindingList(source="WADO-RS request")
    out.check_equal("WADO-METHOD", f"{PS3_18}: retrieve is an HTTP GET", "request line", "GET", request.method)
    _check_path(request, out)
    _check_authorization(request, out)
    kos = request.headers.get("KOS-SOPInstanceUID")
    if kos is None:
        out.add("WADO-KOS-HEADER", f"{SAMPLES}: KOS-SOPInstanceUID header (the KOS retrieved from the DMP)", "KOS-SOPInstanceUID",
                "the SOP Instance UID of the KOS", None, note="the demonstrator Source answers 400 'Missing KOS-SOPInstanceUID'")
    elif not is_uid(kos.strip()):
        out.add("WADO-KOS-HEADER", f"{SAMPLES}; PS3.5 §9 UID syntax", "KOS-SOPInstanceUID", "a valid UID", kos)
    _check_accept(request, out, Severity.ERROR if accept_parameters == "required" else Severity.WARNING)
    return out.items


def check_other_request(request: WadoRequest) -> list[Finding]:
    """A request that names no ``/studies/{uid}`` resource: said so, not judged (e.g. a healthcheck)."""
    out = FindingList(source="HTTP request")
    accept = ", ".join(request.headers.get_all("Accept")) or "(none)"
    kind = "a service healthcheck" if accept.startswith("application/json") or request.path.rstrip("/").endswith(("/rs", "/health")) else "another HTTP call"
    out.add("WADO-NOT-A-RETRIEVE", f"{PS3_18}: a retrieve names /studies/{{uid}}", "request line",
            "a WADO-RS retrieve", f"{request.method} {request.path} (Accept: {accept}): {kind}, not a WADO-RS retrieve; not judged",
            Severity.INFO, note="the ANS client simulator's healthcheck of the DICOMweb service root is such a request")
    return out.items


def _check_path(request: WadoRequest, out: FindingList) -> None:
    target = request.retrieve
    if target is None or target.level == "unknown":
        out.add("WADO-PATH", f"{PS3_18}; {SRC} §1: /studies/{{study}}/series/{{series}} (study and instance levels too)", "request line",
                "…/studies/{uid}[/series/{uid}[/instances/{uid}]]", request.path)
        return
    for name in ("study", "series", "instance"):
        value = getattr(target, name)
        if value and not is_uid(value):
            out.add("WADO-PATH", "DICOM PS3.5 §9: UID syntax (≤ 64 chars, digits and dots)", f"request line ({name} UID)", "a valid UID", value)
    if target.level == "series" and not target.suffix:
        return
    if target.level in ("study", "instance") and not target.suffix:
        out.add("WADO-LEVEL", f"{SRC} §1 and open question 6: series level is the KOS RetrieveURL; {target.level} level is optional",
                "request line", "series level", f"{target.level} level", Severity.INFO)
        return
    what = f"{target.level} level" + (f", /{target.suffix}" if target.suffix else "")
    out.add("WADO-LEVEL", f"{SRC} §1: DRIM-M retrieves studies, series or instances as application/dicom", "request line",
            "study, series or instance retrieve", what, Severity.WARNING,
            note="PS3.18 serves frames, metadata and rendered resources with other media types; the ANS dry-run samples send one anyway (OK_Frames)")


def _check_authorization(request: WadoRequest, out: FindingList) -> None:
    requirement = f"{SAMPLES}: Authorization: Bearer <the professional's PSC access token>"
    value = request.headers.get("Authorization")
    scheme, _, token = (value or "").strip().partition(" ")
    if value is None:
        out.add("WADO-AUTHORIZATION", requirement, "Authorization", "Bearer <token>", None, note="the demonstrator Source answers 401")
    elif scheme.lower() != "bearer" or not token.strip():
        out.add("WADO-AUTHORIZATION", requirement, "Authorization", "Bearer <token>", value[:40])


def _check_accept(request: WadoRequest, out: FindingList, missing: Severity) -> None:
    """``missing``: the severity of an entry without transfer-syntax, q or boundary (rules.wado_accept_parameters)."""
    accept = request.accept
    if not accept.entries:
        out.add("WADO-ACCEPT", f"{PS3_18}; {Q3}", "Accept", 'multipart/related; type="application/dicom"; transfer-syntax=…; q=…', None,
                note="the demonstrator Source answers 400 without Accept")
        return
    form = f"{accept.header_count} Accept header(s), {len(accept.entries)} entries"
    if accept.empty_entries:
        form += f", {accept.empty_entries} empty item(s) (trailing comma) ignored"
    out.add("WADO-ACCEPT-FORM", f"{SAMPLES}: comma-joined or repeated Accept headers", "Accept", "(information)", form, Severity.INFO)
    bare = [entry for entry in accept.entries if not entry.media_type]
    if bare:
        out.add("WADO-ACCEPT-MEDIA-TYPE", f"{PS3_18}: media range multipart/related; type=\"application/dicom\"", ", ".join(e.location for e in bare[:3]) + ("…" if len(bare) > 3 else ""),
                "multipart/related; type=\"application/dicom\"; …", f"{len(bare)} entries with parameters only, e.g. {bare[0].raw}", Severity.WARNING,
                note="parameters without a media range, as in the ANS dry-run sample OK_Instances_v2")
    for entry in accept.entries:
        _check_entry(entry, out, missing)
    if all(_q(entry) == 0.0 for entry in accept.entries):
        out.add("WADO-ACCEPT-Q", "RFC 9110 §12.4.2: q=0 means not acceptable", "Accept", "at least one entry with q > 0", "every entry has q=0")


def _check_entry(entry: AcceptEntry, out: FindingList, missing: Severity) -> None:
    where = entry.location
    if not entry.media_type:
        pass  # reported once for all entries by _check_accept
    elif entry.media_type != "multipart/related":
        out.add("WADO-ACCEPT-MEDIA-TYPE", f"{PS3_18}: DICOM instances are retrieved as multipart/related", where, "multipart/related", entry.media_type)
    elif "type" not in entry.params:
        out.add("WADO-ACCEPT-MEDIA-TYPE", f"{PS3_18}: type parameter of multipart/related", where, f'type="{DICOM_TYPE}"', None, Severity.WARNING)
    elif entry.params["type"].lower() != DICOM_TYPE:
        out.add("WADO-ACCEPT-MEDIA-TYPE", f"{PS3_18}: DICOM instances are application/dicom parts", where, f'type="{DICOM_TYPE}"', entry.params["type"])
    syntax = entry.transfer_syntax
    if syntax is None:
        out.add("WADO-ACCEPT-TS", Q3, where, "transfer-syntax=<UID>", None, missing, note=NOTE_Q3)
    elif syntax != "*" and not is_uid(syntax):
        out.add("WADO-ACCEPT-TS", f"{PS3_18}: transfer-syntax is a Transfer Syntax UID or *", where, "a valid UID", syntax)
    elif syntax != "*" and syntax not in KNOWN_SYNTAXES and not UID(syntax).is_transfer_syntax:
        out.add("WADO-ACCEPT-TS", f"{SRC} §3: a known transfer syntax", where, f"one of {sorted(KNOWN_SYNTAXES)}", syntax, Severity.WARNING)
    q = entry.q
    if q is None:
        out.add("WADO-ACCEPT-Q", Q3, where, "q=<0..1>", None, missing, note=NOTE_Q3)
    elif not _QVALUE.match(q):
        out.add("WADO-ACCEPT-Q", "RFC 9110 §12.4.2: qvalue between 0 and 1, at most 3 decimals", where, "0 … 1", q)
    if "boundary" not in entry.params:
        out.add("WADO-ACCEPT-BOUNDARY", Q3, where, "boundary=<b>", None, missing,
                note="every ANS sample carries one; the demonstrator Source answers 400 without it")


def _q(entry: AcceptEntry) -> float:
    q = entry.q
    return float(q) if q is not None and _QVALUE.match(q) else 1.0


def accepted_syntaxes(request: WadoRequest) -> set[str] | None:
    """Transfer syntaxes the request accepts (q > 0); None when any syntax is acceptable (``*``)."""
    syntaxes: set[str] = set()
    for entry in request.accept.entries:
        if _q(entry) == 0.0:
            continue
        syntax = entry.transfer_syntax or "1.2.840.10008.1.2.1"  # PS3.18 default for application/dicom
        if syntax == "*":
            return None
        syntaxes.add(syntax)
    return syntaxes


def check_wado_response(
    response: WadoResponse,
    request: WadoRequest | None = None,
    *,
    expected_status: Collection[int] = (200, 206),
) -> list[Finding]:
    """A Source's answer to a retrieve: status, multipart/related of DICOM Part-10 instances, syntaxes."""
    out = FindingList(source="WADO-RS response")
    if response.status not in expected_status:
        out.add("WADO-STATUS", f"{PS3_18} §8.7.2 / {SRC} §4", "status line", " or ".join(str(s) for s in expected_status), f"{response.status} {response.reason}")
        return out.items
    if response.status == 206:
        out.add("WADO-STATUS", f"{SRC} §4: 206 when some instances could not be returned", "status line", "200", "206 Partial Content", Severity.INFO)
    content_type = response.content_type
    try:
        mime_type, params = parse_content_type(content_type or "")
    except MimeError as exc:
        out.add("WADO-CONTENT-TYPE", f"{PS3_18} §8.7.3: multipart/related; type=\"application/dicom\"", "Content-Type", "multipart/related", str(exc))
        return out.items
    type_ok = mime_type == "multipart/related" and params.get("type", "").lower() == DICOM_TYPE
    if not type_ok:
        out.add("WADO-CONTENT-TYPE", f"{PS3_18} §8.7.3: multipart/related; type=\"application/dicom\"", "Content-Type",
                f'multipart/related; type="{DICOM_TYPE}"; boundary=…', content_type)
    if mime_type.startswith("multipart/") and not params.get("boundary"):
        out.add("WADO-CONTENT-TYPE", "RFC 2046 §5.1.1: multipart boundary", "Content-Type", "boundary=<b>", content_type)
    if not type_ok or not params.get("boundary"):
        return out.items
    accepted = accepted_syntaxes(request) if request is not None else None
    top_syntax = params.get("transfer-syntax")
    if top_syntax and accepted is not None and top_syntax not in accepted:
        out.add("WADO-RESPONSE-TS", f"{PS3_18} §8.7.3.5: a transfer syntax the request accepted (else 406)", "Content-Type (transfer-syntax)",
                sorted(accepted), top_syntax)
    if response.body is None:
        out.add("WADO-PARTS", f"{PS3_18}: each part a DICOM Part-10 instance", "(body)", "(information)",
                "the capture holds the headers only: parts not checked", Severity.INFO)
        return out.items
    try:
        parts = response.parts()
    except MimeError as exc:
        out.add("WADO-PARTS", f"{PS3_18} / RFC 2046: a readable multipart/related body", "(body)", "parts delimited by the boundary", str(exc))
        return out.items
    for index, part in enumerate(parts, start=1):
        _check_part(index, part.content_type, part.content, top_syntax, accepted, out)
    return out.items


def _check_part(index: int, content_type: str, content: bytes, top_syntax: str | None, accepted: set[str] | None, out: FindingList) -> None:
    where = f"part {index}"
    try:
        part_type, part_params = parse_content_type(content_type)
    except MimeError:
        part_type, part_params = "", {}
    if part_type != DICOM_TYPE:
        out.add("WADO-PART-TYPE", f"{PS3_18} §8.7.3: each part is application/dicom", f"{where} Content-Type", DICOM_TYPE, content_type)
    try:
        dataset = dcmread(BytesIO(content), stop_before_pixels=True)
        syntax = str(dataset.file_meta.TransferSyntaxUID)
        dataset.SOPInstanceUID  # noqa: B018 - readable main data set
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on garbage; a rule must not
        out.add("WADO-PART-DICOM", f"{PS3_18}: each part is a DICOM Part-10 instance (PS3.10)", where, "a readable Part-10 instance",
                f"unreadable: {type(exc).__name__}: {str(exc)[:80]}")
        return
    declared = part_params.get("transfer-syntax") or top_syntax
    if declared and declared != syntax:
        out.add("WADO-PART-TS", f"{PS3_18} §8.7.3.5: the declared transfer syntax is the one of the instance", f"{where} (0002,0010)", declared, syntax)
    if accepted is not None and syntax not in accepted:
        out.add("WADO-RESPONSE-TS", f"{PS3_18} §8.7.3.5: a transfer syntax the request accepted (else 406)", f"{where} (0002,0010)", sorted(accepted), syntax)


def unreadable_capture(error: str) -> list[Finding]:
    """WADO-PARSE: the file is not an HTTP request or response (``error``: what the reader said)."""
    return [Finding("WADO-PARSE", "", "(file)", "an HTTP request or response", error)]


def check_consumer_requests(requests: Sequence[WadoRequest], *, accept_parameters: str = "required") -> list[Finding]:
    """VA-D2 live: every request the consumer under test sent for the study, judged as ``validate`` judges a capture.

    A retrieve by :func:`check_wado_request`, any other request by :func:`check_other_request`;
    each finding's location names the request it is about. No request: no finding here (the
    series rule of the scenario, WADO-SERIES-FETCHED, says what is missing). ``accept_parameters``: as
    :func:`check_wado_request`.
    """
    return [finding for request in requests for finding in _about(request, _judge_request(request, accept_parameters))]


def check_source_responses(exchanges: Sequence[tuple[WadoRequest, WadoResponse]]) -> list[Finding]:
    """VA-E live: the source under test's answer to each valid series request, by :func:`check_wado_response`
    against the request it answers (its Accept says which transfer syntaxes may come back)."""
    return [finding for request, response in exchanges for finding in _about(request, check_wado_response(response, request))]


def _judge_request(request: WadoRequest, accept_parameters: str) -> list[Finding]:
    if request.retrieve is None:
        return check_other_request(request)
    return check_wado_request(request, accept_parameters=accept_parameters)


def _about(request: WadoRequest, findings: list[Finding]) -> list[Finding]:
    """The findings, their location prefixed with the request they judge (several requests per scenario)."""
    target = request.retrieve
    named = f"…/series/{target.series}" if target is not None and target.series and target.level == "series" else request.path
    return [replace(f, location=f"{request.method} {named}: {f.location}") for f in findings]


REQ_TLS = "flows between DRIMboxes are encrypted (ANS FAQ, control point C17): no DICOM over plain HTTP"


def check_plain_http(url: str, status: int | None, error: str = "") -> list[Finding]:
    """A consumer's request in plain HTTP to the source's WADO-RS (``url``) is not served.

    ``status`` is the HTTP status of the answer, None when the listener gave
    none (a TLS-only port closes or resets the connection: ``error`` says how).
    A 2xx is an error; a refusal, a redirect or no HTTP answer at all is
    recorded as information. Whether a listener was reached at all is the
    caller's precondition: with nothing listening the check cannot fail.
    """
    where = f"GET {url}"
    expected = "no DICOM over plain HTTP (refused, redirected or no HTTP answer)"
    if status is not None and 200 <= status < 300:
        return [Finding("WADO-TLS", REQ_TLS, where, expected, f"HTTP {status}: served in clear")]
    actual = f"HTTP {status}" if status is not None else (error or "no HTTP answer")
    return [Finding("WADO-TLS", REQ_TLS, where, expected, actual, Severity.INFO)]

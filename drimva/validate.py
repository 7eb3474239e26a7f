"""``drimva validate FILE…``: judge captured files offline with the rules of the live runs.

No SUT, no network. Each file's type comes from its content
(:mod:`drimva.filetypes`); the rules that need no harness context run on it:

- HL7 v2 (one or many messages): ``check_report_message`` and ``check_cda``
  (with the PID) per ORU / MDM; an ACK gets the ACK rules that need no sent
  message (:func:`check_ack_alone`); other messages (OMI, ADT…) are named and
  not judged;
- CDA CR: ``check_cda``;
- ITI-41 submission: :func:`check_submission_offline` (the XDS and VIHF rules
  against a context read from the submission itself) and ``check_kos_structure``
  on the attached KOS; ITI-41 response: :func:`check_registry_response`;
- trust list: ``check_trust_list``; DICOM: ``check_kos_structure``;
- WADO-RS captures: ``check_wado_request`` / ``check_wado_response``.

dciodvfy is not run (slow, and the command has no switch for it). Exit code:
0 every file conformant, 1 one is not, 2 usage error (unreadable file,
unknown type). Warnings count only in strict mode (``--strict`` or the
profile's ``rules.strict``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path
from typing import Any, TextIO

from lxml import etree
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread

from drimva.context import (
    INS_NIR_TEST_OID,
    Organisation,
    Patient,
    Professional,
    ReportContext,
    RuleOptions,
)
from drimva import xmlsafe
from drimva.filetypes import DESCRIPTIONS, FileType, detect
from drimva.findings import Finding, FindingList, Severity, errors
from drimva.hl7msg import Hl7Error, Hl7Message, escape, parse_message, split_messages
from drimva.mllp import START_BLOCK, MllpDecoder, MllpError
from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, run_dciodvfy
from drimva.profile import Profile, load_profile
from drimva.rules.cda import check_cda
from drimva.rules.hl7_ack import check_ack
from drimva.rules.hl7_report import check_report_message, extract_cda
from drimva.rules.kos import check_kos_structure
from drimva.rules.trustlist import check_trust_list
from drimva.rules.vihf import ATTR_STRUCTURE, attributes
from drimva.rules.wado import (
    check_other_request,
    check_wado_request,
    check_wado_response,
)
from drimva.rules.xds import (
    CONFIDENTIALITY_SCHEME,
    MASKING_SCHEME,
    check_kos_submission,
    kos_entries,
    xon_structure,
)
from drimva.wado import WadoParseError
from drimva.wado import parse_capture as parse_wado_capture
from drimva.xds import (
    ACTION_ITI41_RESPONSE,
    DE_AUTHOR,
    DE_CONFIDENTIALITY_CODE,
    DE_PATIENT_ID,
    NS,
    RESPONSE_FAILURE,
    RESPONSE_PARTIAL_SUCCESS,
    RESPONSE_SUCCESS,
    SS_PATIENT_ID,
    ProvideAndRegister,
    XdsParseError,
    capture_to_http,
    classifications,
    external_id,
    parse_soap_message,
)
from drimva.xds import (
    parse_capture as parse_xds_capture,
)

REPORT_MESSAGES = ("ORU", "MDM")
REDACTED = "XXXXXXX"
NOTE_REDACTED = "the value is the XXXXXXX placeholder of a redacted published sample: the sample departs from the rule here"
ENVELOPE_ONLY = (
    "the capture holds the SOAP envelope only (xop:Include cid:… without its MIME parts): "
    "the transport and the attached documents are not in the file"
)


class UsageError(ValueError):
    """A file that cannot be validated at all (unreadable, unknown type); the message names it."""


CONFORMANT = "conforme"
NOT_CONFORMANT = "non conforme"
NOT_JUDGED = "non jugé"


@dataclass
class FileResult:
    path: str
    type: str
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False
    judged: bool = True  # False: recognised but not an artefact the rules judge (e.g. a healthcheck)
    dciodvfy: dict[str, Any] | None = None  # --dciodvfy: the tool's verdict, a sub-report beside drimva's

    @property
    def outcome(self) -> str:
        """The French outcome word, the same on the console and in the JSON; a file not judged is never conformant."""
        if errors(self.findings, self.strict):
            return NOT_CONFORMANT
        return CONFORMANT if self.judged else NOT_JUDGED

    @property
    def conformant(self) -> bool:
        return self.outcome == CONFORMANT

    @property
    def verdict(self) -> str:
        return self.outcome.upper()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.type,
            "conformant": self.conformant,
            "judged": self.judged,
            "verdict": self.outcome,
            "findings": [f.to_dict() for f in self.findings],
            **({"dciodvfy": self.dciodvfy} if self.dciodvfy is not None else {}),
        }


def options_from_profile(profile: Profile | None) -> RuleOptions:
    """The profile's ``[rules]`` section as RuleOptions (defaults without a profile)."""
    return RuleOptions() if profile is None else profile.rule_options()


# -- one artefact ---------------------------------------------------------------------------------


def validate_bytes(
    data: bytes,
    name: str = "",
    *,
    options: RuleOptions | None = None,
    viewer_url_template: str | None = None,
    forced_type: FileType | None = None,
    dciodvfy: bool = False,
) -> FileResult:
    """Judge one captured artefact (read as ``forced_type`` when given, else as detected).

    Raises :class:`UsageError` when the file is empty, is XML that is not
    well-formed (line, column) or refused, or is of no known type.
    """
    options = options or RuleOptions()
    label = name or "(data)"
    if not data.strip():
        raise UsageError(f"{label}: empty file ({len(data)} bytes), nothing to judge")
    kind = forced_type or detect(data, name)
    if kind is None:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            try:
                xmlsafe.parse(data)
            except xmlsafe.XmlError as exc:
                raise UsageError(f"{label}: {exc}") from None
        raise UsageError(f"{label}: unknown file type (expected one of: {', '.join(DESCRIPTIONS.values())}; --type TYPE forces the reading)")
    result = FileResult(name, kind.value, strict=options.strict)
    if kind is FileType.HL7:
        result.findings, result.judged = _hl7(data, options, viewer_url_template)
    elif kind is FileType.CDA:
        result.findings = check_cda(data, viewer_url_template=viewer_url_template)
    elif kind is FileType.XDS_SUBMISSION:
        result.findings = _xds(data, options)
    elif kind is FileType.XDS_RESPONSE:
        result.findings = check_registry_response(data)
    elif kind is FileType.TRUST_LIST:
        result.findings = check_trust_list(data)
    elif kind is FileType.DICOM:
        result.findings = check_kos_structure(data, options)
        if dciodvfy:
            result.dciodvfy = dciodvfy_report(data)
    elif kind is FileType.DICOM_XML:
        result.judged = False
        result.findings = [_not_judged("DICOM-XML", "a dcm2xml dump is a view of a DICOM file", "(file)",
                                       "a DICOM Part-10 file", "a dcm2xml dump: validate the .dcm it was made from")]
    else:
        result.findings, result.judged = _wado(data)
    result.findings = [_mark_redacted(replace(f, source=name)) for f in result.findings]
    return result


def dciodvfy_report(data: bytes) -> dict[str, Any]:
    """dciodvfy's verdict on a DICOM file (IHE XDS-I manifest profile), or why it could not say (never silent)."""
    oracle = run_dciodvfy(data, XDSI_MANIFEST_PROFILE)
    if not oracle.ran:
        return {"ran": False, "verdict": NOT_JUDGED, "problem": oracle.problem}
    return {
        "ran": True,
        "verdict": NOT_CONFORMANT if oracle.errors else CONFORMANT,
        "iod": oracle.iod,
        "errors": oracle.errors,
        "warnings": oracle.warnings,
    }


def _mark_redacted(finding: Finding) -> Finding:
    """Published samples replace certificates and identifiers by XXXXXXX: say so in the finding."""
    if finding.severity is Severity.INFO or REDACTED not in f"{finding.expected} {finding.actual}":
        return finding
    note = f"{finding.note}; {NOTE_REDACTED}" if finding.note else NOTE_REDACTED
    return replace(finding, note=note)


def _not_judged(rule: str, requirement: str, location: str, expected: str, actual: str) -> Finding:
    return Finding(rule, requirement, location, expected, actual, Severity.INFO)


def _prefixed(findings: Iterable[Finding], prefix: str) -> list[Finding]:
    return [replace(f, location=f"{prefix}{f.location}") for f in findings]


# -- HL7 ---------------------------------------------------------------------------------------------


def _hl7(data: bytes, options: RuleOptions, viewer_url_template: str | None) -> tuple[list[Finding], bool]:
    try:
        messages = [m for chunk in _mllp_frames(data) for m in split_messages(chunk)]
    except (Hl7Error, MllpError) as exc:
        out = FindingList()
        out.add("HL7-PARSE", "HL7 v2.5 / v2.6 encoding rules", "(file)", "HL7 v2 messages", str(exc))
        return out.items, True
    findings: list[Finding] = []
    judged = False
    for index, message in enumerate(messages, start=1):
        prefix = f"message {index}: " if len(messages) > 1 else ""
        code = message.message_code
        if code in REPORT_MESSAGES:
            judged = True
            found = check_report_message(message, options.qualified_identity_statuses)
            cda = extract_cda(message)
            if cda is not None:
                found += _prefixed(check_cda(cda, pid=message, viewer_url_template=viewer_url_template), "OBX-5.5 CDA: ")
        elif code == "ACK":
            judged = True
            found = check_ack_alone(message)
        else:
            found = [_not_judged("HL7-NOT-A-CR", "CI-SIS volet Transmission CDA-R2 en HL7v2: ORU^R01, MDM^T02/T04/T10 and their ACK",
                                 "MSH-9", "a CR message or its ACK", f"{message.message_type}: not a message a DRIMbox receives; not judged")]
        findings += _prefixed(found, prefix)
    return findings, judged


def _mllp_frames(data: bytes) -> list[bytes]:
    """The framed messages of an MLLP capture (one or many frames), or the data as is when not framed."""
    if not data.lstrip(b"\r\n").startswith(START_BLOCK):
        return [data]
    decoder = MllpDecoder(max_message=max(len(data), 1))
    frames = decoder.feed(data)
    if decoder.pending.strip(b"\x0b\r\n"):
        frames.append(decoder.pending)  # a last frame without its end block
    return frames


def check_ack_alone(ack: Hl7Message) -> list[Finding]:
    """The ACK rules that need no sent message.

    ``check_ack`` runs against a message rebuilt from the ACK itself (trigger
    from MSH-9.2, the volet's version for it, MSA-2 as control id); the
    routing and MSA-2 equality findings would be tautologies and are dropped,
    MSA-2 is only required to be present.
    """
    trigger = ack.trigger
    code = "ORU" if trigger == "R01" else "MDM"
    version = "2.5" if trigger == "R01" else "2.6"
    control = escape(ack.get("MSA-2"))
    sent = parse_message(f"MSH|^~\\&|||||||{code}^{escape(trigger)}|{control}|P|{version}")
    accepted = ack.get("MSA-1") not in ("AE", "AR")
    findings = [f for f in check_ack(ack, sent, expect_accept=accepted) if f.rule not in ("ACK-ROUTING", "ACK-MSA2")]
    if ack.segment("MSA") is not None and not ack.get("MSA-2"):
        out = FindingList()
        out.add("ACK-MSA2", "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1, acquittement technique: MSA-2 = MSH-10 of the message acknowledged",
                "MSA-2", "the control id of the message acknowledged", "(empty)")
        findings += out.items
    return findings


# -- XDS -----------------------------------------------------------------------------------------------


def _xds(data: bytes, options: RuleOptions) -> list[Finding]:
    try:
        request = parse_xds_capture(data)
    except XdsParseError as exc:
        out = FindingList()
        out.add("XDS-PARSE", "IHE ITI-41 over SOAP 1.2 (MTOM/XOP)", "(file)", "a readable ITI-41 request", str(exc))
        return out.items
    findings = check_submission_offline(request, options)
    for entry in kos_entries(request):
        document = request.documents.get(entry.id)
        if document is not None:
            findings += _prefixed(check_kos_structure(document, options), f"xds-b:Document[@id='{entry.id}'] KOS ")
    return findings


def check_submission_offline(request: ProvideAndRegister, options: RuleOptions) -> list[Finding]:
    """The XDS and VIHF rules of a live run, against a context read from the submission itself.

    The facts the harness would know (patient, study, accession, order, the
    organisation and the author) are taken from the attached KOS when it is
    readable, else from the metadata, and the organisation from the VIHF: the
    rules then check that the KOS, the metadata and the VIHF agree. The study's
    modalities are not in the KOS, so eventCodeList is not judged. When the
    capture holds the SOAP envelope only (xop:Include without MIME parts), the
    transport and document findings become information.
    """
    findings = check_kos_submission(request, submission_context(request), options)
    envelope_only = request.soap.mtom is None and any(ref.startswith("cid:") for ref in request.document_refs.values())
    if not envelope_only:
        return findings
    return [
        replace(f, severity=Severity.INFO, note=ENVELOPE_ONLY) if f.rule in ("XDS-MTOM", "XDS-DOCUMENT") else f
        for f in findings
    ]


def submission_context(request: ProvideAndRegister) -> ReportContext:
    """A ReportContext made of the submission's own values.

    Patient, study, accession and order come from the attached KOS, else from the
    metadata; the organisation from authorInstitution, else from the VIHF; the
    author from the KOS entry's authorPerson.
    """
    entries = kos_entries(request)
    entry = entries[0] if entries else None
    kos = _dataset(request.documents.get(entry.id)) if entry is not None else None
    patient_id = (external_id(entry, DE_PATIENT_ID) if entry is not None else None) or (
        external_id(request.submission_set, SS_PATIENT_ID) if request.submission_set is not None else None
    ) or ""
    ins, ins_oid = _cx_id_oid(patient_id)
    request_item = _first(kos, "ReferencedRequestSequence")
    references: dict[str, tuple[str, str]] = {}
    if entry is not None:
        for value in entry.slots.get("urn:ihe:iti:xds:2013:referenceIdList", []):
            ident, oid = _cx_id_oid(value)
            references.setdefault(value.split("^")[-1], (ident, oid))
    accession, accession_issuer = references.get("urn:ihe:iti:xds:2013:accession", ("", ""))
    order_id, order_root = references.get("urn:ihe:iti:xds:2013:order", ("", ""))
    study_uid = references.get("urn:ihe:iti:xds:2016:studyInstanceUID", ("", ""))[0]
    if kos is not None:
        ins = str(kos.get("PatientID", "") or ins)
        ins_oid = str(_first(kos, "IssuerOfPatientIDQualifiersSequence", "UniversalEntityID") or ins_oid)
        study_uid = str(kos.get("StudyInstanceUID", "") or study_uid)
    if request_item is not None:
        accession = str(request_item.get("AccessionNumber", "") or accession)
        accession_issuer = str(_first(request_item, "IssuerOfAccessionNumberSequence", "UniversalEntityID") or accession_issuer)
        order_id = str(request_item.get("PlacerOrderNumberImagingServiceRequest", "") or order_id)
        order_root = str(_first(request_item, "OrderPlacerIdentifierSequence", "UniversalEntityID") or order_root)
    institutions = [xon_structure(v) for c in classifications(entry, DE_AUTHOR) for v in c.slots.get("authorInstitution", [])] if entry else []
    persons = [v.split("^")[0] for c in classifications(entry, DE_AUTHOR) for v in c.slots.get("authorPerson", [])] if entry else []
    structure = ""  # the metadata's authorInstitution first: the VIHF is then checked against it
    if request.assertion is not None:
        values = attributes(request.assertion).get(ATTR_STRUCTURE, [])
        structure = (values[0].text or "").strip() if values else ""
    id_type = institutions[0][1] if institutions and institutions[0][1] else "IDNST"
    structure = (institutions[0][2] if institutions else "") or structure
    codes = classifications(entry, DE_CONFIDENTIALITY_CODE) if entry is not None else []
    confidentiality = next((c.node_representation for c in codes if c.coding_scheme == CONFIDENTIALITY_SCHEME), "N")
    return ReportContext(
        patient=Patient(ins=ins, ins_oid=ins_oid or INS_NIR_TEST_OID),
        study_uid=study_uid,
        accession=accession,
        accession_issuer=accession_issuer,
        order_id=order_id,
        order_root=order_root,
        cda_id_root="",
        organisation=Organisation(name="", structure_id=structure, id_type=id_type),
        author=Professional(national_id=persons[0] if persons else "", family="", given=""),
        confidentiality=confidentiality,
        masking_flags=tuple(c.node_representation for c in codes if c.coding_scheme == MASKING_SCHEME),
    )


def _cx_id_oid(value: str) -> tuple[str, str]:
    parts = value.split("^")
    authority = parts[3].split("&") if len(parts) > 3 else []
    return parts[0], authority[1] if len(authority) > 1 else ""


def _dataset(document: bytes | None) -> Dataset | None:
    if document is None:
        return None
    try:
        return dcmread(BytesIO(document), force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - pydicom raises many types on garbage; the KOS rules report it
        return None


def _first(ds: Dataset | None, sequence: str, keyword: str | None = None) -> Any:
    if ds is None or sequence not in ds or not ds[sequence].value:
        return None
    item = ds[sequence].value[0]
    return item if keyword is None else item.get(keyword)


def check_registry_response(data: bytes) -> list[Finding]:
    """An ITI-41 response as captured: a SOAP envelope with an rs:RegistryResponse of a known status."""
    out = FindingList()
    requirement = "IHE ITI TF-2b 3.41.4.2: RegistryResponse of ITI-41"
    envelope = _response_envelope(data, out)
    if envelope is None:
        return out.items
    action = envelope.findtext("soap:Header/wsa:Action", namespaces=NS)
    out.check_equal("XDS-RESPONSE-ACTION", f"{requirement}; WS-Addressing Action", "soap:Header/wsa:Action", ACTION_ITI41_RESPONSE, (action or "").strip() or None)
    response = envelope.find("soap:Body/rs:RegistryResponse", NS)
    if response is None:
        out.add("XDS-RESPONSE-STATUS", requirement, "soap:Body/rs:RegistryResponse", "a RegistryResponse", None)
        return out.items
    status = response.get("status")
    known = (RESPONSE_SUCCESS, RESPONSE_PARTIAL_SUCCESS, RESPONSE_FAILURE)
    if status not in known:
        out.add("XDS-RESPONSE-STATUS", requirement, "rs:RegistryResponse/@status", list(known), status)
    else:
        codes = [e.get("errorCode") for e in response.iterfind("rs:RegistryErrorList/rs:RegistryError", NS)]
        out.add("XDS-RESPONSE-STATUS", "status of the publication", "rs:RegistryResponse/@status", "(information)",
                status.rsplit(":", 1)[-1] + (f", errors {codes}" if codes else ""), Severity.INFO)
    return out.items


def _response_envelope(data: bytes, out: FindingList) -> etree._Element | None:
    try:
        return parse_soap_message(*capture_to_http(data)).envelope
    except XdsParseError as exc:
        problem = str(exc)
    match = re.search(rb"<(?:[\w.-]+:)?Envelope[\s>].*</(?:[\w.-]+:)?Envelope>", data, re.DOTALL)
    try:
        if match is None:
            raise XdsParseError("no SOAP Envelope element")
        envelope = parse_soap_message(match.group(0), "application/soap+xml").envelope
    except XdsParseError:
        out.add("XDS-PARSE", "SOAP 1.2 response", "(file)", "a readable SOAP envelope", problem)
        return None
    out.add("XDS-CAPTURE", "MIME framing of the captured response", "(file)", "(information)",
            f"MIME framing unreadable ({problem}); the SOAP envelope was read directly", Severity.INFO)
    return envelope


# -- WADO-RS -----------------------------------------------------------------------------------------------


def _wado(data: bytes) -> tuple[list[Finding], bool]:
    try:
        capture = parse_wado_capture(data)
    except WadoParseError as exc:
        out = FindingList()
        out.add("WADO-PARSE", "RFC 9112 HTTP/1.1 message syntax", "(file)", "an HTTP request or response", str(exc))
        return out.items, True
    findings: list[Finding] = []
    judged = True
    request = capture.request
    if request is not None:
        if request.retrieve is None:
            findings += check_other_request(request)
            judged = capture.response is not None
        else:
            findings += check_wado_request(request)
    if capture.response is not None:
        findings += check_wado_response(capture.response, request if request is not None and request.retrieve else None)
    return findings, judged


# -- files and the command -----------------------------------------------------------------------------------


def expand_paths(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The files to judge: each file as given, each directory's files recursively (sorted, hidden ones skipped)."""
    files: list[Path] = []
    problems: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{path}: directory with no file to judge")
            files += found
        else:
            files.append(path)
    return files, problems


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to judge files (picklable)."""
    options: RuleOptions | None
    viewer_url_template: str | None
    forced_type: FileType | None
    dciodvfy: bool = False


def _judge_file(job: _Job, path: Path) -> FileResult | str:
    """One file's result, or the usage problem that stops it being judged."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        return f"{path}: is a directory where a file is expected"
    except OSError as exc:
        return f"{path}: cannot read the file ({exc.strerror or exc})"
    try:
        return validate_bytes(data, str(path), options=job.options, viewer_url_template=job.viewer_url_template,
                              forced_type=job.forced_type, dciodvfy=job.dciodvfy)
    except UsageError as exc:
        return str(exc)


def _judge_chunk(job: _Job, paths: Sequence[Path]) -> list[FileResult | str]:
    return [_judge_file(job, path) for path in paths]


PARALLEL_FROM = 64  # fewer files than this: one process (starting workers costs more than it saves)
CHUNK = 64


def validate_paths(
    paths: Sequence[str | Path],
    *,
    options: RuleOptions | None = None,
    viewer_url_template: str | None = None,
    forced_type: FileType | None = None,
    dciodvfy: bool = False,
    workers: int | None = None,
    progress: TextIO | None = None,
) -> tuple[list[FileResult], list[str]]:
    """Judge each file (directories recursively); returns the results and the usage problems, in input order.

    Many files are judged by a pool of ``workers`` processes (default: every
    core), in chunks; the order of the results does not depend on the pool.
    """
    files, problems = expand_paths(paths)
    job = _Job(options, viewer_url_template, forced_type, dciodvfy)
    chunks = [files[i:i + CHUNK] for i in range(0, len(files), CHUNK)]
    count = workers if workers is not None else (os.cpu_count() or 1)
    outcomes: list[FileResult | str] = []
    bar = _Progress(len(files), progress)
    if count > 1 and len(files) >= PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=count) as pool:
            for done in pool.map(_judge_chunk, [job] * len(chunks), chunks):
                outcomes += done
                bar.advance(len(done))
    else:
        for chunk in chunks:
            outcomes += _judge_chunk(job, chunk)
            bar.advance(len(chunk))
    bar.close()
    results = [o for o in outcomes if isinstance(o, FileResult)]
    problems += [o for o in outcomes if isinstance(o, str)]
    return results, problems


class _Progress:
    """A one-line progress bar on a terminal's stderr; nothing at all when the stream is not a TTY."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None and stream.isatty() and total > 1 else None

    def advance(self, count: int) -> None:
        self.done += count
        if self.stream is not None:
            filled = int(30 * self.done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} fichiers")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write("\r\033[K")
            self.stream.flush()


def summary(results: Sequence[FileResult], problems: Sequence[str]) -> dict[str, Any]:
    """The overall result and the counts of the JSON and the console.

    ``non jugé`` when nothing was judged: a folder of files drimva does not
    read is never reported conformant.
    """
    counts = {CONFORMANT: 0, NOT_CONFORMANT: 0, NOT_JUDGED: 0}
    for result in results:
        counts[result.outcome] += 1
    counts[NOT_JUDGED] += len(problems)
    rules: dict[str, dict[str, int]] = {}
    for result in results:
        for finding in result.findings:
            if finding.severity is not Severity.INFO:
                entry = rules.setdefault(finding.rule, {"error": 0, "warning": 0, "files": 0})
                entry[finding.severity.value] = entry.get(finding.severity.value, 0) + 1
        for rule in {f.rule for f in result.findings if f.severity is not Severity.INFO}:
            rules[rule]["files"] += 1
    judged = counts[CONFORMANT] + counts[NOT_CONFORMANT]
    overall = NOT_CONFORMANT if counts[NOT_CONFORMANT] else (CONFORMANT if judged else NOT_JUDGED)
    return {
        "result": overall,
        "counts": {"files": len(results) + len(problems), "judged": judged, **counts},
        "rules": dict(sorted(rules.items())),
    }


def run_validate(
    files: Sequence[str],
    *,
    json_out: str | None = None,
    profile_path: str | None = None,
    strict: bool = False,
    forced_type: str | None = None,
    dciodvfy: bool = False,
) -> int:
    """The ``validate`` command: print findings and verdicts.

    Exit 0 when every file judged is conformant, 1 when one is not, 2 on a
    usage error (unreadable, empty, not well-formed or untyped file) or when
    nothing at all was judged.
    """
    profile = load_profile(profile_path) if profile_path else None
    options = options_from_profile(profile)
    options = replace(options, strict=strict or options.strict)
    template = profile.viewer.url_template if profile is not None else None
    kind = parse_type(forced_type) if forced_type else None
    results, problems = validate_paths(files, options=options, viewer_url_template=template, forced_type=kind, dciodvfy=dciodvfy, progress=sys.stderr)
    console = sys.stderr if json_out == "-" else sys.stdout
    print_results(results, console)
    for problem in problems:
        print(f"drimva: {problem}", file=sys.stderr)
    overall = summary(results, problems)
    print_summary(overall, results, problems, console)
    if json_out:
        document: dict[str, Any] = {**overall, "files": [r.to_dict() for r in results]}
        not_judged = [r.path for r in results if r.outcome == NOT_JUDGED]
        if not_judged:
            document["not_judged"] = not_judged
        if problems:
            document["errors"] = list(problems)
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if json_out == "-":
            print(text)
        else:
            Path(json_out).write_text(text + "\n", "utf-8")
    if problems or overall["counts"]["judged"] == 0:
        return 2
    return 0 if overall["result"] == CONFORMANT else 1


def parse_type(text: str) -> FileType:
    """``--type TYPE`` as a FileType; a UsageError lists the accepted values."""
    try:
        return FileType(text)
    except ValueError:
        raise UsageError(f"--type: unknown type {text!r} (one of: {', '.join(t.value for t in FileType)})") from None


def print_results(results: Sequence[FileResult], stream: TextIO) -> None:
    for result in results:
        print(f"{result.path} [{result.type}]", file=stream)
        for f in result.findings:
            print(f"  {f.severity.value.upper():7} {f.rule} at {f.location}", file=stream)
            if f.severity is Severity.INFO:
                print(f"          {f.actual}", file=stream)
                continue
            print(f"          expected: {f.expected}", file=stream)
            print(f"          actual:   {f.actual}", file=stream)
            print(f"          ({f.requirement})" + (f" - {f.note}" if f.note else ""), file=stream)
        if result.dciodvfy is not None:
            print(f"  {_dciodvfy_line(result.dciodvfy)}", file=stream)
        counts = {s: sum(1 for f in result.findings if f.severity is s) for s in (Severity.ERROR, Severity.WARNING)}
        print(f"  => {result.verdict} ({counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s))\n", file=stream)


def _dciodvfy_line(report: dict[str, Any]) -> str:
    if not report["ran"]:
        return f"dciodvfy: non exécuté ({report['problem']})"
    line = f"dciodvfy ({report['iod'] or 'IOD ?'}): {report['verdict'].upper()}, {len(report['errors'])} erreur(s), {len(report['warnings'])} avertissement(s)"
    return line + "".join(f"\n      dciodvfy erreur: {e}" for e in report["errors"])


def print_summary(overall: dict[str, Any], results: Sequence[FileResult], problems: Sequence[str], stream: TextIO) -> None:
    """The counts, the files not judged listed apart, the rules that failed, the overall result."""
    counts = overall["counts"]
    not_judged = [r.path for r in results if r.outcome == NOT_JUDGED]
    if not_judged or problems:
        print(f"Non jugés ({len(not_judged) + len(problems)}):", file=stream)
        for path in not_judged:
            print(f"  {path}", file=stream)
        for problem in problems:
            print(f"  {problem}", file=stream)
    for rule, entry in overall["rules"].items():
        print(f"  règle {rule}: {entry['files']} fichier(s), {entry['error']} erreur(s), {entry['warning']} avertissement(s)", file=stream)
    print(f"{counts['files']} fichier(s): {counts[CONFORMANT]} conforme(s), {counts[NOT_CONFORMANT]} non conforme(s), "
          f"{counts[NOT_JUDGED]} non jugé(s) => {overall['result'].upper()}", file=stream)

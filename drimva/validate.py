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

The offline-only rules live in :mod:`drimva.rules.offline`. Directories
are read recursively, by a pool of processes over chunks of files (results
in path order); each file is ``conforme``, ``non conforme`` or ``non jugé``
(never counted conformant), with a summary per rule and per study of the
KOS. ``--dciodvfy`` adds dciodvfy's verdict per DICOM file as a sub-report.
Exit code: 0 every file judged conformant, 1 one is not, 2 usage error
(unreadable, empty, not well-formed or untyped file) or nothing judged.
Warnings count only in strict mode (``--strict`` or the profile's
``rules.strict``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO


from drimva import xmlsafe
from drimva.context import RuleOptions
from drimva.filetypes import DESCRIPTIONS, FileType, detect
from drimva.findings import Finding, Severity, errors
from drimva.hl7msg import Hl7Error, split_messages
from drimva.mllp import START_BLOCK, MllpDecoder, MllpError
from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, run_dciodvfy
from drimva.profile import Profile, load_profile
from drimva.rules.cda import check_cda
from drimva.rules.hl7_report import check_report_message, extract_cda, unreadable_message
from drimva.dicom_flat import FlatReadError, Part10, read_part10
from drimva.rules.kos import check_kos_structure
from drimva.rules.offline import (
    check_ack_alone,
    check_registry_response,
    check_submission_offline,
    dicom_xml_not_judged,
    located,
    not_a_report,
    of_file,
    unreadable_submission,
)
from drimva.rules.trustlist import check_trust_list
from drimva.rules.wado import (
    check_other_request,
    check_wado_request,
    check_wado_response,
    unreadable_capture,
)
from drimva.rules.xds import kos_entries
from drimva.wado import WadoParseError
from drimva.wado import parse_capture as parse_wado_capture
from drimva.xds import XdsParseError
from drimva.xds import parse_capture as parse_xds_capture

REPORT_MESSAGES = ("ORU", "MDM")


class UsageError(ValueError):
    """A file that cannot be validated at all (unreadable, unknown type); the message names it."""


CONFORMANT = "conforme"
INTERNAL_ERROR = "internal error of drimva while judging this file, not judged (please report it)"
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
    kos: dict[str, str] | None = None  # a KOS's study, instance and content date-time: the per-study summary

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
        try:
            kos: Part10 | None = read_part10(data)  # read once, for the rules and for the per-study summary
        except FlatReadError:
            kos = None  # the KOS rules say why, from the bytes
        result.findings = check_kos_structure(kos or data, options)
        result.kos = kos_identity(kos) if kos is not None else None
        if dciodvfy:
            result.dciodvfy = dciodvfy_report(data)
    elif kind is FileType.DICOM_XML:
        result.judged = False
        result.findings = dicom_xml_not_judged()
    else:
        result.findings, result.judged = _wado(data, options)
    result.findings = of_file(result.findings, name)
    return result


_KOS_IDENTITY = {"StudyInstanceUID": 0x0020000D, "SOPInstanceUID": 0x00080018, "ContentDate": 0x00080023, "ContentTime": 0x00080033}


def kos_identity(kos: Part10) -> dict[str, str]:
    """Study, instance and content date-time of a KOS, for the per-study summary (``""`` where absent)."""
    found = {keyword: kos.dataset.get(tag, "") for keyword, tag in _KOS_IDENTITY.items()}
    return {keyword: value if isinstance(value, str) else "" for keyword, value in found.items()}


def studies_summary(results: Sequence[FileResult]) -> dict[str, dict[str, Any]]:
    """Per study of the KOS judged: its versions (files, oldest first), the duplicates (one SOP Instance UID in
    several files), the latest version (the latest ContentDate / ContentTime)."""
    studies: dict[str, list[tuple[str, str, str]]] = {}
    for result in results:
        if result.kos and result.kos["StudyInstanceUID"]:
            moment = result.kos["ContentDate"] + result.kos["ContentTime"]
            studies.setdefault(result.kos["StudyInstanceUID"], []).append((moment, result.kos["SOPInstanceUID"], result.path))
    out: dict[str, dict[str, Any]] = {}
    for study, versions in sorted(studies.items()):
        versions.sort()
        by_instance: dict[str, list[str]] = {}
        for _, instance, path in versions:
            by_instance.setdefault(instance, []).append(path)
        out[study] = {
            "versions": len(by_instance),
            "files": [path for _, _, path in versions],
            "duplicates": {instance: paths for instance, paths in by_instance.items() if len(paths) > 1},
            "latest": versions[-1][2],
        }
    return out


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


# -- HL7 ---------------------------------------------------------------------------------------------


def _hl7(data: bytes, options: RuleOptions, viewer_url_template: str | None) -> tuple[list[Finding], bool]:
    try:
        messages = [m for chunk in _mllp_frames(data) for m in split_messages(chunk)]
    except (Hl7Error, MllpError) as exc:
        return unreadable_message(str(exc), "(file)"), True
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
                found += located(check_cda(cda, pid=message, viewer_url_template=viewer_url_template), "OBX-5.5 CDA: ")
        elif code == "ACK":
            judged = True
            found = check_ack_alone(message)
        else:
            found = not_a_report(message.message_type)
        findings += located(found, prefix)
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


# -- XDS -----------------------------------------------------------------------------------------------


def _xds(data: bytes, options: RuleOptions) -> list[Finding]:
    try:
        request = parse_xds_capture(data)
    except XdsParseError as exc:
        return unreadable_submission(str(exc))
    findings = check_submission_offline(request, options)
    for entry in kos_entries(request):
        document = request.documents.get(entry.id)
        if document is not None:
            findings += located(check_kos_structure(document, options), f"xds-b:Document[@id='{entry.id}'] KOS ")
    return findings


# -- WADO-RS -----------------------------------------------------------------------------------------------


def _wado(data: bytes, options: RuleOptions) -> tuple[list[Finding], bool]:
    try:
        capture = parse_wado_capture(data)
    except WadoParseError as exc:
        return unreadable_capture(str(exc)), True
    findings: list[Finding] = []
    judged = True
    request = capture.request
    if request is not None:
        if request.retrieve is None:
            findings += check_other_request(request)
            judged = capture.response is not None
        else:
            findings += check_wado_request(request, accept_parameters=options.wado_accept_parameters)
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
    except Exception as exc:  # noqa: BLE001 - a defect of a rule: the file is not judged, the run goes on, no traceback
        return f"{path}: {INTERNAL_ERROR} ({type(exc).__name__}: {str(exc)[:200]})"


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
        "studies": studies_summary(results),
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
    for study, entry in overall["studies"].items():
        duplicated = sum(len(paths) - 1 for paths in entry["duplicates"].values())
        print(f"  étude {study}: {entry['versions']} version(s) de KOS, {duplicated} doublon(s), la dernière: {entry['latest']}", file=stream)
    for rule, entry in overall["rules"].items():
        print(f"  règle {rule}: {entry['files']} fichier(s), {entry['error']} erreur(s), {entry['warning']} avertissement(s)", file=stream)
    print(f"{counts['files']} fichier(s): {counts[CONFORMANT]} conforme(s), {counts[NOT_CONFORMANT]} non conforme(s), "
          f"{counts[NOT_JUDGED]} non jugé(s) => {overall['result'].upper()}", file=stream)

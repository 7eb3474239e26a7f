"""DICOMweb multipart/related DICOM bodies and Accept negotiation; pure (no I/O).

The one place where the harness builds and reads ``multipart/related;
type="application/dicom"`` bodies (WADO-RS responses, STOW-RS requests) and
chooses a transfer syntax from a WADO-RS ``Accept`` list
(``dicomweb-between-drimboxes.md`` §3, §5; DICOM PS3.18 §8.7.3). Accept
headers are read with :func:`drimva.wado.parse_accept` (comma-joined or
repeated headers, trailing comma tolerated, media range possibly missing).
"""

from __future__ import annotations

import re
import uuid
from typing import Sequence

from drimva.dicom_text import EXPLICIT_VR_LE
from drimva.mime import MimeError, parse_content_type, parse_multipart
from drimva.wado import AcceptEntry, parse_accept

DICOM_MEDIA_TYPE = "application/dicom"
_QVALUE = re.compile(r"^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$")  # RFC 9110 §12.4.2
# Media ranges under which a DICOM multipart answer is acceptable ("" = the ANS sample without one).
_DICOM_RANGES = {"", "multipart/related", "multipart/*", "*/*", DICOM_MEDIA_TYPE}

# The Accept profiles of the ANS samples (dicomweb-between-drimboxes.md §3): (transfer syntax, q).
CISIS_LOSSLESS_PROFILE: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.70", "0.9"),
    ("1.2.840.10008.1.2.4.80", "0.8"),
    ("1.2.840.10008.1.2.4.91", "0.6"),
    ("1.2.840.10008.1.2.4.50", "0.5"),
    ("1.2.840.10008.1.2.4.51", "0.5"),
    ("1.2.840.10008.1.2.4.100", "0.5"),
    ("1.2.840.10008.1.2.4.101", "0.5"),
    ("1.2.840.10008.1.2.4.102", "0.5"),
    ("1.2.840.10008.1.2.4.103", "0.5"),
    (EXPLICIT_VR_LE, "0.4"),
)
CISIS_LOSSY_PROFILE: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.50", "0.9"),
    ("1.2.840.10008.1.2.4.51", "0.9"),
    ("1.2.840.10008.1.2.4.70", "0.6"),
    ("1.2.840.10008.1.2.4.80", "0.5"),
    ("1.2.840.10008.1.2.4.91", "0.5"),
    ("1.2.840.10008.1.2.4.100", "0.5"),
    ("1.2.840.10008.1.2.4.101", "0.5"),
    ("1.2.840.10008.1.2.4.102", "0.5"),
    ("1.2.840.10008.1.2.4.103", "0.5"),
    (EXPLICIT_VR_LE, "0.4"),
)


class AcceptError(ValueError):
    """An Accept header that cannot be read (the Source answers 400)."""


def accept_header(profile: Sequence[tuple[str, str]], boundary: str = "**") -> str:
    """One comma-joined Accept value, entries written as in the ANS samples (without their trailing comma)."""
    return ",".join(
        f'multipart/related; type="{DICOM_MEDIA_TYPE}";transfer-syntax={syntax};q={q};boundary={boundary}'
        for syntax, q in profile
    )


CISIS_LOSSLESS_ACCEPT = accept_header(CISIS_LOSSLESS_PROFILE)
CISIS_LOSSY_ACCEPT = accept_header(CISIS_LOSSY_PROFILE)


def qvalue(entry: AcceptEntry) -> float:
    """The entry's q (1.0 when absent); raises :class:`AcceptError` when it is not an RFC 9110 qvalue."""
    q = entry.q
    if q is None:
        return 1.0
    if not _QVALUE.match(q.strip()):
        raise AcceptError(f"{entry.location}: q={q!r} is not a qvalue between 0 and 1")
    return float(q)


def choose_transfer_syntax(accept_values: Sequence[str], available: Sequence[str]) -> str | None:
    """The syntax of ``available`` the Accept header(s) prefer, or None when none is acceptable (406).

    Highest q wins; equal q: the entry written first. An entry without
    ``transfer-syntax`` means Explicit VR LE (PS3.18 default), ``*`` means
    any (the first of ``available``, i.e. as stored); ``q=0`` excludes.
    Entries for other media types are ignored. Raises :class:`AcceptError`
    when there is no Accept entry at all or a q-value / transfer-syntax is
    malformed (the Source answers 400).
    """
    header = parse_accept([v for v in accept_values if v is not None])
    if not header.entries:
        raise AcceptError("no Accept entry")
    best: tuple[float, int, str] | None = None
    for entry in header.entries:
        q = qvalue(entry)
        syntax = entry.transfer_syntax
        if syntax is not None and not syntax.strip():
            raise AcceptError(f"{entry.location}: empty transfer-syntax")
        if q == 0.0 or not _is_dicom_range(entry):
            continue
        syntax = (syntax or EXPLICIT_VR_LE).strip()
        candidate = available[0] if syntax == "*" and available else syntax
        if candidate not in available:
            continue
        if best is None or q > best[0]:
            best = (q, entry.position, candidate)
    return best[2] if best else None


def _is_dicom_range(entry: AcceptEntry) -> bool:
    if entry.media_type not in _DICOM_RANGES:
        return False
    declared = entry.params.get("type")
    return entry.media_type == DICOM_MEDIA_TYPE or declared is None or declared.lower() in (DICOM_MEDIA_TYPE, "*/*")


def build_multipart(instances: Sequence[bytes], transfer_syntax: str, boundary: str | None = None) -> tuple[bytes, str]:
    """Part-10 instances as one ``multipart/related; type="application/dicom"`` body: (body, Content-Type)."""
    boundary = boundary or f"drimva-{uuid.uuid4().hex}"
    dash = b"--" + boundary.encode("ascii")
    part_head = f"Content-Type: {DICOM_MEDIA_TYPE}; transfer-syntax={transfer_syntax}\r\n\r\n".encode("ascii")
    chunks: list[bytes] = []
    for index, content in enumerate(instances, 1):
        if dash in content:
            raise MimeError(f"boundary {boundary!r} occurs in instance {index}")
        chunks.append(dash + b"\r\n" + part_head + content + b"\r\n")
    body = b"".join(chunks) + dash + b"--\r\n"
    content_type = f'multipart/related; type="{DICOM_MEDIA_TYPE}"; transfer-syntax={transfer_syntax}; boundary={boundary}'
    return body, content_type


def parse_multipart_dicom(body: bytes, content_type: str) -> list[bytes]:
    """The instances of a ``multipart/related; type="application/dicom"`` body, in order.

    Raises :class:`drimva.mime.MimeError` when the Content-Type is not that,
    the body cannot be split, or a part is not ``application/dicom``.
    """
    mime_type, params = parse_content_type(content_type)
    if mime_type != "multipart/related":
        raise MimeError(f"Content-Type is {mime_type!r}, not multipart/related")
    declared = params.get("type", "").lower()
    if declared != DICOM_MEDIA_TYPE:
        raise MimeError(f'multipart/related type is {declared or "(absent)"!r}, not "{DICOM_MEDIA_TYPE}"')
    instances: list[bytes] = []
    for index, part in enumerate(parse_multipart(body, content_type), 1):
        if part.header("Content-Type") is not None and part.mime_type != DICOM_MEDIA_TYPE:
            raise MimeError(f"part {index} is {part.content_type!r}, not {DICOM_MEDIA_TYPE}")
        instances.append(part.content)
    return instances

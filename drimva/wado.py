"""WADO-RS exchanges saved as text: request line, headers, multipart/related response. Pure.

Reads what a capture tool, a proxy log or the ANS validator samples hold
(``dicomweb-between-drimboxes.md`` §2, §5): an HTTP request (``GET <target>
HTTP/1.1`` then headers), an HTTP response (``HTTP/1.1 200 OK`` then headers
and, when captured, the body), or a request followed by its response. Line
breaks may be CRLF or LF; the last header line may have none; a body sent
with ``Transfer-Encoding: chunked`` is de-chunked when it is framed that way.

``Accept`` is read as DRIMboxes send it: one header with comma-separated
entries (a trailing comma tolerated) or one header per entry, each entry
``multipart/related; type="application/dicom"; transfer-syntax=<UID>;
q=<q>; boundary=<b>`` (the media range may be missing, as in an ANS sample).
Judgement lives in ``drimva.rules.wado``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from drimva.mime import MimeError, MimePart, parse_multipart

_REQUEST_LINE = re.compile(rb"^([A-Z]{3,10}) (\S+) (HTTP/\d(?:\.\d)?)[ \t]*$")
_STATUS_LINE = re.compile(rb"^(HTTP/\d(?:\.\d)?) (\d{3})(?: (.*))?$")
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)(?:;[^\r\n]*)?\r?\n")
SUFFIXES = ("metadata", "rendered", "thumbnail", "bulkdata")


class WadoParseError(ValueError):
    """The text is not an HTTP request / response; the message says why."""


@dataclass(frozen=True)
class Headers:
    """HTTP header fields in the order sent; names compare case-insensitively."""

    items: tuple[tuple[str, str], ...] = ()

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.items if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))


@dataclass(frozen=True)
class AcceptEntry:
    """One media range of the Accept header(s)."""

    raw: str
    media_type: str  # lower-cased, "" when the entry has parameters only
    params: dict[str, str] = field(default_factory=dict)  # lower-cased names, unquoted values
    header: int = 1  # which Accept header it came from (1-based)
    position: int = 1  # 1-based among all entries

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax")

    @property
    def q(self) -> str | None:
        return self.params.get("q")

    @property
    def location(self) -> str:
        return f"Accept[{self.header}] entry {self.position}"


@dataclass(frozen=True)
class AcceptHeader:
    """Every entry of the Accept header(s), and how they were written."""

    entries: tuple[AcceptEntry, ...]
    header_count: int
    empty_entries: int  # empty items between commas (e.g. a trailing comma)


@dataclass(frozen=True)
class RetrievePath:
    """A DICOMweb retrieve target: ``{base}/studies/{s}[/series/{se}[/instances/{i}[/frames/{f}]]][/suffix]``."""

    base: str
    level: str  # study | series | instance | frames
    study: str
    series: str = ""
    instance: str = ""
    frames: str = ""
    suffix: str = ""  # metadata | rendered | thumbnail | bulkdata | ""


@dataclass(frozen=True)
class WadoRequest:
    method: str
    target: str  # as written on the request line (absolute URL or path)
    version: str
    headers: Headers
    body: bytes = b""

    @property
    def path(self) -> str:
        """The path of the target; of an absolute-form target too, also when its authority cannot be parsed
        (``https://h[ost/…``: urlsplit raises on a bracket that opens no IPv6 address)."""
        if "://" not in self.target:
            return self.target.split("?", 1)[0]
        try:
            return urlsplit(self.target).path
        except ValueError:
            after_authority = self.target.split("://", 1)[1].partition("/")[2]
            return "/" + after_authority.split("?", 1)[0].split("#", 1)[0]

    @property
    def retrieve(self) -> RetrievePath | None:
        return parse_retrieve_path(self.path)

    @property
    def accept(self) -> AcceptHeader:
        return parse_accept(self.headers.get_all("Accept"))


@dataclass(frozen=True)
class WadoResponse:
    version: str
    status: int
    reason: str
    headers: Headers
    body: bytes | None  # None: the capture holds the headers only

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def parts(self) -> list[MimePart]:
        """The multipart/related parts; raises :class:`MimeError` when they cannot be read."""
        if self.body is None:
            raise MimeError("the capture has no body")
        return parse_multipart(self.body, self.content_type or "")


@dataclass(frozen=True)
class WadoCapture:
    request: WadoRequest | None
    response: WadoResponse | None


def is_request(data: bytes) -> bool:
    return _REQUEST_LINE.match(_first_line(data)) is not None


def is_response(data: bytes) -> bool:
    return _STATUS_LINE.match(_first_line(data)) is not None


def parse_request(data: bytes) -> WadoRequest:
    """An HTTP request saved as text; the body is what follows the blank line (may be empty)."""
    request, _ = _request_and_rest(data)
    return request


def parse_response(data: bytes) -> WadoResponse:
    data = data.lstrip(b"\r\n")
    head, body = _split_head(data)
    lines = _header_lines(head)
    match = _STATUS_LINE.match(lines[0]) if lines else None
    if match is None:
        raise WadoParseError(f"not an HTTP status line: {lines[0][:60]!r}" if lines else "empty capture")
    headers = _parse_headers(lines[1:])
    if body is not None and "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        body = _dechunk(body)
    return WadoResponse(
        version=match.group(1).decode("ascii"),
        status=int(match.group(2)),
        reason=(match.group(3) or b"").decode("latin-1").strip(),
        headers=headers,
        body=body,
    )


def parse_capture(data: bytes) -> WadoCapture:
    """A request, a response, or a request followed by its response."""
    if is_response(data):
        return WadoCapture(None, parse_response(data))
    request, rest = _request_and_rest(data)
    if rest is not None and is_response(rest):
        return WadoCapture(request, parse_response(rest))
    return WadoCapture(request, None)


def parse_retrieve_path(path: str) -> RetrievePath | None:
    """The retrieve resource named by a URL path, or None when the path has no ``/studies/{uid}``."""
    segments = path.split("/")
    try:
        start = segments.index("studies")
    except ValueError:
        return None
    base = "/".join(segments[:start])
    rest = segments[start + 1 :]
    if rest and rest[-1] == "":
        rest = rest[:-1]
    if not rest or not rest[0]:
        return None
    suffix = rest.pop() if len(rest) > 1 and rest[-1] in SUFFIXES else ""
    values = {"study": rest[0]}
    level = "study"
    for depth, (key, name) in enumerate((("series", "series"), ("instances", "instance"), ("frames", "frames"))):
        index = 1 + 2 * depth
        if index >= len(rest):
            break
        if rest[index] != key or index + 1 >= len(rest) or not rest[index + 1]:
            return RetrievePath(base, "unknown", rest[0], suffix="/".join(rest[index:]))
        level = name
        values[name] = rest[index + 1]
    else:
        if len(rest) > 7:
            return RetrievePath(base, "unknown", rest[0], suffix="/".join(rest[7:]))
    return RetrievePath(
        base=base,
        level=level,
        study=values["study"],
        series=values.get("series", ""),
        instance=values.get("instance", ""),
        frames=values.get("frames", ""),
        suffix=suffix,
    )


def parse_accept(values: list[str]) -> AcceptHeader:
    """Entries of one or more Accept headers (comma-separated, quotes respected)."""
    entries: list[AcceptEntry] = []
    empty = 0
    for header_index, value in enumerate(values, start=1):
        for item in _split_unquoted(value, ","):
            if not item.strip():
                empty += 1
                continue
            pieces = _split_unquoted(item, ";")
            first = pieces[0].strip()
            media_type = first.lower() if "=" not in first else ""
            params: dict[str, str] = {}
            for piece in pieces[1:] if media_type else pieces:
                name, sep, raw = piece.partition("=")
                if not name.strip():
                    continue
                raw = raw.strip()
                if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                    raw = raw[1:-1]
                params[name.strip().lower()] = raw if sep else ""
            entries.append(AcceptEntry(item.strip(), media_type, params, header_index, len(entries) + 1))
    return AcceptHeader(tuple(entries), len(values), empty)


def _split_unquoted(text: str, separator: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return items


def _first_line(data: bytes) -> bytes:
    return data.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")


def _split_head(data: bytes) -> tuple[bytes, bytes | None]:
    match = _HEADER_BLOCK_END.search(data)
    if match is None:
        return data, None
    body = data[match.end() :]
    return data[: match.start()], body if body.strip() else None


def _header_lines(head: bytes) -> list[bytes]:
    return [line.rstrip(b"\r") for line in head.split(b"\n")] if head.strip() else []


def _parse_headers(lines: list[bytes]) -> Headers:
    items: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t") and items:  # obsolete line folding
            folded_name, folded_value = items[-1]
            items[-1] = (folded_name, folded_value + " " + line.strip().decode("latin-1"))
            continue
        raw_name, sep, raw_value = line.partition(b":")
        if not sep or not re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+", raw_name):
            raise WadoParseError(f"malformed header line {line[:60]!r}")
        items.append((raw_name.decode("ascii"), raw_value.strip().decode("latin-1")))
    return Headers(tuple(items))


def _request_and_rest(data: bytes) -> tuple[WadoRequest, bytes | None]:
    data = data.lstrip(b"\r\n")
    head, rest = _split_head(data)
    lines = _header_lines(head)
    match = _REQUEST_LINE.match(lines[0]) if lines else None
    if match is None:
        raise WadoParseError(f"not an HTTP request line: {lines[0][:60]!r}" if lines else "empty capture")
    request = WadoRequest(
        method=match.group(1).decode("ascii"),
        target=match.group(2).decode("latin-1"),
        version=match.group(3).decode("ascii"),
        headers=_parse_headers(lines[1:]),
    )
    if rest is not None and is_response(rest):
        return request, rest
    return (request if rest is None else replace(request, body=rest)), None


def _dechunk(body: bytes) -> bytes:
    """Undo chunked transfer coding when the body is framed that way; else return it unchanged."""
    out: list[bytes] = []
    pos = 0
    while True:
        match = _CHUNK_SIZE.match(body, pos)
        if match is None:
            return body
        size = int(match.group(1), 16)
        start = match.end()
        if size == 0:
            return b"".join(out)
        if start + size > len(body):
            return body
        out.append(body[start : start + size])
        pos = start + size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1

"""multipart/related (MTOM/XOP) parsing and building; pure, byte-exact.

Parsing follows RFC 2046 §5.1.1: a delimiter is ``CRLF--boundary`` and the
CRLF belongs to the delimiter, not to the preceding part. Real senders are
looser (the ANS demonstrator writes bare LF line breaks in part headers), so
a bare LF is accepted wherever RFC 2046 says CRLF. Content is decoded per
``Content-Transfer-Encoding`` (binary, 8bit, 7bit, base64,
quoted-printable).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Sequence

XOP_NS = "http://www.w3.org/2004/08/xop/include"


class MimeError(ValueError):
    """A multipart body or a Content-Type that cannot be read."""


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``'multipart/related; boundary="x"; type=...'`` -> ``('multipart/related', {'boundary': 'x', ...})``.

    The MIME type and the parameter names are lower-cased; values keep their case
    and lose their quotes (backslash escapes resolved).
    """
    if not value or not value.strip():
        raise MimeError("empty Content-Type")
    items = _split_params(value)
    mime_type = items[0].strip().lower()
    if not re.fullmatch(r"[\w!#$&^.+-]+/[\w!#$&^.+-]+", mime_type):
        raise MimeError(f"Content-Type {value!r} has no type/subtype")
    params: dict[str, str] = {}
    for item in items[1:]:
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        if not sep:
            raise MimeError(f"Content-Type parameter {item.strip()!r} has no '='")
        raw = raw.strip()
        if raw.startswith('"'):
            if len(raw) < 2 or not raw.endswith('"'):
                raise MimeError(f"Content-Type parameter {name.strip()!r} has an unterminated quoted value")
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.strip().lower()] = raw
    return mime_type, params


def _split_params(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return items


@dataclass(frozen=True)
class MimePart:
    """One body part: its headers as sent, its raw bytes and its decoded content."""

    headers: tuple[tuple[str, str], ...]
    raw_headers: bytes
    raw_content: bytes
    content: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or "text/plain"

    @property
    def mime_type(self) -> str:
        try:
            return parse_content_type(self.content_type)[0]
        except MimeError:
            return ""

    @property
    def content_id(self) -> str | None:
        """The Content-ID without angle brackets."""
        value = self.header("Content-ID")
        return _strip_cid(value) if value is not None else None

    @property
    def transfer_encoding(self) -> str:
        return (self.header("Content-Transfer-Encoding") or "binary").strip().lower()


def _strip_cid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value.strip()


MAX_PARTS = 10_000  # a STOW-RS of a large study carries thousands of instances; a body of empty parts is refused beyond


def parse_multipart(body: bytes, content_type: str, max_parts: int = MAX_PARTS) -> list[MimePart]:
    """Split a multipart body into its parts (the preamble and epilogue are dropped).

    At most ``max_parts`` parts: a small body of empty parts would otherwise cost a parse each."""
    mime_type, params = parse_content_type(content_type)
    if not mime_type.startswith("multipart/"):
        raise MimeError(f"Content-Type is {mime_type!r}, not multipart/*")
    boundary = params.get("boundary")
    if not boundary:
        raise MimeError("multipart Content-Type has no boundary parameter")
    if len(boundary) > 70:
        raise MimeError(f"boundary is {len(boundary)} characters long (RFC 2046 allows 70)")
    dash = b"--" + boundary.encode("latin-1")
    # first delimiter: at the very start or after a line break
    if body.startswith(dash):
        pos = 0
    else:
        found = body.find(b"\n" + dash)
        if found < 0:
            raise MimeError(f"boundary {boundary!r} not found in the body")
        pos = found + 1
    parts: list[MimePart] = []
    while True:
        after = pos + len(dash)
        if body.startswith(b"--", after):
            break  # close delimiter
        line_end = body.find(b"\n", after)
        if line_end < 0:
            raise MimeError("body ends right after a boundary line")
        padding = body[after:line_end].rstrip(b"\r")
        if padding.strip(b" \t"):
            raise MimeError(f"unexpected text {padding[:40]!r} after boundary {boundary!r}")
        start = line_end + 1
        nxt = body.find(b"\n" + dash, start)
        if nxt < 0:
            raise MimeError(f"part {len(parts) + 1} is not closed by boundary {boundary!r} (truncated body?)")
        end = nxt - 1 if nxt > start and body[nxt - 1 : nxt] == b"\r" else nxt
        if len(parts) >= max_parts:
            raise MimeError(f"more than {max_parts} parts in the multipart body")
        parts.append(_parse_part(body[start:end], len(parts) + 1))
        pos = nxt + 1
    if not parts:
        raise MimeError("multipart body has no part")
    return parts


def _parse_part(data: bytes, index: int) -> MimePart:
    match = re.search(rb"\r?\n\r?\n", data)
    if data.startswith(b"\r\n") or data.startswith(b"\n"):
        head, content = b"", data[2 if data.startswith(b"\r\n") else 1 :]
    elif match is None:
        raise MimeError(f"part {index} has no blank line between headers and content")
    else:
        head, content = data[: match.start()], data[match.end() :]
    headers: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n", head) if head else []:
        if line[:1] in (b" ", b"\t") and headers:  # folded header
            folded_name, folded_value = headers[-1]
            headers[-1] = (folded_name, folded_value + " " + line.strip().decode("latin-1"))
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise MimeError(f"part {index} has a malformed header line {line[:60]!r}")
        headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    part = MimePart(tuple(headers), head, content, b"")
    return MimePart(part.headers, head, content, _decode(content, part.transfer_encoding, index))


def _decode(content: bytes, encoding: str, index: int) -> bytes:
    if encoding in ("binary", "8bit", "7bit", ""):
        return content
    if encoding == "base64":
        try:
            return base64.b64decode(b"".join(content.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MimeError(f"part {index}: invalid base64 content ({exc})") from None
    if encoding == "quoted-printable":
        return quopri.decodestring(content)
    raise MimeError(f"part {index}: unknown Content-Transfer-Encoding {encoding!r}")


@dataclass
class MtomMessage:
    """A multipart/related message: its root part (``start`` or the first) and its attachments."""

    parts: list[MimePart]
    content_type: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: bytes, content_type: str) -> "MtomMessage":
        mime_type, params = parse_content_type(content_type)
        if mime_type != "multipart/related":
            raise MimeError(f"Content-Type is {mime_type!r}, not multipart/related")
        return cls(parse_multipart(body, content_type), content_type, params)

    @property
    def root(self) -> MimePart:
        start = self.params.get("start")
        if start:
            cid = _strip_cid(start)
            for part in self.parts:
                if part.content_id == cid:
                    return part
            raise MimeError(f"no part has the start Content-ID <{cid}>")
        return self.parts[0]

    @property
    def is_xop(self) -> bool:
        return self.params.get("type", "").lower() == "application/xop+xml"

    def part(self, cid: str) -> MimePart:
        """The part with this Content-ID; ``cid`` may be ``cid:...`` (URL-encoded) or bare."""
        wanted = _cid_from_href(cid)
        for part in self.parts:
            if part.content_id == wanted:
                return part
        known = ", ".join(p.content_id or "(none)" for p in self.parts)
        raise MimeError(f"no MIME part with Content-ID <{wanted}> (parts: {known})")

    def resolve_xop(self, cid: str) -> bytes:
        return self.part(cid).content


def _cid_from_href(href: str) -> str:
    from urllib.parse import unquote

    value = href.strip()
    if value.lower().startswith("cid:"):
        value = unquote(value[4:])
    return _strip_cid(value)


def build_multipart_related(
    parts: Sequence[tuple[Iterable[tuple[str, str]], bytes]],
    root_type: str = "application/xop+xml",
    start_info: str | None = "application/soap+xml",
    action: str | None = None,
    boundary: str | None = None,
    line_break: bytes = b"\r\n",
) -> tuple[bytes, str]:
    """Serialise (headers, content) parts; the first is the root. Returns (body, Content-Type).

    The root part must carry a Content-ID; content is written as given (encode
    base64 yourself and say so in a Content-Transfer-Encoding header).
    """
    if not parts:
        raise MimeError("a multipart/related message needs at least one part")
    boundary = boundary or f"uuid:{uuid.uuid4()}"
    dash = b"--" + boundary.encode("ascii")
    chunks: list[bytes] = []
    root_cid = None
    for headers, content in parts:
        headers = list(headers)
        if root_cid is None:
            root_cid = next((v for k, v in headers if k.lower() == "content-id"), None)
            if root_cid is None:
                raise MimeError("the root part has no Content-ID")
        if dash in content:
            raise MimeError(f"boundary {boundary!r} occurs in a part's content")
        head = line_break.join(f"{k}: {v}".encode("latin-1") for k, v in headers)
        chunks.append(dash + line_break + head + line_break + line_break + content + line_break)
    body = b"".join(chunks) + dash + b"--" + line_break
    assert root_cid is not None  # the first part has one, or MimeError was raised
    content_type = f'multipart/related; boundary="{boundary}"; type="{root_type}"; start="{_angle(root_cid)}"'
    if start_info:
        content_type += f'; start-info="{start_info}"'
    if action:
        content_type += f'; action="{action}"'
    return body, content_type


def _angle(cid: str) -> str:
    cid = cid.strip()
    return cid if cid.startswith("<") else f"<{cid}>"

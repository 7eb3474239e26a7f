"""drimva.mime: byte-exact multipart/related parsing and building."""

from __future__ import annotations

import base64

import pytest

from drimva.mime import MimeError, MtomMessage, build_multipart_related, parse_content_type, parse_multipart

DEMO_CT = (
    'multipart/related;boundary="MIMEBoundary_Bound"; type="application/xop+xml"; start="<0.1>"; '
    'start-info="application/soap+xml"; action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"'
)


def test_parse_content_type_quoted_and_escaped() -> None:
    mime_type, params = parse_content_type(DEMO_CT)
    assert mime_type == "multipart/related"
    assert params["boundary"] == "MIMEBoundary_Bound"
    assert params["start"] == "<0.1>"
    assert params["action"] == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    assert parse_content_type('Application/XOP+xml; Type="a;b\\"c"') == ("application/xop+xml", {"type": 'a;b"c'})


@pytest.mark.parametrize("value", ["", "text", 'text/xml; charset="utf-8', "text/xml; charset"])
def test_parse_content_type_errors(value: str) -> None:
    with pytest.raises(MimeError):
        parse_content_type(value)


def test_round_trip_is_byte_exact() -> None:
    binary = bytes(range(256)) + b"\r\n--not-the-boundary\r\n\r\n"  # ends with CRLF, which is content
    root = b"<soap:Envelope/>"
    body, content_type = build_multipart_related(
        [
            ([("Content-Type", "application/xop+xml"), ("Content-ID", "<root@x>")], root),
            ([("Content-Type", "application/octet-stream"), ("Content-ID", "<doc 1@x>")], binary),
        ],
        action="urn:a",
    )
    message = MtomMessage.parse(body, content_type)
    assert message.root.content == root
    assert message.is_xop
    assert message.resolve_xop("cid:doc%201@x") == binary
    assert message.part("<doc 1@x>").raw_content == binary
    assert parse_content_type(content_type)[1]["action"] == "urn:a"


def test_demonstrator_style_lf_headers_and_base64_part() -> None:
    kos = b"\x00" * 128 + b"DICM" + b"\x01\x02\r\n"
    body = (
        b"--MIMEBoundary_Bound\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\n'
        b"Content-Transfer-Encoding: binary\n"
        b"Content-ID: <0.1>\n\n"
        b"<Envelope/>\r\n"
        b"--MIMEBoundary_Bound\n"
        b"Content-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: BASE64\n"
        b"Content-ID: <0.2>\n\n" + base64.encodebytes(kos) + b"\n--MIMEBoundary_Bound--\n"
    )
    message = MtomMessage.parse(body, DEMO_CT)
    assert message.root.content == b"<Envelope/>"
    assert message.resolve_xop("cid:0.2") == kos
    assert message.part("0.2").transfer_encoding == "base64"
    assert message.parts[0].header("content-transfer-encoding") == "binary"


def test_preamble_and_folded_header() -> None:
    body = b"preamble\r\n--b\r\nContent-Type: text/plain;\r\n charset=utf-8\r\nContent-ID: <1>\r\n\r\nhello\r\n--b--\r\nepilogue"
    (part,) = parse_multipart(body, "multipart/related; boundary=b")
    assert part.content == b"hello"
    assert part.content_type == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"--b\r\n\r\nx\r\n--b--", "multipart/related", "no boundary"),
        (b"nothing here", "multipart/related; boundary=b", "not found"),
        (b"--b\r\nContent-ID: <1>\r\n\r\ntruncated", "multipart/related; boundary=b", "not closed"),
        (b"--b\r\nContent-Transfer-Encoding: uuencode\r\n\r\nx\r\n--b--", "multipart/related; boundary=b", "uuencode"),
        (b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@\r\n--b--", "multipart/related; boundary=b", "base64"),
        (b"--b\r\nno colon here\r\n\r\nx\r\n--b--", "multipart/related; boundary=b", "malformed header"),
        (b"--b\r\n\r\nx\r\n--b--", "text/xml", "not multipart"),
    ],
)
def test_errors_name_what_is_wrong(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(MimeError, match=message):
        parse_multipart(body, content_type)


def test_missing_start_part_and_unknown_cid() -> None:
    body, _ = build_multipart_related([([("Content-ID", "<a>")], b"x")])
    message = MtomMessage.parse(body, 'multipart/related; boundary="' + body.split(b"\r\n")[0][2:].decode() + '"; start="<zz>"')
    with pytest.raises(MimeError, match="start Content-ID <zz>"):
        _ = message.root
    with pytest.raises(MimeError, match="no MIME part with Content-ID <nope>"):
        message.resolve_xop("cid:nope")


def test_build_refuses_boundary_inside_content_and_rootless_messages() -> None:
    with pytest.raises(MimeError, match="occurs in a part"):
        build_multipart_related([([("Content-ID", "<a>")], b"--zz")], boundary="zz")
    with pytest.raises(MimeError, match="no Content-ID"):
        build_multipart_related([([("Content-Type", "text/xml")], b"x")])


def test_the_part_count_is_bounded() -> None:
    """Issue 13: a small body of many empty parts costs a parse each; beyond ``max_parts`` it is refused."""
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(4)) + b"--b--\r\n"
    assert len(parse_multipart(body, "multipart/related; boundary=b", max_parts=4)) == 4
    with pytest.raises(MimeError, match="more than 3 parts"):
        parse_multipart(body, "multipart/related; boundary=b", max_parts=3)

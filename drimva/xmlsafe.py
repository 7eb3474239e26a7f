"""The one way drimva parses XML it did not write: hardened, bounded, one error type.

Every artefact drimva reads (SOAP envelopes, VIHF, CDA, trust lists, capture
bodies) comes from a DRIMbox under test or a file nobody vetted. The parser
made here resolves no entity, loads no DTD, never touches the network, keeps
libxml2's default limits (``huge_tree=False``: depth 256, text nodes 10 MB)
and refuses any document type declaration outright: a DRIM-M artefact never
needs one, and refusing it is what keeps an internal entity (billion laughs,
quadratic blow-up, or a plain ``&x;`` that later breaks canonicalisation)
out of every tree the rules see. The document's size is bounded before
parsing. Pure: no I/O.
"""

from __future__ import annotations

import re

from lxml import etree

MAX_XML_BYTES = 64 * 1024 * 1024  # the HTTP simulators' body limit; a trust list or CDA is far smaller

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_NO_DTD = "a document type declaration (DTD) is not accepted: DRIM-M artefacts have none, and entities are never expanded"
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_PARSERS: dict[tuple[bool, bool], etree.XMLParser] = {}


class XmlError(ValueError):
    """XML drimva refuses to read: not well-formed, too large, or with a DTD. Says where (line, column)."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None, *, well_formed: bool = False) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        self.well_formed = well_formed  # True: readable XML refused by policy (a DTD), not a syntax error
        where = f" at line {line}, column {column}" if line is not None and column is not None else ""
        head = "XML refused" if well_formed else "not well-formed XML"
        super().__init__(f"{head}{where}: {problem}" if where or not well_formed else f"{head}: {problem}")


def parser(*, remove_comments: bool = False, remove_blank_text: bool = False) -> etree.XMLParser:
    """The hardened parser (cached per option set; lxml parsers are reusable within a thread)."""
    key = (remove_comments, remove_blank_text)
    made = _PARSERS.get(key)
    if made is None:
        made = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=remove_comments,
            remove_blank_text=remove_blank_text,
            collect_ids=False,
        )
        _PARSERS[key] = made
    return made


def parse(
    data: bytes,
    *,
    remove_comments: bool = False,
    remove_blank_text: bool = False,
    max_bytes: int = MAX_XML_BYTES,
) -> etree._Element:
    """The root element of ``data``; raises :class:`XmlError` (with line and column when known)."""
    if len(data) > max_bytes:
        raise XmlError(f"document of {len(data)} bytes exceeds the limit of {max_bytes} bytes", well_formed=True)
    if not data.strip():
        raise XmlError("empty document")
    first = _FIRST_ELEMENT.search(data)
    match = _DOCTYPE.search(data, 0, first.start() if first else len(data))
    if match is not None:
        raise _dtd_refused(data, match.start())
    try:
        root = etree.fromstring(data, parser(remove_comments=remove_comments, remove_blank_text=remove_blank_text))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        raise XmlError(_libxml_message(exc), line, column) from None
    except ValueError as exc:  # lxml refuses e.g. str input with an encoding declaration
        raise XmlError(str(exc)) from None
    if root is None:
        raise XmlError("no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # a DOCTYPE in an encoding the byte scan missed
        raise XmlError(_NO_DTD, well_formed=True)
    return root


def _dtd_refused(data: bytes, offset: int) -> XmlError:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return XmlError(_NO_DTD, line, column, well_formed=True)


def _libxml_message(exc: etree.XMLSyntaxError) -> str:
    """libxml2's message without its own ``, line L, column C`` suffix (XmlError says it once)."""
    return re.sub(r",? line \d+, column \d+\s*(\(.*\))?$", "", str(exc.msg or exc)).strip()

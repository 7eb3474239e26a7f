"""A DICOM Part-10 file read in one flat pass into plain values, for rules that judge many files.

``drimva validate`` judges a KOS history export (AF-IMG-DB-Va2 §4.4: every
KOS of a service, tens of thousands of files). Read through pydicom, a KOS
costs about 4 ms, nearly all of it in converting each element into a
``DataElement`` and each sequence item into a ``Dataset`` as a rule reads it.
The KOS rules only need text and sequences, so this module walks the bytes
once and gives them as a tree of plain values:

- a :data:`Node` is a ``dict`` from tag (``int``) to value;
- a value is ``str`` for every element but a sequence (text decoded, each
  value stripped of its padding as pydicom does, several values joined by a
  backslash; binary VRs as their hex text, which no KOS rule reads), and a
  ``list`` of :data:`Node` for a sequence.

Little endian only (Implicit and Explicit VR, the two syntaxes of every
DRIM-M KOS, ``kos-manifest.md`` open question 6); any other transfer syntax
is read through pydicom and converted (:func:`node_of_dataset`), so nothing
is refused here that pydicom reads. Malformed bytes raise
:class:`FlatReadError` with the byte offset; nothing else escapes, and every
loop advances or stops, so a fuzzed file cannot hang the reader.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from io import BytesIO
from typing import Union

from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread
from pydicom.multival import MultiValue

Node = dict[int, "Value"]
Value = Union[str, list["Node"]]

IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"

ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
MAX_DEPTH = 32  # nested sequences; a KOS content tree is a few levels deep

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_BYTES_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})  # as hex text
_NUMBER_FORMATS = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i", "FL": "<f", "FD": "<d", "SV": "<q", "UV": "<Q"}
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})  # decoded by (0008,0005); others are ASCII (PS3.5 6.1.2.3)
_PADDING = "\x00" + "".join(chr(c) for c in range(0x3001) if chr(c).isspace())  # stripped from each value, as pydicom
_HEADER = struct.Struct("<HHI")  # implicit VR: group, element, 32-bit length
_EXPLICIT = struct.Struct("<HH2sH")  # explicit VR: group, element, VR, 16-bit length
_LENGTH = struct.Struct("<I")


class FlatReadError(ValueError):
    """The bytes are not a DICOM data set this reader can walk (the message names the offset)."""


@dataclass(frozen=True)
class Part10:
    """A Part-10 file: whether the ``DICM`` prefix is there, the file meta group and the data set."""

    has_prefix: bool
    meta: Node
    dataset: Node


def tag_of(group: int, element: int) -> int:
    return group << 16 | element


@functools.cache
def _dictionary_vr(tag: int) -> str:
    """The VR of ``tag`` where the file does not carry it, as pydicom decides it (UN when unknown).

    Group lengths are UL, private creators LO (PS3.5 6.2.2), other private
    elements UN; a tag the dictionary gives two VRs takes the first.
    """
    group, element = tag >> 16, tag & 0xFFFF
    if element == 0:
        return "UL"
    if group % 2:
        return "LO" if 0x10 <= element <= 0xFF else "UN"
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return "UN"


def read_part10(data: bytes) -> Part10:
    """The file meta group and data set of ``data``, a Part-10 file (with or without preamble).

    Raises :class:`FlatReadError` for bytes that are not one.
    """
    has_prefix = data[128:132] == b"DICM"
    start = 132 if has_prefix else (4 if data[:4] == b"DICM" else 0)
    meta, offset = _read_meta(data, start)
    syntax = str(meta.get(0x00020010, ""))
    if syntax == IMPLICIT_VR_LE or (not meta and _looks_implicit(data, offset)):
        dataset, _ = _read(data, offset, len(data), implicit=True, depth=0, charset="")
    elif syntax == EXPLICIT_VR_LE or not meta:
        dataset, _ = _read(data, offset, len(data), implicit=False, depth=0, charset="")
    else:  # deflated, big endian, compressed pixel data: pydicom knows them all
        try:
            ds = dcmread(BytesIO(data), force=True)
            dataset = node_of_dataset(ds)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on garbage
            raise FlatReadError(f"transfer syntax {syntax}: {type(exc).__name__}: {exc}") from None
    return Part10(has_prefix, meta, dataset)


def _looks_implicit(data: bytes, offset: int) -> bool:
    """A data set with no file meta: implicit VR when bytes 4-5 are not a VR (as pydicom guesses)."""
    vr = data[offset + 4:offset + 6]
    return not (len(vr) == 2 and vr.isalpha() and vr.isupper())


def _read_meta(data: bytes, offset: int) -> tuple[Node, int]:
    """The group 0002 elements (always Explicit VR Little Endian, PS3.10 §7.1) and where the data set starts."""
    if data[offset:offset + 2] != b"\x02\x00":
        return {}, offset
    return _read(data, offset, len(data), implicit=False, depth=0, charset="", stop_after_group=2)


def _read(
    data: bytes, offset: int, end: int, *, implicit: bool, depth: int, charset: str, stop_after_group: int | None = None,
) -> tuple[Node, int]:
    """The elements of ``data[offset:end]`` as a node; stops at an item delimiter (returning past it)."""
    if depth > MAX_DEPTH:
        raise FlatReadError(f"offset {offset}: sequences nested deeper than {MAX_DEPTH}")
    node: Node = {}
    while offset < end:
        if offset + 8 > end:
            raise FlatReadError(f"offset {offset}: truncated element header")
        group, element, length = _HEADER.unpack_from(data, offset)
        tag = group << 16 | element
        if stop_after_group is not None and group != stop_after_group:
            return node, offset
        if tag == ITEM_END:
            return node, offset + 8
        if tag in (ITEM, SEQUENCE_END):
            raise FlatReadError(f"offset {offset}: item tag ({group:04X},{element:04X}) where a data element is expected")
        raw_un = False  # an explicit UN: its value, when a sequence, is in implicit VR (PS3.5 6.2.2)
        if implicit:
            vr = _dictionary_vr(tag)
            offset += 8
        else:
            _, _, raw_vr, short = _EXPLICIT.unpack_from(data, offset)
            vr = raw_vr.decode("latin-1")
            if vr in _LONG_VRS:
                if offset + 12 > end:
                    raise FlatReadError(f"offset {offset}: truncated element header")
                (length,) = _LENGTH.unpack_from(data, offset + 8)
                offset += 12
            elif vr.isalpha() and vr.isupper():
                length = short
                offset += 8
            else:
                raise FlatReadError(f"offset {offset}: ({group:04X},{element:04X}) has no valid VR ({raw_vr!r})")
            if vr == "UN":
                raw_un = True
                if length < 0xFFFF:
                    vr = _dictionary_vr(tag)  # an explicit UN of a known tag is read as the tag's VR, as pydicom does
        if vr == "SQ" or (length == UNDEFINED and vr == "UN"):
            items, offset = _sequence(data, offset, end, length, implicit=implicit or raw_un, depth=depth, charset=charset)
            node[tag] = items
            continue
        if length == UNDEFINED:
            raise FlatReadError(f"offset {offset}: ({group:04X},{element:04X}) {vr} of undefined length")
        stop = offset + length
        if stop > end:
            raise FlatReadError(f"offset {offset}: ({group:04X},{element:04X}) announces {length} bytes, {end - offset} left")
        raw = data[offset:stop]
        if tag == 0x00080005:
            charset = _text(raw, "").strip(_PADDING)
        node[tag] = _convert(raw, vr, charset)
        offset = stop
    return node, offset


def _sequence(data: bytes, offset: int, end: int, length: int, *, implicit: bool, depth: int, charset: str) -> tuple[list[Node], int]:
    """The items of a sequence whose value starts at ``offset``; returns them and the offset after the sequence."""
    if length != UNDEFINED:
        stop = offset + length
        if stop > end:
            raise FlatReadError(f"offset {offset}: a sequence announces {length} bytes, {end - offset} left")
    else:
        stop = end
    items: list[Node] = []
    while offset < stop:
        if offset + 8 > stop:
            raise FlatReadError(f"offset {offset}: truncated item header")
        group, element, item_length = _HEADER.unpack_from(data, offset)
        tag = group << 16 | element
        offset += 8
        if tag == SEQUENCE_END:
            return items, offset
        if tag != ITEM:
            raise FlatReadError(f"offset {offset - 8}: ({group:04X},{element:04X}) where a sequence item is expected")
        if item_length == UNDEFINED:
            item, offset = _read(data, offset, stop, implicit=implicit, depth=depth + 1, charset=charset)
        else:
            if offset + item_length > stop:
                raise FlatReadError(f"offset {offset}: an item announces {item_length} bytes, {stop - offset} left")
            item, after = _read(data, offset, offset + item_length, implicit=implicit, depth=depth + 1, charset=charset)
            offset = offset + item_length if after <= offset + item_length else after
        items.append(item)
    if length == UNDEFINED:
        raise FlatReadError(f"offset {offset}: a sequence of undefined length has no delimiter")
    return items, offset


def _text(raw: bytes, charset: str) -> str:
    """Text in the character set (0008,0005) names (its first value; latin-1 for ASCII and unknown sets, as pydicom)."""
    encoding = python_encoding.get(charset.split("\\")[0].strip(), "latin_1") if charset else "latin_1"
    return raw.decode(encoding, errors="replace")


def _convert(raw: bytes, vr: str, charset: str) -> str:
    """An element's value as the rules read it: text, padding stripped per value, values joined by a backslash.

    Numbers are their decimal text and a tag its ``(gggg,eeee)``, as ``str()``
    of pydicom's value gives them; other binary values are hex.
    """
    if vr in _BYTES_VRS:
        return raw.hex()
    number = _NUMBER_FORMATS.get(vr)
    if number is not None or vr == "AT":
        return _numbers(raw, number)
    text = _text(raw, charset if vr in _CHARSET_VRS else "")
    if "\\" not in text:
        return text.strip(_PADDING)
    return "\\".join(value.strip(_PADDING) for value in text.split("\\"))


def _numbers(raw: bytes, number: str | None) -> str:
    size = struct.calcsize(number or "<HH")
    if len(raw) % size:
        return raw.hex()  # not a whole number of values: shown as it is, for the rule that reads it to report
    if number is None:  # AT: group then element
        return "\\".join(f"({g:04X},{e:04X})" for g, e in struct.iter_unpack("<HH", raw))
    return "\\".join(str(v) for (v,) in struct.iter_unpack(number, raw))


def node_of_dataset(ds: Dataset) -> Node:
    """A pydicom data set as a node (the same values the flat reader gives)."""
    node: Node = {}
    for element in ds:
        if element.VR == "SQ":
            node[int(element.tag)] = [node_of_dataset(item) for item in (element.value or [])]
            continue
        value = element.value
        if value is None:
            node[int(element.tag)] = ""
        elif isinstance(value, bytes):
            node[int(element.tag)] = value.hex()
        elif isinstance(value, (list, tuple, MultiValue)):
            node[int(element.tag)] = "\\".join(str(v).strip(_PADDING) for v in value)
        else:
            node[int(element.tag)] = str(value).strip(_PADDING)
    return node


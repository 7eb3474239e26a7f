"""Reading the RIS's HL7 v2 report message (ORU^R01 v2.5, MDM^T02/T04/T10 v2.6).

``read_header`` reads MSH by hand (so an ACK can be built even when the rest
does not parse); ``read_message`` parses the whole message with python-hl7
and returns an ``Hl7Report``, or raises ``Hl7Error`` carrying the table-0357
code, the location and a readable detail for the ERR segment of the ACK.
PID-3 repetitions are chosen by CX.5 (``INS`` / ``PI``), never by position.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from enum import Enum

import hl7
import hl7.util

from .log_caps import cap_library_log

cap_library_log(hl7.util.__file__)  # python-hl7 quotes the whole field once per bad escape (issue 13)

INS_OIDS = frozenset({"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"})
SUPPORTED_VERSIONS = {"ORU": "2.5", "MDM": "2.6"}
_SEGMENT_START = re.compile(r"^[A-Z][A-Z0-9]{2}(\||$)")
_CHARSETS = {"UNICODE UTF-8": "utf-8", "8859/15": "iso8859-15", "8859/1": "latin-1", "ASCII": "ascii", "": "utf-8"}


class Event(Enum):
    INITIAL = "initial"
    REPLACEMENT = "replacement"
    DELETION = "deletion"


# (OBX-11 of the document OBX, ORC-1) for each event
_EVENT_CODES = {Event.INITIAL: ("F", "NW"), Event.REPLACEMENT: ("C", "RO"), Event.DELETION: ("D", "CA")}
_MDM_TRIGGERS = {"T02": Event.INITIAL, "T10": Event.REPLACEMENT, "T04": Event.DELETION}


class Hl7Error(Exception):
    """The message cannot be used; becomes MSA-1 ``AE`` with an ERR segment."""

    TEXTS = {
        "100": "Segment sequence error",
        "101": "Required field missing",
        "102": "Data type error",
        "103": "Table value not found",
        "200": "Unsupported message type",
        "201": "Unsupported event code",
        "203": "Unsupported version",
        "207": "Application error",
    }

    def __init__(self, code: str, location: str, detail: str) -> None:
        where = f" at {location}" if location else ""
        super().__init__(f"{code} {self.TEXTS.get(code, 'Application error')}{where}: {detail}")
        self.code = code
        self.location = location  # ERL, e.g. "OBX^1^5"; empty when no field is at fault
        self.detail = detail

    @property
    def text(self) -> str:
        return self.TEXTS.get(self.code, "Application error")


@dataclass(frozen=True)
class MessageHeader:
    """MSH fields as received (raw, still escaped), for the ACK."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # MSH-9.1
    trigger: str = ""  # MSH-9.2
    control_id: str = ""  # MSH-10
    processing_id: str = ""  # MSH-11
    version: str = ""  # MSH-12
    charset: str = ""  # MSH-18

    @property
    def encoding(self) -> str:
        return _CHARSETS.get(self.charset.strip().upper(), "utf-8")


@dataclass(frozen=True)
class Sender:
    """PRT sender (PRT-4 ``SB``): the person and the organisation."""

    person_id: str = ""
    family: str = ""
    given: str = ""
    organisation_name: str = ""
    organisation_id_type: str = ""  # PRT-8.7
    organisation_id: str = ""  # PRT-8.10


@dataclass(frozen=True)
class Hl7Report:
    header: MessageHeader
    event: Event
    ins: str
    ins_oid: str
    ipp: str
    ipp_oid: str
    identity_status: str  # PID-32
    birth_name: str
    given_name: str
    birth_date: str
    sex: str
    cda: bytes
    document_obx: int  # index of the document OBX among the OBX segments
    flags: dict[str, str] = field(default_factory=dict)  # MetaDMPMSS code -> Y / N
    sender: Sender | None = None
    birth_place: str = ""  # PID-11 repetition with XAD.7 = BDL: XAD.9 (INSEE commune code)

    def flag(self, code: str) -> bool:
        return self.flags.get(code, "").upper() == "Y"


def is_well_formed_ins(value: str) -> bool:
    """15 characters: a 13-character NIR (digits, 2A/2B for Corsica) + key = 97 - (NIR mod 97)."""
    if len(value) != 15 or not value[13:].isdigit():
        return False
    nir = value[:5] + {"2A": "19", "2B": "18"}.get(value[5:7].upper(), value[5:7]) + value[7:13]
    return nir.isdigit() and 97 - int(nir) % 97 == int(value[13:])


def split_segments(text: str) -> list[str]:
    """Segments of a message, whatever the line ending; lines that do not start a segment continue the previous one
    (a base64 OBX-5 wrapped on several lines)."""
    segments: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        if segments and not _SEGMENT_START.match(line):
            segments[-1] += line.strip()
        else:
            segments.append(line)
    return segments


def read_header(raw: bytes) -> MessageHeader | None:
    """MSH as received, or None when the bytes do not start with an MSH segment."""
    first = re.split(rb"\r\n|\r|\n", raw.lstrip(), maxsplit=1)[0].decode("latin-1")
    if not first.startswith("MSH") or len(first) < 8:
        return None
    separator = first[3]
    fields = first.split(separator)  # fields[n - 1] = MSH-n for n >= 2
    component = fields[1][:1] if len(fields) > 1 and fields[1] else "^"

    def msh(n: int) -> str:
        return fields[n - 1] if len(fields) >= n else ""

    message_type = msh(9).split(component)
    return MessageHeader(
        sending_application=msh(3),
        sending_facility=msh(4),
        receiving_application=msh(5),
        receiving_facility=msh(6),
        message_type=message_type[0],
        trigger=message_type[1] if len(message_type) > 1 else "",
        control_id=msh(10),
        processing_id=msh(11),
        version=msh(12).split(component)[0],
        charset=msh(18),
    )


def read_message(raw: bytes) -> Hl7Report:
    header = read_header(raw)
    if header is None:
        raise Hl7Error("100", "MSH", "the message does not start with an MSH segment")
    try:
        text = raw.decode(header.encoding)
    except (UnicodeDecodeError, LookupError):
        raise Hl7Error("102", "MSH^1^18", f"the message is not valid {header.charset or 'UTF-8'}") from None
    try:
        message = hl7.parse("\r".join(split_segments(text)))
    except Exception as exc:  # python-hl7 raises several types on malformed input
        raise Hl7Error("100", "MSH", f"unparseable message: {exc}") from None
    view = _View(message)
    event = _event(header, view)

    pid_count = view.count("PID")
    if pid_count != 1:
        raise Hl7Error("100", "PID", f"expected one PID segment, found {pid_count}")
    ins = ins_oid = ipp = ipp_oid = ""
    for rep in range(1, view.repetitions("PID", 1, 3) + 1):
        kind = view.get("PID", 1, 3, rep, 5)
        if kind == "INS" and not ins:
            ins, ins_oid = view.get("PID", 1, 3, rep, 1), view.get("PID", 1, 3, rep, 4, 2)
        elif kind == "PI" and not ipp:
            ipp, ipp_oid = view.get("PID", 1, 3, rep, 1), view.get("PID", 1, 3, rep, 4, 2)
    birth_name = given_name = ""
    for rep in range(1, view.repetitions("PID", 1, 5) + 1):
        if view.get("PID", 1, 5, rep, 7) == "L" or (rep == 1 and not birth_name):
            birth_name, given_name = view.get("PID", 1, 5, rep, 1), view.get("PID", 1, 5, rep, 2)

    document, flags = _observations(view)
    return Hl7Report(
        header=header,
        event=event,
        ins=ins,
        ins_oid=ins_oid,
        ipp=ipp,
        ipp_oid=ipp_oid,
        identity_status=view.get("PID", 1, 32),
        birth_name=birth_name,
        given_name=given_name,
        birth_date=view.get("PID", 1, 7)[:8],
        sex=view.get("PID", 1, 8),
        cda=_decode_cda(view, document),
        document_obx=document,
        flags=flags,
        sender=_sender(view),
        birth_place=next(
            (view.get("PID", 1, 11, rep, 9) for rep in range(1, view.repetitions("PID", 1, 11) + 1)
             if view.get("PID", 1, 11, rep, 7) == "BDL"),
            "",
        ),
    )


def _event(header: MessageHeader, view: _View) -> Event:
    kind, trigger = header.message_type, header.trigger
    if kind not in SUPPORTED_VERSIONS:
        raise Hl7Error("200", "MSH^1^9", f"message type {kind!r} is not ORU or MDM")
    if header.version != SUPPORTED_VERSIONS[kind]:
        raise Hl7Error("203", "MSH^1^12", f"{kind} must be HL7 v{SUPPORTED_VERSIONS[kind]}, got {header.version!r}")
    if kind == "ORU" and trigger != "R01":
        raise Hl7Error("201", "MSH^1^9", f"ORU trigger {trigger!r} is not R01")
    if kind == "MDM" and trigger not in _MDM_TRIGGERS:
        raise Hl7Error("201", "MSH^1^9", f"MDM trigger {trigger!r} is not T02, T04 or T10")
    document = _document_obx(view)
    status = view.get("OBX", document, 11)
    order_control = view.get("ORC", 1, 1)
    by_status = {codes[0]: ev for ev, codes in _EVENT_CODES.items()}
    if kind == "MDM":
        event = _MDM_TRIGGERS[trigger]
        if status != _EVENT_CODES[event][0]:
            raise Hl7Error("207", f"OBX^{document}^11", f"OBX-11 {status!r} inconsistent with MDM^{trigger}")
    else:
        if status not in by_status:
            raise Hl7Error("103", f"OBX^{document}^11", f"OBX-11 {status!r} is not F, C or D")
        event = by_status[status]
    if order_control != _EVENT_CODES[event][1]:
        raise Hl7Error(
            "207", "ORC^1^1", f"ORC-1 {order_control!r} inconsistent with OBX-11 {status!r} (expected {_EVENT_CODES[event][1]})"
        )
    return event


def _document_obx(view: _View) -> int:
    for index in range(1, view.count("OBX") + 1):
        if view.get("OBX", index, 2) == "ED" and view.get("OBX", index, 3, 1, 3) != "MetaDMPMSS":
            return index
    raise Hl7Error("101", "OBX", "no document OBX (OBX-2 ED) carrying the CDA")


def _observations(view: _View) -> tuple[int, dict[str, str]]:
    flags = {
        view.get("OBX", index, 3): view.get("OBX", index, 5)
        for index in range(1, view.count("OBX") + 1)
        if view.get("OBX", index, 3, 1, 3) == "MetaDMPMSS" and view.get("OBX", index, 2) != "ED"
    }
    return _document_obx(view), flags


def _decode_cda(view: _View, obx: int) -> bytes:
    location = f"OBX^{obx}^5"
    data = view.get("OBX", obx, 5, 1, 5)
    if not data:
        raise Hl7Error("101", location, "OBX-5.5 (the base64 CDA) is empty")
    if view.get("OBX", obx, 5, 1, 4).lower() != "base64":
        raise Hl7Error("102", location, f"OBX-5.4 {view.get('OBX', obx, 5, 1, 4)!r} is not Base64")
    try:
        return base64.b64decode(re.sub(r"\s+", "", data), validate=True)
    except (binascii.Error, ValueError):
        raise Hl7Error("102", location, "OBX-5.5 is not valid base64") from None


def _sender(view: _View) -> Sender | None:
    for index in range(1, view.count("PRT") + 1):
        if view.get("PRT", index, 4) == "SB":
            return Sender(
                person_id=view.get("PRT", index, 5, 1, 1),
                family=view.get("PRT", index, 5, 1, 2),
                given=view.get("PRT", index, 5, 1, 3),
                organisation_name=view.get("PRT", index, 8, 1, 1),
                organisation_id_type=view.get("PRT", index, 8, 1, 7),
                organisation_id=view.get("PRT", index, 8, 1, 10),
            )
    return None


class _View:
    """1-based, never-raising access to a python-hl7 message (values unescaped)."""

    def __init__(self, message: hl7.Message) -> None:
        self.message = message
        self._counts: dict[str, int] = {}
        for segment in message:
            name = str(segment[0])
            self._counts[name] = self._counts.get(name, 0) + 1

    def count(self, segment: str) -> int:
        return self._counts.get(segment, 0)

    def get(self, segment: str, occurrence: int, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
        if occurrence > self.count(segment):
            return ""
        try:
            return str(self.message.extract_field(segment, occurrence, field, rep, comp, sub))
        except (IndexError, KeyError):
            return ""

    def repetitions(self, segment: str, occurrence: int, field: int) -> int:
        count = 0
        while True:
            try:
                self.message.extract_field(segment, occurrence, field, count + 1, 1, 1)
            except (IndexError, KeyError):
                return count
            count += 1

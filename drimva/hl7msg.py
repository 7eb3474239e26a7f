"""HL7 v2 messages as the harness reads them (python-hl7 underneath).

:func:`parse_message` accepts ``\\r``, ``\\n`` or ``\\r\\n`` segment separators
and an optional MLLP frame, and rejoins values wrapped over several lines
(the PFI sample wraps its base64 at 76 characters); :class:`Hl7Message` gives fields by their HL7
address (``PID-3.4.2``, ``OBX[2]-5``), repetitions, CX identifiers by type,
and a one-segment-per-line view for the evidence. Values returned by ``get``
are unescaped; raw (escaped) text is available from ``field``/``repetitions``.
hl7apy is not used here: its v2.5/v2.6 structures have no PRT segment (see
``shared/reference/hl7v2-ris-to-drimbox.md``, library notes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import hl7
from hl7.exceptions import ParseException

from drimva import hl7log

hl7log.install()

_PATH = re.compile(r"^(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<occ>\d+)\])?-(?P<field>\d+)(?:\.(?P<comp>\d+))?(?:\.(?P<sub>\d+))?$")


class Hl7Error(ValueError):
    """The data is not an HL7 v2 message; the message says why."""


@dataclass(frozen=True)
class Cx:
    """One CX (extended composite id) repetition, e.g. of PID-3."""

    id: str
    namespace: str  # CX.4.1
    oid: str  # CX.4.2
    oid_type: str  # CX.4.3
    id_type: str  # CX.5
    repetition: int
    raw: str


class Hl7Segment:
    """One segment; fields are numbered as in HL7 (for MSH, MSH-1 is the field separator)."""

    def __init__(self, message: "Hl7Message", parsed: hl7.Segment, position: int, occurrence: int) -> None:
        self._message = message
        self.name = str(parsed[0])
        self.position = position  # 0-based index in the message
        self.occurrence = occurrence  # 1-based among segments of the same name
        self._fields = [str(value) for value in parsed]

    @property
    def text(self) -> str:
        if self.name == "MSH":
            return "MSH" + self._fields[1] + self._message.field_separator.join(self._fields[2:])
        return self._message.field_separator.join(self._fields)

    @property
    def field_count(self) -> int:
        return len(self._fields) - 1

    def field(self, number: int) -> str:
        """Raw (escaped) text of field ``number``; "" when absent."""
        return self._fields[number] if 0 < number < len(self._fields) else ""

    def repetitions(self, number: int) -> list[str]:
        """Raw text of each repetition of a field (MSH-1 and MSH-2 are never split)."""
        value = self.field(number)
        if self.name == "MSH" and number <= 2:
            return [value]
        return value.split(self._message.repetition_separator) if value else []

    def get(self, path: str, repetition: int = 0) -> str:
        """Unescaped value at ``"<field>[.<component>[.<subcomponent>]]"`` of a repetition, "" when absent."""
        parts = [int(p) for p in path.split(".")]
        if not 1 <= len(parts) <= 3 or any(p < 1 for p in parts):
            raise ValueError(f"bad HL7 path {path!r}: expected field[.component[.subcomponent]]")
        reps = self.repetitions(parts[0])
        if repetition >= len(reps):
            return ""
        value = reps[repetition]
        if self.name == "MSH" and parts[0] <= 2:
            return value
        if len(parts) > 1:
            components = value.split(self._message.component_separator)
            value = components[parts[1] - 1] if parts[1] <= len(components) else ""
        if len(parts) > 2:
            subs = value.split(self._message.subcomponent_separator)
            value = subs[parts[2] - 1] if parts[2] <= len(subs) else ""
        return self._message.unescape(value)


class Hl7Message:
    """A parsed HL7 v2 message; build it with :func:`parse_message`."""

    def __init__(self, text: str) -> None:
        try:
            self._parsed = hl7.parse(text)
        except (ParseException, IndexError, ValueError, AssertionError) as error:
            # python-hl7 asserts on repeated encoding characters (MSH-2 "^^\\&"): a bad message, not a crash
            raise Hl7Error(f"not an HL7 v2 message: {error or 'MSH-2 encoding characters not distinct'}") from None
        self.text = text
        msh = str(text[3:8])
        if len(msh) < 5:  # python-hl7 reads "MSH|^" (found by the validate long fuzz run): MSH-1 and MSH-2 are cut short
            raise Hl7Error(f"not an HL7 v2 message: MSH-1 and MSH-2 need 5 characters, the message has {msh!r}")
        self.field_separator = msh[0]
        self.component_separator = msh[1]
        self.repetition_separator = msh[2]
        self.escape_character = msh[3]
        self.subcomponent_separator = msh[4]
        seen: dict[str, int] = {}
        self._segments: list[Hl7Segment] = []
        for position, segment in enumerate(self._parsed):
            name = str(segment[0])
            seen[name] = seen.get(name, 0) + 1
            self._segments.append(Hl7Segment(self, segment, position, seen[name]))

    # -- structure -----------------------------------------------------------
    @property
    def segment_names(self) -> list[str]:
        return [segment.name for segment in self._segments]

    @property
    def all_segments(self) -> list[Hl7Segment]:
        return list(self._segments)

    def segments(self, name: str) -> list[Hl7Segment]:
        return [segment for segment in self._segments if segment.name == name]

    def segment(self, name: str, occurrence: int = 1) -> Hl7Segment | None:
        found = self.segments(name)
        return found[occurrence - 1] if 0 < occurrence <= len(found) else None

    # -- values --------------------------------------------------------------
    def get(self, path: str, repetition: int = 0) -> str:
        """Unescaped value at an HL7 address such as ``PID-3.4.2`` or ``OBX[2]-5``; "" when absent."""
        segment, rest = self._locate(path)
        return segment.get(rest, repetition) if segment is not None else ""

    def repetitions(self, path: str) -> list[str]:
        """Raw text of each repetition of a field, e.g. ``repetitions("PID-3")``."""
        segment, rest = self._locate(path)
        if "." in rest:
            raise ValueError(f"repetitions() takes a field address, got {path!r}")
        return segment.repetitions(int(rest)) if segment is not None else []

    def cx_by_type(self, path: str, id_type: str) -> Cx | None:
        """The first repetition of a CX field whose CX.5 (identifier type code) is ``id_type``."""
        segment, rest = self._locate(path)
        if segment is None:
            return None
        number = int(rest)
        for index, raw in enumerate(segment.repetitions(number)):
            if segment.get(f"{number}.5", index) == id_type:
                return Cx(
                    id=segment.get(f"{number}.1", index),
                    namespace=segment.get(f"{number}.4.1", index),
                    oid=segment.get(f"{number}.4.2", index),
                    oid_type=segment.get(f"{number}.4.3", index),
                    id_type=id_type,
                    repetition=index,
                    raw=raw,
                )
        return None

    def unescape(self, value: str) -> str:
        if self.escape_character not in value:
            return value
        return str(self._parsed.unescape(value))

    @property
    def message_type(self) -> str:
        """MSH-9 as sent, e.g. ``ORU^R01^ORU_R01``."""
        segment = self.segment("MSH")
        return segment.field(9) if segment else ""

    @property
    def message_code(self) -> str:
        return self.get("MSH-9.1")

    @property
    def trigger(self) -> str:
        return self.get("MSH-9.2")

    @property
    def structure(self) -> str:
        return self.get("MSH-9.3")

    @property
    def control_id(self) -> str:
        return self.get("MSH-10")

    @property
    def version(self) -> str:
        return self.get("MSH-12.1")

    def to_text(self, max_value: int | None = None) -> str:
        """Segments on lines; with ``max_value``, longer components (base64) are shortened."""
        lines = [segment.text for segment in self._segments]
        if max_value is not None:
            lines = [_shorten(line, max_value, self) for line in lines]
        return "\n".join(lines) + "\n"

    def _locate(self, path: str) -> tuple[Hl7Segment | None, str]:
        match = _PATH.match(path)
        if not match:
            raise ValueError(f"bad HL7 address {path!r}: expected e.g. PID-3, PID-3.4.2, OBX[2]-5.5")
        segment = self.segment(match["seg"], int(match["occ"] or 1))
        rest = ".".join(p for p in (match["field"], match["comp"], match["sub"]) if p)
        return segment, rest


def normalise(data: bytes | str) -> str:
    """Message text with ``\\r`` separators: MLLP frame bytes removed, line endings unified."""
    if isinstance(data, bytes):
        data = data.strip(b"\x0b\x1c\r\n")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("iso-8859-15")  # MSH-18 "8859/15", the volet's other charset
    else:
        text = data.strip("\x0b\x1c\r\n")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    lines: list[str] = []
    separator = text[3:4] if text[:3] in ("MSH", "FHS", "BHS") else "|"
    start = re.compile(r"^[A-Z][A-Z0-9]{2}" + re.escape(separator))
    for line in text.split("\r"):
        if not line.strip():
            continue
        if lines and not start.match(line):
            lines[-1] += line  # a value wrapped over lines (base64 on 76-character lines): rejoin it
        else:
            lines.append(line)
    return "\r".join(lines)


def parse_message(data: bytes | str) -> Hl7Message:
    """One HL7 v2 message; raise :class:`Hl7Error` when the data is not one."""
    text = normalise(data)
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7Error(f"an HL7 v2 message starts with an MSH segment, got {text[:20]!r}")
    return Hl7Message(text)


def split_messages(data: bytes | str) -> list[Hl7Message]:
    """The messages of a batch file (FHS/BHS/BTS/FTS envelope segments are dropped)."""
    messages: list[list[str]] = []
    for line in normalise(data).split("\r"):
        name = line[:3]
        if name in ("FHS", "BHS", "BTS", "FTS"):
            continue
        if name == "MSH":
            messages.append([line])
        elif messages:
            messages[-1].append(line)
        else:
            raise Hl7Error(f"data before the first MSH segment: {line[:20]!r}")
    return [Hl7Message("\r".join(lines)) for lines in messages]


def escape(text: str, separators: str = "|^~\\&") -> str:
    """HL7-escape a value (field, component, repetition, escape, sub-component separators; CR)."""
    field, component, repetition, esc, sub = tuple(separators)
    table = {esc: f"{esc}E{esc}", field: f"{esc}F{esc}", component: f"{esc}S{esc}",
             repetition: f"{esc}R{esc}", sub: f"{esc}T{esc}", "\r": f"{esc}.br{esc}", "\n": f"{esc}.br{esc}"}
    return "".join(table.get(char, char) for char in text)


def _shorten(line: str, limit: int, message: Hl7Message) -> str:
    separators = re.escape(message.field_separator + message.component_separator + message.repetition_separator)
    return re.sub(
        rf"[^{separators}]{{{limit + 1},}}",
        lambda m: f"{m.group(0)[:40]}…[{len(m.group(0))} chars]",
        line,
    )

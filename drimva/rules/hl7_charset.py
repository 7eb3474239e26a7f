"""The bytes of an HL7 v2 message against the character set its MSH-18 declares.

The message parser (:func:`drimva.hl7msg.normalise`) is lenient on purpose: it
reads UTF-8 and falls back to ISO 8859-15, so a RIS that declares
``UNICODE UTF-8`` and sends Latin-1 bytes would be decoded silently and
acknowledged AA, while a real DRIMbox would store mojibake in the DMP. This
rule reads the raw bytes (MLLP frame removed) and says whether they decode in
the declared charset. An MSH-18 outside the volet's two values is the
``HL7-MSH18`` finding of :mod:`drimva.rules.hl7_report`, not this one.
"""

from __future__ import annotations

from drimva.findings import Finding

VOLET = "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1"
CODECS = {"UNICODE UTF-8": "utf-8", "8859/15": "iso-8859-15"}  # MSH-18 value -> Python codec
EXCERPT = 24  # bytes shown around the first undecodable one


def declared_charset(raw: bytes) -> str:
    """MSH-18 read from the raw bytes (ASCII-safe: MSH-1..18 precede any free text), "" when absent."""
    data = raw.strip(b"\x0b\x1c\r\n")
    if not data.startswith(b"MSH") or len(data) < 4:
        return ""
    separator = data[3:4]
    first = data.split(b"\r", 1)[0].split(b"\n", 1)[0]
    fields = first.split(separator)
    # fields[0] is "MSH", fields[1] the encoding characters (MSH-2): MSH-n is fields[n - 1].
    return fields[17].decode("ascii", "replace").strip() if len(fields) > 17 else ""


def check_declared_charset(raw: bytes) -> list[Finding]:
    """A finding when the message bytes are not valid in the charset MSH-18 declares (unknown or absent MSH-18: none)."""
    charset = declared_charset(raw)
    codec = CODECS.get(charset)
    if codec is None:
        return []
    data = raw.strip(b"\x0b\x1c\r\n")
    try:
        data.decode(codec)
    except UnicodeDecodeError as error:
        start = max(0, error.start - EXCERPT)
        excerpt = data[start:error.end + EXCERPT].decode("ascii", "backslashreplace")
        return [Finding(
            "HL7-CHARSET", f"{VOLET}: the message bytes are in the character set MSH-18 declares", "MSH-18",
            f"bytes valid in {charset} ({codec})",
            f"byte 0x{data[error.start]:02X} at offset {error.start} is not {codec} (…{excerpt}…)",
        )]
    return []

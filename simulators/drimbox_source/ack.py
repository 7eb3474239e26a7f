"""The technical ACK the harness's DRIMbox Source returns to a RIS (hl7v2-ris-to-drimbox.md §6).

``AA`` when the message raised no error finding; ``AE`` with one ``ERR`` per
error finding otherwise (ERR-2 the location as an ERL, ERR-3 a code of HL7
table 0357, ERR-4 ``E``, ERR-8 the finding in words); ``AR`` when the
harness could not judge the message (circumstantial: the RIS may resend).

Mapping of a finding to table 0357, where the volet is silent: an absent or
empty value is ``101`` Required field missing; a malformed value ``102`` Data
type error; a value outside its table or inconsistent with another field
``103`` Table value not found; segment order ``100``; message type ``200``,
event ``201``, processing id ``202``, version ``203``; a CDA finding (the
document carried in OBX-5) ``207`` Application error.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from drimva.findings import Finding, Severity
from drimva.hl7msg import Hl7Message, escape

TABLE_0357 = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version",
    "207": "Application error",
}
CODING_SYSTEM = "HL70357"
MAX_ERR = 20
_ABSENT = ("(empty)", "(absent)", "absent", "")
_BY_RULE = {
    "HL7-PARSE": "100",
    "HL7-STRUCTURE": "100",
    "HL7-VERSION": "203",
    "HL7-OBX2": "102",
    "HL7-OBX5": "102",
    "HL7-PID3-INS": "102",
    "HL7-PID3-IPP": "102",
    "HL7-CHARSET": "102",  # bytes not in the MSH-18 charset: a data error of the whole message
}
_LOCATION = re.compile(
    r"^(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<occ>\d+)\])?-(?P<field>\d+)(?:\[(?P<rep>\d+)\])?(?:\.(?P<comp>\d+))?(?:\.(?P<sub>\d+))?"
)
_control_ids = itertools.count(1)


def error_code(finding: Finding, message: Hl7Message | None = None) -> str:
    """The table 0357 code of an error finding."""
    rule = finding.rule
    if rule.startswith("CDA-"):
        return "207"
    if rule == "HL7-MSH9":
        known = message is not None and message.message_code in ("ORU", "MDM")
        return "201" if known else "200"
    if rule == "HL7-MSH-FIELDS" and finding.location == "MSH-11":
        return "202"
    if finding.actual.strip() in _ABSENT or finding.actual.startswith("missing") or "absent" in finding.actual:
        return "101"
    return _BY_RULE.get(rule, "103")


def error_location(finding: Finding, document_obx: int = 1) -> str:
    """The finding's location as an ERL (``SEG^occurrence^field^repetition^component^subcomponent``).

    Finding locations read ``PID-3[0].4.2`` (0-based repetition), ``OBX[2]-11``
    or ``MSH-12``; CDA findings point at the document OBX-5; other locations
    (``message``, ``OBX-5 (DESTDMP)``) give what can be read of them.
    """
    if finding.rule.startswith("CDA-"):
        return f"OBX^{document_obx}^5"
    match = _LOCATION.match(finding.location)
    if match is None:
        head = finding.location[:3]
        return f"{head}^1" if re.fullmatch(r"[A-Z][A-Z0-9]{2}", head) else ""
    rep = str(int(match["rep"]) + 1) if match["rep"] is not None else ("1" if match["comp"] else "")
    parts = [match["seg"], match["occ"] or "1", match["field"], rep, match["comp"] or "", match["sub"] or ""]
    return "^".join(parts).rstrip("^")


def ack_code(findings: list[Finding], judged: bool = True) -> str:
    if not judged:
        return "AR"
    return "AE" if any(f.severity == Severity.ERROR for f in findings) else "AA"


def build_ack(
    message: Hl7Message | None,
    findings: list[Finding],
    *,
    judged: bool = True,
    reason: str = "",
    now: datetime | None = None,
) -> str:
    """The ACK of ``message`` (None: unreadable, answered with empty routing) from its findings."""
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")
    control_id = f"DRIMVAACK{stamp}{next(_control_ids):05d}"
    get = message.get if message is not None else (lambda _path: "")
    trigger = message.trigger if message is not None else ""
    version = (message.version if message is not None else "") or "2.5"
    msh = "|".join([
        "MSH", "^~\\&", escape(get("MSH-5.1")), escape(get("MSH-6.1")), escape(get("MSH-3.1")), escape(get("MSH-4.1")),
        stamp, "", f"ACK^{trigger}^ACK" if trigger else "ACK", control_id, get("MSH-11.1") or "P", version,
        "", "", "", "", "FRA", get("MSH-18") or "UNICODE UTF-8",
    ])
    code = ack_code(findings, judged)
    segments = [msh, f"MSA|{code}|{escape(get('MSH-10'))}"]
    if not judged:
        segments.append(f"ERR||MSH^1|207^{TABLE_0357['207']}^{CODING_SYSTEM}|E||||{escape(reason[:200])}")
    errors = [f for f in findings if f.severity == Severity.ERROR]
    document = _document_occurrence(message)
    for finding in errors[:MAX_ERR]:
        number = error_code(finding, message)
        text = f"{finding.rule}: expected {finding.expected}, got {finding.actual}"
        segments.append(
            f"ERR||{error_location(finding, document)}|{number}^{TABLE_0357[number]}^{CODING_SYSTEM}|E||||{escape(text[:200])}"
        )
    return "".join(segment + "\r" for segment in segments)


def _document_occurrence(message: Hl7Message | None) -> int:
    if message is None:
        return 1
    for segment in message.segments("OBX"):
        if segment.get("3.3") != "MetaDMPMSS":
            return segment.occurrence
    return 1

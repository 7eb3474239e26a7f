"""The technical ACK a DRIMbox returns for a CR message (hl7v2-ris-to-drimbox.md §6).

Structure MSH, [SFT], [UAC], MSA, [ERR]; MSH-9 ``ACK^<trigger>^ACK``; MSH-12 the
version of the message acknowledged; sender and receiver swapped; MSA-1 ``AA``
for an accepted message (``AE`` / ``AR`` with an ERR whose ERR-3 is from table
0357 otherwise); MSA-2 = MSH-10 of the message acknowledged.
"""

from __future__ import annotations

from dataclasses import replace

from drimva.findings import Finding, FindingList
from drimva.hl7msg import Hl7Error, Hl7Message, parse_message

VOLET = "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1, acquittement technique"
TABLE_0357 = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "198": "Non-conformant cardinality",
    "199": "Other HL7 error",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version",
    "207": "Application error",
}
APPLICATION_ERRORS = {str(code) for code in range(900, 906)}  # volet codes 900-905 (MSSanté flow)
ACK_TRIGGERS = ("R01", "T02", "T04", "T10")


def _as_message(ack: bytes | str | Hl7Message | None) -> tuple[Hl7Message | None, str]:
    if ack is None or (isinstance(ack, (bytes, str)) and not ack.strip()):
        return None, "no ACK"
    if isinstance(ack, Hl7Message):
        return ack, ""
    try:
        return parse_message(ack), ""
    except Hl7Error as error:
        return None, str(error)


def ack_code(ack: bytes | str | Hl7Message | None) -> str | None:
    """MSA-1 of an ACK (``AA``, ``AE``, ``AR``...), or None when there is no readable MSA."""
    message, _ = _as_message(ack)
    if message is None or message.segment("MSA") is None:
        return None
    return message.get("MSA-1")


def check_ack(ack: bytes | str | Hl7Message | None, sent: Hl7Message, *, expect_accept: bool = True) -> list[Finding]:
    """Judge the ACK of ``sent``; ``expect_accept=False`` when the message was faulty on purpose."""
    out = FindingList()
    message, problem = _as_message(ack)
    if message is None:
        out.add("ACK-PRESENT", "", "MSH", "an HL7 ACK", problem)
        return out.items

    trigger = sent.trigger
    expected_type = f"ACK^{trigger}^ACK"
    actual_type = "^".join(message.get(f"MSH-9.{n}") for n in (1, 2, 3)).rstrip("^")
    if trigger not in ACK_TRIGGERS:
        out.add("ACK-MSH9", f"{VOLET}: MSH-9", "MSH-9", f"ACK for one of {list(ACK_TRIGGERS)}", f"{actual_type} (sent {sent.message_type})")
    else:
        out.check_equal("ACK-MSH9", f"{VOLET}: MSH-9 = ACK^<event>^ACK", "MSH-9", expected_type, actual_type)
    out.check_equal("ACK-VERSION", "", "MSH-12", sent.version, message.version)
    for ack_field, sent_field in (("MSH-3", "MSH-5"), ("MSH-4", "MSH-6"), ("MSH-5", "MSH-3"), ("MSH-6", "MSH-4")):
        out.check_equal(
            "ACK-ROUTING",
            "",
            ack_field,
            sent.get(sent_field),
            message.get(ack_field),
            note=f"{ack_field} of the ACK must equal {sent_field} of the message",
        )

    if message.segment("MSA") is None:
        out.add("ACK-MSA1", f"{VOLET}: MSA segment required", "MSA", "an MSA segment", f"segments {message.segment_names}")
        return out.items
    code = message.get("MSA-1")
    if expect_accept:
        out.check_equal("ACK-MSA1", f"{VOLET}: MSA-1 = AA when the DRIMbox takes responsibility for the message", "MSA-1", "AA", code)
    elif code not in ("AE", "AR"):
        out.add("ACK-MSA1", f"{VOLET}: a faulty message is refused (MSA-1 AE or AR)", "MSA-1", "AE or AR", code)
    out.check_equal("ACK-MSA2", "", "MSA-2", sent.control_id, message.get("MSA-2"))

    if code in ("AE", "AR"):
        errors = message.segments("ERR")
        if not errors:
            out.add("ACK-ERR", f"{VOLET}: ERR required when MSA-1 is AE or AR", "ERR", "an ERR segment", "absent")
        for index, err in enumerate(errors, start=1):
            value = err.get("3.1").strip()
            if value not in TABLE_0357 and value not in APPLICATION_ERRORS:
                out.add(
                    "ACK-ERR",
                    f"{VOLET}: ERR-3 from HL7 table 0357",
                    f"ERR[{index}]-3",
                    f"one of {sorted(TABLE_0357, key=int)} (or 900-905)",
                    err.field(3) or "(empty)",
                )
    return out.items


ACK_CODE_RULE = "ACK-MSA1"  # the rule that judges MSA-1 against the expected acceptance


def check_ack_exchange(
    ack: str | None, sent: str, error: str = "", *, expect_accept: bool | None = True
) -> list[Finding]:
    """The ACK rules over one exchange the RIS simulator recorded, with why no ACK came (refused, timed out, closed).

    ``expect_accept`` None: any acknowledgment code (AA, AE or AR) will do, MSA-1 is not judged.
    """
    findings = check_ack(ack, parse_message(sent), expect_accept=expect_accept is not False)
    if expect_accept is None:
        findings = [f for f in findings if f.rule != ACK_CODE_RULE]
    if ack is None and error:
        findings = [replace(f, actual=f"no ACK: {error}") if f.rule == "ACK-PRESENT" else f for f in findings]
    return findings

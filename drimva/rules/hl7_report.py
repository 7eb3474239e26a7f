"""The CR message as the receiving DRIMbox sees it (hl7v2-ris-to-drimbox.md §2-§5).

ORU^R01^ORU_R01 (v2.5) or MDM^T02/T04/T10^MDM_T02 (v2.6): header fields, segment
order and cardinality (with the pre-adopted PRT right after the document OBX),
PID-3 INS and IPP, identity status (PID-32), ORC-1 / OBX-11 / trigger
consistency, the document OBX and its base64 CDA, TXA-12/13 for MDM, the
sender PRT and the MetaDMPMSS flags. Severity follows the reference tags:
NORMATIVE → error; SAMPLE-only or UNVERIFIED points → warning.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from lxml import etree

from drimva.cda import CDA_NS, CdaError, parse_xml
from drimva.context import INS_OIDS, PS_ID_OID, STRUCTURE_ID_OID, is_valid_ins
from drimva.findings import Finding, FindingList, Severity
from drimva.hl7msg import Hl7Message, Hl7Segment

VOLET = "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1"
PAM_FR = "IHE PAM France 2.11 / CI-SIS Annexe INS"
DATASETS = "ANS datasets DRIM-M_DATA (sample only)"
QUALIFIED = "where-sources-disagree.md: qualified identity (PID-32 in the profile list)"

Event = Literal["initial", "replace", "delete"]
EVENT_BY_TRIGGER = {"T02": "initial", "T04": "delete", "T10": "replace"}
EVENT_BY_OBX11 = {"F": "initial", "C": "replace", "D": "delete"}
ORC_BY_EVENT = {"initial": "NW", "replace": "RO", "delete": "CA"}
OBX11_BY_EVENT = {"initial": "F", "replace": "C", "delete": "D"}
REQUIRED_FLAGS = (
    "MASQUE_PS",
    "INVISIBLE_PATIENT",
    "INVISIBLE_REP_LEGAUX",
    "CONNEXION_SECRETE",
    "MODIF_CONF_CODE",
    "DESTDMP",
    "DESTMSSANTEPS",
    "DESTMSSANTEPAT",
)
STRUCTURES = {
    "ORU": (
        re.compile(r"^MSH (SFT )*PID (PV1 )?(ORC OBR (NTE )*(TQ1 )*(OBX (PRT )*(NTE )*)+)+$"),
        "MSH [SFT] PID [PV1] {ORC OBR [NTE] [TQ1] {OBX [PRT] [NTE]}}",
    ),
    "MDM": (
        re.compile(r"^MSH (SFT )*EVN PID PV1 ORC (TQ1 (TQ2 )*)*OBR (NTE )*TXA (OBX (PRT )*(NTE )*)+$"),
        "MSH [SFT] EVN PID PV1 ORC [TQ1 [TQ2]] OBR [NTE] TXA {OBX [PRT] [NTE]}",
    ),
}
TYPES = {"ORU": ("ORU^R01^ORU_R01", "2.5", "CE"), "MDM": ("MDM^{trigger}^MDM_T02", "2.6", "CWE")}
STRUCTURE_ID_TYPES = ("FINEG", "FINEJ", "IDNST", "SIRET")


def unreadable_message(error: str, location: str = "MSH") -> list[Finding]:
    """HL7-PARSE: the bytes are not an HL7 v2 message (``error``: what the parser said)."""
    return [Finding("HL7-PARSE", "", location, "an HL7 v2 message starting with MSH", error)]


def document_obx(message: Hl7Message) -> Hl7Segment | None:
    """The OBX carrying the CDA: the first OBX that is not a MetaDMPMSS flag."""
    for segment in message.segments("OBX"):
        if segment.get("3.3") != "MetaDMPMSS":
            return segment
    return None


def extract_cda(message: Hl7Message) -> bytes | None:
    """The CDA carried in the document OBX-5.5 (whitespace tolerated), or None."""
    obx = document_obx(message)
    if obx is None:
        return None
    data = "".join(obx.get("5.5").split())
    if not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def report_event(message: Hl7Message) -> Event:
    """initial / replace / delete: from the MDM trigger, else from the document OBX-11 (ORU).

    Raises ValueError when neither says.
    """
    if message.message_code == "MDM" and message.trigger in EVENT_BY_TRIGGER:
        return EVENT_BY_TRIGGER[message.trigger]  # type: ignore[return-value]
    obx = document_obx(message)
    status = obx.get("11") if obx is not None else ""
    if status in EVENT_BY_OBX11:
        return EVENT_BY_OBX11[status]  # type: ignore[return-value]
    raise ValueError(f"cannot tell the report event: MSH-9 {message.message_type!r}, document OBX-11 {status!r}")


def is_qualified(message: Hl7Message, qualified_statuses: tuple[str, ...] = ("VALI", "QUAL")) -> bool:
    """A qualified identity: PID-32 in the list and a well-formed INS with an INS OID in PID-3."""
    ins = message.cx_by_type("PID-3", "INS")
    return (
        message.get("PID-32") in qualified_statuses
        and ins is not None
        and ins.oid in INS_OIDS
        and is_valid_ins(ins.id)
    )


def check_report_message(message: Hl7Message, qualified_statuses: tuple[str, ...] = ("VALI", "QUAL")) -> list[Finding]:
    out = FindingList()
    kind = _check_header(message, out)
    if kind is None:
        return out.items
    _check_structure(message, kind, out)
    _check_pid(message, qualified_statuses, out)
    obx = document_obx(message)
    if obx is None:
        out.add("HL7-DOC-OBX", f"{VOLET}: the first OBSERVATION carries the CDA", "OBX", "a document OBX", "absent")
    else:
        _check_document(message, kind, obx, out)
    _check_prt(message, out)
    _check_flags(message, kind, out)
    return out.items


def _check_header(message: Hl7Message, out: FindingList) -> str | None:
    code, trigger = message.message_code, message.trigger
    kind = code if code in TYPES else None
    if kind is None or (kind == "MDM" and trigger not in EVENT_BY_TRIGGER):
        out.add("HL7-MSH9", f"{VOLET} §2: message types", "MSH-9", "ORU^R01^ORU_R01 or MDM^T02|T04|T10^MDM_T02", message.message_type)
        return None
    expected_type, version, _ = TYPES[kind]
    out.check_equal("HL7-MSH9", f"{VOLET} §2: message types", "MSH-9", expected_type.format(trigger=trigger), message.message_type)
    out.check_equal("HL7-VERSION", f"{VOLET}: ORU in v2.5, MDM in v2.6", "MSH-12", version, message.version)
    for number in (3, 4, 5, 6, 7, 10):
        if not message.get(f"MSH-{number}"):
            out.add("HL7-MSH-FIELDS", f"{VOLET}: MSH-{number} required", f"MSH-{number}", "a value", "(empty)")
    if message.get("MSH-11") not in ("P", "T", "D"):
        out.add("HL7-MSH-FIELDS", f"{VOLET}: MSH-11 processing id", "MSH-11", "P, T or D", message.get("MSH-11"))
    out.check_equal("HL7-MSH17", f"{VOLET}: MSH-17 country code", "MSH-17", "FRA", message.get("MSH-17"))
    charset = message.get("MSH-18")
    if charset not in ("UNICODE UTF-8", "8859/15"):
        out.add("HL7-MSH18", f"{VOLET}: MSH-18 character set", "MSH-18", "UNICODE UTF-8 or 8859/15", charset)
    out.check_equal(
        "HL7-MSH21", f"{VOLET}: MSH-21 message profile", "MSH-21", "2.1^CISIS_CDA_HL7_V2",
        f"{message.get('MSH-21.1')}^{message.get('MSH-21.2')}",
    )
    return kind


def _check_structure(message: Hl7Message, kind: str, out: FindingList) -> None:
    pattern, grammar = STRUCTURES[kind]
    names = message.segment_names
    if not pattern.match(" ".join(names) + " "):
        out.add("HL7-STRUCTURE", f"{VOLET} §3: {message.message_type} structure", "message", grammar, " ".join(names))
    previous_obx: Hl7Segment | None = None
    documents = 0
    for segment in message.all_segments:
        if segment.name == "OBX":
            previous_obx = segment
            documents += segment.get("3.3") != "MetaDMPMSS"
        elif segment.name == "PRT" and previous_obx is not None and previous_obx.get("3.3") == "MetaDMPMSS":
            out.add(
                "HL7-STRUCTURE", f"{VOLET} §3: PRT only in the document OBSERVATION group",
                f"PRT (segment {segment.position + 1})", "after the document OBX",
                f"after OBX[{previous_obx.occurrence}] {previous_obx.get('3.1')}",
            )
    if documents > 1:
        out.add("HL7-STRUCTURE", f"{VOLET} §3: one CDA document per message in Ségur vague 2", "OBX", "1 document OBX", documents)


def _check_pid(message: Hl7Message, qualified_statuses: tuple[str, ...], out: FindingList) -> None:
    if message.segment("PID") is None:
        out.add("HL7-PID3-INS", f"{VOLET}: PID required", "PID", "a PID segment", "absent")
        return
    ins = message.cx_by_type("PID-3", "INS")
    if ins is None:
        out.add("HL7-PID3-INS", f"{PAM_FR}: INS in PID-3 (CX.5 = INS)", "PID-3", "a repetition with CX.5 INS", message.get("PID-3"))
    else:
        location = f"PID-3[{ins.repetition}]"
        if not is_valid_ins(ins.id):
            out.add("HL7-PID3-INS", f"{PAM_FR}: INS matricule = 13-digit NIR + key (97 - NIR mod 97)", f"{location}.1", "a 15-digit INS with a valid key", ins.id)
        if ins.oid not in INS_OIDS:
            out.add("HL7-PID3-INS", "hl7v2-ris-to-drimbox.md §5: INS OIDs", f"{location}.4.2", f"one of {sorted(INS_OIDS)}", ins.oid or "(empty)")
        if ins.oid_type != "ISO":
            out.add("HL7-PID3-INS", f"{PAM_FR}: CX.4 namespace&OID&ISO", f"{location}.4.3", "ISO", ins.oid_type or "(empty)")
        if ins.namespace not in ("ASIP-SANTE-INS-NIR", "ASIP-SANTE-INS-NIA"):
            out.add("HL7-PID3-INS", f"{DATASETS}: CX.4.1 ASIP-SANTE-INS-NIR", f"{location}.4.1", "ASIP-SANTE-INS-NIR", ins.namespace, Severity.WARNING)
    ipp = message.cx_by_type("PID-3", "PI")
    if ipp is None:
        out.add("HL7-PID3-IPP", f"{DATASETS}: IPP in PID-3 (CX.5 = PI)", "PID-3", "a repetition with CX.5 PI", message.get("PID-3"), Severity.WARNING)
    elif not ipp.id or not ipp.oid:
        out.add("HL7-PID3-IPP", f"{DATASETS}: IPP with its assigning authority OID", f"PID-3[{ipp.repetition}]", "id^^^authority&OID&ISO^PI", ipp.raw, Severity.WARNING)
    status = message.get("PID-32")
    if status not in qualified_statuses:
        out.add(
            "HL7-PID32", QUALIFIED, "PID-32", f"one of {list(qualified_statuses)}", status or "(empty)", Severity.WARNING,
            note="identity not qualified: no publication expected",
        )


def _check_document(message: Hl7Message, kind: str, obx: Hl7Segment, out: FindingList) -> None:
    where = f"OBX[{obx.occurrence}]"
    try:
        event = report_event(message)
    except ValueError as error:
        out.add("HL7-EVENT", f"{VOLET} §2: trigger / OBX-11", f"{where}-11", "F, C or D", str(error))
        event = None
    if event is not None:
        out.check_equal("HL7-EVENT", f"{VOLET} §2: ORC-1 consistent with OBX-11 and the trigger", "ORC-1", ORC_BY_EVENT[event], message.get("ORC-1"),
                        note=f"event {event} ({message.message_type}, document OBX-11 {obx.get('11')})")
        out.check_equal("HL7-EVENT", f"{VOLET} §2: OBX-11 consistent with the trigger", f"{where}-11", OBX11_BY_EVENT[event], obx.get("11"))
    out.check_equal("HL7-OBX2", f"{VOLET}: document OBX-2 = ED", f"{where}-2", "ED", obx.get("2"))
    obr = (message.get("OBR-4.1"), message.get("OBR-4.3"))
    obx3 = (obx.get("3.1"), obx.get("3.3"))
    out.check_equal("HL7-OBR4-OBX3", f"{VOLET}: OBR-4 = OBX-3 of the document OBX", "OBR-4", "^".join(obx3), "^".join(obr))
    if obx3[0] != "18748-4" or obx3[1] not in ("LN", "TRE_A05"):
        out.add("HL7-DOCTYPE", f"{VOLET}: CR d'imagerie = 18748-4 (LN)", f"{where}-3", "18748-4^CR d'imagerie médicale^LN", obx.field(3))
    expected = "TEXT" if kind == "ORU" else "text"
    encoding = (obx.get("5.2"), obx.get("5.3"), obx.get("5.4"))
    if encoding[0].upper() != "TEXT" or encoding[1:] != ("XML", "Base64"):
        out.add("HL7-OBX5", f"{VOLET}: OBX-5 ED = ^{expected}^XML^Base64^<CDA>", f"{where}-5", f"^{expected}^XML^Base64^…", "^" + "^".join(encoding) + "^…")
    root = _document_root(message, obx, out)
    if kind == "MDM":
        _check_txa(message, root, event, out)


def _document_root(message: Hl7Message, obx: Hl7Segment, out: FindingList) -> etree._Element | None:
    """The root of the CDA in OBX-5.5, or None with a finding saying why."""
    where = f"OBX[{obx.occurrence}]"
    cda = extract_cda(message)
    if cda is None:
        out.add("HL7-OBX5", f"{VOLET}: OBX-5.5 = base64 of the CDA", f"{where}-5.5", "base64 data", _short(obx.get("5.5")))
        return None
    try:
        root = parse_xml(cda)
    except CdaError as error:
        out.add("HL7-OBX5", f"{VOLET}: OBX-5.5 decodes to a CDA document", f"{where}-5.5", "a CDA R2 ClinicalDocument", str(error))
        return None
    if root.tag != f"{{{CDA_NS}}}ClinicalDocument":
        out.add("HL7-OBX5", f"{VOLET}: OBX-5.5 decodes to a CDA document", f"{where}-5.5", "ClinicalDocument", root.tag)
        return None
    return root


def _check_txa(message: Hl7Message, root: etree._Element | None, event: str | None, out: FindingList) -> None:
    """TXA fields; TXA-12 / TXA-13 are compared with the CDA when it could be read."""
    if message.segment("TXA") is None:
        return  # reported by the structure rule
    if not message.get("TXA-12.1"):
        out.add("HL7-TXA12", f"{VOLET}: TXA-12 unique document number = CDA id", "TXA-12", "the CDA id", "(empty)")
    elif root is not None:
        cda_id = root.find(f"{{{CDA_NS}}}id")
        root_id = cda_id.get("root", "") if cda_id is not None else ""
        extension = cda_id.get("extension", "") if cda_id is not None else ""
        if extension:
            expected, actual = f"{extension}^^{root_id}^ISO", "^".join(message.get(f"TXA-12.{n}") for n in (1, 2, 3, 4))
        else:
            expected, actual = root_id, message.get("TXA-12.1")
        out.check_equal("HL7-TXA12", f"{VOLET}: TXA-12 = CDA id", "TXA-12", expected, actual)
    parent = message.get("TXA-13.1")
    if event == "replace":
        if not parent:
            out.add("HL7-TXA13", f"{VOLET}: TXA-13 parent document required for a replacement", "TXA-13", "the id of the replaced CDA", "(empty)")
        elif root is not None:
            related = root.find(f"{{{CDA_NS}}}relatedDocument/{{{CDA_NS}}}parentDocument/{{{CDA_NS}}}id")
            if related is not None and parent not in (related.get("root"), related.get("extension")):
                out.add("HL7-TXA13", f"{VOLET}: TXA-13 = relatedDocument/parentDocument/id of the CDA", "TXA-13", related.get("root"), parent)
    for number, value in ((2, "18748-4"), (3, "TEXT"), (17, "AU")):
        out.check_equal("HL7-TXA", f"{VOLET}: TXA-{number}", f"TXA-{number}", value, message.get(f"TXA-{number}.1"))


def _check_prt(message: Hl7Message, out: FindingList) -> None:
    senders = [prt for prt in message.segments("PRT") if prt.get("4.1") == "SB"]
    requirement = f"{VOLET}: sender PRT (SB) with PS and structure national ids (SC.DMP/CONF.12)"
    if not senders:
        out.add("HL7-PRT", requirement, "PRT-4", "a PRT with PRT-4 = SB^Send by^participation", f"{len(message.segments('PRT'))} PRT, none SB")
        return
    prt = senders[0]
    where = f"PRT[{prt.occurrence}]"
    out.check_equal("HL7-PRT", requirement, f"{where}-2", "UC", prt.get("2"))
    person, device = prt.get("5.1"), prt.get("10.1")
    if not person and not device:
        out.add("HL7-PRT", requirement, f"{where}-5", "the sender's national id (or PRT-10 device)", "(empty)")
    if person:
        out.check_equal("HL7-PRT", requirement, f"{where}-5.9.2", PS_ID_OID, prt.get("5.9.2"))
        if prt.get("5.13") not in ("RPPS", "IDNPS"):
            out.add("HL7-PRT", requirement, f"{where}-5.13", "RPPS or IDNPS", prt.get("5.13") or "(empty)")
    if not prt.get("8.10"):
        out.add("HL7-PRT", requirement, f"{where}-8.10", "the structure id (FINESS géographique...)", "(empty)")
    out.check_equal("HL7-PRT", requirement, f"{where}-8.6.2", STRUCTURE_ID_OID, prt.get("8.6.2"))
    if prt.get("8.7") not in STRUCTURE_ID_TYPES:
        out.add("HL7-PRT", requirement, f"{where}-8.7", f"one of {list(STRUCTURE_ID_TYPES)}", prt.get("8.7") or "(empty)")


def _check_flags(message: Hl7Message, kind: str, out: FindingList) -> None:
    data_type = TYPES[kind][2]
    flags: dict[str, str] = {}
    for obx in message.segments("OBX"):
        if obx.get("3.3") != "MetaDMPMSS":
            continue
        code, where = obx.get("3.1"), f"OBX[{obx.occurrence}]"
        value = obx.get("5.1")
        flags[code] = value
        if code.startswith("CORPSMAIL"):
            continue  # mail bodies: ED, optional, ignored by the DRIMbox
        requirement = f"{VOLET}: MetaDMPMSS flag {code}"
        out.check_equal("HL7-FLAGS", requirement, f"{where}-2", data_type, obx.get("2"))
        if value not in ("Y", "N"):
            out.add("HL7-FLAGS", requirement, f"{where}-5", "Y^^expandedYes-NoIndicator or N^^expandedYes-NoIndicator", obx.field(5) or "(empty)")
        out.check_equal("HL7-FLAGS", requirement, f"{where}-11", "F", obx.get("11"))
    missing = [code for code in REQUIRED_FLAGS if code not in flags]
    if missing:
        out.add("HL7-FLAGS", f"{VOLET}: required MetaDMPMSS flags", "OBX-3", list(REQUIRED_FLAGS), f"missing {missing}")
    if flags.get("DESTDMP") not in (None, "Y"):
        out.add(
            "HL7-DESTDMP", f"{VOLET}: DESTDMP = Y for a DMP publication (UNVERIFIED as a DRIMbox rule)", "OBX-5 (DESTDMP)",
            "Y", flags["DESTDMP"], Severity.WARNING, note="DESTDMP = N: no DMP publication expected",
        )


def _short(value: str) -> str:
    return value if len(value) <= 60 else f"{value[:40]}…[{len(value)} chars]"

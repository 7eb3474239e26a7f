"""HL7 v2 messages of the RIS: the CR d'imagerie as ORU^R01 (v2.5) or MDM^T02/T04/T10 (v2.6).

Built per the CI-SIS volet "Transmission d'un document CDA-R2 en HL7v2" 2.1
(``shared/reference/hl7v2-ris-to-drimbox.md`` §2-§4) and laid out like the
official ANS datasets (``CR_C-ORU.hl7``, ``CR_C-MDM.hl7``...): PID with INS
and IPP, the document OBX carrying the base64 CDA, the sender PRT right after
it, then one OBX per MetaDMPMSS flag. Where the volet is silent:

- PV1-2 is ``O`` (an imaging centre's outpatient) and PV1-19 a visit number
  derived from the accession number (PV1-19 is required for class ``O``);
- OBR-2 carries the placer order number, OBR-25 is ``F`` as in every dataset;
- each segment is terminated by ``\\r`` (HL7 segment terminator).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from drimva.context import INS_OIDS, PS_ID_OID, STRUCTURE_ID_OID
from drimva.hl7msg import escape
from fixtures.reports import METADMPMSS_FLAGS, ReportSpec

Kind = Literal["ORU", "MDM"]
Event = Literal["initial", "replace", "delete"]

DOCUMENT_TYPE = "18748-4^CR d'imagerie médicale^LN"
PROFILE = "2.1^CISIS_CDA_HL7_V2"
MDM_TRIGGERS: dict[str, str] = {"initial": "T02", "delete": "T04", "replace": "T10"}
ORC_CODES: dict[str, str] = {"initial": "NW", "replace": "RO", "delete": "CA"}
OBX_STATUS: dict[str, str] = {"initial": "F", "replace": "C", "delete": "D"}
PS_AUTHORITY = f"ASIP-SANTE-PS&{PS_ID_OID}&ISO"
STRUCTURE_AUTHORITY = f"ASIP-SANTE-ST&{STRUCTURE_ID_OID}&ISO"


def build_report_message(
    spec: ReportSpec,
    cda: bytes,
    *,
    kind: Kind,
    event: Event,
    control_id: str,
    sending: tuple[str, str] = ("DRIMVA_RIS", "DRIMVA_FAC"),
    receiving: tuple[str, str] = ("DRIMBOX", "DB_FAC"),
    processing_id: str = "P",
    now: datetime | None = None,
) -> str:
    """The ORU or MDM message carrying ``cda`` for ``event``; segments terminated by ``\\r``."""
    if kind not in ("ORU", "MDM"):
        raise ValueError(f"kind must be ORU or MDM, got {kind!r}")
    if event not in ORC_CODES:
        raise ValueError(f"event must be one of {sorted(ORC_CODES)}, got {event!r}")
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")
    if kind == "ORU":
        message_type, version, data_type, flag_type = "ORU^R01^ORU_R01", "2.5", "TEXT", "CE"
    else:
        message_type, version, data_type, flag_type = f"MDM^{MDM_TRIGGERS[event]}^MDM_T02", "2.6", "text", "CWE"

    segments = [
        _segment("MSH", {
            2: "^~\\&", 3: escape(sending[0]), 4: escape(sending[1]), 5: escape(receiving[0]),
            6: escape(receiving[1]), 7: stamp, 9: message_type, 10: escape(control_id), 11: processing_id,
            12: version, 17: "FRA", 18: "UNICODE UTF-8", 21: PROFILE,
        }),
    ]
    if kind == "MDM":
        segments.append(_segment("EVN", {2: stamp, 5: _xcn(spec), 6: stamp}))
    segments += [_pid(spec), _pv1(spec), _segment("ORC", {1: ORC_CODES[event]})]
    segments.append(_segment("OBR", {1: "1", 2: f"{escape(spec.order_id)}^{escape(sending[0])}", 4: DOCUMENT_TYPE, 25: "F"}))
    if kind == "MDM":
        segments.append(_segment("TXA", {
            1: "1", 2: "18748-4", 3: "TEXT", 4: spec.effective_time, 12: escape(spec.cda_id_root),
            13: escape(spec.replaces_cda_id) if event == "replace" else "", 17: "AU", 22: _xcn(spec),
        }))
    payload = base64.b64encode(cda).decode("ascii")
    segments.append(_segment("OBX", {
        1: "1", 2: "ED", 3: DOCUMENT_TYPE, 5: f"^{data_type}^XML^Base64^{payload}", 11: OBX_STATUS[event],
    }))
    organisation = spec.organisation
    segments.append(_segment("PRT", {
        2: "UC", 4: "SB^Send by^participation", 5: _xcn(spec),
        8: f"{escape(organisation.name)}^^^^^{STRUCTURE_AUTHORITY}^{escape(organisation.id_type)}^^^{escape(organisation.structure_id)}",
    }))
    present = [(code, label) for code, label in METADMPMSS_FLAGS if code in spec.flags]
    for number, (code, label) in enumerate(present, start=2):
        segments.append(_segment("OBX", {
            1: str(number), 2: flag_type, 3: f"{code}^{escape(label)}^MetaDMPMSS",
            5: f"{escape(spec.flags[code])}^^expandedYes-NoIndicator", 11: "F",
        }))
    return "".join(segment + "\r" for segment in segments)


def _pid(spec: ReportSpec) -> str:
    patient = spec.patient
    namespace = "ASIP-SANTE-INS-NIA" if INS_OIDS.get(patient.ins_oid) == "INS-NIA" else "ASIP-SANTE-INS-NIR"
    ids = f"{escape(patient.ins)}^^^{namespace}&{patient.ins_oid}&ISO^INS"
    if patient.ipp:
        ids += f"~{escape(patient.ipp)}^^^{escape(patient.ipp_authority)}&{patient.ipp_oid}&ISO^PI"
    family, given = escape(patient.birth_name), escape(patient.given_name)
    fields = {
        3: ids,
        5: f"{family}^{given}^{given}^^^^L~{family}^^^^^^D",
        7: patient.birth_date,
        8: patient.sex,
        11: f"^^^^^^BDL^^{patient.birth_place}" if patient.birth_place else "",
        31: "N",
        32: escape(spec.pid32),
    }
    return _segment("PID", fields)


def _pv1(spec: ReportSpec) -> str:
    patient = spec.patient
    authority = f"{escape(patient.ipp_authority)}&{patient.ipp_oid}&ISO" if patient.ipp_oid else ""
    return _segment("PV1", {1: "1", 2: "O", 19: f"V{escape(spec.accession)}^^^{authority}^VN"})


def _xcn(spec: ReportSpec) -> str:
    """The author as an XCN with national PS id (``8`` + RPPS): id^family^given^…^authority^D^^^RPPS."""
    author = spec.author
    return (
        f"{escape(author.national_id)}^{escape(author.family)}^{escape(author.given)}"
        f"^^^^^^{PS_AUTHORITY}^D^^^{escape(author.id_type)}"
    )


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: encoded value}; for MSH, field 1 is the separator itself."""
    first = 2 if name == "MSH" else 1
    return name + "|" + "|".join(fields.get(n, "") for n in range(first, max(fields) + 1))

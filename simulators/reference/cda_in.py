"""Reading the CR d'imagerie (CDA R2, IMG-CR-IMG) carried in the HL7 message.

``read_cda`` returns what the DRIMbox needs to query the PACS, build the KOS
and its XDS metadata; it raises ``CdaError`` (XPath + detail) when the report
cannot be used (not XML, no study, no accession / order). The INS is optional
here: the identity gate of the service decides what its absence means.
One KOS per study: every ``documentationOf/serviceEvent[@classCode='ACT']``
with a UID as ``id/@root`` is a study.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

NS = {"cda": "urn:hl7-org:v3", "ps3-20": "urn:dicom-org:ps3-20"}
INS_ROOTS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")
PS_ID_OID = "1.2.250.1.71.4.2.1"
STRUCTURE_ID_OID = "1.2.250.1.71.4.2.2"
DCM_MODALITY_SYSTEM = "1.2.840.10008.2.16.4"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


class CdaError(ValueError):
    def __init__(self, xpath: str, detail: str) -> None:
        super().__init__(f"{xpath}: {detail}")
        self.xpath = xpath
        self.detail = detail


@dataclass(frozen=True)
class CdaPatient:
    ins: str
    ins_oid: str
    ipp: str
    ipp_oid: str
    birth_name: str
    given_name: str
    birth_date: str  # YYYYMMDD
    sex: str  # F / M / U


@dataclass(frozen=True)
class CdaOrder:
    accession: str
    accession_issuer: str
    order_id: str
    order_root: str


@dataclass(frozen=True)
class CdaStudy:
    study_uid: str
    act_code: tuple[str, str, str] | None  # (code, codeSystem, displayName) of serviceEvent/code
    modalities: tuple[str, ...]  # DCM translations of serviceEvent/code
    service_start: str  # YYYYMMDDhhmmss, offset stripped
    service_stop: str
    practice_setting: str  # performer organisation standardIndustryClassCode


@dataclass(frozen=True)
class CdaReport:
    document_id: str
    confidentiality: str
    patient: CdaPatient
    order: CdaOrder
    studies: tuple[CdaStudy, ...]
    author_id: str
    author_family: str
    author_given: str
    organisation_id: str
    organisation_name: str
    practice_setting: str  # author organisation standardIndustryClassCode
    healthcare_facility_code: str


def read_cda(data: bytes) -> CdaReport:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise CdaError("/", f"the CDA is not well-formed XML: {exc}") from None
    if root.tag != "{urn:hl7-org:v3}ClinicalDocument":
        raise CdaError("/", f"root element is {root.tag}, not cda:ClinicalDocument")
    doc = _Doc(root)
    studies = tuple(
        _study(event, doc)
        for event in root.xpath("cda:documentationOf/cda:serviceEvent[@classCode='ACT']", namespaces=NS)
        if _UID.match(event.xpath("string(cda:id/@root)", namespaces=NS).strip())
    )
    if not studies:
        raise CdaError("/ClinicalDocument/documentationOf/serviceEvent/id/@root", "no Study Instance UID in the CR")
    order = CdaOrder(
        accession=doc.text("cda:inFulfillmentOf/cda:order/ps3-20:accessionNumber/@extension"),
        accession_issuer=doc.text("cda:inFulfillmentOf/cda:order/ps3-20:accessionNumber/@root"),
        order_id=doc.text("cda:inFulfillmentOf/cda:order/cda:id/@extension"),
        order_root=doc.text("cda:inFulfillmentOf/cda:order/cda:id/@root"),
    )
    if not order.accession:
        raise CdaError("/ClinicalDocument/inFulfillmentOf/order/ps3-20:accessionNumber/@extension", "no accession number")
    if not order.order_id:
        raise CdaError("/ClinicalDocument/inFulfillmentOf/order/id/@extension", "no order (placer) number")
    author = "cda:author[1]/cda:assignedAuthor"
    organisation = f"{author}/cda:representedOrganization"
    return CdaReport(
        document_id=doc.text("cda:id/@root"),
        confidentiality=doc.text("cda:confidentialityCode/@code"),
        patient=_patient(doc),
        order=order,
        studies=studies,
        author_id=doc.text(f"{author}/cda:id[@root='{PS_ID_OID}']/@extension") or doc.text(f"{author}/cda:id/@extension"),
        author_family=doc.text(f"{author}/cda:assignedPerson/cda:name/cda:family"),
        author_given=doc.text(f"{author}/cda:assignedPerson/cda:name/cda:given"),
        organisation_id=doc.text(f"{organisation}/cda:id[@root='{STRUCTURE_ID_OID}']/@extension")
        or doc.text(f"{organisation}/cda:id/@extension"),
        organisation_name=doc.text(f"{organisation}/cda:name"),
        practice_setting=doc.text(f"{organisation}/cda:standardIndustryClassCode/@code"),
        healthcare_facility_code=doc.text(
            "cda:componentOf/cda:encompassingEncounter/cda:location/cda:healthCareFacility/cda:code/@code"
        ),
    )


def cda_timestamp(value: str) -> str:
    """A CDA TS as YYYYMMDDhhmmss: offset and fraction stripped, padded with zeros."""
    digits = re.split(r"[+\-.]", value.strip(), maxsplit=1)[0]
    return (digits + "0" * 14)[:14] if digits else ""


def _patient(doc: _Doc) -> CdaPatient:
    role = "cda:recordTarget/cda:patientRole"
    ins = ins_oid = ipp = ipp_oid = ""
    for element in doc.root.xpath(f"{role}/cda:id", namespaces=NS):
        root, extension = element.get("root", ""), element.get("extension", "")
        if root in INS_ROOTS and not ins:
            ins, ins_oid = extension, root
        elif root not in INS_ROOTS and not ipp:
            ipp, ipp_oid = extension, root
    name = f"{role}/cda:patient/cda:name"
    return CdaPatient(
        ins=ins,
        ins_oid=ins_oid,
        ipp=ipp,
        ipp_oid=ipp_oid,
        birth_name=doc.text(f"{name}/cda:family[@qualifier='BR']") or doc.text(f"{name}/cda:family"),
        given_name=doc.text(f"{name}/cda:given[@qualifier='BR']") or doc.text(f"{name}/cda:given[not(@qualifier)]")
        or doc.text(f"{name}/cda:given"),
        birth_date=doc.text(f"{role}/cda:patient/cda:birthTime/@value")[:8],
        sex=doc.text(f"{role}/cda:patient/cda:administrativeGenderCode/@code"),
    )


def _study(event: etree._Element, doc: _Doc) -> CdaStudy:
    def text(path: str) -> str:
        return str(event.xpath(f"string({path})", namespaces=NS)).strip()

    code = text("cda:code/@code")
    return CdaStudy(
        study_uid=text("cda:id/@root"),
        act_code=(code, text("cda:code/@codeSystem"), text("cda:code/@displayName")) if code else None,
        modalities=tuple(
            dict.fromkeys(
                str(value).strip()
                for value in event.xpath(f"cda:code/cda:translation[@codeSystem='{DCM_MODALITY_SYSTEM}']/@code", namespaces=NS)
            )
        ),
        service_start=cda_timestamp(text("cda:effectiveTime/cda:low/@value")),
        service_stop=cda_timestamp(text("cda:effectiveTime/cda:high/@value")),
        practice_setting=text(
            "cda:performer/cda:assignedEntity/cda:representedOrganization/cda:standardIndustryClassCode/@code"
        ),
    )


class _Doc:
    def __init__(self, root: etree._Element) -> None:
        self.root = root

    def text(self, path: str) -> str:
        return str(self.root.xpath(f"string({path})", namespaces=NS)).strip()

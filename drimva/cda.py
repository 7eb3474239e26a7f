"""Reading a CR d'imagerie (CDA R2, model IMG-CR-IMG), level N1 or N3.

:func:`parse_cda` extracts what the DRIMbox needs from the report
(``shared/reference/cda-cr-imagerie.md`` §3) into a :class:`CdaReport`. It is
pure (bytes in, dataclass out), parses XML without entities or network, and
raises :class:`CdaError` only when the document cannot be read at all;
missing elements come back empty and the rules (``drimva.rules.cda``) say
what is wrong.

The viewer URL is taken from an N3 FR-DICOM-SOP-instance-observation entry
when there is one, else from the embedded PDF's link annotations and text
(pypdf); :attr:`CdaReport.viewer_url_method` records which.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
from dataclasses import dataclass

from lxml import etree

from drimva import xmlsafe
from drimva.context import INS_OIDS, PS_ID_OID, STRUCTURE_ID_OID

NS = {"cda": "urn:hl7-org:v3", "ps3-20": "urn:dicom-org:ps3-20"}
CDA_NS = NS["cda"]
PS3_20_NS = NS["ps3-20"]

LOINC_OID = "2.16.840.1.113883.6.1"
DCM_OID = "1.2.840.10008.2.16.4"
CONFIDENTIALITY_OID = "2.16.840.1.113883.5.25"
GENDER_OID = "2.16.840.1.113883.5.1"
CR_IMAGERIE_CODE = "18748-4"
CR_IMAGERIE_DISPLAY = "CR d'imagerie médicale"

TEMPLATE_HL7_FRANCE = "2.16.840.1.113883.2.8.2.1"
TEMPLATE_CI_SIS = "1.2.250.1.213.1.1.1.1"
TEMPLATE_XDS_SD = "1.3.6.1.4.1.19376.1.2.20"  # CDA R2 level 1 (IHE XDS-SD)
TEMPLATE_IMG_CR_IMG = "1.2.250.1.213.1.1.1.45"
TEMPLATES_PS3_20 = ("1.2.840.10008.9.1", "1.2.840.10008.9.20", "1.2.840.10008.9.21")
TEMPLATES_ALWAYS = (TEMPLATE_HL7_FRANCE, TEMPLATE_CI_SIS)
TEMPLATES_N1 = TEMPLATES_ALWAYS + (TEMPLATE_XDS_SD,)
TEMPLATES_N3_ONLY = (TEMPLATE_IMG_CR_IMG,) + TEMPLATES_PS3_20
TEMPLATE_SOP_INSTANCE_OBSERVATION = "1.2.250.1.213.1.1.3.157"

URL_PATTERN = re.compile(r"https?://[^\s<>\"')]+")



class CdaError(ValueError):
    """The document cannot be read as a CDA R2 ClinicalDocument; the message says why."""


@dataclass(frozen=True)
class CdaReport:
    """What a DRIMbox reads from a CR d'imagerie (empty string = absent)."""

    id_root: str = ""
    id_extension: str = ""
    code: str = ""
    code_system: str = ""
    templates: tuple[str, ...] = ()
    level: str = ""  # "N1" (nonXMLBody), "N3" (structuredBody) or "" (no body)
    confidentiality: str = ""
    confidentiality_system: str = ""
    set_id: str = ""
    version_number: str = ""
    replaces_id: str = ""  # relatedDocument[@typeCode='RPLC']/parentDocument/id/@root
    ins: str = ""
    ins_oid: str = ""
    ipp: str = ""
    ipp_root: str = ""
    patient_ids: tuple[tuple[str, str], ...] = ()  # (root, extension) of recordTarget/patientRole/id
    birth_name: str = ""
    given_name: str = ""  # first birth given name (given[@qualifier='BR'])
    given_names: tuple[str, ...] = ()
    sex: str = ""
    birth_date: str = ""
    birth_place: str = ""
    study_uids: tuple[str, ...] = ()
    accession: str = ""
    accession_issuer: str = ""
    order_id: str = ""
    order_root: str = ""
    orders_per_fulfillment: tuple[int, ...] = ()  # order elements in each inFulfillmentOf
    order_id_count: int = 0  # order/id elements in the first order
    accession_count: int = 0  # ps3-20:accessionNumber elements in the first order
    author_id: str = ""
    author_id_root: str = ""
    author_family: str = ""
    author_given: str = ""
    author_org_id: str = ""
    author_org_name: str = ""
    legal_authenticator_id: str = ""
    legal_authenticator_org_id: str = ""
    act_code: str = ""
    act_translation_count: int = 0
    modality_codes: tuple[str, ...] = ()
    service_start: str = ""
    service_stop: str = ""
    healthcare_facility_code: str = ""
    body_media_type: str = ""
    body_representation: str = ""
    pdf_size: int = 0  # bytes of the decoded level-1 body when it is a PDF, else 0
    pdf_text: str = ""
    viewer_urls: tuple[str, ...] = ()
    viewer_url_method: str = "none"  # n3-entry | pdf-annotation | pdf-text | pdf-annotation+text | pdf-unreadable | none
    notes: tuple[str, ...] = ()  # e.g. why the embedded PDF could not be read


def parse_xml(xml: bytes) -> etree._Element:
    """The root of an XML document, read by the hardened parser of :mod:`drimva.xmlsafe` (comments dropped)."""
    try:
        return xmlsafe.parse(xml, remove_comments=True)
    except xmlsafe.XmlError as error:
        raise CdaError(str(error)) from None


def parse_cda(xml: bytes) -> CdaReport:
    """Read a CR d'imagerie; raise :class:`CdaError` if it is not a CDA ClinicalDocument."""
    if not xml or not xml.strip():
        raise CdaError("empty document")
    root = parse_xml(xml)
    if root.tag != f"{{{CDA_NS}}}ClinicalDocument":
        raise CdaError(f"root element is {root.tag!r}, expected {{{CDA_NS}}}ClinicalDocument")

    def first(path: str, node: etree._Element = root) -> str:
        found = node.xpath(path, namespaces=NS)
        if not found:
            return ""
        value = found[0]
        return (value if isinstance(value, str) else (value.text or "")).strip()

    patient_ids = tuple(
        (el.get("root", ""), el.get("extension", ""))
        for el in root.xpath("cda:recordTarget/cda:patientRole/cda:id", namespaces=NS)
    )
    ins = next(((r, e) for r, e in patient_ids if r in INS_OIDS), ("", ""))
    ipp = next(((r, e) for r, e in patient_ids if r not in INS_OIDS), ("", ""))
    patient = "cda:recordTarget/cda:patientRole/cda:patient/"
    events = root.xpath("cda:documentationOf/cda:serviceEvent[@classCode='ACT']", namespaces=NS)
    studies = [e for e in events if e.xpath("cda:id/@root", namespaces=NS)]
    event = (studies or events or [None])[0]  # the first study's serviceEvent (act code, times)
    order = "cda:inFulfillmentOf/cda:order/"
    author = "cda:author/cda:assignedAuthor/"

    if root.find("cda:component/cda:nonXMLBody", NS) is not None:
        level = "N1"
    elif root.find("cda:component/cda:structuredBody", NS) is not None:
        level = "N3"
    else:
        level = ""
    pdf = embedded_pdf(root)
    pdf_text, urls, method, notes = _viewer_urls(root, pdf)

    return CdaReport(
        id_root=first("cda:id/@root"),
        id_extension=first("cda:id/@extension"),
        code=first("cda:code/@code"),
        code_system=first("cda:code/@codeSystem"),
        templates=tuple(root.xpath("cda:templateId/@root", namespaces=NS)),
        level=level,
        confidentiality=first("cda:confidentialityCode/@code"),
        confidentiality_system=first("cda:confidentialityCode/@codeSystem"),
        set_id=first("cda:setId/@root"),
        version_number=first("cda:versionNumber/@value"),
        replaces_id=first("cda:relatedDocument[@typeCode='RPLC']/cda:parentDocument/cda:id/@root"),
        ins=ins[1],
        ins_oid=ins[0],
        ipp=ipp[1],
        ipp_root=ipp[0],
        patient_ids=patient_ids,
        birth_name=first(patient + "cda:name/cda:family[@qualifier='BR']"),
        given_name=first(patient + "cda:name/cda:given[@qualifier='BR']"),
        given_names=tuple(
            (g.text or "").strip() for g in root.xpath(patient + "cda:name/cda:given[not(@qualifier)]", namespaces=NS)
        ),
        sex=first(patient + "cda:administrativeGenderCode/@code"),
        birth_date=first(patient + "cda:birthTime/@value"),
        birth_place=first(patient + "cda:birthplace/cda:place/cda:addr/cda:county"),
        study_uids=tuple(
            root.xpath("cda:documentationOf/cda:serviceEvent[@classCode='ACT']/cda:id/@root", namespaces=NS)
        ),
        accession=first(order + "ps3-20:accessionNumber/@extension"),
        accession_issuer=first(order + "ps3-20:accessionNumber/@root"),
        order_id=first(order + "cda:id/@extension"),
        order_root=first(order + "cda:id/@root"),
        orders_per_fulfillment=tuple(len(f.findall("cda:order", NS)) for f in root.findall("cda:inFulfillmentOf", NS)),
        order_id_count=len(root.xpath(f"{order[:-1]}[1]/cda:id", namespaces=NS)),
        accession_count=len(root.xpath(f"{order[:-1]}[1]/ps3-20:accessionNumber", namespaces=NS)),
        author_id=first(author + f"cda:id[@root='{PS_ID_OID}']/@extension") or first(author + "cda:id/@extension"),
        author_id_root=first(author + f"cda:id[@root='{PS_ID_OID}']/@root") or first(author + "cda:id/@root"),
        author_family=first(author + "cda:assignedPerson/cda:name/cda:family"),
        author_given=first(author + "cda:assignedPerson/cda:name/cda:given"),
        author_org_id=first(author + f"cda:representedOrganization/cda:id[@root='{STRUCTURE_ID_OID}']/@extension"),
        author_org_name=first(author + "cda:representedOrganization/cda:name"),
        legal_authenticator_id=first(f"cda:legalAuthenticator/cda:assignedEntity/cda:id[@root='{PS_ID_OID}']/@extension"),
        legal_authenticator_org_id=first(
            f"cda:legalAuthenticator/cda:assignedEntity/cda:representedOrganization/cda:id[@root='{STRUCTURE_ID_OID}']/@extension"
        ),
        act_code=first("cda:code/@code", event) if event is not None else "",
        act_translation_count=len(event.xpath("cda:code/cda:translation", namespaces=NS)) if event is not None else 0,
        modality_codes=tuple(
            dict.fromkeys(
                root.xpath(
                    f"cda:documentationOf/cda:serviceEvent/cda:code/cda:translation[@codeSystem='{DCM_OID}']/@code",
                    namespaces=NS,
                )
            )
        ),
        service_start=first("cda:effectiveTime/cda:low/@value", event) if event is not None else "",
        service_stop=first("cda:effectiveTime/cda:high/@value", event) if event is not None else "",
        healthcare_facility_code=first(
            "cda:componentOf/cda:encompassingEncounter/cda:location/cda:healthCareFacility/cda:code/@code"
        ),
        body_media_type=first("cda:component/cda:nonXMLBody/cda:text/@mediaType"),
        body_representation=first("cda:component/cda:nonXMLBody/cda:text/@representation"),
        pdf_size=len(pdf) if pdf and pdf.startswith(b"%PDF") else 0,
        pdf_text=pdf_text,
        viewer_urls=urls,
        viewer_url_method=method,
        notes=notes,
    )


def embedded_pdf(root: etree._Element) -> bytes | None:
    """The PDF of a level-1 body (``nonXMLBody/text`` in base64), or None."""
    text = root.find("cda:component/cda:nonXMLBody/cda:text", NS)
    if text is None or text.get("mediaType") != "application/pdf" or text.get("representation") != "B64":
        return None
    try:
        return base64.b64decode("".join((text.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def pdf_links(pdf: bytes) -> tuple[str, list[str]]:
    """The text of a PDF and the URIs of its link annotations (pypdf)."""
    from pypdf import PdfReader  # imported here: only level-1 reports need it

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(pdf))
    texts: list[str] = []
    uris: list[str] = []
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            uri = action.get_object().get("/URI") if action is not None else None
            if uri:
                uris.append(str(uri))
    return "\n".join(texts), uris


def _viewer_urls(root: etree._Element, pdf: bytes | None) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
    """(pdf text, viewer URLs, method, notes): N3 entry first, else the embedded PDF."""
    entries = root.xpath(
        f"//cda:observation[cda:templateId/@root='{TEMPLATE_SOP_INSTANCE_OBSERVATION}']"
        "/cda:text/cda:reference/@value",
        namespaces=NS,
    )
    if entries:
        return "", tuple(dict.fromkeys(str(v).strip() for v in entries)), "n3-entry", ()
    if pdf is None:
        return "", (), "none", ()
    try:
        text, annotations = pdf_links(pdf)
    except Exception as error:  # pypdf raises many types on a damaged file; report, never crash
        return "", (), "pdf-unreadable", (f"embedded PDF unreadable: {type(error).__name__}: {error}",)
    in_text = URL_PATTERN.findall(text)
    methods = [name for name, found in (("pdf-annotation", annotations), ("pdf-text", in_text)) if found]
    urls = tuple(dict.fromkeys(annotations + in_text))
    return text, urls, "+".join(methods) if methods else "none", ()


def structure_ids_match(first: str, second: str) -> tuple[bool, str]:
    """Compare two structure ids, tolerating a leading type digit (1 FINESS, 3 SIRET, 4 cabinet).

    Returns (match, how) with how = "equal", "type digit stripped" or "different"
    (hl7v2-ris-to-drimbox.md open question 6).
    """
    if first == second:
        return True, "equal"
    if abs(len(first) - len(second)) == 1:
        longer, shorter = (first, second) if len(first) > len(second) else (second, first)
        if longer[0] in "134" and longer[1:] == shorter:
            return True, "type digit stripped"
    return False, "different"

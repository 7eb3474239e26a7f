"""The CR d'imagerie (IMG-CR-IMG) header facts a DRIMbox relies on (cda-cr-imagerie.md).

Checks the document code and the N1 / N3 templateIds, confidentiality, the
body, the patient (INS, IPP, and equality with PID-3 when the HL7 message is
given), the order and accession (IMG-CR-IMG schematron), the Study Instance
UIDs, author and legal authenticator, and the viewer URL with the Study UID
and the accession. The full IMG-CR-IMG schematron is out of scope
(cda-cr-imagerie.md, open question 6).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from pydicom.uid import UID

from drimva.cda import (
    CONFIDENTIALITY_OID,
    CR_IMAGERIE_CODE,
    DCM_OID,
    LOINC_OID,
    TEMPLATE_XDS_SD,
    TEMPLATES_ALWAYS,
    TEMPLATES_N3_ONLY,
    CdaError,
    CdaReport,
    parse_cda,
    structure_ids_match,
)
from drimva.context import INS_OIDS, PS_ID_OID, STRUCTURE_ID_OID, is_valid_ins
from drimva.findings import Finding, FindingList, Severity
from drimva.hl7msg import Hl7Message

MODEL = "CI-SIS IMG-CR-IMG"
SCHEMATRON = "CI-SIS IMG-CR-IMG header schematron (Entete_IMG-CR-IMG.sch)"
VOLET = "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1"
VIEWER = "Volet Téléradiologie / cda-cr-imagerie.md §4: viewer URL in the CR"
D = "/ClinicalDocument"
DEFAULT_VIEWER_KEYS = {"study": "studyUID", "accession": "Accessionnumber", "cda": "idCDA"}


def check_cda(
    xml: bytes,
    *,
    pid: Hl7Message | None = None,
    viewer_url_template: str | None = None,
) -> list[Finding]:
    """Judge a CR d'imagerie; ``pid`` is the HL7 message that carried it (for PID-3 equality)."""
    out = FindingList()
    try:
        report = parse_cda(xml)
    except CdaError as error:
        out.add("CDA-PARSE", f"{MODEL}: a CDA R2 ClinicalDocument", D, "a CDA R2 document", str(error))
        return out.items
    _check_header(report, out)
    _check_patient(report, out)
    if pid is not None:
        _check_against_message(report, pid, out)
    _check_order(report, out)
    _check_studies(report, out)
    _check_people(report, out)
    _check_viewer_url(report, viewer_url_template, out)
    return out.items


def _check_header(report: CdaReport, out: FindingList) -> None:
    if report.code != CR_IMAGERIE_CODE or report.code_system != LOINC_OID:
        out.add("CDA-CODE", f"{SCHEMATRON}: document code 18748-4 (LOINC)", f"{D}/code", f"{CR_IMAGERIE_CODE} ({LOINC_OID})", f"{report.code} ({report.code_system})")
    for template in TEMPLATES_ALWAYS:
        if template not in report.templates:
            out.add("CDA-TEMPLATES", f"{MODEL}: HL7 France and CI-SIS templateIds", f"{D}/templateId/@root", template, list(report.templates))
    if report.level == "N1":
        if TEMPLATE_XDS_SD not in report.templates:
            out.add("CDA-TEMPLATES", f"{MODEL} N1: IHE XDS-SD templateId", f"{D}/templateId/@root", TEMPLATE_XDS_SD, list(report.templates))
        extra = [t for t in report.templates if t in TEMPLATES_N3_ONLY]
        if extra:
            out.add("CDA-TEMPLATES", f"{MODEL} N1: only HL7 France, CI-SIS and CDA R2 N1 templateIds in an unstructured document",
                    f"{D}/templateId/@root", "no N3 templateId", extra)
    elif report.level == "N3":
        missing = [t for t in TEMPLATES_N3_ONLY if t not in report.templates]
        if missing or TEMPLATE_XDS_SD in report.templates:
            out.add("CDA-TEMPLATES", f"{MODEL} N3: IMG-CR-IMG and DICOM PS3.20 templateIds, no XDS-SD", f"{D}/templateId/@root",
                    list(TEMPLATES_N3_ONLY), list(report.templates))
    else:
        out.add("CDA-BODY", f"{MODEL}: component/nonXMLBody (N1) or structuredBody (N3)", f"{D}/component", "a body", "absent")
    if report.confidentiality not in ("N", "R", "V") or report.confidentiality_system != CONFIDENTIALITY_OID:
        out.add("CDA-CONFIDENTIALITY", f"{MODEL}: confidentialityCode N / R / V ({CONFIDENTIALITY_OID})", f"{D}/confidentialityCode",
                f"N, R or V ({CONFIDENTIALITY_OID})", f"{report.confidentiality or '(absent)'} ({report.confidentiality_system})")
    if report.level == "N1":
        body = f"{D}/component/nonXMLBody/text"
        if (report.body_media_type, report.body_representation) != ("application/pdf", "B64"):
            out.add("CDA-BODY", f"{MODEL} N1: text[@mediaType='application/pdf'][@representation='B64']", body,
                    "application/pdf, B64", f"{report.body_media_type or '(absent)'}, {report.body_representation or '(absent)'}")
        elif not report.pdf_size:
            out.add("CDA-BODY", f"{MODEL} N1: the body is a base64 PDF", body, "base64 of a PDF", "not a decodable PDF")


def _check_patient(report: CdaReport, out: FindingList) -> None:
    where = f"{D}/recordTarget/patientRole/id"
    if not report.ins:
        roots = [root for root, _ in report.patient_ids]
        out.add("CDA-INS", f"{MODEL}: INS in recordTarget/patientRole/id with an INS OID", where, f"root in {sorted(INS_OIDS)}", roots or "(no id)")
    elif not is_valid_ins(report.ins):
        out.add("CDA-INS", "CI-SIS Annexe INS: 13-digit NIR + key", f"{where}[@root='{report.ins_oid}']/@extension", "a 15-digit INS with a valid key", report.ins)
    if not report.ipp:
        out.add("CDA-IPP", "ANS datasets (sample only): IPP in recordTarget/patientRole/id", where, "an IPP id", "absent", Severity.WARNING)


def _check_against_message(report: CdaReport, message: Hl7Message, out: FindingList) -> None:
    requirement = f"{VOLET}: PID-3 identifiers equal recordTarget/patientRole/id"
    ins = message.cx_by_type("PID-3", "INS")
    if ins is not None:
        out.check_equal("CDA-PID3", requirement, f"{D}/recordTarget/patientRole/id (INS)", f"{ins.id} ({ins.oid})", f"{report.ins} ({report.ins_oid})")
    ipp = message.cx_by_type("PID-3", "PI")
    if ipp is not None:
        out.check_equal("CDA-PID3", requirement, f"{D}/recordTarget/patientRole/id (IPP)", f"{ipp.id} ({ipp.oid})", f"{report.ipp} ({report.ipp_root})")
    legal = next((i for i, _ in enumerate(message.repetitions("PID-5")) if message.get("PID-5.7", i) == "L"), 0)
    birthplace = next((message.get("PID-11.9", i) for i, _ in enumerate(message.repetitions("PID-11")) if message.get("PID-11.7", i) == "BDL"), "")
    patient = f"{D}/recordTarget/patientRole/patient"
    traits = (
        ("PID-5.1", message.get("PID-5.1", legal), report.birth_name, f"{patient}/name/family[@qualifier='BR']"),
        ("PID-5.2", message.get("PID-5.2", legal), report.given_name, f"{patient}/name/given[@qualifier='BR']"),
        ("PID-7", message.get("PID-7.1")[:8], report.birth_date[:8], f"{patient}/birthTime/@value"),
        ("PID-8", message.get("PID-8"), report.sex, f"{patient}/administrativeGenderCode/@code"),
        ("PID-11 (BDL)", birthplace, report.birth_place, f"{patient}/birthplace/place/addr/county"),
    )
    for field, hl7_value, cda_value, xpath in traits:
        if hl7_value and hl7_value != cda_value:
            out.add("CDA-PID-TRAITS", f"hl7v2-ris-to-drimbox.md §5: {field} equals the CDA (UNVERIFIED)", xpath, f"{hl7_value} ({field})", cda_value or "(absent)", Severity.WARNING)
    prt_org = next((prt.get("8.10") for prt in message.segments("PRT") if prt.get("4.1") == "SB"), "")
    if prt_org and report.author_org_id:
        same, how = structure_ids_match(prt_org, report.author_org_id)
        if not same:
            out.add("CDA-PRT-ORG", "REM PFI README (sample): PRT-8.10 = CDA author organisation id (open question 6)",
                    f"{D}/author/assignedAuthor/representedOrganization/id/@extension", f"{prt_org} (PRT-8.10)", report.author_org_id, Severity.WARNING)


def _check_order(report: CdaReport, out: FindingList) -> None:
    order = f"{D}/inFulfillmentOf/order"
    if not report.orders_per_fulfillment:
        out.add("CDA-ORDER", f"{SCHEMATRON}: inFulfillmentOf [1..*]", f"{D}/inFulfillmentOf", "1..*", 0)
        return
    for index, count in enumerate(report.orders_per_fulfillment, start=1):
        out.check_equal("CDA-ORDER", f"{SCHEMATRON}: inFulfillmentOf/order [1..1]", f"{D}/inFulfillmentOf[{index}]/order", 1, count)
    out.check_equal("CDA-ORDER", f"{SCHEMATRON}: order/id [1..1]", f"{order}/id", 1, report.order_id_count)
    out.check_equal("CDA-ACCESSION", f"{SCHEMATRON}: order/ps3-20:accessionNumber [1..1]", f"{order}/ps3-20:accessionNumber", 1, report.accession_count)
    if report.order_id_count and not (report.order_id and report.order_root):
        out.add("CDA-ORDER", f"{MODEL}: placer order number (root + extension)", f"{order}/id", "@root and @extension", f"root={report.order_root!r} extension={report.order_id!r}")
    if report.accession_count and not (report.accession and report.accession_issuer):
        out.add("CDA-ACCESSION", f"{MODEL}: accession number (issuer root + extension)", f"{order}/ps3-20:accessionNumber",
                "@root and @extension", f"root={report.accession_issuer!r} extension={report.accession!r}")


def _check_studies(report: CdaReport, out: FindingList) -> None:
    where = f"{D}/documentationOf/serviceEvent[@classCode='ACT']/id/@root"
    if not report.study_uids:
        out.add("CDA-STUDY-UID", f"{MODEL}: one documentationOf/serviceEvent per study, id/@root = Study Instance UID", where, "a Study Instance UID", "absent")
    for index, uid in enumerate(report.study_uids, start=1):
        if not UID(uid, validation_mode=0).is_valid:  # mode 0: judge here, no pydicom warning
            out.add("CDA-STUDY-UID", "DICOM PS3.5 §9: UID syntax (≤ 64 chars, digits and dots)", f"{D}/documentationOf[{index}]/serviceEvent/id/@root", "a valid DICOM UID", uid)
    code = f"{D}/documentationOf/serviceEvent/code"
    if not report.act_code or report.act_translation_count < 1:
        out.add("CDA-ACT-CODE", f"{SCHEMATRON}: serviceEvent/code with at least one translation", code, "code + translation(s)",
                f"code={report.act_code or '(absent)'}, {report.act_translation_count} translation(s)")
    if not report.modality_codes:
        out.add("CDA-ACT-CODE", f"{MODEL}: modality translation(s) [1..*] ({DCM_OID})", f"{code}/translation[@codeSystem='{DCM_OID}']", "a modality code", "absent")


def _check_people(report: CdaReport, out: FindingList) -> None:
    author = f"{D}/author/assignedAuthor"
    if not report.author_id or report.author_id_root != PS_ID_OID:
        out.add("CDA-AUTHOR", f"{MODEL}: author national PS id ({PS_ID_OID})", f"{author}/id", f"@root={PS_ID_OID} with @extension", f"{report.author_id_root}:{report.author_id}" if report.author_id else "absent")
    if not report.author_org_id:
        out.add("CDA-AUTHOR", f"{MODEL}: author organisation id ({STRUCTURE_ID_OID})", f"{author}/representedOrganization/id", f"@root={STRUCTURE_ID_OID} with @extension", "absent")
    legal = f"{D}/legalAuthenticator/assignedEntity"
    if not report.legal_authenticator_id:
        out.add("CDA-LEGAL-AUTHENTICATOR", f"{MODEL}: legalAuthenticator national PS id", f"{legal}/id", f"@root={PS_ID_OID} with @extension", "absent")
    if not report.legal_authenticator_org_id:
        out.add("CDA-LEGAL-AUTHENTICATOR", "ANS FAQ: legalAuthenticator organisation identifies the publishing structure",
                f"{legal}/representedOrganization/id", f"@root={STRUCTURE_ID_OID} with @extension", "absent")


def viewer_keys(template: str | None) -> dict[str, str]:
    """Query keys of the study UID, accession and CDA id in a viewer URL template."""
    if not template:
        return dict(DEFAULT_VIEWER_KEYS)
    keys: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(template).query, keep_blank_values=True):
        if "{study_uid}" in value:
            keys["study"] = key
        if "{accession}" in value:
            keys["accession"] = key
        if "{cda_id}" in value or "{cda_id_root}" in value:
            keys["cda"] = key
    return {**{k: v for k, v in DEFAULT_VIEWER_KEYS.items() if k in ("study", "accession")}, **keys}


def _check_viewer_url(report: CdaReport, template: str | None, out: FindingList) -> None:
    keys = viewer_keys(template)
    where = f"{D}/component/nonXMLBody (PDF text and links)" if report.level != "N3" else "FR-DICOM-SOP-instance-observation/text/reference"
    if report.level == "N1" and not report.pdf_size and report.viewer_url_method != "n3-entry":
        out.add("CDA-VIEWER-URL-FORM", VIEWER, where, "(information)", "not checked: no readable PDF body (see CDA-BODY)", Severity.INFO)
        return
    if not report.viewer_urls:
        detail = "; ".join(report.notes) or f"method {report.viewer_url_method}"
        out.add("CDA-VIEWER-URL", f"{VIEWER}", where, f"a URL with {keys['study']}= and {keys['accession']}=", f"no URL found ({detail})")
        return
    candidates = [(url, {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}) for url in report.viewer_urls]
    study_key = keys["study"].lower()
    url, query = next(((u, q) for u, q in candidates if study_key in q), candidates[0])
    if study_key not in query:
        out.add("CDA-VIEWER-URL", f"{VIEWER}: the URL carries the Study Instance UID", where, f"{keys['study']}=<Study Instance UID>", list(report.viewer_urls))
        return
    if report.study_uids and query[study_key] not in report.study_uids:
        out.add("CDA-VIEWER-URL", f"{VIEWER}: {keys['study']} = a Study Instance UID of the CR", url, list(report.study_uids), query[study_key])
    accession = query.get(keys["accession"].lower())
    form = "absent"
    if accession is None:
        out.add("CDA-VIEWER-URL", f"{VIEWER}: the URL carries the accession number", url, f"{keys['accession']}=<root>.<extension>", "absent")
    elif not report.accession:
        form = "not compared (no accession in the CR)"
    elif accession == f"{report.accession_issuer}.{report.accession}":
        form = "root.extension"
    elif accession == report.accession:
        form = "extension alone"
    else:
        out.add("CDA-VIEWER-URL", f"{VIEWER}: {keys['accession']} = accession root.extension (or extension)", url,
                f"{report.accession_issuer}.{report.accession}", accession)
    cda_value = query.get(keys["cda"].lower()) if "cda" in keys else None
    if cda_value is not None and cda_value.split("_")[0] != report.id_root:
        out.add("CDA-VIEWER-URL", f"{VIEWER}: idCDA = the CDA id/@root (UNVERIFIED when the id has an extension)", url,
                report.id_root, cda_value, Severity.WARNING)
    out.add("CDA-VIEWER-URL-FORM", f"{VIEWER}: how the URL was found and read", url, "(information)",
            f"found via {report.viewer_url_method}; accession as {form}; query keys {sorted(query)}", Severity.INFO)

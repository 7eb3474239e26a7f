"""Rules on the CR d'imagerie (drimva.rules.cda)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Callable

import pytest
from lxml import etree

from drimva.cda import NS
from drimva.findings import Severity, errors
from drimva.hl7msg import parse_message
from drimva.profile import DEFAULT_VIEWER_TEMPLATE
from drimva.rules.cda import check_cda, viewer_keys
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.reports import new_report_spec
from simulators.ris.messages import build_report_message

from paths import SHARED
POC_CDA = SHARED / "poc-samples" / "CDA" / "IMG_CR_IMG_2023.11_CDA-R2-Niveau-1.xml"
DATASETS = SHARED / "ans-samples" / "_partial" / "Referencement-DRIMBox" / "Jeux-de-donnees"
CR_C = DATASETS / "CDA" / "Examen-C" / "CR_C.xml.skeleton"
CR_C_ORU = DATASETS / "HL7v2" / "Examen-C" / "CR_C-ORU.hl7.skeleton"
STUDY_UID = "1.2.826.0.1.3680043.8.498.4242"


def spec(**overrides):
    return new_report_spec(
        new_patient(random.Random(8)), overrides.pop("study_uid", STUDY_UID), ("CT",),
        viewer_url_template=overrides.pop("template", DEFAULT_VIEWER_TEMPLATE), rng=random.Random(1), **overrides,
    )


def judged(cda: bytes, **kwargs) -> dict[str, Severity]:
    """rule -> severity of the non-informative findings."""
    return {f.rule: f.severity for f in check_cda(cda, **kwargs) if f.severity is not Severity.INFO}


@pytest.mark.parametrize("kind", ["ORU", "MDM"])
def test_built_cda_passes_with_its_message(kind):
    report = spec()
    cda = build_cda(report)
    message = parse_message(build_report_message(report, cda, kind=kind, event="initial", control_id="1"))
    findings = check_cda(cda, pid=message, viewer_url_template=DEFAULT_VIEWER_TEMPLATE)
    assert [f.severity for f in findings] == [Severity.INFO]
    assert findings[0].rule == "CDA-VIEWER-URL-FORM"
    assert "pdf-annotation+pdf-text" in findings[0].actual and "accession as root.extension" in findings[0].actual


def xml_edit(change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(build_cda(spec()))
    change(root)
    return etree.tostring(root)


def first(root: etree._Element, path: str) -> etree._Element:
    return root.xpath(path, namespaces=NS)[0]


def remove(root: etree._Element, path: str) -> None:
    for element in root.xpath(path, namespaces=NS):
        element.getparent().remove(element)


def add_template(root: etree._Element, template: str) -> None:
    first(root, "cda:templateId").addnext(etree.Element(f"{{{NS['cda']}}}templateId", root=template))


XML_MUTATIONS = [
    ("code", lambda r: first(r, "cda:code").set("code", "11488-4"), "CDA-CODE"),
    ("XDS-SD templateId", lambda r: remove(r, "cda:templateId[@root='1.3.6.1.4.1.19376.1.2.20']"), "CDA-TEMPLATES"),
    ("CI-SIS templateId", lambda r: remove(r, "cda:templateId[@root='1.2.250.1.213.1.1.1.1']"), "CDA-TEMPLATES"),
    ("N3 templateId in N1", lambda r: add_template(r, "1.2.250.1.213.1.1.1.45"), "CDA-TEMPLATES"),
    ("confidentiality", lambda r: first(r, "cda:confidentialityCode").set("code", "X"), "CDA-CONFIDENTIALITY"),
    ("media type", lambda r: first(r, "cda:component/cda:nonXMLBody/cda:text").set("mediaType", "text/plain"), "CDA-BODY"),
    ("INS key", lambda r: first(r, "cda:recordTarget/cda:patientRole/cda:id[1]").set("extension", "279035121518988"), "CDA-INS"),
    ("no INS", lambda r: remove(r, "cda:recordTarget/cda:patientRole/cda:id[1]"), "CDA-INS"),
    ("no order id", lambda r: remove(r, "cda:inFulfillmentOf/cda:order/cda:id"), "CDA-ORDER"),
    ("two orders", lambda r: first(r, "cda:inFulfillmentOf").append(etree.fromstring(etree.tostring(first(r, "cda:inFulfillmentOf/cda:order")))), "CDA-ORDER"),
    ("no accession", lambda r: remove(r, "cda:inFulfillmentOf/cda:order/ps3-20:accessionNumber"), "CDA-ACCESSION"),
    ("empty accession", lambda r: first(r, "cda:inFulfillmentOf/cda:order/ps3-20:accessionNumber").set("extension", ""), "CDA-ACCESSION"),
    ("no modality", lambda r: remove(r, "cda:documentationOf/cda:serviceEvent/cda:code/cda:translation"), "CDA-ACT-CODE"),
    ("author id root", lambda r: first(r, "cda:author/cda:assignedAuthor/cda:id").set("root", "1.2.3"), "CDA-AUTHOR"),
    ("author org", lambda r: remove(r, "cda:author/cda:assignedAuthor/cda:representedOrganization/cda:id"), "CDA-AUTHOR"),
    ("legal org", lambda r: remove(r, "cda:legalAuthenticator/cda:assignedEntity/cda:representedOrganization"), "CDA-LEGAL-AUTHENTICATOR"),
    ("no study", lambda r: remove(r, "cda:documentationOf/cda:serviceEvent/cda:id"), "CDA-STUDY-UID"),
]


@pytest.mark.parametrize("name, change, rule", XML_MUTATIONS, ids=[m[0] for m in XML_MUTATIONS])
def test_cda_mutations_give_exactly_the_expected_rule(name, change, rule):
    assert judged(xml_edit(change)) == {rule: Severity.ERROR}


def test_missing_ipp_is_a_warning():
    assert judged(xml_edit(lambda r: remove(r, "cda:recordTarget/cda:patientRole/cda:id[2]"))) == {"CDA-IPP": Severity.WARNING}


def test_invalid_study_uid():
    cda = build_cda(spec(study_uid="1.2.03.4"))  # the viewer URL carries the same (invalid) UID
    assert judged(cda) == {"CDA-STUDY-UID": Severity.ERROR}


def test_not_a_cda():
    assert judged(b"<html/>") == {"CDA-PARSE": Severity.ERROR}
    assert judged(b"not xml") == {"CDA-PARSE": Severity.ERROR}


def test_a_body_that_is_not_a_pdf_is_reported_once():
    cda = xml_edit(lambda r: setattr(first(r, "cda:component/cda:nonXMLBody/cda:text"), "text", "aGVsbG8="))
    findings = check_cda(cda)
    assert [(f.rule, f.severity) for f in findings] == [("CDA-BODY", Severity.ERROR), ("CDA-VIEWER-URL-FORM", Severity.INFO)]


def test_pid3_must_equal_the_cda():
    report = spec()
    cda = build_cda(report)
    text = build_report_message(report, cda, kind="ORU", event="initial", control_id="1")
    other_ins = new_patient(random.Random(99)).ins
    assert judged(cda, pid=parse_message(text.replace(report.patient.ins, other_ins))) == {"CDA-PID3": Severity.ERROR}
    assert judged(cda, pid=parse_message(text.replace(f"{report.patient.ipp}^", "IPPX^"))) == {"CDA-PID3": Severity.ERROR}
    traits = text.replace(f"|{report.patient.birth_date}|", "|19000101|")
    assert judged(cda, pid=parse_message(traits)) == {"CDA-PID-TRAITS": Severity.WARNING}
    other_org = text.replace(f"^^^{report.organisation.structure_id}", "^^^999999999")
    assert judged(cda, pid=parse_message(other_org)) == {"CDA-PRT-ORG": Severity.WARNING}
    prefixed = text.replace(f"^^^{report.organisation.structure_id}", f"^^^1{report.organisation.structure_id}")
    assert judged(cda, pid=parse_message(prefixed)) == {}  # a leading type digit is tolerated


def url_findings(report, url: str, template: str | None = DEFAULT_VIEWER_TEMPLATE):
    cda = build_cda(replace(report, viewer_url=url))
    return [f for f in check_cda(cda, viewer_url_template=template) if f.rule.startswith("CDA-VIEWER")]


def test_viewer_url_forms():
    report = spec()
    base = f"https://vi.x/IHEInvokeImageDisplay?requestType=STUDY&studyUID={STUDY_UID}"
    (info,) = url_findings(report, f"{base}&accessionNumber={report.accession}&idCDA={report.cda_id_root}")
    assert info.severity is Severity.INFO and "extension alone" in info.actual  # key case ignored
    bad_accession = url_findings(report, f"{base}&Accessionnumber=ACN0&idCDA={report.cda_id_root}")
    assert [(f.rule, f.severity, f.actual) for f in errors(bad_accession)] == [("CDA-VIEWER-URL", Severity.ERROR, "ACN0")]
    no_study = url_findings(report, f"https://vi.x/IHEInvokeImageDisplay?Accessionnumber={report.accession}")
    assert [f.rule for f in no_study] == ["CDA-VIEWER-URL"]
    wrong_study = url_findings(report, f"https://vi.x/v?studyUID=1.2.3&Accessionnumber={report.accession}")
    assert [(f.rule, f.actual) for f in errors(wrong_study)] == [("CDA-VIEWER-URL", "1.2.3")]
    wrong_cda = url_findings(report, f"{base}&Accessionnumber={report.accession}&idCDA=1.2.3")
    assert [(f.rule, f.severity) for f in wrong_cda if f.severity is not Severity.INFO] == [("CDA-VIEWER-URL", Severity.WARNING)]
    (missing,) = url_findings(report, "")
    assert missing.rule == "CDA-VIEWER-URL" and "no URL found" in missing.actual


def test_viewer_keys_follow_the_template():
    assert viewer_keys(None) == {"study": "studyUID", "accession": "Accessionnumber", "cda": "idCDA"}
    assert viewer_keys("https://{host}/view?uid={study_uid}&acn={accession}") == {"study": "uid", "accession": "acn"}
    report = spec()
    url = f"https://vi.x/view?uid={STUDY_UID}&acn={report.accession}"
    assert errors(url_findings(report, url, "https://{host}/view?uid={study_uid}&acn={accession}")) == []
    assert [f.rule for f in errors(url_findings(report, url, None))] == ["CDA-VIEWER-URL"]  # default keys not found


def test_demonstrator_example():
    if not POC_CDA.exists():
        pytest.skip(f"demonstrator sample not found: {POC_CDA}")
    findings = check_cda(POC_CDA.read_bytes())
    # Its only departure: the embedded PDF (a sample CR) prints no viewer URL. The ANS example
    # predates the DRIM-M viewer link; everything else in the header passes.
    assert [(f.rule, f.severity) for f in findings] == [("CDA-VIEWER-URL", Severity.ERROR)]


def test_official_cr_skeleton_with_its_message():
    if not (CR_C.exists() and CR_C_ORU.exists()):
        pytest.skip(f"ANS CR_C skeletons not found under {DATASETS}")
    findings = check_cda(CR_C.read_bytes(), pid=parse_message(CR_C_ORU.read_bytes()))
    assert {f.rule: f.severity for f in findings} == {
        # the skeleton's PDF payload is omitted: no PDF, hence no viewer URL to read (info)
        "CDA-BODY": Severity.ERROR,
        "CDA-VIEWER-URL-FORM": Severity.INFO,
        # dataset departure (open question 6): CDA author organisation 101235555 vs PRT-8.10 750803447
        "CDA-PRT-ORG": Severity.WARNING,
    }

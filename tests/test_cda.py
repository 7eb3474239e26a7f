"""The CR builder (fixtures.reports, fixtures.pdf, fixtures.cda) and the CDA reader (drimva.cda)."""

from __future__ import annotations

import base64
import io
import random

import pytest
from lxml import etree
from pypdf import PdfReader

from drimva.cda import NS, CdaError, parse_cda, structure_ids_match
from drimva.profile import DEFAULT_VIEWER_TEMPLATE
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.pdf import minimal_pdf
from fixtures.reports import new_report_spec, replacement_spec, viewer_url

from paths import SHARED
POC_CDA = SHARED / "poc-samples" / "CDA" / "IMG_CR_IMG_2023.11_CDA-R2-Niveau-1.xml"
STUDY_UID = "1.2.826.0.1.3680043.8.498.10203040506070809"
URL = "https://vi.drimbox.test/IHEInvokeImageDisplay?requestType=STUDY&studyUID=1.2.3&Accessionnumber=9.8.ACN1"


def spec(**overrides):
    return new_report_spec(
        new_patient(random.Random(11)), STUDY_UID, ("CT", "MR"),
        viewer_url_template=DEFAULT_VIEWER_TEMPLATE, rng=random.Random(5), **overrides,
    )


def test_minimal_pdf_reads_back_with_pypdf_in_strict_mode():
    pdf = minimal_pdf(["Compte rendu d'imagerie médicale", "Conclusion (normale) \\ fin", URL], URL)
    reader = PdfReader(io.BytesIO(pdf), strict=True)  # strict: a wrong xref offset raises
    page = reader.pages[0]
    text = page.extract_text()
    assert "Compte rendu d'imagerie médicale" in text
    assert "Conclusion (normale) \\ fin" in text
    assert URL in text
    assert [a.get_object()["/A"]["/URI"] for a in page["/Annots"]] == [URL]


def test_minimal_pdf_without_link_has_no_annotation():
    page = PdfReader(io.BytesIO(minimal_pdf(["only text"], None)), strict=True).pages[0]
    assert "/Annots" not in page
    assert page.extract_text().strip() == "only text"


def test_viewer_url_fills_and_encodes_the_template():
    report = spec()
    url = viewer_url("https://{host}/v?study={study_uid}&acc={accession_root}.{accession}&id={cda_id}&x={ipp}", report, host="vi.example.fr")
    assert url == (
        f"https://vi.example.fr/v?study={STUDY_UID}&acc={report.accession_issuer}.{report.accession}"
        f"&id={report.cda_id_root}&x={report.patient.ipp}"
    )
    encoded = viewer_url("https://h/v?a={accession}", spec(accession="A&B C"))
    assert encoded == "https://h/v?a=A%26B%20C"
    with pytest.raises(ValueError, match="unknown placeholder"):
        viewer_url("https://h/{nope}", report)


def test_report_spec_defaults_and_context():
    report = spec(flags={"MASQUE_PS": "Y", "INVISIBLE_PATIENT": "N", "INVISIBLE_REP_LEGAUX": "Y", "DESTDMP": "Y"})
    assert report.accession.startswith("ACN") and report.order_id.startswith("OPN")
    assert report.viewer_url.startswith("https://vi.drimbox.test/IHEInvokeImageDisplay?requestType=STUDY&studyUID=" + STUDY_UID)
    context = report.context(study_date="20250102")
    assert context.masking_flags == ("MASQUE_PS", "INVISIBLE_REP_LEGAUX")
    assert (context.study_uid, context.accession, context.cda_id_root) == (STUDY_UID, report.accession, report.cda_id_root)
    assert context.modalities == ("CT", "MR") and context.study_date == "20250102"
    default = spec()
    assert {k for k, v in default.flags.items() if v == "Y"} == {"DESTDMP"}
    assert spec().cda_id_root != spec().cda_id_root


def test_replacement_spec_links_to_the_previous_report():
    first = spec()
    second = replacement_spec(first)
    assert second.replaces_cda_id == first.cda_id_root
    assert second.cda_set_id == first.cda_set_id and second.version_number == first.version_number + 1
    assert second.cda_id_root != first.cda_id_root
    assert f"idCDA={second.cda_id_root}" in second.viewer_url
    assert first.corrected().replaces_cda_id == first.cda_id_root


def test_build_cda_reads_back_with_every_fact_of_the_spec():
    report = spec()
    cda = parse_cda(build_cda(report))
    patient = report.patient
    assert (cda.ins, cda.ins_oid, cda.ipp, cda.ipp_root) == (patient.ins, patient.ins_oid, patient.ipp, patient.ipp_oid)
    assert (cda.birth_name, cda.given_name, cda.sex, cda.birth_date, cda.birth_place) == (
        patient.birth_name, patient.given_name, patient.sex, patient.birth_date, patient.birth_place)
    assert cda.id_root == report.cda_id_root and cda.set_id == report.cda_set_id and cda.version_number == "1"
    assert cda.study_uids == (STUDY_UID,)
    assert (cda.accession, cda.accession_issuer, cda.order_id, cda.order_root) == (
        report.accession, report.accession_issuer, report.order_id, report.order_root)
    assert (cda.author_id, cda.author_org_id, cda.legal_authenticator_org_id) == (
        report.author.national_id, report.organisation.structure_id, report.organisation.structure_id)
    assert cda.modality_codes == ("CT", "MR") and cda.act_code == report.act_code
    assert cda.level == "N1" and cda.body_media_type == "application/pdf" and cda.pdf_size > 0
    assert cda.viewer_urls == (report.viewer_url,)
    assert cda.viewer_url_method == "pdf-annotation+pdf-text"
    assert report.accession in cda.pdf_text and patient.birth_name in cda.pdf_text
    assert cda.replaces_id == ""
    assert parse_cda(build_cda(replacement_spec(report))).replaces_id == report.cda_id_root


def test_build_cda_has_the_layout_of_the_ans_example():
    root = etree.fromstring(build_cda(spec()))
    order = [etree.QName(child).localname for child in root]
    expected = ["realmCode", "typeId", "templateId", "id", "code", "title", "effectiveTime", "confidentialityCode",
                "languageCode", "setId", "versionNumber", "recordTarget", "author", "custodian", "legalAuthenticator",
                "inFulfillmentOf", "documentationOf", "componentOf", "component"]
    assert list(dict.fromkeys(order)) == expected  # CDA R2 schema order of the header
    assert root.xpath("cda:code/cda:translation/@code", namespaces=NS)
    assert root.xpath("cda:componentOf/cda:encompassingEncounter/cda:location/cda:healthCareFacility/cda:code/@code", namespaces=NS) == ["SA08"]
    performer = "cda:documentationOf/cda:serviceEvent/cda:performer/cda:assignedEntity/cda:representedOrganization/cda:id/@extension"
    assert root.xpath(performer, namespaces=NS)


def test_viewer_url_is_read_from_an_n3_entry_first():
    xml = build_cda(spec()).replace(
        b"</ClinicalDocument>",
        b'<component><section><entry><observation classCode="DGIMG" moodCode="EVN">'
        b'<templateId root="1.2.250.1.213.1.1.3.157"/><text mediaType="application/dicom">'
        b'<reference value="https://n3.example/IHEInvokeImageDisplay?studyUID=1"/></text></observation></entry>'
        b"</section></component></ClinicalDocument>",
    )
    cda = parse_cda(xml)
    assert cda.viewer_urls == ("https://n3.example/IHEInvokeImageDisplay?studyUID=1",)
    assert cda.viewer_url_method == "n3-entry"


def test_a_damaged_pdf_is_reported_not_raised():
    xml = build_cda(spec())
    root = etree.fromstring(xml)
    text = root.find("cda:component/cda:nonXMLBody/cda:text", NS)
    text.text = base64.b64encode(b"%PDF-1.4 garbage").decode()
    cda = parse_cda(etree.tostring(root))
    assert cda.viewer_urls == () and cda.viewer_url_method == "pdf-unreadable" and cda.notes


@pytest.mark.parametrize(
    "xml, message",
    [
        (b"", "empty"),
        (b"<ClinicalDocument", "not well-formed"),
        (b"<ClinicalDocument/>", "root element"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ClinicalDocument xmlns="urn:hl7-org:v3">&e;</ClinicalDocument>', "DTD"),
    ],
)
def test_parse_cda_errors_and_no_entity_expansion(xml, message):
    with pytest.raises(CdaError, match=message):
        parse_cda(xml)


def test_parse_cda_reads_the_demonstrator_example():
    if not POC_CDA.exists():
        pytest.skip(f"demonstrator sample not found: {POC_CDA}")
    cda = parse_cda(POC_CDA.read_bytes())
    assert (cda.ins, cda.ins_oid) == ("279035121518989", "1.2.250.1.213.1.4.10")
    assert (cda.ipp, cda.ipp_root) == ("1234567890121", "1.2.3.4.567.8.9.10")
    assert (cda.accession, cda.accession_issuer) == ("105234751", "1.2.250.1.925.994044785528.27")
    assert (cda.order_id, cda.order_root) == ("984375862", "1.2.250.1.748.12345678.12")
    # three studies; the fourth documentationOf (CIM-10 Z13.9) has no id and is not a study
    assert cda.study_uids == tuple(f"1.2.250.1.3.152.235.2.12.18763647{n}" for n in (4, 5, 6))
    assert cda.replaces_id == "90E1C8EC-F951-4B26-A305-A34848818DD6"
    assert cda.author_org_id == "101235555" and cda.healthcare_facility_code == "SA08"
    # the N3 templateIds the poc README lists are inside an XML comment: the document is N1
    assert cda.level == "N1" and "1.2.250.1.213.1.1.1.45" not in cda.templates
    # its PDF (a sample CR) prints no viewer URL and has no link
    assert cda.pdf_size > 0 and "PAT-TROIS" in cda.pdf_text
    assert cda.viewer_urls == () and cda.viewer_url_method == "none"


def test_structure_ids_match():
    assert structure_ids_match("750803447", "750803447") == (True, "equal")
    assert structure_ids_match("750803447", "1750803447") == (True, "type digit stripped")
    assert structure_ids_match("750803447", "101235555") == (False, "different")
    assert structure_ids_match("750803447", "9750803447") == (False, "different")

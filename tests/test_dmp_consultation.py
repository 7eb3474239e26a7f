"""simulators.dmp consultation: ITI-18 Registry Stored Query, ITI-43 Retrieve Document Set, and preload."""

from __future__ import annotations

import ssl
from io import BytesIO
from typing import Iterator

import httpx
import pydicom
import pytest

from drimva.context import Organisation, Patient, Professional, ReportContext, RuleOptions
from drimva.evidence import NullEvidence
from drimva.findings import Severity
from drimva.rules.xds import check_kos_submission
from drimva.xds import (
    ACTION_ITI18,
    ACTION_ITI18_RESPONSE,
    ACTION_ITI43,
    ACTION_ITI43_RESPONSE,
    DE_CLASS_CODE,
    DE_EVENT_CODE_LIST,
    DE_PATIENT_ID,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    NS,
    QUERY_FIND_BY_REFERENCE_ID,
    QUERY_FIND_DOCUMENTS,
    QUERY_GET_DOCUMENTS,
    RETURN_OBJECT_REF,
    STATUS_APPROVED,
    STATUS_DEPRECATED,
    DocumentRequest,
    classification,
    classifications,
    external_id,
    parse_query_response,
    parse_query_values,
    parse_retrieve_response,
    parse_xml,
    retrieve_request_xml,
    soap_envelope,
    stored_query_xml,
)
from fixtures.pki import TestPki
from fixtures.studies import make_kos, make_study
from simulators.dmp import DEFAULT_REPOSITORY_UNIQUE_ID, DmpSimulator, KosFacts, kos_submission

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
PATIENT = Patient("279035121518989", ipp="IPP101", ipp_oid="1.2.250.1.999.9", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")
OTHER = Patient("162018885045327")
FACTS = KosFacts(accession_issuer="1.2.250.1.999.1.2", order_id="CMD42", order_root="1.2.250.1.999.1.3", modalities=("CT", "MR"), organisation=ORG)
JSON_SOAP = "application/soap+xml; charset=UTF-8"


def _kos(patient: Patient = PATIENT, accession: str = "ACC42") -> tuple[bytes, list]:
    study = make_study(patient, accession, accession_issuer=FACTS.accession_issuer)
    kos = make_kos(
        study, patient, accession=accession, accession_issuer=FACTS.accession_issuer, order_id="CMD42", order_root=FACTS.order_root,
        wado_base_url="https://127.0.0.2:8443/drimbox/wado-rs", retrieve_location_uid="1.2.250.1.999.7",
    )
    buffer = BytesIO()
    kos.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), study



@pytest.fixture(scope="module")
def kos_and_study() -> tuple[bytes, list]:
    return _kos()



@pytest.fixture
def dmp(pki: TestPki, evidence: NullEvidence) -> Iterator[DmpSimulator]:
    with DmpSimulator(evidence, pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert, timeout=5) as sim:
        yield sim


@pytest.fixture
def http(pki: TestPki) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.client_cert, pki.client_key)
    with httpx.Client(verify=context, timeout=5) as client:
        yield client


def _query(http: httpx.Client, dmp: DmpSimulator, query_id: str, parameters: dict, return_type: str = "LeafClass") -> httpx.Response:
    body = soap_envelope(ACTION_ITI18, stored_query_xml(query_id, parameters, return_type), message_id="urn:uuid:q-1", to=dmp.registry_url)
    return http.post(dmp.registry_url, content=body, headers={"Content-Type": JSON_SOAP})


def _find(http, dmp, patient: Patient = PATIENT, statuses=(STATUS_APPROVED,), **extra) -> httpx.Response:
    return _query(http, dmp, QUERY_FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": patient.xds_patient_id, "$XDSDocumentEntryStatus": list(statuses), **extra})


def _retrieve(http, dmp, *unique_ids: str, repository: str = DEFAULT_REPOSITORY_UNIQUE_ID) -> httpx.Response:
    body = soap_envelope(ACTION_ITI43, retrieve_request_xml([DocumentRequest(repository, uid) for uid in unique_ids]), message_id="urn:uuid:r-1")
    return http.post(dmp.repository_url, content=body, headers={"Content-Type": JSON_SOAP})


def test_query_values_syntax() -> None:
    assert parse_query_values("('urn:a', 'urn:b')") == ["urn:a", "urn:b"]
    assert parse_query_values("'279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH'") == ["279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"]
    assert parse_query_values("('a,b','c''d')") == ["a,b", "c'd"]
    assert parse_query_values("20240101") == ["20240101"]


def test_preload_looks_like_a_registered_publication(dmp: DmpSimulator, kos_and_study, evidence: NullEvidence) -> None:
    kos, study = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id, facts=FACTS)
    sop_uid = pydicom.dcmread(BytesIO(kos)).SOPInstanceUID
    assert entry.unique_id == sop_uid and entry.status == STATUS_APPROVED and entry.document == kos
    assert entry.entry_uuid.startswith("urn:uuid:") and dmp.entry(sop_uid) is entry
    assert evidence.records[-1][1] == "preload" and evidence.records[-1][2] == kos
    assert dmp.submissions == []  # nothing was received over the network
    # the same rules that judge a DRIMbox's ITI-41 find the preloaded metadata conformant
    model = kos_submission(kos, patient_id=PATIENT.xds_patient_id, facts=FACTS)
    ctx = ReportContext(
        patient=PATIENT, study_uid=study[0].StudyInstanceUID, accession="ACC42", accession_issuer=FACTS.accession_issuer,
        order_id="CMD42", order_root=FACTS.order_root, cda_id_root="1.2.3", organisation=ORG, author=Professional("8", "A", "B"),
        modalities=("CT", "MR"),
    )
    errors = [f for f in check_kos_submission(model, ctx, RuleOptions()) if f.severity == Severity.ERROR and f.rule.startswith("XDS-")]
    assert errors == [], [f.describe() for f in errors]
    with pytest.raises(ValueError, match="already registered"):
        dmp.preload(kos, patient_id=PATIENT.xds_patient_id, facts=FACTS)


def test_find_documents_leaf_class_returns_the_metadata_as_registered(http, dmp: DmpSimulator, kos_and_study, evidence: NullEvidence) -> None:
    kos, _ = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id, modalities=("CT", "MR"), accession_issuer=FACTS.accession_issuer)
    dmp.preload(_kos(OTHER)[0], patient_id=OTHER.xds_patient_id, modalities=("CT",))
    response = _find(http, dmp)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/soap+xml")
    root = parse_xml(response.content)
    assert root.findtext("soap:Header/wsa:Action", namespaces=NS) == ACTION_ITI18_RESPONSE
    assert root.findtext("soap:Header/wsa:RelatesTo", namespaces=NS) == "urn:uuid:q-1"
    result = parse_query_response(response.content, response.headers["content-type"])
    assert result.status.endswith(":Success") and result.errors == []
    (found,) = result.document_entries
    assert found.id == entry.entry_uuid and found.status == STATUS_APPROVED and found.mime_type == "application/dicom"
    assert external_id(found, DE_UNIQUE_ID) == entry.unique_id and external_id(found, DE_PATIENT_ID) == PATIENT.xds_patient_id
    assert found.slot("repositoryUniqueId") == DEFAULT_REPOSITORY_UNIQUE_ID and found.slot("hash") == entry.sha1
    assert classification(found, DE_TYPE_CODE).node_representation == "IMG-KOS"
    assert classification(found, DE_CLASS_CODE).node_representation == "31"
    assert {c.node_representation for c in classifications(found, DE_EVENT_CODE_LIST)} == {"CT", "MR"}
    assert all(c.classified_object == entry.entry_uuid for c in found.classifications)
    assert any(v.startswith("ACC42^^^&") for v in found.slots["urn:ihe:iti:xds:2013:referenceIdList"])

    (submission,) = dmp.submissions
    assert (submission.transaction, submission.accepted, submission.returned) == ("ITI-18", True, [entry.entry_uuid])
    assert submission.query is not None and submission.query.query_name == "FindDocuments"
    assert submission.peer_subject and "CN=DRIMbox" in submission.peer_subject
    labels = [label for _, label, *_ in evidence.records]
    assert labels[-2:] == ["request-0-registry", "response-0-Success"]  # recorded before the answer


def test_find_documents_filters(http, dmp: DmpSimulator, kos_and_study) -> None:
    kos, _ = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id, modalities=("CT", "MR"))
    mr = "MR^^1.2.250.1.213.1.1.5.618"
    us = "US^^1.2.250.1.213.1.1.5.618"
    ct = "CT^^1.2.250.1.213.1.1.5.618"

    def ids(response: httpx.Response) -> list[str]:
        parsed = parse_query_response(response.content, response.headers["content-type"])
        return [e.id for e in parsed.document_entries] + parsed.object_refs

    assert ids(_find(http, dmp, **{"$XDSDocumentEntryEventCodeList": [mr, us]})) == [entry.entry_uuid]  # OR inside a Value
    assert ids(_find(http, dmp, **{"$XDSDocumentEntryEventCodeList": [[mr], [ct]]})) == [entry.entry_uuid]  # AND across Values
    assert ids(_find(http, dmp, **{"$XDSDocumentEntryEventCodeList": [[mr], [us]]})) == []
    assert ids(_find(http, dmp, OTHER)) == []
    assert ids(_find(http, dmp, statuses=(STATUS_DEPRECATED,))) == []
    refs = _query(http, dmp, QUERY_FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": PATIENT.xds_patient_id, "$XDSDocumentEntryStatus": [STATUS_APPROVED]}, RETURN_OBJECT_REF)
    assert b"ExtrinsicObject" not in refs.content and ids(refs) == [entry.entry_uuid]
    by_ref = _query(http, dmp, QUERY_FIND_BY_REFERENCE_ID, {
        "$XDSDocumentEntryPatientId": PATIENT.xds_patient_id, "$XDSDocumentEntryStatus": [STATUS_APPROVED],
        "$XDSDocumentEntryReferenceIdList": [f"ACC42^^^&{FACTS.accession_issuer}&ISO^urn:ihe:iti:xds:2013:accession"],
    })
    assert ids(by_ref) == [entry.entry_uuid]


def test_get_documents_by_unique_id_or_entry_uuid(http, dmp: DmpSimulator, kos_and_study) -> None:
    kos, _ = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id)
    for parameter, value in (("$XDSDocumentEntryUniqueId", entry.unique_id), ("$XDSDocumentEntryEntryUUID", entry.entry_uuid)):
        response = _query(http, dmp, QUERY_GET_DOCUMENTS, {parameter: [value]}, RETURN_OBJECT_REF)
        assert parse_query_response(response.content, response.headers["content-type"]).object_refs == [entry.entry_uuid]
    assert _query(http, dmp, QUERY_GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": ["1.2.3.404"]}).status_code == 200


@pytest.mark.parametrize(
    ("query_id", "parameters", "code"),
    [
        (QUERY_FIND_DOCUMENTS, {"$XDSDocumentEntryStatus": [STATUS_APPROVED]}, "XDSStoredQueryParamNumber"),
        (QUERY_FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": PATIENT.xds_patient_id}, "XDSStoredQueryParamNumber"),
        (QUERY_GET_DOCUMENTS, {}, "XDSStoredQueryParamNumber"),
        ("urn:uuid:00000000-0000-0000-0000-000000000000", {}, "XDSUnknownStoredQuery"),
    ],
)
def test_bad_queries_get_registry_errors(http, dmp: DmpSimulator, query_id: str, parameters: dict, code: str) -> None:
    response = _query(http, dmp, query_id, parameters)
    parsed = parse_query_response(response.content, response.headers["content-type"])
    assert parsed.status.endswith(":Failure") and [e[0] for e in parsed.errors] == [code]
    assert dmp.submissions[-1].response_status == "Failure"


def test_query_without_client_certificate_is_a_fault(pki: TestPki, dmp: DmpSimulator) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_cert)), timeout=5) as anonymous:
        response = _find(anonymous, dmp)
    assert response.status_code == 500 and b"client certificate" in response.content
    assert dmp.submissions[-1].response_status == "Fault"


def test_retrieve_returns_the_kos_as_an_mtom_binary_part(http, dmp: DmpSimulator, kos_and_study, evidence: NullEvidence) -> None:
    kos, _ = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id)
    response = _retrieve(http, dmp, entry.unique_id)
    content_type = response.headers["content-type"]
    assert response.status_code == 200 and content_type.startswith("multipart/related")
    assert kos in response.content  # raw binary part, not base64
    parsed = parse_retrieve_response(response.content, content_type)
    assert parsed.mtom and parsed.status.endswith(":Success") and parsed.errors == []
    (document,) = parsed.documents
    assert (document.repository_unique_id, document.document_unique_id, document.mime_type) == (DEFAULT_REPOSITORY_UNIQUE_ID, entry.unique_id, "application/dicom")
    assert document.content == kos
    root = parse_xml(response.content.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    assert root.findtext("soap:Header/wsa:Action", namespaces=NS) == ACTION_ITI43_RESPONSE
    submission = dmp.submissions[-1]
    assert (submission.transaction, submission.response_status, submission.returned) == ("ITI-43", "Success", [entry.unique_id])
    assert submission.retrieve is not None and evidence.records[-1][1] == "response-0-Success"


def test_retrieve_unknown_document_or_repository(http, dmp: DmpSimulator, kos_and_study) -> None:
    kos, _ = kos_and_study
    entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id)
    partial = _retrieve(http, dmp, entry.unique_id, "1.2.3.404")
    parsed = parse_retrieve_response(partial.content, partial.headers["content-type"])
    assert parsed.status.endswith(":PartialSuccess") and [d.content for d in parsed.documents] == [kos]
    assert [e[0] for e in parsed.errors] == ["XDSDocumentUniqueIdError"]
    wrong_repo = _retrieve(http, dmp, entry.unique_id, repository="1.2.3.4")
    parsed = parse_retrieve_response(wrong_repo.content, wrong_repo.headers["content-type"])
    assert parsed.status.endswith(":Failure") and parsed.documents == [] and [e[0] for e in parsed.errors] == ["XDSUnknownRepositoryId"]


def test_configurable_repository_unique_id(pki: TestPki, http, kos_and_study) -> None:
    kos, _ = kos_and_study
    with DmpSimulator(NullEvidence(), pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert, repository_unique_id="1.2.250.1.999.42", timeout=5) as dmp:
        entry = dmp.preload(kos, patient_id=PATIENT.xds_patient_id)
        found = parse_query_response(*(lambda r: (r.content, r.headers["content-type"]))(_find(http, dmp))).document_entries
        assert found[0].slot("repositoryUniqueId") == "1.2.250.1.999.42"
        ok = _retrieve(http, dmp, entry.unique_id, repository="1.2.250.1.999.42")
        assert parse_retrieve_response(ok.content, ok.headers["content-type"]).documents[0].content == kos


def test_iti18_on_the_repository_and_iti43_on_the_registry_are_refused(http, dmp: DmpSimulator) -> None:
    body = soap_envelope(ACTION_ITI18, stored_query_xml(QUERY_GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": ["1.2"]}))
    assert http.post(dmp.repository_url, content=body, headers={"Content-Type": JSON_SOAP}).status_code == 500
    body = soap_envelope(ACTION_ITI43, retrieve_request_xml([DocumentRequest(DEFAULT_REPOSITORY_UNIQUE_ID, "1.2")]))
    assert http.post(dmp.registry_url, content=body, headers={"Content-Type": JSON_SOAP}).status_code == 500
    assert [s.response_status for s in dmp.submissions] == ["Fault", "Fault"]

"""simulators.dmp: a real HTTPS server with mutual TLS, ITI-41 (MTOM) and ITI-57."""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from drimva.context import Organisation
from drimva.evidence import NullEvidence
from drimva.mime import MtomMessage, build_multipart_related
from drimva.rules.vihf import xsd_datetime
from drimva.waiting import poll
from drimva.xds import (
    parse_capture,
    ACTION_ITI41,
    ACTION_ITI41_RESPONSE,
    ACTION_ITI57,
    ASSOC_HAS_MEMBER,
    ASSOC_RPLC,
    ASSOC_UPDATE_AVAILABILITY_STATUS,
    DE_PATIENT_ID,
    DE_UNIQUE_ID,
    NS,
    SS_PATIENT_ID,
    STATUS_APPROVED,
    STATUS_DELETED_ASIP,
    STATUS_DEPRECATED,
    SUBMISSION_SET_NODE,
    Association,
    Classification,
    DocumentEntry,
    RegistryPackage,
    capture_to_http,
    new_message_id,
    parse_xml,
    provide_and_register_xml,
    soap_envelope,
    submit_objects_xml,
)
from fixtures.pki import TestPki, build_pki
from simulators.dmp import DmpSimulator

ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")
PATIENT = "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH"
from paths import SHARED




@pytest.fixture
def dmp(pki: TestPki, evidence: NullEvidence) -> Iterator[DmpSimulator]:
    with DmpSimulator(evidence, pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert, timeout=5) as sim:
        yield sim


def client(pki: TestPki, with_cert: bool = True, cert: tuple[Path, Path] | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if with_cert:
        context.load_cert_chain(*(cert or (pki.client_cert, pki.client_key)))
    return httpx.Client(verify=context, timeout=5)


def iti41(
    document: bytes = b"KOS bytes",
    unique_id: str = "1.2.3.1",
    hash_value: str | None = None,
    patient: str = PATIENT,
    replaces: str | None = None,
    message_id: str = "urn:uuid:11111111-2222-3333-4444-555555555555",
) -> tuple[bytes, str]:
    """A minimal MTOM ITI-41: one entry, registry-level metadata only."""
    entry = DocumentEntry(
        id="DocumentKOS",
        mime_type="application/dicom",
        slots={"hash": [hash_value or hashlib.sha1(document).hexdigest()], "size": [str(len(document))]},
        external_identifiers={DE_PATIENT_ID: patient, DE_UNIQUE_ID: unique_id},
    )
    ss = RegistryPackage(
        id="SubmissionSet01",
        classifications=[Classification(node=SUBMISSION_SET_NODE)],
        external_identifiers={SS_PATIENT_ID: patient},
    )
    objects: list = [ss, entry, Association("a1", ASSOC_HAS_MEMBER, "SubmissionSet01", "DocumentKOS", {"SubmissionSetStatus": ["Original"]})]
    if replaces:
        objects.append(Association("a2", ASSOC_RPLC, "DocumentKOS", replaces))
    envelope = soap_envelope(ACTION_ITI41, provide_and_register_xml(objects, {"DocumentKOS": "cid:0.2"}), message_id=message_id)
    return build_multipart_related(
        [
            ([("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'), ("Content-ID", "<0.1>")], envelope),
            ([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", "<0.2>")], document),
        ],
        action=ACTION_ITI41,
    )


def iti57(target: str, new_status: str, original: str = STATUS_APPROVED) -> bytes:
    ss = RegistryPackage(id="ss", classifications=[Classification(node=SUBMISSION_SET_NODE)], external_identifiers={SS_PATIENT_ID: PATIENT})
    assoc = Association("u1", ASSOC_UPDATE_AVAILABILITY_STATUS, "ss", target, {"OriginalStatus": [original], "NewStatus": [new_status]})
    return soap_envelope(ACTION_ITI57, submit_objects_xml([ss, assoc]))


def post(http: httpx.Client, url: str, body: bytes, content_type: str) -> httpx.Response:
    return http.post(url, content=body, headers={"Content-Type": content_type})


def soap_root(response: httpx.Response):
    content_type = response.headers["content-type"]
    if content_type.startswith("multipart/related"):
        return parse_xml(MtomMessage.parse(response.content, content_type).root.content)
    return parse_xml(response.content)


def registry_status(response: httpx.Response) -> tuple[str, list[str]]:
    root = soap_root(response)
    status = root.find(".//rs:RegistryResponse", NS).get("status").rsplit(":", 1)[-1]
    return status, [e.get("errorCode") for e in root.iterfind(".//rs:RegistryError", NS)]


def fault_text(response: httpx.Response) -> tuple[str, str]:
    root = soap_root(response)
    return root.findtext(".//soap:Fault/soap:Code/soap:Value", namespaces=NS), root.findtext(".//soap:Fault/soap:Reason/soap:Text", namespaces=NS)


def test_publication_is_stored_answered_and_recorded(pki: TestPki, dmp: DmpSimulator, evidence: NullEvidence) -> None:
    body, content_type = iti41()
    with client(pki) as http:
        response = post(http, dmp.repository_url, body, content_type)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("multipart/related")
    root = soap_root(response)
    assert root.findtext("soap:Header/wsa:Action", namespaces=NS) == ACTION_ITI41_RESPONSE
    assert root.findtext("soap:Header/wsa:RelatesTo", namespaces=NS) == "urn:uuid:11111111-2222-3333-4444-555555555555"
    assert registry_status(response) == ("Success", [])

    (submission,) = dmp.submissions
    assert submission.accepted and submission.transaction == "ITI-41"
    assert submission.peer_subject == "CN=DRIMbox,OU=499700367909006,O=CABINET M DOC0036790,C=FR"
    assert submission.body == body and submission.model is not None and submission.model.mtom
    (entry,) = dmp.entries()
    assert entry.entry_uuid.startswith("urn:uuid:") and submission.id_map["DocumentKOS"] == entry.entry_uuid
    assert (entry.unique_id, entry.patient_id, entry.status, entry.document) == ("1.2.3.1", PATIENT, STATUS_APPROVED, b"KOS bytes")
    assert dmp.entry("1.2.3.1") is entry

    labels = [(channel, label) for channel, label, *_ in evidence.records]
    assert labels == [
        ("dmp", "request-0-repository"),
        ("dmp", "document-0-application/dicom"),  # each attached document on its own, before registration
        ("dmp", "response-0-Success"),
    ]
    assert evidence.records[1][2] == b"KOS bytes" and "document DocumentKOS" in (evidence.records[1][3] or "")
    raw_request, decoded_request = evidence.records[0][2], evidence.records[0][3]
    assert raw_request.startswith(b"POST /si-dmp-server/v2/services/repository HTTP/1.1\r\n") and raw_request.endswith(body)
    assert hashlib.sha1(b"KOS bytes").hexdigest() in decoded_request  # binary part summarised
    assert "<rim:ExtrinsicObject" in decoded_request  # SOAP part pretty-printed


def test_no_client_certificate_gets_a_soap_fault(pki: TestPki, dmp: DmpSimulator, evidence: NullEvidence) -> None:
    with client(pki, with_cert=False) as http:
        response = post(http, dmp.repository_url, *iti41())
    assert response.status_code == 500
    code, reason = fault_text(response)
    assert code == "soap:Sender" and "client certificate" in reason
    assert dmp.entries() == [] and dmp.submissions[0].response_status == "Fault"
    assert [label for _, label, *_ in evidence.records] == ["request-0-repository", "response-0-Fault"]


def test_certificate_of_another_ca_is_refused_by_tls_and_recorded(pki: TestPki, dmp: DmpSimulator, evidence: NullEvidence, tmp_path: Path) -> None:
    other = build_pki(tmp_path, ORG)
    with client(pki, cert=(other.client_cert, other.client_key)) as http, pytest.raises(httpx.TransportError):
        post(http, dmp.repository_url, *iti41())
    assert poll(lambda: dmp.tls_rejections, 2)
    assert dmp.submissions == [] and dmp.entries() == []
    assert evidence.records[-1][1] == "tls-refused"


@pytest.mark.parametrize(
    ("body", "content_type", "code", "reason"),
    [
        (soap_envelope(ACTION_ITI41, provide_and_register_xml([], {})), "application/soap+xml", "soap:Sender", "MTOM"),
        (b"<soap:Envelope", "application/soap+xml", "soap:Sender", "not well-formed"),
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
            "text/xml",
            "soap:VersionMismatch",
            "SOAP 1.1",
        ),
        (soap_envelope("urn:wrong", provide_and_register_xml([], {})), "application/soap+xml", "soap:Sender", "not supported"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "application/soap+xml", "soap:Sender", "DTD"),
    ],
    ids=["plain SOAP ITI-41", "malformed XML", "SOAP 1.1", "wrong action", "external entity"],
)
def test_protocol_errors_get_soap_faults(pki: TestPki, dmp: DmpSimulator, body: bytes, content_type: str, code: str, reason: str) -> None:
    with client(pki) as http:
        response = post(http, dmp.repository_url, body, content_type)
    assert response.status_code == 500
    got_code, got_reason = fault_text(response)
    assert got_code == code and reason in got_reason
    assert "root:" not in got_reason  # the entity was not resolved
    assert dmp.entries() == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"hash_value": "0" * 40}, "XDSNonIdenticalHash"),
        ({"patient": "162018885045327"}, "XDSUnknownPatientId"),
        ({"replaces": "urn:uuid:00000000-0000-4000-8000-000000000000"}, "UnresolvedReferenceException"),
    ],
)
def test_registry_failures(pki: TestPki, dmp: DmpSimulator, kwargs: dict, code: str) -> None:
    with client(pki) as http:
        response = post(http, dmp.repository_url, *iti41(**kwargs))
    assert response.status_code == 200
    assert registry_status(response) == ("Failure", [code])
    assert dmp.entries() == [] and dmp.submissions[0].errors[0].code == code


def test_missing_mime_part_is_a_missing_document(pki: TestPki, dmp: DmpSimulator) -> None:
    body, content_type = iti41()
    body = body.replace(b"Content-ID: <0.2>", b"Content-ID: <0.9>")
    with client(pki) as http:
        response = post(http, dmp.repository_url, body, content_type)
    assert registry_status(response) == ("Failure", ["XDSMissingDocument"])
    assert "<0.2>" in dmp.submissions[0].errors[0].context


def test_known_patients_restrict_the_registry(pki: TestPki, evidence: NullEvidence) -> None:
    with DmpSimulator(evidence, pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert, known_patient_ids=["279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"]) as sim:
        with client(pki) as http:
            response = post(http, sim.repository_url, *iti41())
    assert registry_status(response) == ("Failure", ["XDSUnknownPatientId"])


def test_replacement_deprecates_the_old_entry(pki: TestPki, dmp: DmpSimulator) -> None:
    with client(pki) as http:
        post(http, dmp.repository_url, *iti41())
        old = dmp.entries()[0]
        response = post(http, dmp.repository_url, *iti41(b"KOS v2", unique_id="1.2.3.2", replaces=old.entry_uuid, message_id=new_message_id()))
    assert registry_status(response) == ("Success", [])
    assert old.status == STATUS_DEPRECATED
    assert "RPLC" in old.status_history[-1].cause
    new = dmp.entry("1.2.3.2")
    assert new is not None and new.status == STATUS_APPROVED and new.submission_index == 1


@pytest.mark.parametrize("status", [STATUS_DELETED_ASIP, STATUS_DEPRECATED])
@pytest.mark.parametrize("by", ["entryUUID", "uniqueId"])
def test_update_document_set_changes_the_status_and_records_which(pki: TestPki, dmp: DmpSimulator, status: str, by: str) -> None:
    with client(pki) as http:
        post(http, dmp.repository_url, *iti41())
        entry = dmp.entries()[0]
        target = entry.entry_uuid if by == "entryUUID" else entry.unique_id
        response = post(http, dmp.registry_url, iti57(target, status), "application/soap+xml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/soap+xml")
    assert registry_status(response) == ("Success", [])
    assert entry.status == status and dmp.submissions[-1].status_used == status
    assert dmp.submissions[-1].transaction == "ITI-57"


def test_update_with_wrong_original_status_fails(pki: TestPki, dmp: DmpSimulator) -> None:
    with client(pki) as http:
        post(http, dmp.repository_url, *iti41())
        entry = dmp.entries()[0]
        response = post(http, dmp.registry_url, iti57(entry.entry_uuid, STATUS_DELETED_ASIP, original=STATUS_DEPRECATED), "application/soap+xml")
    assert registry_status(response) == ("Failure", ["XDSMetadataUpdateError"])
    assert entry.status == STATUS_APPROVED


def test_demonstrator_capture_replayed(pki: TestPki, dmp: DmpSimulator) -> None:
    path = SHARED / "poc-samples/XDS/publication.xml"
    if not path.exists():
        pytest.skip(f"shared sample absent: {path}")
    body, content_type = capture_to_http(path.read_bytes())
    issued = xsd_datetime(parse_capture(path.read_bytes()).assertion.get("IssueInstant"))  # type: ignore[union-attr]
    assert issued is not None
    dmp.clock = lambda: issued  # replayed at the time it was captured: its VIHF is valid then
    with client(pki) as http:
        response = post(http, dmp.repository_url, body, content_type)
    # The KOS part is intact (hash and size match); the signature part was re-indented when the
    # capture was saved, so its hash and size no longer match: the registry refuses the submission.
    assert registry_status(response) == ("Failure", ["XDSNonIdenticalHash", "XDSNonIdenticalSize"])
    assert {e.location for e in dmp.submissions[0].errors} == {"Signature01"}


def test_entries_clear_and_idempotent_stop(pki: TestPki, evidence: NullEvidence) -> None:
    sim = DmpSimulator(evidence, pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert)
    sim.start()
    sim.start()
    port = sim.port
    assert sim.repository_url == f"https://127.0.0.1:{port}/si-dmp-server/v2/services/repository"
    assert sim.entries() == []
    with client(pki) as http:
        post(http, sim.repository_url, *iti41())
        assert sim.entries()  # registered before the response came back
        sim.clear()
        assert sim.entries() == [] and sim.submissions == []
        sim.stop()  # with a keep-alive connection still open in the client
    sim.stop()
    with socket.socket() as probe:  # the port is released (a listener would make this bind fail)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()


def test_submission_views_for_the_steps(pki: TestPki, dmp: DmpSimulator) -> None:
    with client(pki) as http:
        post(http, dmp.repository_url, *iti41(hash_value="0" * 40))
        post(http, dmp.registry_url, iti57("urn:uuid:none", STATUS_DELETED_ASIP), "application/soap+xml")
    publication, update = dmp.submissions
    assert publication.request is publication.model and publication.update is None
    assert update.update is update.model and update.request is None
    assert publication.client_subject == publication.peer_subject
    assert publication.error_text.startswith("XDSNonIdenticalHash: hash slot 0000")
    assert update.error_text.startswith("UnresolvedReferenceException: target urn:uuid:none")


XML_ATTACKS = {
    "xxe-file": b'<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&e;</s:Envelope>',
    "xxe-network": b'<!DOCTYPE s [<!ENTITY e SYSTEM "http://127.0.0.1:9/e">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&e;</s:Envelope>',
    "parameter-entity": b'<!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>',
    "billion-laughs": b'<!DOCTYPE s [<!ENTITY a0 "lol">' + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b']><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&a9;</s:Envelope>',
    "quadratic": b'<!DOCTYPE s [<!ENTITY a "' + b"x" * 100_000 + b'">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    + b"&a;" * 50_000 + b"</s:Envelope>",
}


@pytest.mark.parametrize("attack", sorted(XML_ATTACKS))
def test_xml_attacks_on_iti41_get_a_fault_fast_and_the_dmp_still_serves(pki: TestPki, dmp: DmpSimulator, attack: str) -> None:
    """Issue 13 §2: the hardened parser refuses any DTD before expanding anything, within bounded time."""
    import time

    with client(pki) as http:
        start = time.perf_counter()
        response = post(http, dmp.repository_url, XML_ATTACKS[attack], "application/soap+xml")
        elapsed = time.perf_counter() - start
        assert elapsed < 3.0, f"{attack}: answered in {elapsed:.1f} s"
        assert response.status_code == 500 and len(response.content) < 10_000
        got_code, got_reason = fault_text(response)
        assert got_code == "soap:Sender" and "DTD" in got_reason and "root:" not in got_reason
        body, content_type = iti41()
        assert registry_status(post(http, dmp.repository_url, body, content_type)) == ("Success", [])


def test_a_vihf_outside_its_validity_window_is_refused_with_a_soap_fault(pki: TestPki, dmp: DmpSimulator) -> None:
    """The demonstrator's capture, replayed today: its VIHF was issued long ago (SAML Core §2.5.1.2)."""
    path = SHARED / "poc-samples/XDS/publication.xml"
    if not path.exists():
        pytest.skip(f"shared sample absent: {path}")
    body, content_type = capture_to_http(path.read_bytes())
    with client(pki) as http:
        response = post(http, dmp.repository_url, body, content_type)
    assert b"VIHF assertion not valid (expired)" in response.content and b"IssueInstant" in response.content
    (submission,) = dmp.submissions
    assert submission.fault and "expired" in submission.fault and dmp.entries() == []

"""The reference DRIMbox's consumer role: trust store, DMP query, WADO-RS client, C-STORE SCU, contextual call.

Every counterpart is a throwaway server made here, on 127.0.0.x ephemeral
ports: the liste blanche over HTTPS, an ITI-18/ITI-43 responder with mutual
TLS, a WADO-RS source on 127.0.0.2 (trusted) and 127.0.0.3 (untrusted), a
pynetdicom storage SCP as the DICOM node.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pynetdicom import AE, AllStoragePresentationContexts, evt

from simulators.trust.signer import sign_trust_list
from fixtures.identities import new_organisation, new_patient
from fixtures.pki import TestPki, build_pki
from fixtures.studies import make_kos, make_study
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from simulators.reference.consumer import (
    MAX_FORM,
    ConsumerServer,
    check_contextual_call,
)
from simulators.reference.dmp_client import mtom_request
from simulators.reference.dmp_query import Consultant, DmpQueryClient
from simulators.reference.store_scu import StoreScu
from simulators.reference.trust_store import (
    TrustListInvalid,
    TrustStore,
    verify_trust_list,
)
from simulators.reference.wado_client import (
    CISIS_ACCEPT,
    SeriesRef,
    WadoClient,
    accept_header,
    kos_series,
)

from paths import SHARED
OFFICIAL = SHARED / "ans-samples/Referencement-DRIMBox/Liste-blanche-TEST/Liste-blanche-signee/LISTEBLANCHE_DRIM-M_SIGNEE_TEST.xml"
TL = "https://github.com/ansforge/DRIM-M_DATA"
SOURCE, INTRUDER = "127.0.0.2", "127.0.0.3"
LPS = {"id": "drimva-ref", "name": "drimva", "version": "1.0", "homologation": "TEST"}
PROFESSIONAL = "810001234567"
LOG = logging.getLogger("test.consumer")


def _jwt(claims: dict[str, object]) -> str:
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


TOKEN = _jwt({"sub": PROFESSIONAL, "SubjectNameID": PROFESSIONAL, "given_name": "Jeanne", "family_name": "MEDECIN",
              "codeProfession": "10", "aud": "drimbox"})


# -- PKI and the liste blanche -------------------------------------------------------------


@dataclass
class Pki:
    pki: TestPki
    signer_key: bytes
    signer_chain: bytes
    server: tuple[Path, Path]  # cert, key for 127.0.0.1-3


def _signer(pki: TestPki, cn: str = "Liste Blanche DRIM-M", ca: tuple[x509.Certificate, object] | None = None) -> tuple[bytes, bytes]:
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    if ca is not None:
        ca_cert, ca_key = ca
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "318751275100020"),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    test_pki = build_pki(tmp_path_factory.mktemp("pki"), new_organisation(), hosts=("localhost", "127.0.0.1"))
    key, chain = _signer(test_pki)
    server = test_pki.issue_server_cert("drimboxes", ("127.0.0.1", SOURCE, INTRUDER))
    return Pki(test_pki, key, chain, server)


def trust_list(*hosts: str) -> bytes:
    domains = "".join(
        f"<Domaine><Identifiant>{i}</Identifiant><db>{host}</db><vi>vi{i}.test.example.fr</vi>"
        f"<Denomination>drimva</Denomination><DNCertificatOperateur>CN={host},OU=1,O=DRIMVA,C=FR</DNCertificatOperateur>"
        f"<SupportContact>support@example.fr</SupportContact><DateMAJ>2025-01-01T00:00:00Z</DateMAJ></Domaine>"
        for i, host in enumerate(hosts, 1)
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListeBlancheDRIM-M xmlns="{TL}" versionFormat="1.0.0">\n'
            f"  <DateDeGeneration>2025-01-01T00:00:00Z</DateDeGeneration>\n  <ListeDomaines>{domains}</ListeDomaines>\n"
            f"</ListeBlancheDRIM-M>\n").encode()


def signed(pki: Pki, *hosts: str, **kwargs: object) -> bytes:
    return sign_trust_list(trust_list(*hosts), pki.signer_key, pki.signer_chain, **kwargs)  # type: ignore[arg-type]


def corrupted(pki: Pki) -> bytes:
    """The signed list with an intruder's domain added after signing."""
    root = etree.fromstring(signed(pki, "127.0.0.1", SOURCE))
    domains = root.find(f"{{{TL}}}ListeDomaines")
    extra = etree.fromstring(trust_list(INTRUDER)).find(f"{{{TL}}}ListeDomaines")[0]
    domains.append(extra)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class ListServer:
    def __init__(self, pki: Pki) -> None:
        self.document = signed(pki, "127.0.0.1", SOURCE)
        self.status = 200
        self.server = HttpsServer(self._handle, *pki.server, host="127.0.0.1", client_auth="none", timeout=5)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(self.status, [("Content-Type", "text/xml")], self.document)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/liste-blanche.xml"


@pytest.fixture()
def list_server(pki: Pki) -> Iterator[ListServer]:
    served = ListServer(pki)
    with served.server:
        yield served


def store_for(pki: Pki, served: ListServer, faults: frozenset[str] = frozenset()) -> TrustStore:
    return TrustStore(served.url, pki.pki.ca_cert, timeout_s=5, refresh_s=3600, log=LOG, faults=faults)


# -- trust store ---------------------------------------------------------------------------


def test_signed_list_is_adopted(pki: Pki, list_server: ListServer) -> None:
    trust = store_for(pki, list_server)
    assert trust.is_trusted_host(SOURCE)
    assert trust.is_trusted_host("127.0.0.1")
    assert not trust.is_trusted_host(INTRUDER)
    assert [d.db for d in trust.domains] == ["127.0.0.1", SOURCE]


def test_enveloped_transform_also_verifies(pki: Pki, list_server: ListServer) -> None:
    list_server.document = signed(pki, SOURCE, transform="enveloped")
    trust = store_for(pki, list_server)
    assert trust.refresh() and trust.is_trusted_host(SOURCE)


@pytest.mark.parametrize("variant", ["corrupted", "unsigned", "http_error", "not_xml"])
def test_bad_list_is_refused_and_the_last_valid_one_kept(pki: Pki, list_server: ListServer, variant: str) -> None:
    trust = store_for(pki, list_server)
    assert trust.refresh()
    if variant == "corrupted":
        list_server.document = corrupted(pki)
    elif variant == "unsigned":
        list_server.document = trust_list("127.0.0.1", SOURCE, INTRUDER)
    elif variant == "http_error":
        list_server.status = 503
    else:
        list_server.document = b"<ListeBlancheDRIM-M"
    assert not trust.refresh()
    assert trust.last_error
    assert trust.is_trusted_host(SOURCE) and not trust.is_trusted_host(INTRUDER)


def test_unreachable_list_keeps_the_last_valid_one(pki: Pki, list_server: ListServer) -> None:
    trust = store_for(pki, list_server)
    assert trust.refresh()
    list_server.server.stop()
    assert not trust.refresh()
    assert "ConnectError" in trust.last_error
    assert trust.is_trusted_host(SOURCE)


def test_no_valid_list_trusts_nobody(pki: Pki, list_server: ListServer) -> None:
    list_server.document = trust_list(SOURCE)
    trust = store_for(pki, list_server)
    assert not trust.is_trusted_host(SOURCE)
    assert "unsigned" in trust.last_error


def test_signer_must_be_the_liste_blanche_certificate_of_the_anchor(pki: Pki, tmp_path: Path) -> None:
    anchors = [x509.load_pem_x509_certificate(pki.pki.ca_cert.read_bytes())]
    key, chain = _signer(pki.pki, cn="Quelqu'un d'autre")
    with pytest.raises(TrustListInvalid, match="CN"):
        verify_trust_list(sign_trust_list(trust_list(SOURCE), key, chain), anchors)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autre AC")])
    now = dt.datetime.now(dt.UTC)
    other_ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(other_key.public_key())
                .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(other_key, hashes.SHA256()))
    key, chain = _signer(pki.pki, ca=(other_ca, other_key))
    with pytest.raises(TrustListInvalid, match="chain"):
        verify_trust_list(sign_trust_list(trust_list(SOURCE), key, chain), anchors)


def test_official_signed_list_verifies() -> None:
    if not OFFICIAL.is_file():
        pytest.skip(f"official ANS sample not available: {OFFICIAL}")
    xml = OFFICIAL.read_bytes()
    certs = [x509.load_der_x509_certificate(base64.b64decode(text)) for text in
             etree.fromstring(xml).xpath("//*[local-name()='X509Certificate']/text()")]
    roots = [cert for cert in certs if cert.issuer == cert.subject]
    at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # inside the official signer's validity
    domains = verify_trust_list(xml, roots, at=at)
    assert "db3.test.mesimagesmedicales.fr" in {d.db for d in domains}
    with pytest.raises(TrustListInvalid, match="digest"):
        verify_trust_list(xml.replace(b"db3.test", b"db9.test"), roots, at=at)


def test_fault_trust_accept_unsigned(pki: Pki, list_server: ListServer) -> None:
    list_server.document = trust_list(SOURCE, INTRUDER)
    trust = store_for(pki, list_server, frozenset({"trust_accept_unsigned"}))
    assert trust.refresh() and trust.is_trusted_host(INTRUDER)


def test_fault_trust_ignore_list(pki: Pki, list_server: ListServer) -> None:
    trust = store_for(pki, list_server, frozenset({"trust_ignore_list"}))
    assert trust.is_trusted_host(INTRUDER)


# -- study, source, DMP responder, DICOM node ----------------------------------------------


def part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


@dataclass
class Study:
    patient: object
    instances: list[Dataset]
    kos: dict[str, bytes]  # host -> KOS whose RetrieveURLs point there
    kos_uid: dict[str, str]


class Source:
    """A WADO-RS source: 401 without the token, 400 without the KOS header, multipart of the series."""

    def __init__(self, pki: Pki, host: str, instances: list[Dataset]) -> None:
        self.instances = instances
        self.requests: list[HttpRequest] = []
        self.server = HttpsServer(self._handle, *pki.server, host=host, client_auth="none", timeout=5)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return HttpResponse(401, [("Content-Type", "text/plain")], b"token")
        if not request.header("KOS-SOPInstanceUID"):
            return HttpResponse(400, [("Content-Type", "text/plain")], b"Missing KOS-SOPInstanceUID")
        series_uid = request.path.rstrip("/").split("/")[-1]
        found = [ds for ds in self.instances if ds.SeriesInstanceUID == series_uid]
        if not found:
            return HttpResponse(404)
        boundary = uuid.uuid4().hex
        ts = "1.2.840.10008.1.2.1"
        body = b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={ts}\r\n\r\n".encode() + part10(ds) + b"\r\n"
            for ds in found
        ) + f"--{boundary}--\r\n".encode()
        content_type = f'multipart/related; type="application/dicom"; transfer-syntax={ts}; boundary={boundary}'
        return HttpResponse(200, [("Content-Type", content_type)], body)


@dataclass
class DmpResponder:
    """ITI-18 / ITI-43 over mutual TLS, one KOS (``kos``) for the patient."""

    pki: Pki
    kos: bytes = b""
    kos_uid: str = ""
    requests: list[HttpRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = HttpsServer(self._handle, self.pki.pki.dmp_server_cert, self.pki.pki.dmp_server_key,
                                  self.pki.pki.ca_cert, host="127.0.0.1", client_auth="required", timeout=5)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if request.path.endswith("/registry"):
            body = (
                '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
                '<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" '
                'xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" '
                'status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"><rim:RegistryObjectList>'
                '<rim:ExtrinsicObject id="urn:uuid:0b0e0a59-1f3b-4c1e-9a57-111111111111" mimeType="application/dicom">'
                '<rim:Slot name="repositoryUniqueId"><rim:ValueList><rim:Value>1.2.250.1.999.1</rim:Value></rim:ValueList></rim:Slot>'
                '<rim:ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" '
                f'value="{self.kos_uid}"/></rim:ExtrinsicObject>'
                '<rim:ExtrinsicObject id="urn:uuid:2" mimeType="text/xml"/>'
                "</rim:RegistryObjectList></query:AdhocQueryResponse></soap:Body></soap:Envelope>"
            )
            return HttpResponse(200, [("Content-Type", "application/soap+xml")], body.encode())
        envelope = (
            '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
            '<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007">'
            '<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" '
            'status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>'
            f"<xdsb:DocumentResponse><xdsb:DocumentUniqueId>{self.kos_uid}</xdsb:DocumentUniqueId>"
            '<xdsb:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:kos%40dmp"/>'
            "</xdsb:Document></xdsb:DocumentResponse></xdsb:RetrieveDocumentSetResponse></soap:Body></soap:Envelope>"
        ).encode()
        content, content_type = mtom_request(envelope, "root@dmp", [("kos@dmp", "application/dicom", self.kos)], "x")
        return HttpResponse(200, [("Content-Type", content_type)], content)


class Node:
    def __init__(self) -> None:
        self.received: dict[str, Dataset] = {}
        self.ae = AE(ae_title="NODE")
        self.ae.supported_contexts = AllStoragePresentationContexts
        self.server = self.ae.start_server(("127.0.0.1", 0), block=False,
                                           evt_handlers=[(evt.EVT_C_STORE, self._store)])
        self.port = self.server.server_address[1]

    def _store(self, event: evt.Event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        self.received[str(ds.SOPInstanceUID)] = ds
        return 0x0000

    def stop(self) -> None:
        self.server.shutdown()
        self.ae.shutdown()


@pytest.fixture(scope="module")
def study(pki: Pki) -> Study:
    patient = new_patient()
    instances = make_study(patient, "ACC1", series=(("CT", 2), ("MR", 2)))
    kos: dict[str, bytes] = {}
    uids: dict[str, str] = {}
    for host in (SOURCE, INTRUDER):
        manifest = make_kos(instances, patient, accession="ACC1", accession_issuer="1.2.3", order_id="O1",
                            order_root="1.2.3.4", wado_base_url=f"https://{host}:PORT/wado", retrieve_location_uid="1.2.3.5")
        kos[host], uids[host] = part10(manifest), str(manifest.SOPInstanceUID)
    return Study(patient, instances, kos, uids)


@dataclass
class World:
    pki: Pki
    study: Study
    lists: ListServer
    sources: dict[str, Source]
    dmp: DmpResponder
    node: Node

    def kos_for(self, host: str) -> bytes:
        port = self.sources[host].server.port
        ds = dcmread(io.BytesIO(self.study.kos[host]))
        for item in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
            item.RetrieveURL = item.RetrieveURL.replace(":PORT/", f":{port}/")
        return part10(ds)

    def serve_kos(self, host: str) -> None:
        self.dmp.kos, self.dmp.kos_uid = self.kos_for(host), self.study.kos_uid[host]


@pytest.fixture()
def world(pki: Pki, study: Study) -> Iterator[World]:
    lists = ListServer(pki)
    sources = {host: Source(pki, host, study.instances) for host in (SOURCE, INTRUDER)}
    dmp = DmpResponder(pki)
    node = Node()
    started = [lists.server, *[s.server for s in sources.values()], dmp.server]
    for server in started:
        server.start()
    try:
        yield World(pki, study, lists, sources, dmp, node)
    finally:
        for server in started:
            server.stop()
        node.stop()


def dmp_client(world: World) -> DmpQueryClient:
    p = world.pki.pki
    return DmpQueryClient(
        registry_url=f"{world.dmp.server.base_url}/dmp/registry", repository_url=f"{world.dmp.server.base_url}/dmp/repository",
        ca_cert=p.ca_cert, client_cert=p.client_cert, client_key=p.client_key, signing_cert=p.signing_cert,
        signing_key=p.signing_key, lps=LPS, timeout_s=5, log=LOG,
    )


# -- DMP query -----------------------------------------------------------------------------


def test_dmp_query_finds_and_retrieves_the_kos(world: World) -> None:
    world.serve_kos(SOURCE)
    patient = world.study.patient
    consultant = Consultant(PROFESSIONAL, "Jeanne MEDECIN")
    with dmp_client(world) as client:
        found = client.find_kos(patient.ins, patient.ins_oid, consultant)
        assert found.ok, found.errors
        assert [e.unique_id for e in found.entries] == [world.study.kos_uid[SOURCE]]
        assert found.entries[0].repository_unique_id == "1.2.250.1.999.1"
        retrieved = client.retrieve(found.entries[0], patient.ins, patient.ins_oid, consultant)
    assert retrieved.ok, retrieved.errors
    assert retrieved.document == world.dmp.kos  # byte-exact MTOM binary part
    query, retrieve = world.dmp.requests
    assert query.peer_subject is not None  # mutual TLS
    xml = etree.fromstring(query.body)
    text = lambda path: xml.xpath(path, namespaces={"s": "urn:oasis:names:tc:SAML:2.0:assertion"})
    assert text("//s:NameID/text()") == [PROFESSIONAL]
    assert text("//s:Attribute[@Name='Authentification_Mode']/s:AttributeValue/text()") == ["INDIRECTE_RENFORCEE"]
    assert xml.xpath("//*[local-name()='Signature']")  # the VIHF is signed
    values = xml.xpath("//*[local-name()='Slot']/*/*[local-name()='Value']/text()")
    assert f"'{patient.ins}^^^&{patient.ins_oid}&ISO^NH'" in values
    assert "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')" in values
    assert xml.xpath("//*[local-name()='ResponseOption']/@returnType") == ["LeafClass"]
    assert b"RetrieveDocumentSetRequest" in retrieve.body and world.study.kos_uid[SOURCE].encode() in retrieve.body


def test_dmp_query_reports_an_unreachable_dmp(world: World) -> None:
    client = dmp_client(world)
    world.dmp.server.stop()
    found = client.find_kos("1", "2", Consultant(PROFESSIONAL, "x"))
    client.close()
    assert not found.ok and "ConnectError" in found.errors[0]


# -- WADO-RS client ------------------------------------------------------------------------


def test_accept_header_is_the_cisis_profile() -> None:
    entries = accept_header().split(",")
    assert len(entries) == len(CISIS_ACCEPT) == 10
    assert entries[0] == 'multipart/related; type="application/dicom";transfer-syntax=1.2.840.10008.1.2.4.70;q=0.9;boundary=**'
    assert entries[-1].endswith("transfer-syntax=1.2.840.10008.1.2.1;q=0.4;boundary=**")


def test_wado_client_fetches_each_series_with_token_and_kos_header(world: World) -> None:
    trust = store_for(world.pki, world.lists)
    manifest = kos_series(world.kos_for(SOURCE))
    assert len(manifest.series) == 2
    with WadoClient(trust=trust, ca_cert=world.pki.pki.ca_cert, timeout_s=5, log=LOG) as client:
        results = [client.fetch_series(s, kos_uid=manifest.sop_instance_uid, token=TOKEN) for s in manifest.series]
    assert all(r.ok for r in results), [r.error for r in results]
    got = {str(ds.SOPInstanceUID) for r in results for ds in r.instances}
    assert got == {str(ds.SOPInstanceUID) for ds in world.study.instances}
    request = world.sources[SOURCE].requests[0]
    assert request.header("KOS-SOPInstanceUID") == manifest.sop_instance_uid
    assert request.header("Accept") == accept_header()
    assert request.path == f"/wado/studies/{manifest.series[0].study_uid}/series/{manifest.series[0].series_uid}"


def test_wado_client_refuses_a_source_absent_from_the_list(world: World) -> None:
    trust = store_for(world.pki, world.lists)
    series = kos_series(world.kos_for(INTRUDER)).series[0]
    with WadoClient(trust=trust, ca_cert=world.pki.pki.ca_cert, timeout_s=5, log=LOG) as client:
        result = client.fetch_series(series, kos_uid="1.2", token=TOKEN)
    assert not result.ok and "liste blanche" in result.error
    assert world.sources[INTRUDER].requests == []


def test_wado_client_reports_the_source_status(world: World) -> None:
    trust = store_for(world.pki, world.lists)
    series = kos_series(world.kos_for(SOURCE)).series[0]
    with WadoClient(trust=trust, ca_cert=world.pki.pki.ca_cert, timeout_s=5, log=LOG) as client:
        result = client.fetch_series(series, kos_uid="1.2", token="not-the-token")
        missing = client.fetch_series(SeriesRef(series.study_uid, "9.9", series.retrieve_url.rsplit("/", 1)[0] + "/9.9", ()),
                                      kos_uid="1.2", token=TOKEN)
    assert (result.ok, result.http_status) == (False, 401)
    assert (missing.ok, missing.http_status) == (False, 404)


# -- C-STORE SCU ---------------------------------------------------------------------------


def test_store_scu_sends_every_instance(world: World, study: Study) -> None:
    scu = StoreScu(calling_ae="DRIMBOX", called_ae="NODE", host="127.0.0.1", port=world.node.port, timeout_s=5, log=LOG)
    result = scu.store(study.instances)
    assert result.ok and set(result.stored) == set(world.node.received)
    assert set(world.node.received) == {str(ds.SOPInstanceUID) for ds in study.instances}
    sent = study.instances[0]
    assert world.node.received[str(sent.SOPInstanceUID)].PixelData == sent.PixelData


def test_store_scu_reports_an_absent_node(study: Study) -> None:
    result = StoreScu(calling_ae="DRIMBOX", called_ae="NODE", host="127.0.0.1", port=1, timeout_s=2).store(study.instances[:1])
    assert not result.ok and "not established" in result.failed[0][1]


# -- contextual call and the whole consultation ---------------------------------------------


def form(patient: object, **overrides: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "Patient.identifier.value": patient.ins, "Patient.identifier.system": patient.ins_oid,  # type: ignore[attr-defined]
        "Patient.name.family": "PAT-TROIS", "Patient.name.given": "DOMINIQUE", "Patient.gender": "F",
        "Patient.birthDate": "19790328", "Address.district": "51215", "InformationEtConsentement": "true",
        "PatientID": "IPP101", "PatientIDIssuer": "AUT-AFFECTATION&1.2.250.1.213.4.5.2.4&ISO",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_check_contextual_call() -> None:
    names = ("InformationEtConsentement", "InformationEtOppositionConsultation")
    good = list(form(type("P", (), {"ins": "1", "ins_oid": "2"})()).items())
    assert check_contextual_call(good, names) is None
    other_consent = [(k if k != names[0] else names[1], v) for k, v in good]
    assert check_contextual_call(other_consent, names) is None
    assert check_contextual_call([(k, v) for k, v in good if k != "PatientIDIssuer"], names) == "missing parameter PatientIDIssuer"
    assert "InformationEtConsentement" in check_contextual_call([(k, v) for k, v in good if k != names[0]], names)
    assert check_contextual_call([*good[:-1], ("PatientIDIssuer", " ")], names) == "empty parameter PatientIDIssuer"
    assert check_contextual_call([*good, ("Bogus", "1")], names) == "unknown parameter Bogus"


def consumer(
    world: World, faults: frozenset[str] = frozenset(), bare_oid_only: bool = False
) -> tuple[ConsumerServer, list[object]]:
    p = world.pki.pki
    trust = store_for(world.pki, world.lists, faults)
    dmp = dmp_client(world)
    wado = WadoClient(trust=trust, ca_cert=p.ca_cert, timeout_s=5, faults=faults, log=LOG)
    store = StoreScu(calling_ae="DRIMBOX", called_ae="NODE", host="127.0.0.1", port=world.node.port, timeout_s=5, log=LOG)
    server = ConsumerServer(
        bind_host="127.0.0.1", port=0, server_cert=world.pki.server[0], server_key=world.pki.server[1],
        contextual_path="/drimbox/appel-contextuel", consent_names=("InformationEtConsentement",
                                                                    "InformationEtOppositionConsultation"),
        trust=trust, dmp=dmp, wado=wado, store=store, faults=faults, log=LOG, bare_oid_only=bare_oid_only,
    )
    return server, [dmp, wado]


def consult(world: World, faults: frozenset[str] = frozenset(), *, token: str | None = TOKEN,
            host: str = SOURCE, bare_oid_only: bool = False,
            **overrides: str | None) -> tuple[httpx.Response, dict[str, object] | None]:
    world.serve_kos(host)
    server, clients = consumer(world, faults, bare_oid_only)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with server, httpx.Client(verify=ssl.create_default_context(cafile=str(world.pki.pki.ca_cert)), timeout=5,
                                                trust_env=False) as http:
            response = http.post(f"{server.base_url}/drimbox/appel-contextuel",
                                 data=form(world.study.patient, **overrides), headers=headers)
            if response.status_code != 303:
                return response, None
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                status = http.get(f"{server.base_url}{response.headers['location']}").json()
                if status["status"] != "pending":
                    return response, status
                time.sleep(0.05)
            raise AssertionError("consultation still pending after 15 s")
    finally:
        for client in clients:
            client.close()  # type: ignore[attr-defined]


def test_consultation_retrieves_and_forwards_the_whole_study(world: World) -> None:
    response, status = consult(world)
    assert response.status_code == 303 and response.headers["location"].startswith("/drimbox/consultation/")
    assert status is not None and status["status"] == "done", status
    assert status["counts"] == {"series_requested": 2, "series_retrieved": 2, "instances_expected": 4,
                                "instances_retrieved": 4, "instances_stored": 4}
    assert set(world.node.received) == {str(ds.SOPInstanceUID) for ds in world.study.instances}
    assert len(world.sources[SOURCE].requests) == 2


@pytest.mark.parametrize("bare_oid_only", [False, True])
def test_the_ins_system_as_a_bare_oid_is_read_by_both_readings(world: World, bare_oid_only: bool) -> None:
    """trust-list-and-identity.md open question 6: the reference reads a bare OID or urn:oid:, the variant
    contextual_bare_oid a bare OID only (urn:oid: is refused 400, nothing is asked of the DMP)."""
    response, status = consult(world, bare_oid_only=bare_oid_only)
    assert response.status_code == 303 and status is not None and status["status"] == "done", status
    world.dmp.requests.clear()
    urn = {"Patient.identifier.system": f"urn:oid:{world.study.patient.ins_oid}"}
    response, status = consult(world, bare_oid_only=bare_oid_only, **urn)
    if bare_oid_only:
        assert response.status_code == 400 and "bare OID" in response.text and world.dmp.requests == []
    else:
        assert response.status_code == 303 and status is not None and status["status"] == "done", status


def test_incomplete_contextual_call_is_refused(world: World) -> None:
    response, _ = consult(world, **{"Patient.birthDate": None})
    assert response.status_code == 400 and "Patient.birthDate" in response.text
    assert world.dmp.requests == []


def test_a_form_over_the_size_limit_is_refused_and_the_server_goes_on(world: World) -> None:
    server, clients = consumer(world)
    ca = ssl.create_default_context(cafile=str(world.pki.pki.ca_cert))
    try:
        with server, httpx.Client(verify=ca, timeout=5, trust_env=False) as http:
            url = f"{server.base_url}/drimbox/appel-contextuel"
            too_big = http.post(url, content=b"x" * (MAX_FORM + 1), headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert too_big.status_code == 413
            assert http.post(url, data=form(world.study.patient, **{"Patient.birthDate": None})).status_code == 400
    finally:
        for client in clients:
            client.close()  # type: ignore[attr-defined]
    assert world.dmp.requests == []


def test_fault_consumer_accept_missing_param(world: World) -> None:
    response, _ = consult(world, frozenset({"consumer_accept_missing_param"}), **{"Patient.birthDate": None})
    assert response.status_code == 303


def test_consultation_without_token_fails(world: World) -> None:
    response, status = consult(world, token=None)
    assert response.status_code == 303 and status is not None
    assert status["status"] == "failed" and "token" in status["reasons"][0]


def test_untrusted_source_is_not_contacted(world: World) -> None:
    _, status = consult(world, host=INTRUDER)
    assert status is not None and status["status"] == "failed"
    assert world.sources[INTRUDER].requests == [] and world.node.received == {}


def test_fault_trust_ignore_list_contacts_the_untrusted_source(world: World) -> None:
    _, status = consult(world, frozenset({"trust_ignore_list"}), host=INTRUDER)
    assert status is not None and status["status"] == "done"
    assert len(world.sources[INTRUDER].requests) == 2


def test_fault_consumer_skip_series(world: World) -> None:
    _, status = consult(world, frozenset({"consumer_skip_series"}))
    assert status is not None
    assert len(world.sources[SOURCE].requests) == 1 and len(world.node.received) == 2


def test_fault_consumer_forward_partial(world: World) -> None:
    _, status = consult(world, frozenset({"consumer_forward_partial"}))
    assert status is not None and status["counts"]["instances_retrieved"] == 4  # type: ignore[index]
    assert len(world.node.received) == 3


def test_fault_consumer_no_kos_header(world: World) -> None:
    _, status = consult(world, frozenset({"consumer_no_kos_header"}))
    assert status is not None and status["status"] == "failed"
    assert all(r.header("KOS-SOPInstanceUID") is None for r in world.sources[SOURCE].requests)
    assert world.node.received == {}


def test_consumer_faults_are_declared() -> None:
    from simulators.reference.faults import FAULTS_BY_NAME

    names = {"consumer_accept_missing_param", "trust_accept_unsigned", "trust_ignore_list",
             "consumer_skip_series", "consumer_forward_partial", "consumer_no_kos_header"}
    assert names <= set(FAULTS_BY_NAME)
    assert all(FAULTS_BY_NAME[name].targets for name in names)


def test_consumer_server_stops_and_releases_its_port(world: World) -> None:
    server, clients = consumer(world)
    server.start()
    server.start()  # idempotent
    port = server.port
    server.stop()
    server.stop()
    for client in clients:
        client.close()  # type: ignore[attr-defined]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))

"""The reference DRIMbox's DMP client against a test-only HTTPS server (mutual TLS, stdlib)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import email
import email.policy
import hashlib
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from ports import free_loopback_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree
from signxml import XMLVerifier

from simulators.reference import xds_metadata as xm
from simulators.reference.dmp_client import SUCCESS, DmpClient, parse_registry_response
from simulators.reference.publication import KosPublication

from paths import SHARED
NS = {
    "soap": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "rim": xm.RIM,
    "lcm": xm.LCM,
    "xdsb": xm.XDSB,
    "xop": xm.XOP,
    "hl7": "urn:hl7-org:v3",
}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
SIGNING_DN = "CN=DRIMbox, OU=499700367909006, O=CABINET M DOC0036790, ST=Paris (75), C=FR"
LPS = {"id": "drimva-reference", "name": "DRIMbox de reference drimva", "version": "0.1.0", "homologation": "TEST-0000"}
# Every byte value, CRLF runs and a fake delimiter: what a binary MIME part must carry untouched.
KOS_BYTES = b"\x00" * 128 + b"DICM" + bytes(range(256)) * 8 + b"\r\n--MIMEBoundary_x\r\n\n\r" + b"\xff\xfe" * 100

PUB = KosPublication(
    kos_bytes=KOS_BYTES,
    kos_sop_instance_uid="1.2.250.1.999.77.3.1",
    study_uid="1.2.250.1.999.77.4.1",
    ins="162018885045327",
    ins_oid="1.2.250.1.213.1.4.10",
    ipp="IPP0042",
    ipp_oid="1.2.250.1.999.77.5",
    birth_name="PAT-SIX",
    given_name="Alain",
    birth_date="19960124",
    sex="M",
    accession="7252295367250016",
    accession_issuer="1.2.250.1.999.77.6",
    order_id="12989855966",
    order_root="1.2.250.1.999.77.7",
    modalities=("CT", "MR", "CT"),
    act_code=("ZBQK002", "1.2.250.1.213.2.5", "Radiographie du thorax"),
    confidentiality="N",
    masking_flags=("MASQUE_PS", "INVISIBLE_PATIENT"),
    secret_connection=False,
    author_id="801234564895",
    author_family="Thomas",
    author_given="Eric",
    organisation_id="499700367909006",
    organisation_name="Centre de radiologie Ambroise",
    organisation_id_type="IDNST",
    healthcare_facility_code="SA01",
    practice_setting="AMBULATOIRE",
    service_start="20240105092200",
    service_stop="20240105101500",
    creation_time="20240105103000",
)

SUCCESS_MTOM = (
    b"--uuid:resp\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
    b"Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n"
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
    b'<ns2:RegistryResponse xmlns:ns2="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" '
    b'status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/></soap:Body></soap:Envelope>'
    b"\r\n--uuid:resp--\r\n"
)
SUCCESS_MTOM_TYPE = (
    'multipart/related; type="application/xop+xml"; boundary="uuid:resp"; '
    'start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"'
)
FAILURE_SOAP = (
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
    b'<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" '
    b'status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"><rs:RegistryErrorList>'
    b'<rs:RegistryError errorCode="XDSRegistryMetadataError" codeContext="typeCode inconnu" '
    b'severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/>'
    b"</rs:RegistryErrorList></rs:RegistryResponse></soap:Body></soap:Envelope>"
)
SOAP_FAULT = (
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
    b"<soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"
    b'<soap:Reason><soap:Text xml:lang="fr">VIHF invalide</soap:Text></soap:Reason>'
    b"</soap:Fault></soap:Body></soap:Envelope>"
)


# --------------------------------------------------------------------------- test PKI


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    signing_cert: Path
    signing_key: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _cert(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name, issuer_key: rsa.RSAPrivateKey, *, ca: bool = False,
          san: x509.GeneralName | None = None, eku: x509.ObjectIdentifier | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key, signing_key = _key(), _key(), _key(), _key()
    ca_name = _name((NameOID.COUNTRY_NAME, "FR"), (NameOID.COMMON_NAME, "drimva test CA"))
    ca_cert = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    server = _cert(_name((NameOID.COMMON_NAME, "dmp.test")), server_key, ca_name, ca_key,
                   san=x509.IPAddress(IPv4Address("127.0.0.1")), eku=ExtendedKeyUsageOID.SERVER_AUTH)
    client_name = _name((NameOID.COUNTRY_NAME, "FR"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "499700367909006"),
                        (NameOID.COMMON_NAME, "DRIMbox ORG AUTH CLI"))
    client = _cert(client_name, client_key, ca_name, ca_key, eku=ExtendedKeyUsageOID.CLIENT_AUTH)
    signing_name = _name(
        (NameOID.COUNTRY_NAME, "FR"), (NameOID.STATE_OR_PROVINCE_NAME, "Paris (75)"),
        (NameOID.ORGANIZATION_NAME, "CABINET M DOC0036790"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "499700367909006"),
        (NameOID.COMMON_NAME, "DRIMbox"),
    )
    signing = _cert(signing_name, signing_key, ca_name, ca_key)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return Pki(ca_path, *_write(directory, "server", server, server_key), *_write(directory, "client", client, client_key),
               *_write(directory, "signing", signing, signing_key))


# --------------------------------------------------------------------------- test DMP server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer_cert: dict | None
    tls_version: str | None


@dataclass
class DmpStub:
    """HTTPS server answering every POST with one canned response and keeping what it received."""

    pki: Pki
    verify_mode: ssl.VerifyMode = ssl.CERT_OPTIONAL
    response: tuple[int, str, bytes] = (200, SUCCESS_MTOM_TYPE, SUCCESS_MTOM)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stub.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                              self.connection.getpeercert() or None, self.connection.version()))
                status, content_type, payload = stub.response
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(self.pki.ca)
        context.verify_mode = self.verify_mode
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/si-dmp-server/v2/services"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stub(pki: Pki) -> Iterator[DmpStub]:
    server = DmpStub(pki)
    yield server
    server.stop()


def client_for(
    pki: Pki, base: str, faults: frozenset[str] = frozenset(), timeout_s: float = 5.0, dsg_signature: bool = False
) -> DmpClient:
    return DmpClient(
        repository_url=f"{base}/repository", registry_url=f"{base}/registry", ca_cert=pki.ca,
        client_cert=pki.client_cert, client_key=pki.client_key, signing_cert=pki.signing_cert,
        signing_key=pki.signing_key, lps=LPS, source_id="1.2.250.1.999.77.2", timeout_s=timeout_s, faults=faults,
        dsg_signature=dsg_signature,
    )


def publish(pki: Pki, stub: DmpStub, pub: KosPublication = PUB, faults: frozenset[str] = frozenset()):
    with client_for(pki, stub.base, faults) as client:
        result = client.publish(pub)
    return result, stub.received[-1]


# --------------------------------------------------------------------------- reading what was received


@dataclass
class Mtom:
    params: dict[str, str]
    root_headers: dict[str, str]
    envelope: etree._Element
    parts: dict[str, tuple[str, bytes]]  # content-id (no brackets) -> (content type, bytes)


def read_mtom(received: Received) -> Mtom:
    """Parse the request with the stdlib email parser, an implementation independent of the client's."""
    raw = f"Content-Type: {received.headers['content-type']}\r\n\r\n".encode() + received.body
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert message.is_multipart()
    params = {k.lower(): v for k, v in message.get_params()[1:]}
    root, *others = message.get_payload()
    parts = {p["Content-ID"].strip("<>"): (p.get_content_type(), p.get_payload(decode=True)) for p in others}
    envelope = etree.fromstring(root.get_payload(decode=True), PARSER)
    return Mtom(params, {k.lower(): v for k, v in root.items()}, envelope, parts)


def entry_of(envelope: etree._Element) -> etree._Element:
    (entry,) = envelope.xpath("//rim:ExtrinsicObject", namespaces=NS)
    return entry


def slots(node: etree._Element) -> dict[str, list[str]]:
    return {
        s.get("name"): s.xpath("rim:ValueList/rim:Value/text()", namespaces=NS)
        for s in node.xpath("rim:Slot", namespaces=NS)
    }


def codes(node: etree._Element, scheme: str) -> list[tuple[str, str]]:
    return [
        (
            c.get("nodeRepresentation"),
            c.xpath("string(rim:Slot[@name='codingScheme']/rim:ValueList/rim:Value)", namespaces=NS),
        )
        for c in node.xpath("rim:Classification[@classificationScheme=$s]", s=scheme, namespaces=NS)
    ]


def external_id(node: etree._Element, scheme: str) -> str:
    return node.xpath("string(rim:ExternalIdentifier[@identificationScheme=$s]/@value)", s=scheme, namespaces=NS)


def vihf_attributes(envelope: etree._Element) -> dict[str, etree._Element]:
    return {a.get("Name"): a.find("saml2:AttributeValue", NS) for a in envelope.xpath("//saml2:Attribute", namespaces=NS)}


def summary(received: Received) -> dict[str, object]:
    """Every item the faults may touch, without the per-request ids and times."""
    mtom = read_mtom(received)
    entry = entry_of(mtom.envelope)
    items: dict[str, object] = {f"slot:{k}": v for k, v in slots(entry).items()}
    for scheme in sorted({c.get("classificationScheme") for c in entry.xpath("rim:Classification", namespaces=NS)}):
        items[f"class:{scheme}"] = sorted(codes(entry, scheme)) if scheme != xm.DE_AUTHOR else slots(
            entry.xpath("rim:Classification[@classificationScheme=$s]", s=scheme, namespaces=NS)[0])
    for ext in entry.xpath("rim:ExternalIdentifier", namespaces=NS):
        items[f"ext:{ext.get('identificationScheme')}"] = ext.get("value")
    items["mime"] = entry.get("mimeType")
    items["parts"] = sorted((t, hashlib.sha1(b).hexdigest()) for t, b in mtom.parts.values())
    items["vihf_signed"] = bool(mtom.envelope.xpath("//saml2:Assertion/ds:Signature", namespaces=NS))
    items["vihf"] = {k: etree.tostring(v, method="c14n") for k, v in vihf_attributes(mtom.envelope).items()}
    items["client_cert"] = received.peer_cert is not None
    return items


# --------------------------------------------------------------------------- tests


def test_publication_is_mtom_over_mutual_tls(pki: Pki, stub: DmpStub) -> None:
    result, received = publish(pki, stub)
    assert result.ok, result.errors
    assert (result.http_status, result.registry_status, result.unique_id) == (200, SUCCESS, PUB.kos_sop_instance_uid)
    assert received.path == "/si-dmp-server/v2/services/repository"
    assert received.peer_cert is not None, "client certificate not presented"
    assert dict(x[0] for x in received.peer_cert["subject"])["commonName"] == "DRIMbox ORG AUTH CLI"
    assert received.tls_version in {"TLSv1.2", "TLSv1.3"}

    mtom = read_mtom(received)
    assert received.headers["content-type"].startswith("multipart/related;")
    assert mtom.params["type"] == "application/xop+xml"
    assert mtom.params["start-info"] == "application/soap+xml"
    assert mtom.params["action"] == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    assert mtom.params["start"] == mtom.root_headers["content-id"]
    assert mtom.root_headers["content-type"] == 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'

    (document,) = mtom.envelope.xpath(
        "/soap:Envelope/soap:Body/xdsb:ProvideAndRegisterDocumentSetRequest/xdsb:Document", namespaces=NS
    )
    (href,) = document.xpath("xop:Include/@href", namespaces=NS)
    assert href.startswith("cid:")
    part_type, part_bytes = mtom.parts[href[4:]]
    assert part_type == "application/dicom"
    assert part_bytes == KOS_BYTES
    entry = entry_of(mtom.envelope)
    assert document.get("id") == entry.get("id") == result.entry_uuid
    assert result.entry_uuid.startswith("urn:uuid:")
    assert slots(entry)["hash"] == [hashlib.sha1(part_bytes).hexdigest()]
    assert slots(entry)["size"] == [str(len(part_bytes))]

    header = mtom.envelope.find("soap:Header", NS)
    assert header.findtext("wsa:MessageID", namespaces=NS).startswith("urn:uuid:")
    assert header.findtext("wsa:To", namespaces=NS) == f"{stub.base}/repository"
    action = header.find("wsa:Action", NS)
    assert action.text == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    assert action.get(f"{{{NS['soap']}}}mustUnderstand") == "true"
    assert header.find("wsse:Security/saml2:Assertion", NS) is not None


def test_vihf_is_signed_by_the_signing_certificate(pki: Pki, stub: DmpStub) -> None:
    _, received = publish(pki, stub, dataclasses.replace(PUB, secret_connection=True))
    (assertion,) = read_mtom(received).envelope.xpath("//wsse:Security/saml2:Assertion", namespaces=NS)
    verified = XMLVerifier().verify(etree.tostring(assertion), x509_cert=pki.signing_cert.read_text())
    assert verified.signed_xml.get("ID") == assertion.get("ID")
    signature = assertion.find("ds:Signature", NS)
    assert assertion.index(signature) == 1, "ds:Signature must follow saml2:Issuer"
    assert signature.find("ds:SignedInfo/ds:Reference", NS).get("URI") == f"#{assertion.get('ID')}"
    c14n = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm")
    assert c14n == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith("rsa-sha256")
    assert signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None

    assert assertion.get("Version") == "2.0"
    issuer = assertion.find("saml2:Issuer", NS)
    assert (issuer.text, issuer.get("Format")) == (SIGNING_DN, "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName")
    assert assertion.findtext("saml2:Subject/saml2:NameID", namespaces=NS) == PUB.author_id
    assert assertion.findtext("saml2:AuthnStatement/saml2:AuthnContext/saml2:AuthnContextClassRef", namespaces=NS) == (
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient")
    attrs = vihf_attributes(assertion)
    texts = {name: value.text for name, value in attrs.items()}
    assert texts["VIHF_Version"] == "3.0"
    assert texts["Identifiant_Structure"] == PUB.organisation_id
    assert texts["Secteur_Activite"] == "SA01^1.2.250.1.71.4.2.4"
    assert texts["urn:oasis:names:tc:xspa:1.0:subject:subject-id"] == "Eric Thomas"
    assert texts["urn:oasis:names:tc:xacml:2.0:resource:resource-id"] == "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH"
    assert texts["Ressource_URN"] == "urn:dmp"
    assert texts["Authentification_Mode"] == "INDIRECTE"
    assert (texts["LPS_ID"], texts["LPS_Nom"], texts["LPS_Version"], texts["LPS_ID_HOMOLOGATION_DMP"]) == tuple(LPS.values())
    role = attrs["urn:oasis:names:tc:xacml:2.0:subject:role"].find("hl7:Role", NS)
    assert (role.get("code"), role.get("codeSystem")) == ("10", "1.2.250.1.71.1.2.7")
    purpose = attrs["urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"].find("hl7:PurposeOfUse", NS)
    assert (purpose.get("code"), purpose.get("codeSystem")) == ("normal", "1.2.250.1.213.1.1.4.248")
    assert "urn:oasis:names:tc:xspa:1.0:resource:patient:hl7:confidentiality-code" in attrs


def test_entry_and_submission_set_metadata(pki: Pki, stub: DmpStub) -> None:
    _, received = publish(pki, stub)
    envelope = read_mtom(received).envelope
    entry = entry_of(envelope)
    entry_id = entry.get("id")
    assert (entry.get("mimeType"), entry.get("objectType")) == ("application/dicom", xm.STABLE_ENTRY_TYPE)
    values = slots(entry)
    assert values["creationTime"] == ["20240105103000"]
    assert values["languageCode"] == ["fr-FR"]
    assert (values["serviceStartTime"], values["serviceStopTime"]) == (["20240105092200"], ["20240105101500"])
    assert values["sourcePatientId"] == ["IPP0042^^^&1.2.250.1.999.77.5&ISO^PI"]
    assert values["sourcePatientInfo"] == ["PID-5|PAT-SIX^Alain^^^^^L", "PID-7|19960124", "PID-8|M"]
    assert values["urn:ihe:iti:xds:2013:referenceIdList"] == [
        "7252295367250016^^^&1.2.250.1.999.77.6&ISO^urn:ihe:iti:xds:2013:accession",
        "1.2.250.1.999.77.4.1^^^&1.2.250.1.999.77.2&ISO^urn:ihe:iti:xds:2016:studyInstanceUID",
        "12989855966^^^&1.2.250.1.999.77.7&ISO^urn:ihe:iti:xds:2013:order",
    ]
    assert entry.xpath("string(rim:Name/rim:LocalizedString/@value)", namespaces=NS) == xm.KOS_TITLE
    assert entry.xpath("string(rim:Description/rim:LocalizedString/@value)", namespaces=NS) == "KOS"
    assert codes(entry, xm.DE_CLASS) == [("31", "1.2.250.1.213.1.1.4.1")]
    assert codes(entry, xm.DE_TYPE) == [("IMG-KOS", "1.2.250.1.213.1.1.4.12")]
    assert codes(entry, xm.DE_FORMAT) == [("1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.2.6.1")]
    assert codes(entry, xm.DE_CONFIDENTIALITY) == [
        ("N", "2.16.840.1.113883.5.25"),
        ("MASQUE_PS", "1.2.250.1.213.1.1.4.13"),
        ("INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13"),
    ]
    assert codes(entry, xm.DE_FACILITY) == [("SA01", "1.2.250.1.71.4.2.4")]
    assert codes(entry, xm.DE_PRACTICE) == [("AMBULATOIRE", "1.2.250.1.213.1.1.4.9")]
    assert codes(entry, xm.DE_EVENT) == [
        ("ZBQK002", "1.2.250.1.213.2.5"), ("CT", "1.2.250.1.213.1.1.5.618"), ("MR", "1.2.250.1.213.1.1.5.618")]
    assert external_id(entry, xm.DE_PATIENT_ID) == "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH"
    assert external_id(entry, xm.DE_UNIQUE_ID) == PUB.kos_sop_instance_uid
    author = entry.xpath("rim:Classification[@classificationScheme=$s]", s=xm.DE_AUTHOR, namespaces=NS)[0]
    assert slots(author) == {
        "authorPerson": ["801234564895^Thomas^Eric^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"],
        "authorInstitution": ["Centre de radiologie Ambroise^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^499700367909006"],
    }

    (package,) = envelope.xpath("//rim:RegistryPackage", namespaces=NS)
    package_id = package.get("id")
    node_path = "rim:Classification[@classificationNode=$n]/@classifiedObject"
    assert package.xpath(node_path, n=xm.SUBMISSION_SET_NODE, namespaces=NS) == [package_id]
    assert len(slots(package)["submissionTime"][0]) == 14
    assert codes(package, xm.SS_CONTENT_TYPE) == [("04", "1.2.250.1.213.2.2")]
    assert external_id(package, xm.SS_PATIENT_ID) == PUB.xds_patient_id
    assert external_id(package, xm.SS_SOURCE_ID) == "1.2.250.1.999.77.2"
    assert external_id(package, xm.SS_UNIQUE_ID).startswith("2.25.")
    assert len(package.xpath("rim:Classification[@classificationScheme=$s]", s=xm.SS_AUTHOR, namespaces=NS)) == 1
    (member,) = envelope.xpath("//rim:Association", namespaces=NS)  # no RPLC, no Signature01
    link = (member.get("associationType"), member.get("sourceObject"), member.get("targetObject"))
    assert link == (xm.HAS_MEMBER, package_id, entry_id)
    assert slots(member) == {"SubmissionSetStatus": ["Original"]}


def test_replacement_carries_an_rplc_association(pki: Pki, stub: DmpStub) -> None:
    old = "urn:uuid:0b1c2d3e-0000-4000-8000-000000000001"
    result, received = publish(pki, stub, dataclasses.replace(PUB, replaces_entry_uuid=old))
    envelope = read_mtom(received).envelope
    rplc = envelope.xpath("//rim:Association[@associationType=$t]", t=xm.RPLC, namespaces=NS)
    assert [(a.get("sourceObject"), a.get("targetObject")) for a in rplc] == [(result.entry_uuid, old)]


def test_the_dsg_signature_variant_adds_signature01_as_the_ans_validator_sample(pki: Pki, stub: DmpStub) -> None:
    with client_for(pki, stub.base, dsg_signature=True) as client:
        result = client.publish(PUB)
    mtom = read_mtom(stub.received[-1])
    kos, signature = mtom.envelope.xpath("//rim:ExtrinsicObject", namespaces=NS)
    assert (kos.get("id"), kos.get("mimeType"), signature.get("mimeType")) == (result.entry_uuid, "application/dicom", "text/xml")
    assert codes(signature, xm.DE_CLASS) == [("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN")]
    assert codes(signature, xm.DE_FORMAT) == [("http://www.w3.org/2000/09/xmldsig#", "URN")]
    assert codes(signature, xm.DE_TYPE) == [("E1762", "ASTM")]
    (ss,) = mtom.envelope.xpath("//rim:RegistryPackage", namespaces=NS)
    pairs = {(a.get("associationType"), a.get("sourceObject"), a.get("targetObject"))
             for a in mtom.envelope.xpath("//rim:Association", namespaces=NS)}  # fmt: skip
    sig_id, ss_id = signature.get("id"), ss.get("id")
    assert pairs == {(xm.HAS_MEMBER, ss_id, result.entry_uuid), (xm.HAS_MEMBER, ss_id, sig_id), (xm.SIGNS, sig_id, ss_id)}
    documents = {d.get("id"): d.xpath("string(xop:Include/@href)", namespaces=NS)[4:]
                 for d in mtom.envelope.xpath("//xdsb:Document", namespaces=NS)}  # fmt: skip
    part_type, data = mtom.parts[documents[sig_id]]
    assert part_type == "text/xml" and slots(signature)["hash"] == [hashlib.sha1(data).hexdigest()]
    signed = XMLVerifier().verify(data, x509_cert=pki.signing_cert.read_text("ascii")).signed_xml
    digests = dict(zip(signed.xpath("//ds:Reference/@URI", namespaces=NS), signed.xpath("//ds:DigestValue/text()", namespaces=NS)))
    assert digests[f"urn:oid:{PUB.kos_sop_instance_uid}"] == base64.b64encode(hashlib.sha1(KOS_BYTES).digest()).decode()
    assert f"urn:oid:{external_id(ss, xm.SS_UNIQUE_ID)}" in digests


def test_the_signature_not_signing_fault_sends_signature01_without_its_signs_association(pki: Pki, stub: DmpStub) -> None:
    with client_for(pki, stub.base, frozenset({"xds_signature_not_signing"})) as client:
        result = client.publish(PUB)
    envelope = read_mtom(stub.received[-1]).envelope
    kos, signature = envelope.xpath("//rim:ExtrinsicObject", namespaces=NS)
    (ss,) = envelope.xpath("//rim:RegistryPackage", namespaces=NS)
    pairs = {(a.get("associationType"), a.get("sourceObject"), a.get("targetObject"))
             for a in envelope.xpath("//rim:Association", namespaces=NS)}  # fmt: skip
    assert kos.get("id") == result.entry_uuid and signature.get("mimeType") == "text/xml"
    assert pairs == {(xm.HAS_MEMBER, ss.get("id"), result.entry_uuid), (xm.HAS_MEMBER, ss.get("id"), signature.get("id"))}


@pytest.mark.parametrize(
    ("fault", "changed"),
    [
        ("xds_wrong_typecode", {f"class:{xm.DE_TYPE}"}),
        ("xds_wrong_hash", {"parts"}),  # the part from byte 132 on; hash and size still of the whole file
        ("xds_kos_entry_as_cr", {"mime", f"class:{xm.DE_CLASS}", f"class:{xm.DE_FORMAT}", f"ext:{xm.DE_UNIQUE_ID}"}),
        ("xds_cx_without_type", {"slot:urn:ihe:iti:xds:2013:referenceIdList", f"ext:{xm.DE_PATIENT_ID}", "vihf"}),
        ("vihf_absent", {"vihf_signed", "vihf"}),
        ("vihf_old_template", {"vihf"}),
        ("vihf_demo_profile", {"vihf"}),
        ("xds_local_creation_time", {"slot:creationTime"}),
        ("xds_no_event_codes", {f"class:{xm.DE_EVENT}"}),
        ("xds_no_author_institution", {f"class:{xm.DE_AUTHOR}"}),
        ("vihf_unsigned", {"vihf_signed"}),
        ("dmp_no_client_cert", {"client_cert"}),
    ],
)
def test_each_fault_changes_exactly_its_item(pki: Pki, stub: DmpStub, fault: str, changed: set[str]) -> None:
    _, baseline = publish(pki, stub)
    result, faulty = publish(pki, stub, faults=frozenset({fault}))
    assert result.ok  # the stub DMP accepts anything: the harness, not the transport, must catch it
    before, after = summary(baseline), summary(faulty)
    assert before.keys() == after.keys()
    assert {key for key in before if before[key] != after[key]} == changed


def test_no_client_certificate_is_refused_by_a_strict_dmp(pki: Pki) -> None:
    strict = DmpStub(pki, verify_mode=ssl.CERT_REQUIRED)
    try:
        with client_for(pki, strict.base, frozenset({"dmp_no_client_cert"})) as client:
            result = client.publish(PUB)
        with client_for(pki, strict.base) as client:
            assert client.publish(PUB).ok
    finally:
        strict.stop()
    assert not result.ok and result.http_status == 0 and result.errors


@pytest.mark.parametrize(
    ("response", "expected_status", "expected_error"),
    [
        (
            (200, "application/soap+xml; charset=UTF-8", FAILURE_SOAP),
            "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure",
            "XDSRegistryMetadataError: typeCode inconnu",
        ),
        ((500, "application/soap+xml; charset=UTF-8", SOAP_FAULT), "", "SOAP Fault soap:Sender: VIHF invalide"),
        ((503, "text/html", b"<html>maintenance</html>"), "", "HTTP 503"),
    ],
    ids=["failure", "soap-fault", "http-error"],
)
def test_refusals_give_not_ok(
    pki: Pki, stub: DmpStub, response: tuple[int, str, bytes], expected_status: str, expected_error: str
) -> None:
    stub.response = response
    result, _ = publish(pki, stub)
    assert not result.ok
    assert (result.http_status, result.registry_status) == (response[0], expected_status)
    assert expected_error in result.errors


def test_refused_connection_gives_not_ok_quickly(pki: Pki) -> None:
    port = free_loopback_port()
    started = time.monotonic()
    with client_for(pki, f"https://127.0.0.1:{port}/si-dmp-server/v2/services", timeout_s=2.0) as client:
        result = client.publish(PUB)
    assert time.monotonic() - started < 1.5
    assert (result.ok, result.http_status, result.registry_status) == (False, 0, "")
    assert result.errors and "Connect" in result.errors[0]


def test_update_status_is_iti57_soap(pki: Pki, stub: DmpStub) -> None:
    entry_uuid = "urn:uuid:0b1c2d3e-0000-4000-8000-000000000002"
    stub.response = (200, "application/soap+xml", SUCCESS_MTOM.split(b"\r\n\r\n", 1)[1].split(b"\r\n--")[0])
    with client_for(pki, stub.base) as client:
        result = client.update_status(entry_uuid, xm.STATUS_DELETED, PUB)
    assert result.ok, result.errors
    assert result.entry_uuid == entry_uuid
    received = stub.received[-1]
    assert received.path == "/si-dmp-server/v2/services/registry"
    content_type = received.headers["content-type"]
    assert content_type == 'application/soap+xml; charset=UTF-8; action="urn:ihe:iti:2010:UpdateDocumentSet"'
    envelope = etree.fromstring(received.body, PARSER)
    assert envelope.findtext("soap:Header/wsa:Action", namespaces=NS) == "urn:ihe:iti:2010:UpdateDocumentSet"
    assert envelope.findtext("soap:Header/wsa:To", namespaces=NS) == f"{stub.base}/registry"
    (assertion,) = envelope.xpath("//wsse:Security/saml2:Assertion", namespaces=NS)
    XMLVerifier().verify(etree.tostring(assertion), x509_cert=pki.signing_cert.read_text())
    (request,) = envelope.xpath("soap:Body/lcm:SubmitObjectsRequest", namespaces=NS)
    (package,) = request.xpath("rim:RegistryObjectList/rim:RegistryPackage", namespaces=NS)
    (update,) = request.xpath("rim:RegistryObjectList/rim:Association", namespaces=NS)
    assert update.get("associationType") == "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
    assert (update.get("sourceObject"), update.get("targetObject")) == (package.get("id"), entry_uuid)
    assert slots(update) == {
        "OriginalStatus": ["urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"],
        "NewStatus": ["urn:asip:ci-sis:2010:StatusType:Deleted"],
    }
    assert not request.xpath("//rim:ExtrinsicObject", namespaces=NS)


def test_reads_the_dmp_response_captured_by_the_demonstrator() -> None:
    sample = SHARED / "poc-samples" / "XDS" / "response.xml"
    if not sample.exists():
        pytest.skip(f"demonstrator capture absent: {sample}")
    body = sample.read_bytes()
    boundary = body.split(b"Content-Type", 1)[0].strip()[2:].decode()
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; start="<root.message@cxf.apache.org>"'
    )
    assert parse_registry_response(content_type, body) == (SUCCESS, ())


def test_kos_entry_covers_the_ans_validator_sample(pki: Pki, stub: DmpStub) -> None:
    """Every scheme and slot of the sample's KOS entry is emitted, with the same fixed codes."""
    sample = SHARED / "ans-samples" / "Echantillons-validateurs" / "Validateur-XDS" / "XDS.xml"
    if not sample.exists():
        pytest.skip(f"ANS XDS validator sample absent: {sample}")
    ans = etree.parse(str(sample), PARSER)
    (ans_entry,) = ans.xpath("//rim:ExtrinsicObject[@mimeType='application/dicom']", namespaces=NS)
    _, received = publish(pki, stub)
    ours = entry_of(read_mtom(received).envelope)
    for kind, attr in (("Classification", "classificationScheme"), ("ExternalIdentifier", "identificationScheme")):
        path = f"rim:{kind}/@{attr}"
        assert set(ans_entry.xpath(path, namespaces=NS)) <= set(ours.xpath(path, namespaces=NS))
    # URI (an XDM remnant), legalAuthenticator and submissionTime are not emitted: see the module docstrings.
    assert set(slots(ans_entry)) - set(slots(ours)) == {"URI", "legalAuthenticator", "submissionTime"}
    for scheme in (xm.DE_CLASS, xm.DE_TYPE, xm.DE_FORMAT):
        assert codes(ours, scheme) == codes(ans_entry, scheme)

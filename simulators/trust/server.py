"""The DRIM-M trust-list (liste blanche) server: the list ANS publishes, signed by a test PKI, over HTTPS.

The list follows the ANS TEST list (trust-list-and-identity.md §2): root
``ListeBlancheDRIM-M`` in namespace ``https://github.com/ansforge/DRIM-M_DATA``,
``versionFormat="1.0.0"``, ``DateDeGeneration``, one ``Domaine`` per DRIMbox.
It is signed with ``simulators.trust.signer.sign_trust_list`` (enveloped
XAdES-B, as ANS does) by a "Liste Blanche DRIM-M" certificate this module
issues from the run's CA (subject as the ANS signer, KeyUsage
digitalSignature + nonRepudiation), with the CA in KeyInfo.

URLs: ``/liste-blanche.xml`` answers the variant chosen with ``serve()``;
``/liste-blanche-corrompue.xml`` and ``/liste-blanche-non-signee.xml`` always
answer the bad variants. Both bad variants name an extra, untrusted DRIMbox
(``intruder``, default 127.0.0.3) that the signed list does not contain, so a
SUT that adopts a bad list can be caught trusting it:

- ``corrupted``: the signed list with the intruder's ``Domaine`` added after
  signing (the document digest no longer matches);
- ``unsigned``: the same domains plus the intruder, without a signature (the
  ANS "NONSIGNEE" homologation case).

Every request and response goes to the evidence sink (channel ``trust``).
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from drimva import xmlsafe
from drimva.evidence import EvidenceSink
from drimva.rules.trustlist import DS_NS, SIGNER_CN, SIGNER_OU, TL_NS, TrustDomain
from simulators.trust.signer import sign_trust_list
from fixtures.pki import TestPki
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, ServedOverHttps, decoded_view

CHANNEL = "trust"
LIST_PATH = "/liste-blanche.xml"
CORRUPTED_PATH = "/liste-blanche-corrompue.xml"
UNSIGNED_PATH = "/liste-blanche-non-signee.xml"
VERSION_FORMAT = "1.0.0"
ANS_ORGANISATION = "AGENCE DU NUMERIQUE EN SANTE"
DEFAULT_INTRUDER = "127.0.0.3"
Variant = Literal["signed", "corrupted", "unsigned"]
VARIANTS: tuple[Variant, ...] = ("signed", "corrupted", "unsigned")


def _utc(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def operator_dn(db: str, organisation: str = ANS_ORGANISATION, structure_id: str = SIGNER_OU) -> str:
    """The ``DNCertificatOperateur`` shape of the ANS list: ``CN=<db>,OU=<structure>,O=<organisation>,ST=Paris (75),C=FR``."""
    return f"CN={db},OU={structure_id},O={organisation},ST=Paris (75),C=FR"


def certificate_dn(cert_pem: Path | bytes) -> str:
    """RFC 4514 subject of a PEM certificate (to put a server certificate's DN in its ``Domaine``)."""
    data = cert_pem.read_bytes() if isinstance(cert_pem, Path) else cert_pem
    return x509.load_pem_x509_certificate(data).subject.rfc4514_string()


def trust_domain(
    identifiant: int | str,
    db: str,
    *,
    vi: str = "",
    denomination: str = "drimva",
    dn: str | None = None,
    support_contact: str = "support@drimva.invalid",
    date_maj: str | None = None,
) -> TrustDomain:
    """A ``Domaine`` entry; ``db`` is an FQDN, or an IP literal in the loopback trust space of the tests."""
    return TrustDomain(str(identifiant), db, vi, denomination, dn or operator_dn(db), support_contact, date_maj or _utc())


def build_trust_list(domains: Sequence[TrustDomain], generated_at: str | None = None) -> etree._Element:
    """The unsigned ``ListeBlancheDRIM-M`` element."""
    q = lambda local: f"{{{TL_NS}}}{local}"  # noqa: E731
    root = etree.Element(q("ListeBlancheDRIM-M"), nsmap={None: TL_NS}, versionFormat=VERSION_FORMAT)
    etree.SubElement(root, q("DateDeGeneration")).text = generated_at or _utc()
    listing = etree.SubElement(root, q("ListeDomaines"))
    for domain in domains:
        listing.append(_domain_xml(domain))
    return root


def _domain_xml(domain: TrustDomain) -> etree._Element:
    q = lambda local: f"{{{TL_NS}}}{local}"  # noqa: E731
    el = etree.Element(q("Domaine"), nsmap={None: TL_NS})
    for name, value in (
        ("Identifiant", domain.identifiant),
        ("db", domain.db),
        ("vi", domain.vi),
        ("Denomination", domain.denomination),
        ("DNCertificatOperateur", domain.dn_certificat_operateur),
        ("SupportContact", domain.support_contact),
        ("DateMAJ", domain.date_maj),
    ):
        etree.SubElement(el, q(name)).text = value
    return el


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False)


@dataclass(frozen=True)
class SignerCredentials:
    cert_pem: bytes
    key_pem: bytes


def issue_list_signer(pki: TestPki, validity: dt.timedelta = dt.timedelta(days=365)) -> SignerCredentials:
    """A "Liste Blanche DRIM-M" signing certificate issued by the run's CA (shaped like the ANS ORG SIGN one)."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError(f"{pki.ca_key} is not an RSA key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ANS_ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SIGNER_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, SIGNER_CN),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SignerCredentials(cert.public_bytes(serialization.Encoding.PEM), key_pem)


class TrustListServer(ServedOverHttps):
    """``with TrustListServer(evidence, pki, domains=[...]) as trust: trust.list_url ...``"""

    def __init__(
        self,
        evidence: EvidenceSink,
        pki: TestPki,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        domains: Sequence[TrustDomain] = (),
        intruder: TrustDomain | None = None,
        server_cert: tuple[Path, Path] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.evidence = evidence
        self.pki = pki
        self.signer = issue_list_signer(pki)
        self._lock = threading.Lock()
        self._variant: Variant = "signed"
        self._documents: dict[Variant, bytes] = {}
        self._domains: tuple[TrustDomain, ...] = ()
        self._intruder = intruder or trust_domain(999, DEFAULT_INTRUDER, denomination="DRIMbox hors espace de confiance")
        self._requests = 0
        self.set_domains(domains)
        cert, key = server_cert or pki.issue_server_cert("trust", (host, "localhost"))
        self._server = HttpsServer(self._handle, cert, key, None, host=host, port=port, client_auth="none", timeout=timeout)

    # -- lifecycle -------------------------------------------------------------------

    @property
    def list_url(self) -> str:
        return f"{self.base_url}{LIST_PATH}"

    @property
    def corrupted_url(self) -> str:
        return f"{self.base_url}{CORRUPTED_PATH}"

    @property
    def unsigned_url(self) -> str:
        return f"{self.base_url}{UNSIGNED_PATH}"

    # -- content --------------------------------------------------------------------------
    @property
    def domains(self) -> tuple[TrustDomain, ...]:
        with self._lock:
            return self._domains

    @property
    def intruder(self) -> TrustDomain:
        return self._intruder

    @property
    def variant(self) -> Variant:
        with self._lock:
            return self._variant

    @property
    def requests_served(self) -> int:
        with self._lock:
            return self._requests

    def set_domains(self, domains: Sequence[TrustDomain], *, intruder: TrustDomain | None = None) -> None:
        """Regenerate (and re-sign) the three variants, as ANS re-publishes the list when members join."""
        intruder = intruder or self._intruder
        generated_at = _utc()
        signed_root = xmlsafe.parse(
            sign_trust_list(build_trust_list(domains, generated_at), self.signer.key_pem, [self.signer.cert_pem, self.pki.ca_pem])
        )
        corrupted_root = copy.deepcopy(signed_root)
        corrupted_root.find(f"{{{TL_NS}}}ListeDomaines").append(_domain_xml(intruder))  # edited after signing
        unsigned_root = build_trust_list([*domains, intruder], generated_at)
        assert unsigned_root.find(f"{{{DS_NS}}}Signature") is None
        documents: dict[Variant, bytes] = {
            "signed": _serialise(signed_root),
            "corrupted": _serialise(corrupted_root),
            "unsigned": _serialise(unsigned_root),
        }
        with self._lock:
            self._domains, self._intruder, self._documents = tuple(domains), intruder, documents

    def document(self, variant: Variant | None = None) -> bytes:
        """The bytes a variant is served as (default: what ``/liste-blanche.xml`` answers now)."""
        with self._lock:
            return self._documents[variant or self._variant]

    def serve(self, variant: Variant) -> None:
        """Switch what ``/liste-blanche.xml`` answers."""
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
        with self._lock:
            self._variant = variant

    # -- HTTP -----------------------------------------------------------------------------
    def _handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            index = self._requests
            self._requests += 1
            variant = {LIST_PATH: self._variant, CORRUPTED_PATH: "corrupted", UNSIGNED_PATH: "unsigned"}.get(request.path)
        meta = {"request": index, "path": request.path, "variant": variant, "client": request.client_address[0]}
        self.evidence.record(
            CHANNEL,
            f"request-{index}",
            request.raw(),
            decoded_view(f"{request.method} {request.target} {request.version}", request.headers, request.body),
            meta,
            "http",
        )
        if variant is None:
            response = HttpResponse(404, [("Content-Type", "text/plain")], f"no list at {request.path}".encode())
        elif request.method not in ("GET", "HEAD"):
            response = HttpResponse(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"method not allowed")
        else:
            response = HttpResponse(200, [("Content-Type", "text/xml; charset=UTF-8")], self.document(variant))  # type: ignore[arg-type]
        self.evidence.record(
            CHANNEL,
            f"response-{index}-{variant or 'none'}-{response.status}",
            response.raw(),
            decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body),
            {**meta, "status": response.status},
            "http",
        )
        return response


__all__ = [
    "CORRUPTED_PATH",
    "LIST_PATH",
    "UNSIGNED_PATH",
    "SignerCredentials",
    "TrustListServer",
    "build_trust_list",
    "certificate_dn",
    "issue_list_signer",
    "operator_dn",
    "trust_domain",
]

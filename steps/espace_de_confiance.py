"""Steps of ``espace_de_confiance.feature`` (VA-A) that look at the SUT itself.

The consumer-side trust scenarios share their steps with ``consommation.py``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from pytest_bdd import then

from drimva.evidence import EvidenceStore, seqs_of
from drimva.outcomes import HarnessError
from drimva.profile import Profile
from drimva.reachability import Unreachable, connect, tls_cause
from drimva.rules.server_certificate import check_server_certificate, check_sut_listed
from drimva.rules.trustlist import parse_trust_list
from drimva.verdict import Verdict
from fixtures.harness import SutHandle
from fixtures.peers import sut_trust_entry
from simulators.trust.server import TrustListServer

@then("l'adresse de la DRIMbox figure dans la liste blanche")
def sut_in_trust_list(
    trust_server: TrustListServer, profile: Profile, sut_server_cert: tuple[Path, Path], verdict: Verdict
) -> None:
    db, _ = sut_trust_entry(profile, sut_server_cert)
    listing = parse_trust_list(trust_server.document("signed"))
    verdict.judge("inscription dans la liste blanche", check_sut_listed(db, [d.db for d in listing.domains]))


@then("le certificat serveur présenté par la DRIMbox a le DN déclaré dans la liste blanche")
def sut_certificate_matches(
    sut: SutHandle, trust_server: TrustListServer, profile: Profile, sut_server_cert: tuple[Path, Path],
    verdict: Verdict, evidence: EvidenceStore,
) -> None:
    db, _ = sut_trust_entry(profile, sut_server_cert)
    declared = parse_trust_list(trust_server.document("signed")).domain_for(db)
    url = urlsplit(sut.endpoints.wado_base_url)
    presented, problem = _server_certificate(url.hostname or db, url.port or 443, profile.timeouts.connect_s)
    recorded = _record_certificate(evidence, url.netloc, presented, problem)
    findings = check_server_certificate(
        url.netloc, declared.dn_certificat_operateur if declared else None, presented, problem, profile.rules.strict_dn_match
    )
    verdict.judge("certificat serveur de la DRIMbox", findings, seqs_of(recorded))


def _record_certificate(evidence: EvidenceStore, where: str, der: bytes | None, problem: str) -> Path:
    """The certificate the server presented (DER, and its subject, issuer, validity) or why none was read, before it is judged."""
    meta = {"server": where, "direction": "received"}
    if der is None:
        return evidence.record("tls", "no server certificate", problem.encode("utf-8"), f"(no certificate) {problem}\n", meta, "txt")
    try:
        cert = x509.load_der_x509_certificate(der)
        decoded = (f"subject: {cert.subject.rfc4514_string()}\nissuer: {cert.issuer.rfc4514_string()}\n"
                   f"serial: {cert.serial_number:x}\nnot before: {cert.not_valid_before_utc.isoformat()}\n"
                   f"not after: {cert.not_valid_after_utc.isoformat()}\n")
    except ValueError as error:
        decoded = f"(not a readable X.509 certificate) {error}\n"
    return evidence.record("tls", f"server certificate of {where}", der, decoded, meta, "der")


def _server_certificate(host: str, port: int, timeout: float) -> tuple[bytes | None, str]:
    """The certificate the server presents (read only: the DN is what is judged, not the chain), or why none was read.

    A server that cannot be reached at all (no name, refused, timed out) is the
    environment's problem, not a non-conformity: :class:`HarnessError`.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = connect(host, port, timeout)
    except Unreachable as failure:
        raise HarnessError(f"sut.wado.base_url: {host}:{port} — {failure.cause}") from None
    try:
        with raw, context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError as error:
        return None, tls_cause(error, timeout)
    if not der:
        return None, "no TLS certificate presented"
    return der, ""

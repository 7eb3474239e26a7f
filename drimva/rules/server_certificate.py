"""The SUT's own place in the trust space (VA-A): listed, and presenting the certificate its entry declares.

Why a module: the checks used to live in ``steps/espace_de_confiance.py``.
The step reads the trust list the simulator serves and the certificate the
SUT presents (DER bytes); the rules compare them.
"""

from __future__ import annotations

from typing import Iterable

from cryptography import x509

from drimva.findings import Finding, Severity


def check_sut_listed(db: str, listed: Iterable[str]) -> list[Finding]:
    """TRUST-SUT-LISTED: the SUT's address is the ``db`` of a Domaine of the signed list."""
    dbs = list(listed)
    return [] if db in dbs else [Finding("TRUST-SUT-LISTED", "", "ListeDomaines/Domaine/db", db, ", ".join(dbs))]


def rdns(name: x509.Name) -> frozenset[tuple[str, str]]:
    """The RDN set of a name (order and spacing do not matter when DNs are compared)."""
    return frozenset((attribute.oid.dotted_string, str(attribute.value).strip()) for attribute in name)


def check_server_certificate(
    where: str, declared_dn: str | None, presented_der: bytes | None, problem: str, strict_dn_match: bool
) -> list[Finding]:
    """TRUST-SERVER-CERT: the TLS server certificate's subject is the entry's DNCertificatOperateur.

    RDN sets are compared; a mismatch is a warning unless ``rules.strict_dn_match``
    (va-checklist.md open question 10); no certificate or no entry always fails.
    """
    presented = x509.load_der_x509_certificate(presented_der) if presented_der else None
    expected = _declared(declared_dn)
    if presented is not None and expected is not None and rdns(presented.subject) == expected:
        return []
    lenient = presented is not None and expected is not None and not strict_dn_match
    note = "rules.strict_dn_match is off: reported, not failed" if lenient else ""
    if declared_dn and expected is None:
        note = "the entry's DNCertificatOperateur is not an RFC 4514 distinguished name"
    return [Finding(
        "TRUST-SERVER-CERT", "", f"TLS server certificate of {where}", declared_dn or "(no entry)",
        presented.subject.rfc4514_string() if presented is not None else problem or "no TLS certificate presented",
        Severity.WARNING if lenient else Severity.ERROR, note=note,
    )]  # fmt: skip


def _declared(dn: str | None) -> frozenset[tuple[str, str]] | None:
    """The RDN set of the entry's DN, None without an entry or when the DN cannot be read."""
    if not dn:
        return None
    try:
        return rdns(x509.Name.from_rfc4514_string(dn))
    except ValueError:
        return None

"""The DRIM-M trust-list (liste blanche) server."""

from simulators.trust.server import (
    CORRUPTED_PATH,
    LIST_PATH,
    UNSIGNED_PATH,
    SignerCredentials,
    TrustListServer,
    build_trust_list,
    certificate_dn,
    issue_list_signer,
    operator_dn,
    trust_domain,
)

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

"""What the consumer DRIMbox did with the contextual call (VA-D1, VA-D2, VA-D3, consumer side of VA-A), judged.

Why a module: these checks used to live in ``steps/consommation.py``. They
take what the simulators recorded (HTTP statuses, the requests the peer
source answered, what reached the DICOM node) as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from drimva.findings import Finding, Severity

NODE_SERVICES = {"c-store": "C-STORE", "stow-rs": "STOW-RS"}  # sut.consumer.node_transport -> the service name


@dataclass(frozen=True)
class SeriesRequest:
    """One request a peer source answered: target, status, the KOS header, whether its bearer token was valid."""

    method: str
    target: str
    status: int
    kos_header: str | None
    token_valid: bool


def call_unreachable(url: str, error: str) -> Finding:
    """CALL-REACHABLE: no HTTP answer to the contextual call."""
    return Finding("CALL-REACHABLE", "", f"POST {url}", "an HTTP answer", error)


def check_call_redirect(status: int, body: str) -> list[Finding]:
    """CALL-REDIRECT: a valid contextual call is answered by a redirect (302 or 303)."""
    if status in (302, 303):
        return []
    return [Finding("CALL-REDIRECT", "", "HTTP status", "302 or 303", f"{status}: {body[:200]}")]


def check_call_refused(status: int) -> list[Finding]:
    """CALL-400: a contextual call with a missing or empty mandatory parameter gets 400."""
    return [] if status == 400 else [Finding("CALL-400", "", "HTTP status", "400", str(status))]


def check_dmp_consulted(patient_id: str, queried: bool, other_queries: int, retrieved: bool) -> list[Finding]:
    """DMP-ITI-18: a FindDocuments on the patient; DMP-ITI-43: a RetrieveDocumentSet of the KOS."""
    findings = []
    if not queried:
        findings.append(Finding(
            "DMP-ITI-18", "", "DMP registry", f"a FindDocuments on {patient_id}",
            f"{other_queries} successful ITI-18 for other patients",
        ))  # fmt: skip
    if not retrieved:
        findings.append(Finding("DMP-ITI-43", "", "DMP repository", "a RetrieveDocumentSet of the KOS", "none"))
    return findings


def kos_not_retrieved(status: int, timeout_s: float) -> Finding:
    """DMP-ITI-43 as a precondition: the call was answered but no ITI-43 followed."""
    return Finding(
        "DMP-ITI-43", "", "DMP repository", "a RetrieveDocumentSet of the KOS",
        f"contextual call answered HTTP {status}; no successful ITI-43 within {timeout_s:g} s",
    )  # fmt: skip


def check_series_fetched(requests: Mapping[str, Sequence[SeriesRequest]], kos_uid: str) -> list[Finding]:
    """WADO-SERIES-FETCHED: each series got one 200 request with a valid token and the KOS's SOP Instance UID."""
    findings = []
    for series_uid, seen in sorted(requests.items()):
        if any(r.token_valid and r.kos_header == kos_uid and r.status == 200 for r in seen):
            continue
        actual = "no request" if not seen else "; ".join(f"status {r.status}, KOS header {r.kos_header!r}" for r in seen)
        findings.append(Finding(
            "WADO-SERIES-FETCHED", "", f"GET …/series/{series_uid}",
            f"200 with a valid token and KOS-SOPInstanceUID {kos_uid}", actual,
        ))  # fmt: skip
    return findings


def unserved_series(requests: Mapping[str, Sequence[SeriesRequest]]) -> Finding | None:
    """WADO-SERIES-FETCHED as a precondition of VA-D3: the series the source never served (200), or None."""
    unserved = [uid for uid, seen in requests.items() if not any(r.status == 200 for r in seen)]
    if not unserved:
        return None
    return Finding(
        "WADO-SERIES-FETCHED", "", "GET …/series/…", "every series of the KOS served (200)",
        f"{len(unserved)} of {len(requests)} series never served (200) to the DRIMbox",
    )  # fmt: skip


def check_node_transport(node_transport: str, services: Iterable[str], node_ae: str) -> list[Finding]:
    """NODE-TRANSPORT: the instances reached the node by the service the profile declares (warning otherwise)."""
    declared = NODE_SERVICES[node_transport]
    other = sorted({service for service in services if service != declared})
    if not other:
        return []
    return [Finding(
        "NODE-TRANSPORT", "", f"DICOM node {node_ae}", f"{declared} (sut.consumer.node_transport)", ", ".join(other),
        Severity.WARNING,
    )]  # fmt: skip


def check_untrusted_not_contacted(base_url: str, requests: Sequence[SeriesRequest]) -> list[Finding]:
    """TRUST-UNLISTED-PEER: no request reached a source absent from the trust list."""
    if not requests:
        return []
    return [Finding(
        "TRUST-UNLISTED-PEER", "", f"WADO-RS to {base_url}", "no request",
        f"{len(requests)} request(s): " + ", ".join(f"{r.method} {r.target} -> {r.status}" for r in requests[:3]),
    )]  # fmt: skip


def check_node_untouched(stored: int) -> list[Finding]:
    """TRUST-UNLISTED-PEER: nothing of a study held by an unlisted source reached the DICOM node."""
    if not stored:
        return []
    return [Finding("TRUST-UNLISTED-PEER", "", "DICOM node C-STORE", "no instance of this study", f"{stored} instance(s)")]

"""WADO-RS retrieval of a KOS's series from the source DRIMbox (consumer role, VA-D2).

For each series of the KOS (``kos_series``): the RetrieveURL's host must be
the ``db`` of a domain of the liste blanche (else the series is refused and
logged); then ``GET <RetrieveURL>`` over HTTPS (server verified with the
anchor) with ``Authorization: Bearer <professional's PSC token>``,
``KOS-SOPInstanceUID`` and the CI-SIS Accept profile of the official
validator sample (dicomweb-between-drimboxes.md §2, §3). The
multipart/related answer is split into Part-10 instances.
"""

from __future__ import annotations

import io
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from simulators.reference.dmp_client import split_multipart

# (transfer syntax UID, q) of the "CI-SIS / TSLossless" profile, in the sample's order.
CISIS_ACCEPT: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.70", "0.9"),
    ("1.2.840.10008.1.2.4.80", "0.8"),
    ("1.2.840.10008.1.2.4.91", "0.6"),
    ("1.2.840.10008.1.2.4.50", "0.5"),
    ("1.2.840.10008.1.2.4.51", "0.5"),
    ("1.2.840.10008.1.2.4.100", "0.5"),
    ("1.2.840.10008.1.2.4.101", "0.5"),
    ("1.2.840.10008.1.2.4.102", "0.5"),
    ("1.2.840.10008.1.2.4.103", "0.5"),
    ("1.2.840.10008.1.2.1", "0.4"),
)
KOS_HEADER = "KOS-SOPInstanceUID"
# one entry without transfer-syntax: PS3.18's default (Explicit VR Little Endian); fault
# consumer_accept_without_transfer_syntax, and variant accept_default_transfer_syntax with its profile's reading
DEFAULT_SYNTAX_ACCEPT = 'multipart/related; type="application/dicom";q=1;boundary=**'

# Faults read here (declared in faults.FAULTS): consumer_no_kos_header, consumer_accept_without_transfer_syntax,
# consumer_no_accept, consumer_accept_any, consumer_token_without_scheme, consumer_retrieve_post,
# consumer_uid_nul_padding.


class HostTrust(Protocol):
    def is_trusted_host(self, host: str) -> bool: ...


@dataclass(frozen=True)
class SeriesRef:
    study_uid: str
    series_uid: str
    retrieve_url: str
    sop_instance_uids: tuple[str, ...]


@dataclass(frozen=True)
class KosManifest:
    sop_instance_uid: str
    patient_id: str
    series: tuple[SeriesRef, ...]


@dataclass
class SeriesResult:
    series: SeriesRef
    ok: bool
    http_status: int = 0  # 0: no request sent (refused host, network error)
    instances: list[Dataset] = field(default_factory=list)
    error: str = ""


def accept_header(profile: tuple[tuple[str, str], ...] = CISIS_ACCEPT) -> str:
    """The comma-joined Accept value, one media range per transfer syntax, each with ``boundary=**``."""
    return ",".join(
        f'multipart/related; type="application/dicom";transfer-syntax={uid};q={q};boundary=**' for uid, q in profile
    )


def kos_series(kos_bytes: bytes) -> KosManifest:
    """The series of a KOS: (0040,A375) > (0008,1115) items with their RetrieveURL and instances."""
    try:
        kos = dcmread(io.BytesIO(kos_bytes), force=True)
    except (InvalidDicomError, ValueError, EOFError) as exc:
        raise ValueError(f"the KOS is not readable DICOM: {exc}") from None
    series: list[SeriesRef] = []
    for study in kos.get("CurrentRequestedProcedureEvidenceSequence", []):
        for item in study.get("ReferencedSeriesSequence", []):
            series.append(
                SeriesRef(
                    study_uid=str(study.get("StudyInstanceUID", "")),
                    series_uid=str(item.get("SeriesInstanceUID", "")),
                    retrieve_url=str(item.get("RetrieveURL", "") or ""),
                    sop_instance_uids=tuple(
                        str(sop.get("ReferencedSOPInstanceUID", "")) for sop in item.get("ReferencedSOPSequence", [])
                    ),
                )
            )
    return KosManifest(str(kos.get("SOPInstanceUID", "")), str(kos.get("PatientID", "")), tuple(series))


class WadoClient:
    """Fetches series from source DRIMboxes of the liste blanche."""

    def __init__(
        self,
        *,
        trust: HostTrust,
        ca_cert: Path,
        timeout_s: float = 10.0,
        faults: frozenset[str] = frozenset(),
        client_cert: tuple[Path, Path] | None = None,
        log: logging.Logger | None = None,
        default_syntax: bool = False,
    ) -> None:
        self._trust = trust
        self._faults = faults
        self._default_syntax = default_syntax  # the Accept names no transfer-syntax (DEFAULT_SYNTAX_ACCEPT)
        self.log = log or logging.getLogger("reference.wado")
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_cert is not None:  # mutual TLS between DRIMboxes (a profile option)
            context.load_cert_chain(str(client_cert[0]), str(client_cert[1]))
        self._http = httpx.Client(verify=context, timeout=httpx.Timeout(timeout_s), trust_env=False)

    def fetch_series(self, series: SeriesRef, *, kos_uid: str, token: str) -> SeriesResult:
        """GET the series at its RetrieveURL; never raises."""
        url = series.retrieve_url
        host = urlsplit(url).hostname or ""
        if not url.lower().startswith("https://") or not host:
            return self._fail(series, 0, f"RetrieveURL {url!r} is not an https URL")
        if not self._trust.is_trusted_host(host):
            return self._fail(series, 0, f"source {host} is not in the liste blanche: not contacted")
        scheme = "" if "consumer_token_without_scheme" in self._faults else "Bearer "  # the bare token
        headers = {"Authorization": f"{scheme}{token}", "Accept": accept_header()}
        if self._default_syntax or "consumer_accept_without_transfer_syntax" in self._faults:
            headers["Accept"] = DEFAULT_SYNTAX_ACCEPT  # PS3.18's default syntax, not the CI-SIS list
        if "consumer_accept_any" in self._faults:
            headers["Accept"] = "*/*"  # the HTTP library's default, no Accept profile of its own
        if "consumer_no_kos_header" in self._faults:
            self.log.info("fault consumer_no_kos_header: no %s header", KOS_HEADER)
        else:
            headers[KOS_HEADER] = kos_uid
        method = "POST" if "consumer_retrieve_post" in self._faults else "GET"  # a POST helper shared with STOW-RS
        if "consumer_uid_nul_padding" in self._faults:  # the series UID as stored, its UI padding byte URL-encoded
            url += "%00"
        request = self._http.build_request(method, url, headers=headers)
        if "consumer_no_accept" in self._faults:
            del request.headers["Accept"]
        try:
            response = self._http.send(request)
        except (httpx.HTTPError, OSError) as exc:
            return self._fail(series, 0, f"{host} unreachable: {type(exc).__name__}: {exc}")
        if response.status_code != 200:
            return self._fail(series, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            instances = parse_dicom_multipart(response.headers.get("content-type", ""), response.content)
        except ValueError as exc:
            return self._fail(series, response.status_code, f"unreadable response: {exc}")
        self.log.info("WADO-RS %s: %d instances", url, len(instances))
        return SeriesResult(series, True, response.status_code, instances)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WadoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fail(self, series: SeriesRef, status: int, error: str) -> SeriesResult:
        self.log.warning("series %s not retrieved: %s", series.series_uid, error)
        return SeriesResult(series, False, status, [], error)


def parse_dicom_multipart(content_type: str, body: bytes) -> list[Dataset]:
    """The Part-10 instances of a ``multipart/related; type="application/dicom"`` body."""
    instances: list[Dataset] = []
    for index, part in enumerate(split_multipart(content_type, body), 1):
        part_type = part.headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
        if part_type != "application/dicom":
            raise ValueError(f"part {index} is {part_type}, not application/dicom")
        try:
            instances.append(dcmread(io.BytesIO(part.content)))
        except (InvalidDicomError, ValueError, EOFError) as exc:
            raise ValueError(f"part {index} is not a DICOM Part-10 instance: {exc}") from None
    return instances

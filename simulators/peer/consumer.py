"""The peer DRIMbox, consumer side: fetches a KOS's series from the source under test (VA-E).

``fetch_study`` reads the KOS's evidence triplets, GETs every series from
its RetrieveURL with ``Authorization: Bearer``, ``KOS-SOPInstanceUID`` and
the CI-SIS Accept profile of the ANS samples, and reports per series what
came back (status, SOP Instance UIDs, pixel SHA-256, problems);
``ConsumerFetch.check_against`` judges it with
:func:`drimva.rules.retrieval.check_retrieval`. ``security_probe`` sends one
deliberately faulty request for the ``@securite`` scenarios. Every request
is written to the evidence before it is sent, every response as soon as it
is received.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydicom.dataset import Dataset

from drimva.dicom_text import read_part10
from drimva.dicomweb import CISIS_LOSSLESS_ACCEPT, parse_multipart_dicom
from drimva.evidence import EvidenceSink
from drimva.findings import Finding
from drimva.mime import MimeError, parse_content_type
from drimva.rules.retrieval import check_retrieval, kos_series_references, pixel_sha256
from drimva.sut_calls import http_lost, send_bounded, still_listening
from drimva.wado import Headers, WadoRequest, WadoResponse
from drimva.waiting import blocking
from simulators.common.https import decoded_view

CHANNEL = "peer-consumer"
PROBE_OMISSIONS = frozenset({"token", "kos_header", "accept", "tls"})


@dataclass
class SeriesFetch:
    """One series of the KOS and what its RetrieveURL answered."""

    study_uid: str
    series_uid: str
    url: str
    expected_sop_uids: tuple[str, ...]
    status: int | None = None  # None: no HTTP answer (see problems)
    content_type: str = ""
    received: dict[str, str | None] = field(default_factory=dict)  # SOP Instance UID -> pixel SHA-256
    instances: dict[str, bytes] = field(default_factory=dict)  # SOP Instance UID -> Part-10 bytes
    problems: list[str] = field(default_factory=list)
    lost: str = ""  # no answer because the SUT is gone, silent or too slow (drimva.sut_calls.http_lost)
    elapsed: float = 0.0
    request_headers: tuple[tuple[str, str], ...] = ()  # as sent
    response_version: str = "HTTP/1.1"
    reason: str = ""
    response_headers: tuple[tuple[str, str], ...] = ()  # as received
    body: bytes = b""  # as received (de-chunked)

    @property
    def complete(self) -> bool:
        return self.status == 200 and not self.problems and set(self.received) == set(self.expected_sop_uids)

    def wado_exchange(self) -> tuple[WadoRequest, WadoResponse] | None:
        """The request and its answer as the WADO-RS rules read them; None when no HTTP answer came."""
        if self.status is None:
            return None
        request = WadoRequest("GET", self.url, "HTTP/1.1", Headers(self.request_headers))
        response = WadoResponse(self.response_version, self.status, self.reason, Headers(self.response_headers), self.body)
        return request, response


@dataclass
class ConsumerFetch:
    """The outcome of fetching every series of one KOS."""

    kos: Dataset
    series: list[SeriesFetch]
    problems: list[str] = field(default_factory=list)  # about the KOS itself

    @property
    def kos_sop_instance_uid(self) -> str:
        return str(self.kos.get("SOPInstanceUID", ""))

    @property
    def received(self) -> dict[str, str | None]:
        return {sop: digest for s in self.series for sop, digest in s.received.items()}

    @property
    def instances(self) -> dict[str, bytes]:
        return {sop: data for s in self.series for sop, data in s.instances.items()}

    def wado_exchanges(self) -> list[tuple[WadoRequest, WadoResponse]]:
        """Every series request that got an HTTP answer, as the WADO-RS rules read it."""
        return [exchange for s in self.series if (exchange := s.wado_exchange()) is not None]

    def check_against(self, expected_instances: Mapping[str, str]) -> list[Finding]:
        """Findings: SOP Instance UIDs received == the KOS's; each pixel SHA-256 == the PACS original's."""
        return check_retrieval(self.kos, self.received, expected_instances)


@dataclass(frozen=True)
class ProbeResult:
    """What a deliberately faulty request got back; ``status`` None when no HTTP answer came, and then
    ``connected`` says whether a TCP connection was made at all (False: refused, unreachable, timed out)."""

    omitted: frozenset[str]
    url: str
    status: int | None
    body: bytes = b""
    error: str = ""
    connected: bool = True
    lost: str = ""  # no answer because the SUT is gone, silent or too slow (drimva.sut_calls.http_lost)


@dataclass(frozen=True)
class NoAnswer:
    """A request that got no HTTP response: why, and whether a TCP connection was made first."""

    text: str
    connected: bool
    lost: str = ""  # the SUT is gone, silent or too slow (drimva.sut_calls.http_lost, French); "" when it answered somehow


class PeerConsumer:
    """``PeerConsumer(evidence, ca_cert=..., timeout=...)``: an HTTPS WADO-RS client trusting the run's CA."""

    def __init__(
        self,
        evidence: EvidenceSink,
        *,
        ca_cert: Path,
        timeout: float = 10.0,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.evidence = evidence
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_cert))
        if client_cert is not None:  # mutual TLS between DRIMboxes is a profile option (§6, open question 1)
            self._ssl.load_cert_chain(str(client_cert[0]), str(client_cert[1]))

    def fetch_study(self, kos_bytes: bytes, token: str, *, accept: str = CISIS_LOSSLESS_ACCEPT) -> ConsumerFetch:
        kos = read_part10(kos_bytes)
        fetch = ConsumerFetch(kos, [])
        refs = kos_series_references(kos)
        if not refs:
            fetch.problems.append("the KOS has no (0040,A375) evidence series")
        kos_uid = fetch.kos_sop_instance_uid
        with httpx.Client(verify=self._ssl, timeout=self.timeout) as client:
            for ref in refs:
                series = SeriesFetch(ref.study_uid, ref.series_uid, ref.retrieve_url, ref.sop_instance_uids)
                fetch.series.append(series)
                if not ref.retrieve_url:
                    series.problems.append(f"no RetrieveURL at {ref.location}>(0008,1190)")
                    continue
                headers = [("Authorization", f"Bearer {token}"), ("KOS-SOPInstanceUID", kos_uid), ("Accept", accept)]
                series.request_headers = tuple(headers)
                response = self._exchange(client, ref.retrieve_url, headers, f"series {ref.series_uid}")
                if isinstance(response, NoAnswer):
                    series.problems.append(response.text)
                    series.lost = response.lost
                    if response.lost:
                        break  # the SUT is gone: the other series would wait as long for nothing
                    continue
                series.status, series.elapsed = response.status_code, response.elapsed.total_seconds()
                series.content_type = response.headers.get("Content-Type", "")
                series.response_version, series.reason = response.http_version, response.reason_phrase
                series.response_headers, series.body = tuple(response.headers.multi_items()), response.content
                _read_series(series, response.content)
        return fetch

    def security_probe(
        self,
        url: str,
        *,
        token: str | None,
        kos_uid: str | None,
        accept: str = CISIS_LOSSLESS_ACCEPT,
        omit: Collection[str] = (),
    ) -> ProbeResult:
        """One request with what ``omit`` names left out: ``token`` (no Authorization), ``kos_header``,
        ``accept``, ``tls`` (plain HTTP to the same host and port). An expired or foreign token, or a
        series the KOS does not reference, is what the caller passes as ``token`` / ``url``."""
        omitted = frozenset(omit)
        unknown = omitted - PROBE_OMISSIONS
        if unknown:
            raise ValueError(f"unknown omission(s) {sorted(unknown)}: use {sorted(PROBE_OMISSIONS)}")
        headers: list[tuple[str, str]] = []
        if token is not None and "token" not in omitted:
            headers.append(("Authorization", f"Bearer {token}"))
        if kos_uid is not None and "kos_header" not in omitted:
            headers.append(("KOS-SOPInstanceUID", kos_uid))
        if "accept" not in omitted:
            headers.append(("Accept", accept))
        if "tls" in omitted:
            split = urlsplit(url)
            url = urlunsplit(("http", split.netloc, split.path, split.query, ""))
        label = "probe without " + ", ".join(sorted(omitted)) if omitted else "probe"
        with httpx.Client(verify=self._ssl, timeout=self.timeout) as client:
            response = self._exchange(client, url, headers, label)
        if isinstance(response, NoAnswer):
            return ProbeResult(omitted, url, None, error=response.text, connected=response.connected, lost=response.lost)
        return ProbeResult(omitted, url, response.status_code, response.content)

    def _listening(self, url: str) -> bool:
        target = urlsplit(url)
        return still_listening(target.hostname or "", target.port or (443 if target.scheme == "https" else 80), self.timeout)

    def _exchange(
        self, client: httpx.Client, url: str, headers: list[tuple[str, str]], label: str
    ) -> httpx.Response | NoAnswer:
        """GET ``url``; the response, or why none came. Both sides go to the evidence."""
        request = client.build_request("GET", url, headers=headers)
        start_line = f"GET {url} HTTP/1.1"
        sent = list(request.headers.multi_items())
        self.evidence.record(
            CHANNEL, f"request {label}", _raw(start_line, sent, b""), decoded_view(start_line, sent, b""), {"url": url}, "http"
        )
        started = time.monotonic()
        try:
            with blocking(f"la réponse WADO-RS de la DRIMbox ({label})", self.timeout):
                response = send_bounded(client, request, self.timeout)  # the whole answer, however slowly it comes
        except httpx.HTTPError as exc:
            connected = _connected(exc)
            error = f"no HTTP answer from {url}: {type(exc).__name__}: {exc}"
            if not connected:
                error += " (no TCP connection)"
            self.evidence.record(
                CHANNEL, f"error {label}", error.encode("utf-8"), error, {"url": url, "connected": connected}, "txt"
            )
            return NoAnswer(error, connected, http_lost(exc, url, f"WADO-RS {label}", self.timeout, lambda: self._listening(url)))
        status_line = f"{response.http_version} {response.status_code} {response.reason_phrase}"
        received = list(response.headers.multi_items())
        self.evidence.record(
            CHANNEL, f"response {label} {response.status_code}", _raw(status_line, received, response.content),
            decoded_view(status_line, received, response.content),
            {"url": url, "status": response.status_code, "seconds": round(time.monotonic() - started, 3)}, "http",
        )
        return response


def _connected(error: httpx.HTTPError) -> bool:
    """Whether a TCP connection was made before ``error``: not when the connect was refused, could not reach
    the host or timed out; a TLS handshake that failed (a ConnectError too) came after one."""
    if isinstance(error, httpx.ConnectTimeout):
        return False
    if not isinstance(error, httpx.ConnectError):
        return True
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _read_series(series: SeriesFetch, body: bytes) -> None:
    if series.status != 200:
        series.problems.append(f"HTTP {series.status}: {body[:200].decode('utf-8', 'replace')}")
        return
    try:
        parts = parse_multipart_dicom(body, series.content_type)
    except MimeError as exc:
        series.problems.append(f"unreadable multipart/related body: {exc}")
        return
    declared = _declared_syntax(series.content_type)
    for index, data in enumerate(parts, 1):
        try:
            ds = read_part10(data)
            sop = str(ds.SOPInstanceUID)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on garbage
            series.problems.append(f"part {index} is not a readable DICOM instance: {type(exc).__name__}: {exc}")
            continue
        syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
        if declared and syntax and syntax != declared:
            series.problems.append(f"part {index} ({sop}) is in {syntax}, the response declares {declared}")
        if sop not in series.expected_sop_uids:
            series.problems.append(f"part {index}: {sop} is not referenced by the KOS in series {series.series_uid}")
        series.received[sop] = pixel_sha256(ds)
        series.instances[sop] = data
    missing = [sop for sop in series.expected_sop_uids if sop not in series.received]
    if missing:
        series.problems.append(f"{len(missing)} instance(s) of the KOS not received: {', '.join(missing)}")


def _declared_syntax(content_type: str) -> str:
    try:
        return parse_content_type(content_type)[1].get("transfer-syntax", "")
    except MimeError:
        return ""


def _raw(start_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = start_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1", "replace") + b"\r\n" + body

"""The ANS supervision tool (VA-F): probes the SUT's supervision endpoint repeatedly, records availability.

The tool's protocol is not public (va-checklist.md, open question 1); the
default probe is the harness's: an HTTPS GET answered with ``200`` and a JSON
object whose ``status`` is ``"UP"`` (the shape of the demonstrator's Quarkus
``/q/health``), within ``timeout_s``. Each setting comes from the SUT profile.

A probe is a success when the answer arrives within ``timeout_s`` with the
expected HTTP status and, when ``expect_json_status`` is set, a JSON object
whose ``status`` member equals it; otherwise ``problem`` says why. Every
request is written to the evidence sink (channel ``supervision``) before it is
sent, every answer (or its absence) as soon as it is known.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from drimva.evidence import EvidenceSink, seqs_of
from drimva.sut_calls import is_refused, send_bounded

CHANNEL = "supervision"
BODY_LIMIT = 4096  # bytes of an answer kept in the decoded evidence view


@dataclass(frozen=True)
class ProbeRecord:
    """One probe: when (wall clock), what came back, how long it took, and whether it passed."""

    at: float
    status: int | None  # HTTP status, None without an answer
    elapsed_s: float
    ok: bool
    problem: str  # "" when ok
    exchanges: tuple[int, ...] = ()  # sequence numbers of the recorded probe and of its answer (or why none came)
    refused: bool = False  # no answer because nothing listened (connection refused)


class SupervisionProber:
    """``with SupervisionProber(evidence, url) as prober: ...; prober.availability()``"""

    def __init__(
        self,
        evidence: EvidenceSink,
        url: str,
        *,
        method: str = "GET",
        expect_status: int = 200,
        expect_json_status: str | None = "UP",
        timeout_s: float = 2.0,
        interval_s: float = 0.5,
        ca_cert: Path | None = None,
    ) -> None:
        if timeout_s <= 0 or interval_s <= 0:
            raise ValueError("timeout_s and interval_s must be positive")
        self.evidence = evidence
        self.url = url
        self.method = method.upper()
        self.expect_status = expect_status
        self.expect_json_status = expect_json_status
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self.ca_cert = ca_cert
        self._records: list[ProbeRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # -- life cycle ---------------------------------------------------------
    def start(self) -> SupervisionProber:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="supervision-prober", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=self.timeout_s + 5)
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> SupervisionProber:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- results ------------------------------------------------------------
    @property
    def records(self) -> list[ProbeRecord]:
        with self._lock:
            return list(self._records)

    def availability(self) -> tuple[int, int, float]:
        """(successful probes, probes, ratio); the ratio is 0.0 before any probe."""
        records = self.records
        ok = sum(1 for record in records if record.ok)
        return ok, len(records), (ok / len(records) if records else 0.0)

    # -- probing ------------------------------------------------------------
    def probe_once(self) -> ProbeRecord:
        """Send one probe now, record it in the evidence and in ``records``, and return it."""
        at = time.time()
        target = urlsplit(self.url)
        request_text = f"{self.method} {self.url} HTTP/1.1\r\nHost: {target.netloc}\r\nAccept: application/json\r\n\r\n"
        sent = self.evidence.record(
            CHANNEL, f"{self.method} supervision", request_text.encode("utf-8"), request_text, {"url": self.url, "direction": "sent"}, "http"
        )
        started = time.monotonic()
        try:
            client = self._http()
            request = client.build_request(self.method, self.url, headers={"Accept": "application/json"})
            response = send_bounded(client, request, self.timeout_s)  # a slow drip is cut off at the limit too
        except httpx.TimeoutException:
            record = self._done(at, None, started, f"no answer within {self.timeout_s:g} s")
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            record = self._done(at, None, started, f"{type(exc).__name__}: {exc}", refused=is_refused(exc))
        else:
            elapsed = time.monotonic() - started
            head = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in response.headers.items()
            )
            raw = head.encode("latin-1", "replace") + b"\r\n" + response.content
            meta = {"url": self.url, "direction": "received", "status": response.status_code, "elapsed_s": round(elapsed, 3)}
            decoded = head + "\r\n" + response.content[:BODY_LIMIT].decode("utf-8", "replace")
            answered = self.evidence.record(CHANNEL, f"answer {response.status_code}", raw, decoded, meta, "http")
            record = replace(self._judged(at, response, elapsed), exchanges=seqs_of(answered))
        record = replace(record, exchanges=seqs_of(sent) + record.exchanges)
        with self._lock:
            self._records.append(record)
        return record

    def _done(self, at: float, status: int | None, started: float, problem: str, *, refused: bool = False) -> ProbeRecord:
        elapsed = time.monotonic() - started
        meta = {"url": self.url, "direction": "received", "elapsed_s": round(elapsed, 3), "error": problem}
        answered = self.evidence.record(CHANNEL, "no answer", b"", f"(no answer) {problem}\n", meta, "txt")
        return ProbeRecord(at, status, round(elapsed, 3), False, problem, seqs_of(answered), refused)

    def _judged(self, at: float, response: httpx.Response, elapsed: float) -> ProbeRecord:
        status = response.status_code
        problem = ""
        if elapsed > self.timeout_s:
            problem = f"answered after {elapsed:.2f} s (limit {self.timeout_s:g} s)"
        elif status != self.expect_status:
            problem = f"HTTP {status}, expected {self.expect_status}"
        elif self.expect_json_status is not None:
            problem = _json_status_problem(response.content, self.expect_json_status)
        return ProbeRecord(at, status, round(elapsed, 3), not problem, problem)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.ca_cert is not None:
            verify = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_cert))
        # a fresh connection per probe: the tool checks the service, not a kept-alive socket
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(verify=verify, timeout=self.timeout_s, trust_env=False, limits=limits)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.probe_once()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))


def _json_status_problem(body: bytes, expected: str) -> str:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"the answer is not JSON: {body[:60]!r}"
    if not isinstance(data, dict):
        return f"the JSON answer is not an object: {type(data).__name__}"
    actual = data.get("status")
    if actual != expected:
        return f"JSON status {actual!r}, expected {expected!r}"
    return ""

"""Fixed-seed mutation fuzzing of every HTTP server of drimva (issue 13 §4, the HTTP part).

Each server (DMP with and without a client certificate, PSC, FranceConnect+,
trust list, peer source, STOW-RS node, contextual-call endpoint in HTTPS and
in clear, the reference DRIMbox's supervision) is started as its own tests
start it, with short timeouts, and sent generated malformed inputs seeded from
valid requests: random bytes, truncation, mutated requests, oversized request
lines, header blocks and bodies, bad lengths, bad chunking, unknown methods
and versions, non-ASCII values. Each input is followed by a good request that
must get the answer it got before the run. An input fails when it crashes or
hangs the server (no answer nor close within ``HANG_S``), when the answer is
not a well-formed HTTP response, quotes a Python exception, or accepts what
is malformed (a 2xx or 3xx to a framing error), and when the log holds an
error. ``DRIMVA_FUZZ_INPUTS`` sets the inputs per server (short run: 24),
``DRIMVA_FUZZ_WORKERS`` the clients in parallel; the figures are printed.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers of tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drimva.dicom_text import EXPLICIT_VR_LE, part10_bytes, read_part10  # noqa: E402
from drimva.dicomweb import CISIS_LOSSLESS_ACCEPT, build_multipart  # noqa: E402
from drimva.evidence import EvidenceSink  # noqa: E402
from drimva.ris_judge import judge_call  # noqa: E402
from fixtures.pki import TestPki  # noqa: E402
from memory import DiscardEvidence, rss_kib  # noqa: E402
from fixtures.studies import make_study  # noqa: E402
from simulators.common.https import MAX_BODY  # noqa: E402
from simulators.conso_endpoint import ContextualCallEndpoint  # noqa: E402
from simulators.dicom_node import DicomNode  # noqa: E402
from simulators.dmp import DmpSimulator  # noqa: E402
from simulators.idp.franceconnect import FranceConnectSimulator  # noqa: E402
from simulators.idp.oidc import OidcProvider  # noqa: E402
from simulators.idp.psc import PscSimulator  # noqa: E402
from simulators.peer import PeerSource  # noqa: E402
from simulators.reference.supervision import SupervisionServer  # noqa: E402
from simulators.trust import TrustListServer  # noqa: E402
from test_dmp_simulator import iti41, iti57  # noqa: E402
from test_oidc_provider import PRO, REDIRECT  # noqa: E402
from test_peer_source import FACTS, GOOD, PATIENT, Verdict  # noqa: E402
from test_ris_mode import OPTIONS, call_params, spec  # noqa: E402
from test_trust_server import DOMAINS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on every corrupt element

SEED = 20261202
INPUTS = int(os.environ.get("DRIMVA_FUZZ_INPUTS", "24"))
WORKERS = int(os.environ.get("DRIMVA_FUZZ_WORKERS", "4"))
READ_S = 0.5  # the servers' per-read timeout in this suite (a whole request: six of them)
HANG_S = 6 * READ_S + 4.0  # an answer or a close is due within this
EXCEPTION_TEXT = re.compile(rb"Traceback \(most recent|\b[A-Z][A-Za-z]*(?:Error|Exception)\(|object has no attribute|File \"[^\"]+\", line")
NAMES = ("dmp", "dmp-sans-certificat", "psc", "franceconnect", "liste-blanche", "source-pair", "stow-rs",
         "appel-contextuel", "appel-contextuel-http", "supervision")


# -- the client side -------------------------------------------------------------------------------


@dataclass
class Target:
    """A running server: where, how to reach it, valid requests to mutate and one good request."""

    name: str
    host: str
    port: int
    context: ssl.SSLContext | None  # None: plain HTTP
    seeds: list[bytes]
    good: bytes
    good_status: int = 0
    soap: bool = False  # the handler answers in SOAP: a malformed body gets a SOAP Fault
    kept: Callable[[], int] | None = None  # what the server keeps per request by design (the DMP: its submissions)


@dataclass
class Outcome:
    response: bytes
    closed: bool  # the server closed (possibly after an answer)
    hung: bool  # neither an answer nor a close within HANG_S
    seconds: float
    sent_s: float = float("inf")  # from the TCP connection to the last byte sent (TLS handshake included) or to the server's cut


def request(method: str, target: str, host: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> bytes:
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers or [])]
    if body or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body


def _complete(buffer: bytes, head_request: bool = False) -> bool:
    """A whole response is in ``buffer`` (1xx interim answers skipped; none has a body after a HEAD)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = buffer[:end]
        if re.match(rb"HTTP/1\.[01] 1\d\d", head):
            buffer = buffer[end + 4 :]
            continue
        match = re.search(rb"\r\ncontent-length:[ \t]*(\d+)", head, re.IGNORECASE)
        return match is not None and (head_request or len(buffer) - end - 4 >= int(match.group(1)))


def exchange(target: Target, data: bytes, raw_tcp: bool = False) -> Outcome:
    """Send ``data`` on a new connection and read one answer, a close, or nothing until HANG_S."""
    started = time.monotonic()
    deadline = started + HANG_S
    sock: socket.socket = socket.create_connection((target.host, target.port), timeout=HANG_S)
    connected = time.monotonic()
    sent_s = float("inf")
    try:
        try:
            if target.context is not None and not raw_tcp:
                sock = target.context.wrap_socket(sock, server_hostname=target.host)
            sock.sendall(data)
            sent_s = time.monotonic() - connected
        except TimeoutError:
            return Outcome(b"", False, True, time.monotonic() - started)
        except OSError:  # refused and closed before all was sent (TLS included): the answer may still be there
            sent_s = time.monotonic() - connected  # when the server cut it (the close came before the last byte)
        buffer = b""
        while not _complete(buffer, data.startswith(b"HEAD ")):
            left = deadline - time.monotonic()
            if left <= 0:
                return Outcome(buffer, False, True, time.monotonic() - started, sent_s)
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return Outcome(buffer, False, True, time.monotonic() - started, sent_s)
            except (ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                return Outcome(buffer, True, False, time.monotonic() - started, sent_s)
            buffer += chunk
        return Outcome(buffer, False, False, time.monotonic() - started, sent_s)
    finally:
        sock.close()


def status_of(response: bytes, head_request: bool = False) -> tuple[int, bytes]:
    """(status, body) of a well-formed HTTP/1.1 response (interim 1xx skipped), or AssertionError why not."""
    while True:
        head, sep, body = response.partition(b"\r\n\r\n")
        assert sep, f"no end of header block in {response[:80]!r}"
        lines = head.split(b"\r\n")
        match = re.fullmatch(rb"HTTP/1\.1 ([1-5]\d\d) [\x20-\x7e]*", lines[0])
        assert match, f"bad status line {lines[0][:80]!r}"
        for line in lines[1:]:
            assert re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e\x80-\xff]*", line), f"bad header line {line[:80]!r}"
        status = int(match.group(1))
        if status >= 200:
            length = re.search(rb"\r\ncontent-length: (\d+)", b"\r\n" + head, re.IGNORECASE)
            assert length, "answer without Content-Length"
            if head_request:
                return status, b""
            assert len(body) >= int(length.group(1)), "answer cut short"
            return status, body[: int(length.group(1))]
        response = body


# -- the inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    kind: str
    data: bytes
    refusal: bool  # malformed framing: only a 4xx/5xx answer or a close will do
    raw_tcp: bool = False


def _split(seed: bytes) -> tuple[bytes, bytes]:
    head, _, body = seed.partition(b"\r\n\r\n")
    return head, body


def _with_header(head: bytes, name: bytes, value: bytes) -> bytes:
    kept = [line for line in head.split(b"\r\n") if not line.lower().startswith(name.lower() + b":")]
    return b"\r\n".join(kept + [name + b": " + value])


def _flip(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(buffer) + 1)
        operation = rng.choice(("flip", "cut", "duplicate", "insert"))
        if operation == "flip" and buffer:
            buffer[min(position, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif operation == "cut":
            del buffer[position : position + rng.randint(1, 64)]
        elif operation == "duplicate":
            buffer[position:position] = buffer[position : position + rng.randint(1, 64)]
        else:
            buffer[position:position] = rng.choice((b"\x00", b"\xff", b"\r\n", b"%", b"\xc3\xa9", b"\\", b"<", b"--", b";", b"\x80", b" "))
    return bytes(buffer)


def _chunked(body: bytes, rng: random.Random) -> tuple[bytes, bool]:
    """``body`` in chunks, possibly broken; (encoding, whether it is broken)."""
    pieces = [body[i : i + 37] for i in range(0, len(body), 37)] or [b""]
    out = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces if p)
    breakage = rng.choice(("none", "negative", "sign", "hex-prefix", "underscore", "huge", "letters", "short", "no-crlf", "no-end"))
    if breakage == "none":
        return out + b"0\r\n\r\n", False
    size = {"negative": b"-1", "sign": b"+5", "hex-prefix": b"0x5", "underscore": b"1_0", "huge": b"f" * 17, "letters": b"zz"}.get(breakage)
    if size is not None:
        return out + size + b"\r\nhello\r\n0\r\n\r\n", True
    if breakage == "short":
        return out + b"40\r\nshort\r\n0\r\n\r\n", True  # announces 64 bytes, the rest of the stream has fewer
    if breakage == "no-crlf":
        return out + b"5\r\nhelloXY0\r\n\r\n", True
    return out, True  # no last chunk: the server must time out, not wait forever


def generate(seeds: list[bytes], rng: random.Random) -> Input:
    """One generated input, from a random valid ``seed``."""
    seed = rng.choice(seeds)
    head, body = _split(seed)
    method = head.split(b" ", 1)[0]
    kind = rng.choice(("random", "truncate", "mutate", "mutate-body", "long-line", "many-headers", "huge-header",
                       "bad-length", "chunked", "no-length", "method", "version", "too-large", "non-ascii", "raw-tcp"))
    if kind == "random":
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 600)))
        return Input(kind, rng.choice((b"", method + b" /")) + data, refusal=True)
    if kind == "truncate":
        return Input(kind, seed[: rng.randrange(1, len(seed))], refusal=True)
    if kind == "mutate":
        return Input(kind, _flip(seed, rng), refusal=False)
    if kind == "mutate-body":
        mutated = _flip(body, rng)
        return Input(kind, _with_header(head, b"Content-Length", str(len(mutated)).encode()) + b"\r\n\r\n" + mutated, refusal=False)
    if kind == "long-line":
        first, _, rest = head.partition(b"\r\n")
        parts = first.split(b" ")
        line = parts[0] + b" /" + b"a" * rng.randint(9000, 70000) + b" " + parts[-1]
        return Input(kind, line + b"\r\n" + rest + b"\r\n\r\n" + body, refusal=True)
    if kind == "many-headers":
        extra = b"".join(b"\r\nX-F%d: %d" % (i, i) for i in range(rng.randint(101, 400)))
        return Input(kind, head + extra + b"\r\n\r\n" + body, refusal=True)
    if kind == "huge-header":
        count = rng.choice((1, 2, 20))
        extra = b"".join(b"\r\nX-Big%d: " % i + b"v" * rng.randint(66000 // count + 100, 140000 // count) for i in range(count))
        return Input(kind, head + extra + b"\r\n\r\n" + body, refusal=True)
    if kind == "bad-length":
        value = rng.choice((b"-1", b"-0x10", b"+5", b"1e3", b"0x10", b"12 3", b"abc", b"", b"99999999999999999999999",
                            b"5, 6", b"\xc3\xa9", str(len(body) + rng.randint(1, 50)).encode()))
        data = _with_header(head, b"Content-Length", value)
        if rng.random() < 0.3:
            data += b"\r\nContent-Length: " + str(len(body) + 1).encode()  # a second, different length
        return Input(kind, data + b"\r\n\r\n" + body + (b"x" * rng.randint(0, 200) if value == b"-1" else b""), refusal=True)
    if kind == "chunked":
        encoded, broken = _chunked(body, rng)
        data = _with_header(head, b"Content-Length", b"0")
        data = b"\r\n".join(line for line in data.split(b"\r\n") if not line.lower().startswith(b"content-length"))
        both = rng.random() < 0.2  # Transfer-Encoding and Content-Length together: refused (smuggling)
        data += b"\r\nTransfer-Encoding: " + rng.choice((b"chunked", b"chunked", b"gzip, chunked", b"identity", b"chunked, chunked"))
        if both:
            data += b"\r\nContent-Length: " + str(len(encoded)).encode()
        return Input(kind, data + b"\r\n\r\n" + encoded, refusal=broken or both or not data.endswith(b": chunked"))
    if kind == "no-length":
        data = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length"))
        data = b"POST" + data[len(method) :]
        return Input(kind, data + b"\r\n\r\n" + body, refusal=True)
    if kind == "method":
        name = rng.choice((b"get", b"BREW", b"TRACE", b"CONNECT", b"G\x00T", b"P O", b"M" * 300))
        return Input(kind, name + head[len(method) :] + b"\r\n\r\n" + body, refusal=True)
    if kind == "version":
        first, _, rest = head.partition(b"\r\n")
        version = rng.choice((b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1x", b"HTTP/1", b"HTTPS/1.1", b"", b"HTTP/1.1 extra"))
        return Input(kind, first.rsplit(b" ", 1)[0] + (b" " + version if version else b"") + b"\r\n" + rest + b"\r\n\r\n" + body, refusal=True)
    if kind == "too-large":
        return Input(kind, _with_header(head, b"Content-Length", str(MAX_BODY + rng.randint(1, 10**9)).encode()) + b"\r\n\r\n" + body, refusal=True)
    if kind == "non-ascii":
        value = rng.choice(("é", "\u202e", "ü" * 50, "日本", "\x7f", "\\" * 300))
        if body and b"=" in body:  # a form: a value made non-ASCII
            mutated = re.sub(rb"=([^&]*)", lambda m: b"=" + value.encode("utf-8") + m.group(1), body, count=rng.randint(1, 4))
            data = _with_header(head, b"Content-Length", str(len(mutated)).encode()) + b"\r\n\r\n" + mutated
        else:
            name = rng.choice((b"Authorization", b"Accept", b"Content-Type", b"X-Value", b"KOS-SOPInstanceUID"))
            header_value = rng.choice((b"Basic " + base64.b64encode(f"viewer:{value}".encode()), b"Bearer " + value.encode(), value.encode()))
            data = _with_header(head, name, header_value) + b"\r\n\r\n" + body
        return Input(kind, data, refusal=False)
    return Input(kind, bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))), refusal=True, raw_tcp=True)


# -- the checks ------------------------------------------------------------------------------------


def problems_of(input_: Input, outcome: Outcome, tls: bool, soap: bool = False) -> list[str]:
    """What is wrong with the server's answer to one input (nothing: it survived it well)."""
    if outcome.hung:
        return [f"hang: no answer nor close within {HANG_S:.0f} s"]
    if not outcome.response:
        return []  # closed without an answer: allowed (TLS refused, peer unreadable)
    if input_.raw_tcp and tls:
        return [] if outcome.response.startswith(b"\x15\x03") else [f"not a TLS alert: {outcome.response[:40]!r}"]
    try:
        status, body = status_of(outcome.response, input_.data.startswith(b"HEAD "))
    except AssertionError as exc:
        return [f"malformed answer: {exc}"]
    found = []
    if EXCEPTION_TEXT.search(outcome.response):
        found.append(f"Python exception text in the answer {status}: {body[:200]!r}")
    if input_.refusal and status < 400:
        found.append(f"malformed input accepted with {status}")
    if soap and input_.kind == "mutate-body" and status >= 400 and not re.search(rb"\r\ncontent-type: [^\r]*(soap\+xml|multipart/related)", outcome.response, re.IGNORECASE):
        found.append(f"a malformed SOAP body answered {status} without a SOAP Fault: {outcome.response[:200]!r}")
    return found


class ErrorLog(logging.Handler):
    """Every log record at ERROR or above, wherever it comes from: a handler's traceback lands here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Figures:
    inputs: int = 0
    crashes: int = 0  # logged errors, malformed answers, exception text
    hangs: int = 0
    liveness: int = 0  # the good request after an input not answered as before
    refused: int = 0
    retries: int = 0  # good requests closed as idle (sent late by a starved client) and sent again
    idle_closes: int = 0  # of which: the server was right, the request was not all there within READ_S of the connection
    slowest_send_s: float = 0.0  # the longest a good request took, connection to last byte, on this (shared) machine
    kinds: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _served(target: Target, good: Outcome) -> bool:
    """The good request got the answer it got before the run (a malformed answer is a loss of service too)."""
    try:
        return not good.hung and bool(good.response) and status_of(good.response, target.good.startswith(b"HEAD "))[0] == target.good_status
    except AssertionError:
        return False


def idle_close(good: Outcome) -> bool:
    """The good request was closed unanswered (or got 408) and the server was right to: it was not all
    sent within one per-read timeout of the connection (TLS handshake included), so some read of the
    server's waited READ_S for it. The client is then the one starved, not the server dead. A request
    sent in time and closed unanswered is a server defect, whatever the load: once bytes are in the
    socket, a late server thread still finds them there (its read does not time out)."""
    unanswered = not good.hung and (not good.response or good.response.startswith(b"HTTP/1.1 408"))
    return unanswered and good.sent_s >= READ_S


IDLE_RETRIES = 3  # fresh connections for a good request the server closed as idle, before it counts as not served


def good_request(target: Target, figures: Figures, lock: threading.Lock) -> tuple[bool, Outcome]:
    """The good request on a fresh connection, sent again while the server closes it as idle (counted)."""
    for attempt in range(IDLE_RETRIES + 1):
        good = exchange(target, target.good)
        with lock:
            figures.slowest_send_s = max(figures.slowest_send_s, min(good.sent_s, HANG_S))
        if _served(target, good) or not idle_close(good) or attempt == IDLE_RETRIES:
            return _served(target, good), good
        with lock:
            figures.idle_closes += 1
            figures.retries += attempt == 0
    raise AssertionError("unreachable")


def fuzz(target: Target, count: int, seed: int = SEED, workers: int = WORKERS) -> Figures:
    base = seed + zlib.crc32(target.name.encode())
    figures = Figures()
    lock = threading.Lock()
    log = ErrorLog()
    logging.getLogger().addHandler(log)

    def one(index: int) -> None:
        # generated here, not all beforehand: 10 000 inputs of up to 140 KB would be the RSS growth measured
        input_ = generate(target.seeds, random.Random(base * 1_000_003 + index))
        outcome = exchange(target, input_.data, input_.raw_tcp)
        problems = problems_of(input_, outcome, target.context is not None, target.soap)
        alive, good = good_request(target, figures, lock)
        with lock:
            figures.inputs += 1
            figures.kinds[input_.kind] = figures.kinds.get(input_.kind, 0) + 1
            figures.hangs += any(p.startswith("hang") for p in problems)
            figures.crashes += any(not p.startswith("hang") and "accepted" not in p for p in problems)
            figures.refused += any("accepted" in p for p in problems)
            if not alive:
                figures.liveness += 1
                problems.append(f"liveness: the good request got {good.response[:160]!r} (hung={good.hung}, closed={good.closed}, "
                                f"{good.seconds:.2f} s, all sent after {good.sent_s:.2f} s)")
            if problems and len(figures.failures) < 20:
                figures.failures.append(f"#{index} {input_.kind} {input_.data[:120]!r}: {'; '.join(problems)}")

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(one, i) for i in range(count)]
            try:
                for future in futures:
                    future.result()
            finally:
                for future in futures:  # an error or ^C: the queued inputs are not run
                    future.cancel()
    finally:
        logging.getLogger().removeHandler(log)
    for record in log.records[:5]:
        figures.failures.append(f"log {record.name}: {record.getMessage()[:200]}")
    figures.crashes += len(log.records)
    return figures


# -- the servers -----------------------------------------------------------------------------------


def _client_context(pki: TestPki, with_cert: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # this suite fuzzes HTTP, the TLS checks have their own tests
    if with_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


def _at(url: str) -> tuple[str, int, str]:
    split = urlsplit(url)
    return split.hostname or "", split.port or 443, split.path + (f"?{split.query}" if split.query else "")


def _oidc_seeds(sim: OidcProvider, host: str) -> tuple[list[bytes], bytes]:
    c = sim.config
    authorize = c.authorization_path + "?" + urlencode({"response_type": "code", "client_id": "viewer", "redirect_uri": REDIRECT,
                                                        "scope": "openid", "state": "s", "nonce": "n", "code_challenge": "x" * 43,
                                                        "code_challenge_method": "S256"})
    form = urlencode({"grant_type": "authorization_code", "code": "c0de", "redirect_uri": REDIRECT, "code_verifier": "v" * 43}).encode()
    basic = "Basic " + base64.b64encode(b"viewer:s3cret").decode()
    form_type = ("Content-Type", "application/x-www-form-urlencoded")
    discovery = request("GET", _at(sim.discovery_url)[2], host)
    seeds = [
        discovery,
        request("GET", _at(sim.jwks_url)[2], host),
        request("GET", authorize, host),
        request("POST", c.token_path, host, [form_type, ("Authorization", basic)], form),
        request("POST", c.token_path, host, [form_type], form + b"&client_id=viewer&client_secret=s3cret"),
        request("POST", c.login_path, host, [form_type], b"session=abc&user=810001234567"),
        request("GET", c.userinfo_path, host, [("Authorization", "Bearer abc.def.ghi")]),
    ]
    return seeds, discovery


@contextmanager
def serve(name: str, pki: TestPki, evidence: EvidenceSink) -> Iterator[Target]:
    """The server ``name`` running, as a :class:`Target` (its good request's status not yet known)."""
    tls = _client_context(pki, with_cert=False)
    if name.startswith("dmp"):
        with DmpSimulator(evidence, pki.dmp_server_cert, pki.dmp_server_key, pki.ca_cert, timeout=READ_S) as dmp:
            host, port, path = _at(dmp.repository_url)
            body, content_type = iti41()
            soap = ("Content-Type", 'application/soap+xml; charset=UTF-8')
            seeds = [request("POST", path, host, [("Content-Type", content_type)], body),
                     request("POST", _at(dmp.registry_url)[2], host, [soap], iti57("urn:uuid:1", "urn:asip:ci-sis:2010:StatusType:Deleted"))]
            yield Target(name, host, port, _client_context(pki, name == "dmp"), seeds, seeds[1], soap=True,
                         kept=lambda: len(dmp.submissions))
    elif name in ("psc", "franceconnect"):
        cert, key = pki.issue_server_cert(name, ("127.0.0.1",))
        factory: Callable[..., OidcProvider] = PscSimulator if name == "psc" else FranceConnectSimulator
        with factory(evidence, cert, key, timeout=READ_S) as sim:
            sim.register_client("viewer", "s3cret", [REDIRECT])
            if isinstance(sim, PscSimulator):
                sim.add_professional(PRO, code_savoir_faire="SM44")
            host, port, _ = _at(sim.discovery_url)
            seeds, good = _oidc_seeds(sim, host)
            yield Target(name, host, port, tls, seeds, good)
    elif name == "liste-blanche":
        with TrustListServer(evidence, pki, domains=DOMAINS, timeout=READ_S) as trust:
            host, port, path = _at(trust.list_url)
            seeds = [request("GET", path, host), request("HEAD", path, host), request("GET", _at(trust.unsigned_url)[2], host)]
            yield Target(name, host, port, tls, seeds, seeds[0])
    elif name == "source-pair":
        cert, key = pki.issue_server_cert("peer-source", ("127.0.0.2",))
        study = make_study(PATIENT, "ACN-P1", series=(("CT", 1),))
        with PeerSource(evidence, cert, key, token_check=_token_check, timeout=READ_S) as source:
            kos = str(read_part10(source.make_kos_for(study, PATIENT, **FACTS)).SOPInstanceUID)
            host, port, path = _at(source.series_url(study[0].StudyInstanceUID, study[0].SeriesInstanceUID))
            headers = [("Authorization", f"Bearer {GOOD}"), ("KOS-SOPInstanceUID", kos), ("Accept", CISIS_LOSSLESS_ACCEPT)]
            seeds = [request("GET", path, host, headers), request("GET", path + "/metadata", host, headers)]
            yield Target(name, host, port, tls, seeds, seeds[0])
    elif name == "stow-rs":
        cert, key = pki.issue_server_cert("dicom-node", ("127.0.0.1",))
        study = make_study(PATIENT, "ACN-S1", series=(("CT", 1),))
        with DicomNode(evidence, stow_cert=cert, stow_key=key, timeout=READ_S) as node:
            assert node.stow_url is not None
            host, port, path = _at(node.stow_url + "/studies")
            body, content_type = build_multipart([part10_bytes(ds) for ds in study], EXPLICIT_VR_LE)
            seeds = [request("POST", path, host, [("Content-Type", content_type), ("Accept", "application/dicom+json")], body)]
            yield Target(name, host, port, tls, seeds, seeds[0])
    elif name.startswith("appel-contextuel"):
        report = spec()
        cert, key = pki.issue_server_cert("conso")

        def judge(req):  # type: ignore[no-untyped-def]
            return judge_call(req.method, req.path, req.content_type, req.body, OPTIONS, report.patient, "/appel-contextuel")

        plain = name.endswith("http")
        with ContextualCallEndpoint(evidence, judge, cert, key, tls=not plain, timeout=READ_S) as endpoint:
            host, port, path = _at(endpoint.url)
            form = urlencode(call_params(report)).encode()
            seeds = [request("POST", path, host, [("Content-Type", "application/x-www-form-urlencoded")], form),
                     request("GET", path + "?" + form.decode(), host)]
            yield Target(name, host, port, None if plain else tls, seeds, seeds[0])
    elif name == "supervision":
        cert, key = pki.issue_server_cert("supervision", ("127.0.0.1",))
        with SupervisionServer(checks={"pacs": lambda: True}, cert=cert, key=key, timeout_s=READ_S) as server:
            host, port, path = _at(server.url)
            seeds = [request("GET", path, host), request("HEAD", path, host), request("POST", path, host, body=b"{}")]
            yield Target(name, host, port, tls, seeds, seeds[0])
    else:
        raise ValueError(f"unknown server {name!r}")


def _token_check(token: str | None) -> Verdict:
    return Verdict(token == GOOD, "unknown token")


# Whole-run RSS growth (server, clients and the test in one process). Measured at 10 000 inputs: FranceConnect+
# +29 MB; the STOW-RS node +303 MB before it kept one copy per SOP Instance UID (the good request stores the same
# instance each time), +16 MB at 3 000 inputs after.
RSS_BOUND_KIB = 100 * 1024
# The DMP simulator keeps every submission it received, refused ones too (the steps judge them): +173 MB over 10 000
# inputs, 11 687 submissions kept (~15 KB each); its growth is bounded per submission kept (an ITI-41 of the seed is ~17 KB).
KEPT_BOUND_KIB = 32


@contextmanager
def running(name: str, pki: TestPki) -> Iterator[Target]:
    """The server, its good request's status measured once before any input."""
    with serve(name, pki, DiscardEvidence()) as target:
        first = exchange(target, target.good)
        assert not first.hung and first.response, f"{name}: the good request got no answer"
        target.good_status = status_of(first.response)[0]
        assert target.good_status < 500 or name == "dmp-sans-certificat", f"{name}: the good request got {first.response[:200]!r}"
        yield target


@pytest.mark.parametrize("name", NAMES)
def test_malformed_inputs_get_an_http_refusal_and_the_server_still_serves(name: str, pki: TestPki) -> None:
    started = time.monotonic()
    with running(name, pki) as target:
        rss_before = rss_kib()
        figures = fuzz(target, INPUTS)
        growth = rss_kib() - rss_before
        kept = target.kept() if target.kept else 0
    print(f"\nfuzz HTTP {name}: {figures.inputs} entrées, {figures.crashes} plantages, {figures.hangs} blocages, "
          f"{figures.liveness} pertes de service, {figures.refused} acceptations à tort, "
          f"{figures.retries} requêtes témoins renvoyées après une fermeture pour inactivité "
          f"({figures.idle_closes} fermetures, requête envoyée en entier plus de {READ_S} s après la connexion ; "
          f"envoi le plus lent {figures.slowest_send_s:.2f} s), en {time.monotonic() - started:.0f} s, RSS {growth / 1024:+.1f} Mo, "
          f"charge {os.getloadavg()[0]:.1f}" + (f", {kept} requêtes gardées par conception" if target.kept else ""))
    assert figures.inputs == INPUTS
    assert figures.failures == [], "\n".join(figures.failures)
    assert growth < RSS_BOUND_KIB + kept * KEPT_BOUND_KIB, (
        f"{name}: RSS grew {growth / 1024:.1f} MB over {INPUTS} inputs ({kept} requests kept by design)")


# -- the inputs of the issue, one regression test each -----------------------------------------------


@pytest.mark.parametrize("name", ("psc", "supervision", "stow-rs"))
@pytest.mark.parametrize(
    ("label", "tail", "status"),
    [
        ("Content-Length -1", b"Content-Length: -1\r\n\r\n" + b"x" * 2000, 400),
        ("chunk size -1", b"Transfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n", (400, 411)),
        ("bad chunk", b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", (400, 411)),
        ("short body", b"Content-Length: 100\r\n\r\nonly this", 408),
        ("no length", b"\r\nbody", 411),
    ],
)
def test_inputs_of_the_issue_are_answered_fast(name: str, label: str, tail: bytes, status: int | tuple[int, ...], pki: TestPki) -> None:
    """Issue 13: ``Content-Length: -1`` was read to EOF, bad chunking and short bodies got no answer."""
    with running(name, pki) as target:
        path = target.good.split(b" ")[1]
        outcome = exchange(target, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + tail)
        assert not outcome.hung and outcome.seconds < 6 * READ_S + 1, f"{label}: {outcome}"
        got, body = status_of(outcome.response)
        assert got in (status if isinstance(status, tuple) else (status,)), f"{label}: {outcome.response[:200]!r}"
        assert b"connection: close" in outcome.response.lower() and not EXCEPTION_TEXT.search(body)
        assert status_of(exchange(target, target.good).response)[0] == target.good_status


@pytest.mark.parametrize("field", ("basic", "form", "verifier"))
def test_non_ascii_client_secret_or_verifier_is_a_client_error_not_a_type_error(field: str, pki: TestPki) -> None:
    """Issue 13: ``TypeError('comparing strings with non-ASCII characters is not supported')`` in the PSC simulator."""
    with running("psc", pki) as target:
        form = {"grant_type": "authorization_code", "code": "c", "redirect_uri": REDIRECT, "code_verifier": "é" * 43}
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        if field == "basic":
            headers.append(("Authorization", "Basic " + base64.b64encode("viewer:sécret".encode()).decode()))
        elif field == "form":
            form.update(client_id="viewer", client_secret="sécret")
        else:
            headers.append(("Authorization", "Basic " + base64.b64encode(b"viewer:s3cret").decode()))
        token_path = target.seeds[3].split(b" ")[1].decode()
        log = ErrorLog()
        logging.getLogger().addHandler(log)
        try:
            outcome = exchange(target, request("POST", token_path, target.host, headers, urlencode(form).encode()))
        finally:
            logging.getLogger().removeHandler(log)
        status, body = status_of(outcome.response)
        assert status in (400, 401) and b"invalid_" in body and not EXCEPTION_TEXT.search(body), outcome.response[:300]
        assert log.records == []


def test_stow_of_an_instance_without_study_uid_is_a_400_naming_it(pki: TestPki) -> None:
    """Issue 13: ``AttributeError("'FileDataset' object has no attribute 'StudyInstanceUID'")`` in the STOW-RS node."""
    with running("stow-rs", pki) as target:
        ds = make_study(PATIENT, "ACN-S2", series=(("CT", 1),))[0]
        del ds.StudyInstanceUID
        body, content_type = build_multipart([part10_bytes(ds)], EXPLICIT_VR_LE)
        path = target.good.split(b" ")[1].decode()
        outcome = exchange(target, request("POST", path, target.host, [("Content-Type", content_type)], body))
        status, text = status_of(outcome.response)
        assert status == 400 and b"StudyInstanceUID" in text and not EXCEPTION_TEXT.search(text), outcome.response[:300]

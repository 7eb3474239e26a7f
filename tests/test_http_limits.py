"""The bounds of the two HTTP servers (simulators/common/https.py, the reference's https_server.py), issue 13.

Each refusal is checked on both servers over a real TLS socket: status, a close
(the body may be unread), no Python exception text, and the server still serves.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from fixtures.pki import TestPki
from fuzz.test_fuzz_http import EXCEPTION_TEXT, ErrorLog, Target, exchange, status_of
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, quoted
from simulators.reference.https_server import Request, Response, TlsHttpServer

pytestmark = pytest.mark.long(18)  # seconds, roughly: handed out first under pytest-xdist

READ_S = 0.5


def _common(request: HttpRequest) -> HttpResponse:
    if request.path == "/boom":
        raise TypeError("comparing strings with non-ASCII characters is not supported")
    return HttpResponse(200, [("Content-Type", "text/plain")], b"ok %d" % len(request.body))


def _reference(request: Request) -> Response:
    if request.path == "/boom":
        raise AttributeError("'FileDataset' object has no attribute 'StudyInstanceUID'")
    return Response(200, [("Content-Type", "text/plain")], b"ok %d" % len(request.body))


@contextmanager
def _server(kind: str, pki: TestPki) -> Iterator[Target]:
    cert, key = pki.issue_server_cert("limits", ("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    good = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "common":
        with HttpsServer(_common, cert, key, client_auth="none", timeout=READ_S) as common:
            yield Target(kind, "127.0.0.1", common.port, context, [good], good, 200)
    else:
        with TlsHttpServer(_reference, cert, key, timeout_s=READ_S) as reference:
            yield Target(kind, "127.0.0.1", reference.port, context, [good], good, 200)


@pytest.fixture(params=["common", "reference"])
def server(request: pytest.FixtureRequest, pki: TestPki) -> Iterator[Target]:
    with _server(request.param, pki) as target:
        yield target


HEAD = b"POST / HTTP/1.1\r\nHost: x\r\n"
CASES = {
    "line too long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", (414,)),
    "too many headers": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", (431,)),
    "header block too large": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 8000) for i in range(10)) + b"\r\n", (431,)),
    "one header line too long": (b"GET / HTTP/1.1\r\nX: " + b"v" * 70000 + b"\r\n\r\n", (431,)),
    "unknown method": (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", (501,)),
    "lower-case method": (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", (501,)),
    "HTTP/0.9": (b"GET /\r\n\r\n", (400,)),
    "HTTP/2.0": (b"GET / HTTP/2.0\r\n\r\n", (505, 400)),
    "control byte in the line": (b"GET /\x00 HTTP/1.1\r\n\r\n", (400,)),
    "negative length": (HEAD + b"Content-Length: -1\r\n\r\nxxxx", (400,)),
    "signed length": (HEAD + b"Content-Length: +4\r\n\r\nxxxx", (400,)),
    "hex length": (HEAD + b"Content-Length: 0x4\r\n\r\nxxxx", (400,)),
    "two lengths": (HEAD + b"Content-Length: 4\r\nContent-Length: 5\r\n\r\nxxxxx", (400,)),
    "length over the limit": (HEAD + b"Content-Length: 99999999999\r\n\r\nxxxx", (413,)),
    "no length on a POST": (HEAD + b"\r\nxxxx", (411,)),
    "short body": (HEAD + b"Content-Length: 50\r\n\r\nxxxx", (408,)),
    "negative chunk": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nxx\r\n0\r\n\r\n", (400, 411)),
    "underscore chunk": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", (400, 411)),
    "chunk without CRLF": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nxxyy0\r\n\r\n", (400, 411)),
    "no last chunk": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nxx\r\n", (408, 411)),
    "chunked and length": (HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", (400, 411)),
    "unknown coding": (HEAD + b"Transfer-Encoding: gzip\r\n\r\n", (501, 411)),
}


@pytest.mark.parametrize("case", CASES)
def test_each_malformed_request_gets_its_refusal_and_a_close(server: Target, case: str) -> None:
    data, statuses = CASES[case]
    outcome = exchange(server, data)
    assert not outcome.hung and outcome.seconds < 6 * READ_S + 1.5, outcome
    status, body = status_of(outcome.response)
    assert status in statuses, outcome.response[:300]
    assert b"\r\nconnection: close" in outcome.response.lower() and not EXCEPTION_TEXT.search(outcome.response)
    assert status_of(exchange(server, server.good).response)[0] == 200


def test_a_good_chunked_body_is_read_by_the_common_server(pki: TestPki) -> None:
    with _server("common", pki) as server:
        outcome = exchange(server, HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n")
        assert status_of(outcome.response) == (200, b"ok 5")


def test_a_handler_exception_is_logged_with_its_traceback_answered_500_and_the_server_goes_on(server: Target) -> None:
    log = ErrorLog()
    logging.getLogger().addHandler(log)
    try:
        outcome = exchange(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        logging.getLogger().removeHandler(log)
    status, body = status_of(outcome.response)
    assert status == 500 and not EXCEPTION_TEXT.search(outcome.response) and b"non-ASCII" not in body and b"FileDataset" not in body
    assert len(log.records) == 1 and log.records[0].exc_info is not None
    assert status_of(exchange(server, server.good).response)[0] == 200


def test_a_peer_sending_a_byte_at_a_time_is_cut_off_by_the_request_deadline(server: Target) -> None:
    """Every read stays under the per-read timeout, yet the request as a whole must end."""
    raw = socket.create_connection((server.host, server.port), timeout=10)
    assert server.context is not None
    started = time.monotonic()
    with server.context.wrap_socket(raw) as sock:
        answer = b""
        try:
            for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"s" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(READ_S / 2)
                if time.monotonic() - started > 6 * READ_S + 3:
                    break
            sock.settimeout(2)
            answer = sock.recv(4096)
        except (OSError, ssl.SSLError):
            pass  # closed by the server: also an end
    elapsed = time.monotonic() - started
    assert elapsed < 6 * READ_S + 3, f"the slow peer was served for {elapsed:.1f} s"
    assert answer == b"" or status_of(answer)[0] == 408


def test_an_idle_peer_is_closed_after_the_read_timeout(server: Target) -> None:
    assert server.context is not None
    started = time.monotonic()
    with server.context.wrap_socket(socket.create_connection((server.host, server.port), timeout=10)) as sock:
        sock.settimeout(READ_S * 6)
        data, chunk = b"", b"-"
        while chunk:  # until the server closes
            chunk = sock.recv(4096)
            data += chunk
    assert time.monotonic() - started < READ_S * 4
    assert data == b"" or status_of(data)[0] == 408


def test_quoted_data_in_a_log_line_is_capped() -> None:
    line = quoted(b"\\" * 100_000)
    assert len(line) < 300 and line.endswith("(100000 au total)")
    assert quoted("court") == "'court'"


def test_a_tls_handshake_sent_a_byte_at_a_time_is_cut_off(server: Target) -> None:
    started = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        closed = False
        for byte in b"\x16\x03\x01\x02\x00" + b"\x01" * 200:
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(READ_S / 2)
                closed = sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed = True
            if closed or time.monotonic() - started > 6 * READ_S + 3:
                break
    assert closed and time.monotonic() - started < 6 * READ_S + 3

"""MLLP framing, the incremental decoder and the blocking client, against real sockets."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from drimva.mllp import MllpDecoder, MllpError, frame, send_and_receive

MESSAGE = b"MSH|^~\\&|RIS|FAC|DB|DBF|20250102||ORU^R01^ORU_R01|MSG1|P|2.5\rPID|||1\r"
ACK = b"MSH|^~\\&|DB|DBF|RIS|FAC|20250102||ACK^R01^ACK|A1|P|2.5\rMSA|AA|MSG1\r"


@contextmanager
def tcp_server(handler: Callable[[socket.socket, MllpDecoder], None]) -> Iterator[int]:
    """A loopback server on an ephemeral port running ``handler`` for each connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                handler(conn, MllpDecoder())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def read_message(conn: socket.socket, decoder: MllpDecoder) -> bytes:
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        messages = decoder.feed(chunk)
        if messages:
            return messages[0]


def test_frame():
    assert frame(b"abc") == b"\x0babc\x1c\x0d"


def test_decoder_is_incremental():
    decoder = MllpDecoder()
    data = frame(b"first") + frame(b"second") + frame(b"third")
    out: list[bytes] = []
    for index in range(0, len(data), 3):  # three bytes at a time, frames cut anywhere
        out += decoder.feed(data[index : index + 3])
    assert out == [b"first", b"second", b"third"]
    assert decoder.pending == b""
    assert decoder.feed(b"\r\n" + frame(b"x")) == [b"x"]  # line ends between frames are tolerated


def test_decoder_refuses_data_outside_a_frame():
    with pytest.raises(MllpError, match="outside an MLLP frame"):
        MllpDecoder().feed(b"MSH|^~\\&|no framing\r")
    with pytest.raises(MllpError, match="before the MLLP start block"):
        MllpDecoder().feed(b"junk\x0bmsg\x1c\x0d")
    with pytest.raises(MllpError, match="larger than"):
        MllpDecoder(max_message=10).feed(b"\x0b" + b"x" * 20)


def test_send_and_receive_gets_the_ack():
    seen: list[bytes] = []

    def handler(conn: socket.socket, decoder: MllpDecoder) -> None:
        seen.append(read_message(conn, decoder))
        conn.sendall(frame(ACK)[:10])  # the ACK arrives in two pieces
        conn.sendall(frame(ACK)[10:])

    with tcp_server(handler) as port:
        result = send_and_receive("127.0.0.1", port, MESSAGE, connect_timeout=2, ack_timeout=2)
    assert result.error is None and result.ack == ACK
    assert seen == [MESSAGE]
    assert 0 <= result.elapsed_s < 2


def test_refused_connection_is_reported():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = send_and_receive("127.0.0.1", port, MESSAGE, connect_timeout=1, ack_timeout=1)
    assert result.ack is None and result.error.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert not result.delivered  # the SUT never got the message


def test_silent_peer_times_out():
    def handler(conn: socket.socket, decoder: MllpDecoder) -> None:
        read_message(conn, decoder)
        conn.recv(1)  # hold the connection until the client gives up

    with tcp_server(handler) as port:
        result = send_and_receive("127.0.0.1", port, MESSAGE, connect_timeout=1, ack_timeout=0.3)
    assert result.ack is None and "no ACK" in result.error and "0.3 s" in result.error
    assert 0.25 <= result.elapsed_s < 2 and not result.closed_by_peer
    assert result.delivered  # sent, then no answer


def test_peer_closing_without_ack_is_reported():
    def handler(conn: socket.socket, decoder: MllpDecoder) -> None:
        read_message(conn, decoder)
        conn.sendall(b"\x0bMSH|partial")

    with tcp_server(handler) as port:
        result = send_and_receive("127.0.0.1", port, MESSAGE, connect_timeout=1, ack_timeout=2)
    assert result.ack is None and result.closed_by_peer
    assert "without an ACK" in result.error and "unfinished frame" in result.error


def test_unframed_answer_is_reported():
    def handler(conn: socket.socket, decoder: MllpDecoder) -> None:
        read_message(conn, decoder)
        conn.sendall(ACK)  # raw TCP, like the demonstrator would if it answered

    with tcp_server(handler) as port:
        result = send_and_receive("127.0.0.1", port, MESSAGE, connect_timeout=1, ack_timeout=2)
    assert result.ack is None and "not MLLP" in result.error

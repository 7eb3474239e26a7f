"""The RIS simulator: sends CR messages to the SUT over MLLP and keeps the technical ACK.

A RIS is an MLLP *client*: each :meth:`RisSimulator.send` opens a connection,
sends one framed message and waits for one framed ACK. The message is written
to the evidence sink before it is sent, the ACK (or why there is none) right
after it arrives; nothing is judged here (``drimva.rules.hl7_ack`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drimva.evidence import EvidenceSink, seqs_of
from drimva.hl7msg import Hl7Error, Hl7Message, parse_message
from drimva.mllp import Failure, send_and_receive
from drimva.waiting import blocking

CHANNEL = "ris"
EVIDENCE_VALUE_LIMIT = 200  # longer HL7 values (the base64 CDA) are shortened in the decoded view


@dataclass(frozen=True)
class RisExchange:
    """One message sent by the RIS and what came back."""

    message: str
    ack_text: str | None
    error: str | None
    elapsed_s: float
    closed_by_peer: bool = False
    delivered: bool = True  # False: the connection never opened, the SUT did not get the message
    exchanges: tuple[int, ...] = ()  # sequence numbers of the recorded message and of its ACK (or why none came)
    failure: Failure | None = None  # the kind of trouble when no ACK came (drimva.mllp.Failure)
    received: bytes = b""  # what came back when no ACK came (the start of an unfinished frame, unframed bytes)

    @property
    def sent(self) -> Hl7Message:
        return parse_message(self.message)

    @property
    def ack(self) -> Hl7Message | None:
        """The ACK parsed, or None when there is none or it is not HL7."""
        if not self.ack_text:
            return None
        try:
            return parse_message(self.ack_text)
        except Hl7Error:
            return None


class RisSimulator:
    """Plays the RIS (the volet's CRÉATEUR) against the SUT's MLLP listener."""

    def __init__(self, evidence: EvidenceSink, *, connect_timeout: float = 5.0, ack_timeout: float = 10.0) -> None:
        self.evidence = evidence
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout

    def send(self, host: str, port: int, message: str) -> RisExchange:
        raw = message.encode("utf-8")
        label, meta = _describe(message)
        meta.update(direction="sent", host=host, port=port)
        sent = self.evidence.record(CHANNEL, f"{label} -> SUT", raw, decoded_view(message), meta, "hl7")

        with blocking(f"l'ACK de la DRIMbox ({label}, {host}:{port})", self.connect_timeout + self.ack_timeout):
            result = send_and_receive(
                host, port, raw, connect_timeout=self.connect_timeout, ack_timeout=self.ack_timeout
            )
        ack_text = result.ack.decode("utf-8", "replace") if result.ack is not None else None
        answer: dict[str, Any] = {
            "direction": "received",
            "host": host,
            "port": port,
            "in_reply_to": meta.get("control_id", ""),
            "elapsed_s": result.elapsed_s,
            "closed_by_peer": result.closed_by_peer,
            "delivered": result.delivered,
        }
        if ack_text is not None:
            answered = self.evidence.record(CHANNEL, f"ACK of {label}", result.ack or b"", decoded_view(ack_text), answer, "hl7")
        else:
            answer.update(error=result.error, failure=result.failure, received_bytes=len(result.received))
            partial = f"\n{len(result.received)} byte(s) received: {result.received[:200]!r}\n" if result.received else ""
            answered = self.evidence.record(
                CHANNEL, f"no ACK for {label}", result.received, f"(no ACK) {result.error}\n{partial}", answer, "txt"
            )
        return RisExchange(
            message, ack_text, result.error, result.elapsed_s, result.closed_by_peer, result.delivered, seqs_of(sent, answered),
            result.failure, result.received,
        )


def decoded_view(text: str) -> str:
    """Segments on lines, long values (base64) shortened; the text itself when it is not HL7."""
    try:
        return parse_message(text).to_text(EVIDENCE_VALUE_LIMIT)
    except Hl7Error:
        return text.replace("\r", "\n")


def _describe(message: str) -> tuple[str, dict[str, Any]]:
    try:
        parsed = parse_message(message)
    except Hl7Error:
        return "non-HL7 message", {}
    return (
        f"{parsed.message_type or 'HL7'} {parsed.control_id}".strip(),
        {"message_type": parsed.message_type, "control_id": parsed.control_id, "version": parsed.version},
    )

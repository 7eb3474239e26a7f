"""HL7 parsing helpers (drimva.hl7msg) and the RIS simulator: its messages and its MLLP exchanges."""

from __future__ import annotations

import base64
import random
import socket
import threading
from dataclasses import replace
from datetime import datetime

import pytest

from drimva.context import Organisation
from drimva.evidence import NullEvidence
from drimva.hl7msg import Hl7Error, escape, parse_message, split_messages
from drimva.mllp import MllpDecoder, frame
from drimva.profile import DEFAULT_VIEWER_TEMPLATE
from fixtures.cda import build_cda
from fixtures.identities import new_patient
from fixtures.reports import METADMPMSS_FLAGS, new_report_spec, replacement_spec
from simulators.ris import RisSimulator, build_report_message

from paths import SHARED
HL7_SKELETONS = SHARED / "ans-samples" / "_partial" / "Referencement-DRIMBox" / "Jeux-de-donnees" / "HL7v2"
NOW = datetime(2025, 1, 2, 10, 14, 55)


def make(kind="ORU", event="initial", **overrides):
    spec = new_report_spec(
        new_patient(random.Random(4)), "1.2.826.0.1.3680043.8.498.1", ("CT",),
        viewer_url_template=DEFAULT_VIEWER_TEMPLATE, rng=random.Random(9), **overrides,
    )
    if event == "replace":
        spec = replacement_spec(spec)
    cda = build_cda(spec)
    text = build_report_message(spec, cda, kind=kind, event=event, control_id="MSG0001", now=NOW)
    return spec, cda, text


# -- drimva.hl7msg -------------------------------------------------------------------

def test_parse_accepts_any_line_ending_and_mllp_framing():
    text = "MSH|^~\\&|A|B|C|D|20250102||ORU^R01^ORU_R01|X1|P|2.5\rPID|||123^^^NS&1.2&ISO^INS\r"
    for variant in (text, text.replace("\r", "\n"), text.replace("\r", "\r\n"), frame(text.encode())):
        message = parse_message(variant)
        assert message.segment_names == ["MSH", "PID"]
        assert (message.message_type, message.trigger, message.control_id, message.version) == ("ORU^R01^ORU_R01", "R01", "X1", "2.5")
        assert message.get("PID-3.4.2") == "1.2"


def test_get_unescapes_and_addresses_repetitions_and_occurrences():
    message = parse_message(
        "MSH|^~\\&|A|B|C|D|T||ORU^R01^ORU_R01|X|P|2.5\r"
        "PID|||1^^^X&1.1&ISO^INS~2^^^Y&1.2&ISO^PI||DUPONT\\T\\FILS^JEAN\\S\\PAUL\r"
        "OBX|1|ED\rOBX|2|CE|CODE^Label^MetaDMPMSS\r"
    )
    assert message.get("PID-5.1") == "DUPONT&FILS" and message.get("PID-5.2") == "JEAN^PAUL"
    assert message.repetitions("PID-3") == ["1^^^X&1.1&ISO^INS", "2^^^Y&1.2&ISO^PI"]
    assert message.get("PID-3.1", repetition=1) == "2"
    pi = message.cx_by_type("PID-3", "PI")
    assert (pi.id, pi.namespace, pi.oid, pi.oid_type, pi.repetition) == ("2", "Y", "1.2", "ISO", 1)
    assert message.cx_by_type("PID-3", "NH") is None
    assert message.get("OBX[2]-3.3") == "MetaDMPMSS" and message.get("OBX-2") == "ED"
    assert message.get("OBX[3]-1") == "" and message.get("PID-30") == "" and message.get("ZZZ-1") == ""
    assert message.get("MSH-1") == "|" and message.get("MSH-2") == "^~\\&"
    with pytest.raises(ValueError, match="bad HL7 address"):
        message.get("PID3")


def test_escape_round_trips():
    value = "a|b^c~d\\e&f é"
    message = parse_message(f"MSH|^~\\&|A|B|C|D|T||ORU^R01^ORU_R01|X|P|2.5\rNTE|1||{escape(value)}\r")
    assert message.get("NTE-3") == value


def test_wrapped_base64_is_rejoined():
    payload = base64.b64encode(b"<x/>" * 40).decode()
    wrapped = "\r\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    message = parse_message(f"MSH|^~\\&|A|B|C|D|T||ORU^R01^ORU_R01|X|P|2.5\r\nOBX|1|ED|x||^TEXT^XML^Base64^{wrapped}||||||F\r\n")
    assert message.segment_names == ["MSH", "OBX"]
    assert message.get("OBX-5.5") == payload and message.get("OBX-11") == "F"


def test_split_messages_and_errors():
    one = "MSH|^~\\&|A|B|C|D|T||ORU^R01^ORU_R01|1|P|2.5\rPID|||1\r"
    two = one.replace("|1|P", "|2|P")
    batch = "FHS|^~\\&\rBHS|^~\\&\r" + one + two + "BTS|2\rFTS|1\r"
    assert [m.control_id for m in split_messages(batch)] == ["1", "2"]
    with pytest.raises(Hl7Error):
        parse_message("PID|||1\r")
    with pytest.raises(Hl7Error):
        split_messages("PID|||1\r" + one)


def test_official_skeletons_round_trip():
    files = sorted(HL7_SKELETONS.glob("*/*.skeleton"))
    if not files:
        pytest.skip(f"ANS HL7 skeletons not found under {HL7_SKELETONS}")
    for path in files:
        raw = path.read_bytes()
        message = parse_message(raw)
        assert message.to_text().replace("\n", "\r\n").rstrip() == raw.decode("utf-8").rstrip(), path.name
        assert message.cx_by_type("PID-3", "INS").id == "279035121518989"


# -- simulators.ris.messages ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["ORU", "MDM"])
@pytest.mark.parametrize("event, trigger, orc, obx11", [("initial", "T02", "NW", "F"), ("replace", "T10", "RO", "C"), ("delete", "T04", "CA", "D")])
def test_report_message_fields(kind, event, trigger, orc, obx11):
    spec, cda, text = make(kind, event)
    assert text.endswith("\r") and "\n" not in text
    message = parse_message(text)
    expected_type = "ORU^R01^ORU_R01" if kind == "ORU" else f"MDM^{trigger}^MDM_T02"
    assert message.message_type == expected_type
    assert message.version == ("2.5" if kind == "ORU" else "2.6")
    assert [message.get(f"MSH-{n}") for n in (3, 4, 5, 6, 7, 10, 11, 17, 18)] == [
        "DRIMVA_RIS", "DRIMVA_FAC", "DRIMBOX", "DB_FAC", "20250102101455", "MSG0001", "P", "FRA", "UNICODE UTF-8"]
    assert message.segment("MSH").field(21) == "2.1^CISIS_CDA_HL7_V2"
    patient = spec.patient
    assert message.repetitions("PID-3")[0] == f"{patient.ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"
    assert message.cx_by_type("PID-3", "PI").id == patient.ipp
    assert message.repetitions("PID-5") == [f"{patient.birth_name}^{patient.given_name}^{patient.given_name}^^^^L", f"{patient.birth_name}^^^^^^D"]
    assert (message.get("PID-7"), message.get("PID-8"), message.get("PID-11.9"), message.get("PID-32")) == (
        patient.birth_date, patient.sex, patient.birth_place, "VALI")
    assert message.get("ORC-1") == orc
    assert message.segment("OBR").field(4) == message.segment("OBX").field(3) == "18748-4^CR d'imagerie médicale^LN"
    document = message.segment("OBX")
    assert document.get("2") == "ED" and document.get("11") == obx11
    assert document.get("5.2") == ("TEXT" if kind == "ORU" else "text")
    assert base64.b64decode(document.get("5.5")) == cda
    prt = message.segment("PRT")
    assert message.segment_names.index("PRT") == document.position + 1
    assert prt.field(4) == "SB^Send by^participation"
    assert prt.field(5) == f"{spec.author.national_id}^{spec.author.family}^{spec.author.given}^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS"
    assert prt.field(8) == f"{spec.organisation.name}^^^^^ASIP-SANTE-ST&1.2.250.1.71.4.2.2&ISO^FINEG^^^{spec.organisation.structure_id}"
    flags = message.segments("OBX")[1:]
    assert [obx.get("3.1") for obx in flags] == [code for code, _ in METADMPMSS_FLAGS]
    assert [obx.get("1") for obx in flags] == [str(n) for n in range(2, 2 + len(METADMPMSS_FLAGS))]
    assert {obx.get("2") for obx in flags} == {"CE" if kind == "ORU" else "CWE"}
    assert {obx.get("3.1"): obx.get("5.1") for obx in flags}["DESTDMP"] == "Y"
    if kind == "MDM":
        assert message.segment_names[:2] == ["MSH", "EVN"]
        assert message.get("TXA-12") == spec.cda_id_root
        assert message.get("TXA-13") == (spec.replaces_cda_id if event == "replace" else "")
        assert message.get("TXA-17") == "AU"
    else:
        assert "EVN" not in message.segment_names and "TXA" not in message.segment_names


def test_report_message_escapes_text_and_keeps_pid32():
    spec, _, _ = make()
    odd = replace(spec, organisation=Organisation("Centre A|B^C", "750803447"), pid32="")
    message = parse_message(build_report_message(odd, b"<x/>", kind="ORU", event="initial", control_id="C|1"))
    assert message.get("PRT-8.1") == "Centre A|B^C"
    assert message.control_id == "C|1"
    assert message.get("PID-32") == ""
    with pytest.raises(ValueError):
        build_report_message(spec, b"", kind="ADT", event="initial", control_id="1")  # type: ignore[arg-type]


# -- simulators.ris.simulator -----------------------------------------------------------

class AckServer:
    """A one-shot MLLP listener answering with ``answer(message)`` (None: close without ACK)."""

    def __init__(self, answer):
        self.answer = answer
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            decoder = MllpDecoder()
            messages: list[bytes] = []
            while not messages:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                messages = decoder.feed(chunk)
            self.received.append(messages[0])
            reply = self.answer(messages[0])
            if reply is not None:
                conn.sendall(frame(reply))

    def close(self):
        self.thread.join(timeout=5)
        self.listener.close()


def test_ris_simulator_records_the_message_before_sending_and_the_ack_after():
    evidence = NullEvidence()
    _, _, text = make("MDM")

    def answer(message: bytes) -> bytes:
        # the message is already in the evidence when the SUT sees it
        assert len(evidence.records) == 1 and evidence.records[0][2] == message
        return b"MSH|^~\\&|DRIMBOX|DB_FAC|DRIMVA_RIS|DRIMVA_FAC|20250102||ACK^T02^ACK|A1|P|2.6\rMSA|AA|MSG0001\r"

    server = AckServer(answer)
    try:
        exchange = RisSimulator(evidence, connect_timeout=2, ack_timeout=2).send("127.0.0.1", server.port, text)
    finally:
        server.close()
    assert server.received == [text.encode("utf-8")]
    assert exchange.error is None and exchange.ack.get("MSA-1") == "AA" and exchange.sent.control_id == "MSG0001"
    sent, received = evidence.records
    assert sent[0] == received[0] == "ris"
    assert sent[4]["control_id"] == "MSG0001" and sent[4]["direction"] == "sent"
    assert "…[" in sent[3] and len(sent[3]) < len(text) // 4  # base64 shortened in the decoded view
    assert sent[3].splitlines()[0].startswith("MSH|") and "\r" not in sent[3]
    assert received[2].startswith(b"MSH") and received[4]["in_reply_to"] == "MSG0001"


def test_ris_simulator_records_a_missing_ack():
    evidence = NullEvidence()
    _, _, text = make()
    server = AckServer(lambda message: None)
    try:
        exchange = RisSimulator(evidence, connect_timeout=2, ack_timeout=2).send("127.0.0.1", server.port, text)
    finally:
        server.close()
    assert exchange.ack_text is None and exchange.ack is None and "without an ACK" in exchange.error
    assert exchange.closed_by_peer
    assert [r[1].split()[0] for r in evidence.records] == ["ORU^R01^ORU_R01", "no"]
    assert evidence.records[1][4]["error"] == exchange.error

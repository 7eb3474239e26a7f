"""The technical ACK the DRIMbox returns to the RIS (volet transmission CDA-R2 en HL7v2, §ACK).

MSH-3/4 and MSH-5/6 swapped, MSH-9 ``ACK^<trigger>^ACK``, new MSH-10, MSH-11
and MSH-18 copied, MSH-12 = received version, MSH-17 ``FRA``; MSA-1 / MSA-2;
an ERR segment (table 0357 code, severity ``E``) with ``AE`` / ``AR``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

from .hl7_in import Hl7Error, MessageHeader

_COUNTER = itertools.count(1)
_COUNTER_LOCK = threading.Lock()


def _new_control_id(now: dt.datetime) -> str:
    with _COUNTER_LOCK:
        number = next(_COUNTER)
    return f"ACK{now:%Y%m%d%H%M%S}{number:05d}"


def build_ack(
    header: MessageHeader | None,
    code: str,
    error: Hl7Error | None = None,
    *,
    trigger: str | None = None,
    acknowledged_id: str | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The ACK bytes (segments ended by CR, no MLLP framing), encoded as MSH-18 says.

    ``trigger`` / ``acknowledged_id`` override MSH-9.2 and MSA-2 (used by faults only).
    """
    header = header or MessageHeader()
    now = now or dt.datetime.now()
    trigger = header.trigger if trigger is None else trigger
    acknowledged_id = header.control_id if acknowledged_id is None else acknowledged_id
    msh = [
        "MSH",
        "^~\\&",
        header.receiving_application,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        now.strftime("%Y%m%d%H%M%S"),
        "",
        f"ACK^{trigger}^ACK",
        _new_control_id(now),
        header.processing_id or "P",
        header.version or "2.5",
        "",
        "",
        "",
        "",
        "FRA",
        header.charset,
    ]
    segments = ["|".join(msh), f"MSA|{code}|{acknowledged_id}"]
    if error is not None:
        segments.append(f"ERR||{error.location}|{error.code}^{error.text}^HL70357|E||||{_escape(error.detail)}")
    return ("\r".join(segments) + "\r").encode(header.encoding, errors="replace")


def _escape(text: str) -> str:
    """HL7 escaping of free text placed in a field."""
    replacements = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
    return "".join(replacements.get(char, char) for char in text).replace("\r", " ").replace("\n", " ")

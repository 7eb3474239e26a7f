"""What the DRIMbox the harness plays received from the RIS under test within a session (RIS mode), judged.

Why a module: the checks used to live in ``steps/ris.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from drimva.findings import Finding, Severity


def report_not_received(what: str, event: str, waited: str, unmatched: str) -> Finding:
    """RIS-SENT: the RIS sent no message of the event within the wait of the step (``waited``: « 300 s »)."""
    return Finding(
        "RIS-SENT", "", "DRIMbox Source (MLLP)", f"the {what}: a message whose MSH-9 / ORC-1 / OBX-11 says {event}",
        f"nothing within the wait of this step ({waited}); other messages: {unmatched}",
    )  # fmt: skip


def call_not_received(url: str, waited: str, refused: Sequence[str] = ()) -> Finding:
    """RIS-CONTEXTUAL-SENT: no contextual call within the wait of the step; ``refused``: the connections the
    endpoint refused before any HTTP request (plain HTTP on the HTTPS port, a client not trusting our CA)."""
    actual = f"no HTTP request within the wait of this step ({waited})"
    if refused:
        actual += f"; {len(refused)} connexion(s) refusée(s) : " + " ; ".join(refused)
    return Finding("RIS-CONTEXTUAL-SENT", "", url, "a POST", actual)


def check_report_event(expected: str, read: str) -> list[Finding]:
    """RIS-EVENT: the trigger / ORC-1 / OBX-11 of the message say the event the scenario waits for."""
    return [] if read == expected else [Finding("RIS-EVENT", "", "MSH-9 / document OBX-11", expected, read)]


def ack_returned(ack: str) -> list[Finding]:
    """RIS-ACK: the MSA of the ACK the harness returned, for the evidence (information)."""
    msa = next((s for s in ack.split("\r") if s.startswith("MSA|")), "?")
    return [Finding("RIS-ACK", "", "MSA", "MSA|AA|…", msa, Severity.INFO)]

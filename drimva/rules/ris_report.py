"""A RIS's CR messages as the DRIMbox Source receives them (the RIS is the system under test).

:func:`check_sent_report` judges one message in depth: the HL7 message
(:func:`drimva.rules.hl7_report.check_report_message`), the CDA it carries
(:func:`drimva.rules.cda.check_cda`, PID against recordTarget, viewer URL
from the profile's template), the qualified identity the DRIMbox needs to
publish, and the routing the profile expects. :func:`check_replacement_link`
and :func:`check_deletion_target` judge a message against the reports sent
before it in the session (same patient and study, RPLC link, document named).
Values are compared only when both sides carry them: an absent value is the
single-message rules' finding, not a second one here.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from drimva.cda import CdaError, CdaReport, parse_cda
from drimva.findings import Finding, FindingList, Severity
from drimva.hl7msg import Hl7Message
from drimva.rules.cda import check_cda
from drimva.rules.hl7_report import check_report_message, extract_cda, is_qualified

VOLET = "CI-SIS volet Transmission CDA-R2 en HL7v2 2.1"
T_COUNTER = "AF-IMG-DB-Va2 §1.2 (T: reports received with a qualified INS) / where-sources-disagree.md"
CDA_RPLC = "HL7 CDA R2 / CI-SIS: a corrected CR replaces its parent (relatedDocument[@typeCode='RPLC']/parentDocument/id)"
D = "/ClinicalDocument"


def report_cda(message: Hl7Message) -> CdaReport | None:
    """The CDA of the document OBX read as a :class:`CdaReport`, None when it cannot be read."""
    data = extract_cda(message)
    if data is None:
        return None
    try:
        return parse_cda(data)
    except CdaError:
        return None


def check_sent_report(
    message: Hl7Message,
    *,
    qualified_statuses: tuple[str, ...] = ("VALI", "QUAL"),
    viewer_url_template: str | None = None,
    sender: tuple[str, str] = ("", ""),
    receiver: tuple[str, str] = ("", ""),
    viewer_host: str = "",
) -> list[Finding]:
    """One CR message: HL7, CDA, qualified identity, routing; ``""`` in sender / receiver / viewer_host = not checked."""
    out = FindingList()
    out.extend(check_report_message(message, qualified_statuses))
    cda = extract_cda(message)
    if cda is not None:
        out.extend(check_cda(cda, pid=message, viewer_url_template=viewer_url_template))
    if viewer_host:
        out.extend(check_viewer_host(report_cda(message), viewer_host))
    if message.segment("PID") is not None and not is_qualified(message, qualified_statuses):
        out.add(
            "RIS-QUALIFIED-INS", f"{T_COUNTER}: the CR of a patient with a qualified INS carries PID-32 in the profile list and a valid INS",
            "PID-32", f"one of {list(qualified_statuses)}, with a well-formed INS in PID-3", message.get("PID-32") or "(empty)",
        )
    for field, expected, severity in (
        ("MSH-3", sender[0], Severity.ERROR),
        ("MSH-4", sender[1], Severity.ERROR),
        ("MSH-5", receiver[0], Severity.WARNING),
        ("MSH-6", receiver[1], Severity.WARNING),
    ):
        if expected:
            out.check_equal("RIS-ROUTING", f"{VOLET}: {field} as configured for this RIS and DRIMbox (profile)", field,
                            expected, message.get(f"{field}.1"), severity)
    return out.items


def check_viewer_host(report: CdaReport | None, viewer_host: str) -> list[Finding]:
    """Every viewer URL of the CR names the DRIMbox's viewer host (profile ``viewer.host``).

    The URL's form is judged by the CDA rules against the template; the host is
    what a patient's or professional's click reaches, and a RIS configured with
    another DRIMbox (or a test host) would otherwise pass silently.
    """
    out = FindingList()
    for url in report.viewer_urls if report is not None else ():
        host = urlsplit(url).netloc.lower()
        if host != viewer_host.lower():
            out.add("RIS-VIEWER-HOST", f"{VOLET} / cda-cr-imagerie.md §4: the viewer URL names this DRIMbox's viewer (profile viewer.host)",
                    url, viewer_host, host or "(no host)")
    return out.items


def _same_exam(before: CdaReport, after: CdaReport, out: FindingList, what: str) -> None:
    requirement = f"{VOLET}: the {what} concerns the patient and the study of the report it follows"
    pairs = (
        ("recordTarget/patientRole/id (INS)", before.ins, after.ins),
        ("documentationOf/serviceEvent/id/@root", ",".join(before.study_uids), ",".join(after.study_uids)),
        ("inFulfillmentOf/order/ps3-20:accessionNumber/@extension", before.accession, after.accession),
    )
    for xpath, expected, actual in pairs:
        if expected and actual and expected != actual:
            out.add("RIS-SAME-EXAM", requirement, f"{D}/{xpath}", expected, actual)


def check_replacement_link(previous: CdaReport, replacement: CdaReport) -> list[Finding]:
    """A corrected CR: a new document id, the RPLC link to ``previous``, same set id, patient and study."""
    out = FindingList()
    if replacement.id_root and replacement.id_root == previous.id_root:
        out.add("RIS-RPLC-NEW-ID", f"{CDA_RPLC}: the corrected CR has its own id", f"{D}/id/@root", f"an id other than {previous.id_root}", replacement.id_root)
    out.check_equal("RIS-RPLC-PARENT", CDA_RPLC, f"{D}/relatedDocument[@typeCode='RPLC']/parentDocument/id/@root",
                    previous.id_root, replacement.replaces_id or "(absent)")
    if previous.set_id and replacement.set_id and previous.set_id != replacement.set_id:
        out.add("RIS-RPLC-SETID", "HL7 CDA R2 document versioning: same setId across versions (SAMPLE)", f"{D}/setId/@root",
                previous.set_id, replacement.set_id, Severity.WARNING)
    _same_exam(previous, replacement, out, "replacement")
    return out.items


def check_deletion_target(versions: Sequence[CdaReport], deletion: CdaReport) -> list[Finding]:
    """A deletion names a report sent in the session (a version's id, or its set id) and its patient and study."""
    out = FindingList()
    if not versions:
        return out.items
    ids = [v.id_root for v in versions if v.id_root]
    sets = {v.set_id for v in versions if v.set_id}
    if deletion.id_root not in ids and deletion.set_id not in sets:
        out.add("RIS-DELETE-TARGET", f"{VOLET}: a deletion carries the CR it withdraws", f"{D}/id/@root",
                f"one of {ids} (or set id {sorted(sets)})", deletion.id_root or "(absent)")
    _same_exam(designated(versions, deletion) or versions[-1], deletion, out, "deletion")
    return out.items


UNKNOWN_PARENT_READING = (
    "drimva's reading (the sources are silent): a corrected CR that names a document not sent in this "
    "session cannot be checked against it; it is judged against the session's initial CR"
)


def check_replaced_in_session(versions: Sequence[CdaReport], replacement: CdaReport) -> list[Finding]:
    """A corrected CR whose RPLC parent was not sent in the session: a warning saying so and the reading chosen.

    A real RIS may correct a CR it sent before the session; the harness never
    saw that document, so it compares the correction with the session's
    initial CR (which the RPLC link then does not name: RIS-RPLC-PARENT)."""
    out = FindingList()
    ids = [v.id_root for v in versions if v.id_root]
    if replacement.replaces_id and replacement.replaces_id not in ids:
        out.add("RIS-RPLC-UNKNOWN-PARENT", UNKNOWN_PARENT_READING,
                f"{D}/relatedDocument[@typeCode='RPLC']/parentDocument/id/@root",
                f"the id of a CR sent in this session ({', '.join(ids) or 'none'})",
                f"{replacement.replaces_id} (not sent in this session)", Severity.WARNING)
    return out.items


def designated(versions: Sequence[CdaReport], later: CdaReport) -> CdaReport | None:
    """The report of the session ``later`` designates: by RPLC parent id, then by its own id, then by set id.

    A replacement or a deletion is compared with the CR it names, not with the
    message that came before it: a stray replacement for another study must
    not make a correct deletion of the right study fail.
    """
    for wanted in (later.replaces_id, later.id_root):
        found = next((v for v in reversed(versions) if wanted and v.id_root == wanted), None)
        if found is not None:
            return found
    return next((v for v in reversed(versions) if later.set_id and v.set_id == later.set_id), None)

"""One RIS session as the RIS simulator plays it when it is the system under test.

The session's patient gets an imaging report; :meth:`RisSession.run` performs
one step: ``initial`` (ORU^R01), ``replace`` (MDM^T10 with TXA-13 and CDA
RPLC), ``delete`` (ORU^R01, ORC-1 ``CA`` / OBX-11 ``D``) over MLLP, waiting
for each ACK, or ``contextual`` (the contextual call, form-encoded POST) over
HTTP(S). A :class:`~simulators.ris.faults.Fault` alters the one step it names.
Messages are built with the shared builders (``fixtures.reports``,
``fixtures.cda``, ``simulators.ris.messages``).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from lxml import etree
from pydicom.uid import generate_uid

from drimva import xmlsafe
from drimva.cda import NS, TEMPLATE_CI_SIS
from drimva.mllp import send_and_receive
from fixtures.cda import build_cda
from fixtures.identities import new_organisation, new_patient
from fixtures.reports import ReportSpec, new_report_spec, viewer_url
from simulators.ris.faults import Fault
from simulators.ris.messages import build_report_message

STEPS = ("initial", "replace", "delete", "contextual")
DEFAULT_CONSENT = "InformationEtOppositionConsultation"  # where-sources-disagree.md: what drimva sends
_control_ids = itertools.count(1)
LOCAL_USER_OID = "1.2.250.1.999.7.1"  # a RIS's own user-id arc (cda_author_local_id)
GENERIC_RADIOLOGY = "11528-7^Radiology Study observation^LN"
INS_C_OID = "1.2.250.1.213.1.4.2"  # the calculated INS (INS-C), withdrawn
OTHER_VIEWER_HOST = "viewer.ris-vendor.test"


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


# CDA faults: (XPath from the ClinicalDocument, what is done to each element found)
CDA_EDITS: dict[str, tuple[str, Callable[[etree._Element], None]]] = {
    "cda_no_accession": ("cda:inFulfillmentOf/cda:order/ps3-20:accessionNumber", _remove),
    "cda_code_generic": ("cda:code", lambda e: e.set("code", GENERIC_RADIOLOGY.split("^")[0])),
    "cda_missing_cisis_template": (f"cda:templateId[@root='{TEMPLATE_CI_SIS}']", _remove),
    "cda_body_no_representation": ("cda:component/cda:nonXMLBody/cda:text", lambda e: e.attrib.pop("representation")),
    "cda_confidentiality_no_system": ("cda:confidentialityCode", lambda e: e.attrib.pop("codeSystem")),
    "cda_no_ins": ("cda:recordTarget/cda:patientRole/cda:id[starts-with(@root, '1.2.250.1.213.1.4.')]", _remove),
    "cda_no_order_id": ("cda:inFulfillmentOf/cda:order/cda:id", _remove),
    "cda_act_no_translation": ("cda:documentationOf/cda:serviceEvent/cda:code/cda:translation", _remove),
    "cda_author_local_id": ("cda:author/cda:assignedAuthor/cda:id", lambda e: e.set("root", LOCAL_USER_OID)),
    "cda_no_legal_authenticator": ("cda:legalAuthenticator", _remove),
}
# HL7 faults that set one field of the first segment of a name: (segment, field number, value)
FIELD_EDITS: dict[str, tuple[str, int, str]] = {
    "obr4_ne_obx3": ("OBR", 4, GENERIC_RADIOLOGY),
    "replace_wrong_orc": ("ORC", 1, "NW"),
    "delete_wrong_obx11": ("OBX", 11, "F"),  # the first OBX carries the CDA
    "msh9_no_structure": ("MSH", 9, "ORU^R01"),
    "msh7_empty": ("MSH", 7, ""),
    "msh17_missing": ("MSH", 17, ""),
    "msh18_bare_utf8": ("MSH", 18, "UTF-8"),
    "msh21_missing": ("MSH", 21, ""),
    "obx2_tx": ("OBX", 2, "TX"),
    "replace_mdm_v25": ("MSH", 12, "2.5"),
    "replace_txa17_la": ("TXA", 17, "LA"),
}


@dataclass(frozen=True)
class RisTarget:
    """Where the RIS sends: the DRIMbox Source's MLLP listener and the DRIMbox Conso's contextual-call URL."""

    mllp_host: str
    mllp_port: int
    contextual_url: str
    ca_file: str | None = None
    sending: tuple[str, str] = ("DRIMVA_RIS", "DRIMVA_FAC")
    receiving: tuple[str, str] = ("DRIMBOX", "DB_FAC")
    viewer_url_template: str = ""
    viewer_host: str = "vi.drimbox.test"
    consent_parameter: str = DEFAULT_CONSENT
    timeout_s: float = 15.0


class RisSession:
    """The patient, the report and its versions; one :meth:`run` per step."""

    def __init__(self, target: RisTarget, fault: Fault | None = None, log: logging.Logger | None = None) -> None:
        self.target = target
        self.fault = fault
        self.log = log or logging.getLogger("ris")
        self.patient = new_patient()
        self.spec: ReportSpec = new_report_spec(
            self.patient,
            generate_uid(),
            ("CT",),
            viewer_url_template=target.viewer_url_template,
            organisation=new_organisation(),
            viewer_host=target.viewer_host,
        )

    def run(self, step: str) -> str:
        """Perform one step; return a one-line outcome (the ACK code, the HTTP status, or the problem)."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
        if self._faulty(step, "delete_not_sent"):
            self.log.info("delete: not sent (fault delete_not_sent)")
            return "delete: not sent"
        return self._contextual() if step == "contextual" else self._report(step)

    def _faulty(self, step: str, name: str) -> bool:
        return self.fault is not None and self.fault.step == step and self.fault.name == name

    # -- HL7 --------------------------------------------------------------------------
    def _report(self, step: str) -> str:
        if step == "replace":
            self.spec = self.spec.corrected(viewer_host=self.target.viewer_host, **self._replacement_overrides(step))
        spec = self._altered_spec(step, self.spec)
        cda = build_cda(spec)
        edit = CDA_EDITS.get(self.fault.name) if self.fault is not None and self.fault.step == step else None
        if edit is not None:
            cda = _edit_cda(cda, *edit)
        if self._faulty(step, "cda_truncated"):
            cda = cda[: len(cda) // 2]
        kind = "MDM" if step == "replace" else "ORU"
        event = {"initial": "initial", "replace": "replace", "delete": "delete"}[step]
        sending = ("RIS", self.target.sending[1]) if self._faulty(step, "routing_default_msh3") else self.target.sending
        message = build_report_message(
            spec, cda, kind=kind, event=event,  # type: ignore[arg-type]
            control_id=f"RIS{time.strftime('%H%M%S')}{next(_control_ids):05d}",
            sending=sending, receiving=self.target.receiving,
        )
        message = self._alter_message(step, message, spec)
        exchange = send_and_receive(
            self.target.mllp_host, self.target.mllp_port, message.encode(self._charset(step)),
            connect_timeout=self.target.timeout_s, ack_timeout=self.target.timeout_s,
        )
        if exchange.ack is None:
            outcome = f"{step}: no ACK ({exchange.error})"
        else:
            msa = next((line for line in exchange.ack.decode("utf-8", "replace").split("\r") if line.startswith("MSA|")), "MSA|?")
            outcome = f"{step}: {msa}"
        self.log.info("%s", outcome)
        return outcome

    def _replacement_overrides(self, step: str) -> dict[str, str]:
        """What a replacement fault changes in the corrected CR's facts."""
        if self._faulty(step, "replace_no_parent"):
            return {"replaces_cda_id": ""}
        if self._faulty(step, "replace_same_id"):
            return {"cda_id_root": self.spec.cda_id_root}
        if self._faulty(step, "replace_parent_set_id"):
            return {"replaces_cda_id": self.spec.cda_set_id}
        return {}

    def _altered_spec(self, step: str, spec: ReportSpec) -> ReportSpec:
        """The facts of this step's CR as a faulty RIS gets them (this message only)."""
        if self._faulty(step, "pid32_missing"):
            spec = dataclasses.replace(spec, pid32="")
        if self._faulty(step, "viewer_url_without_study"):
            spec = dataclasses.replace(spec, viewer_url=re.sub(r"studyUID=[^&]*&?", "", spec.viewer_url))
        changes: dict[str, Any] = {}
        if self._faulty(step, "study_uid_zero_padded"):
            head, _, last = spec.study_uid.rpartition(".")
            changes["study_uid"] = f"{head}.0{last[1:]}"  # same length, a leading zero: not a DICOM UID
        if self._faulty(step, "delete_new_document"):
            changes.update(cda_id_root=generate_uid(), cda_set_id=str(uuid.uuid4()).upper())
        if self._faulty(step, "delete_other_accession"):
            changes["accession"] = spec.accession + "B"
        host = OTHER_VIEWER_HOST if self._faulty(step, "viewer_other_host") else self.target.viewer_host
        if changes or host != self.target.viewer_host:
            spec = dataclasses.replace(spec, **changes)
            spec = dataclasses.replace(spec, viewer_url=viewer_url(spec.viewer_url_template, spec, host=host))
        return spec

    def _charset(self, step: str) -> str:
        """The codec of the message bytes: UTF-8 as MSH-18 declares, Latin-1 under ``msh18_utf8_over_latin1``."""
        return "latin-1" if self._faulty(step, "msh18_utf8_over_latin1") else "utf-8"

    def _alter_message(self, step: str, message: str, spec: ReportSpec) -> str:
        if self.fault is None or self.fault.step != step:
            return message
        name = self.fault.name
        if name in FIELD_EDITS:
            segment, number, value = FIELD_EDITS[name]
            message = _edit_segment(message, segment, number, lambda _value: value)
        if name == "ins_bad_key":
            ins = spec.patient.ins
            bad = ins[:13] + f"{(int(ins[13:]) + 1) % 100:02d}"
            message = _edit_segment(message, "PID", 3, lambda value: value.replace(ins, bad, 1))
        if name == "doctype_generic_radiology":
            message = _edit_segment(message, "OBR", 4, lambda _value: GENERIC_RADIOLOGY)
            message = _edit_segment(message, "OBX", 3, lambda _value: GENERIC_RADIOLOGY)
        if name == "obx5_b64":
            message = _edit_segment(message, "OBX", 5, lambda value: value.replace("^Base64^", "^B64^", 1))
        if name == "replace_txa12_order":
            message = _edit_segment(message, "TXA", 12, lambda _value: spec.order_id)
        segments = [s for s in message.split("\r") if s]
        if name in ("no_prt_sender", "prt_after_flags"):
            prt = [s for s in segments if s.startswith("PRT|")]
            segments = [s for s in segments if not s.startswith("PRT|")] + (prt if name == "prt_after_flags" else [])
        if name == "no_metadmpmss_flags":
            segments = [s for s in segments if not (s.startswith("OBX|") and "^MetaDMPMSS|" in s)]
        if name == "no_document_obx":
            document = next(s for s in segments if s.startswith("OBX|"))
            segments = [s for s in segments if s is not document]
        return "".join(s + "\r" for s in segments)

    # -- contextual call --------------------------------------------------------------
    def contextual_parameters(self) -> list[tuple[str, str]]:
        patient = self.patient
        params = [
            ("Patient.identifier.value", patient.ins),
            ("Patient.identifier.system", f"urn:oid:{patient.ins_oid}"),
            ("Patient.name.family", patient.birth_name),
            ("Patient.name.given", patient.given_name),
            ("Patient.gender", patient.sex),
            ("Patient.birthDate", patient.birth_date),
            ("Address.district", patient.birth_place),
            (self.target.consent_parameter, "true"),
            ("PatientID", patient.ipp),
            ("PatientIDIssuer", f"{patient.ipp_authority}&{patient.ipp_oid}&ISO"),
        ]
        if self._faulty("contextual", "ctx_missing_param"):
            params = [(k, v) for k, v in params if k != "PatientIDIssuer"]
        if self._faulty("contextual", "ctx_empty_value"):
            params = [(k, "" if k == "Patient.birthDate" else v) for k, v in params]
        if self._faulty("contextual", "ctx_wrong_patient"):
            other = new_patient(sex=patient.sex)
            params = [(k, other.ins if k == "Patient.identifier.value" else v) for k, v in params]
        birth = patient.birth_date
        wrong = {
            "ctx_ins_without_key": ("Patient.identifier.value", patient.ins[:13]),
            "ctx_ins_c_oid": ("Patient.identifier.system", f"urn:oid:{INS_C_OID}"),
            "ctx_gender_insee": ("Patient.gender", {"M": "1", "F": "2"}.get(patient.sex, "9")),
            "ctx_birthdate_french": ("Patient.birthDate", f"{birth[6:8]}/{birth[4:6]}/{birth[:4]}"),
            "ctx_district_department": ("Address.district", patient.birth_place[:2]),
            "ctx_issuer_oid_only": ("PatientIDIssuer", patient.ipp_oid),
        }.get(self.fault.name if self.fault is not None and self.fault.step == "contextual" else "")
        if wrong is not None:
            params = [(k, wrong[1] if k == wrong[0] else v) for k, v in params]
        return params

    def _call_url(self) -> str:
        """The URL the RIS calls: the configured one, its root (``ctx_base_url``), in plain HTTP (``ctx_plain_http``)."""
        url = urlsplit(self.target.contextual_url)
        if self._faulty("contextual", "ctx_base_url"):
            url = url._replace(path="/")
        if self._faulty("contextual", "ctx_plain_http"):
            url = url._replace(scheme="http")
        return urlunsplit(url)

    def _contextual(self) -> str:
        verify: ssl.SSLContext | bool = True
        if self.target.ca_file:
            verify = ssl.create_default_context(cafile=self.target.ca_file)
        try:
            params = self.contextual_parameters()
            with httpx.Client(verify=verify, timeout=self.target.timeout_s, follow_redirects=False) as client:
                if self._faulty("contextual", "ctx_get"):
                    response = client.get(self._call_url(), params=dict(params))
                elif self._faulty("contextual", "ctx_text_plain"):  # what a browser's fetch() sends for a string body
                    response = client.post(self._call_url(), content=urlencode(params),
                                           headers={"Content-Type": "text/plain;charset=UTF-8"})
                else:
                    response = client.post(self._call_url(), data=dict(params))
            outcome = f"contextual: HTTP {response.status_code} {response.headers.get('Location', '')}".rstrip()
        except httpx.HTTPError as error:
            outcome = f"contextual: {type(error).__name__}: {error}"
        self.log.info("%s", outcome)
        return outcome


def _edit_segment(message: str, name: str, number: int, edit: Callable[[str], str]) -> str:
    """``message`` with field ``number`` of the first ``name`` segment replaced by ``edit(old value)``.

    HL7 numbering: MSH-1 is the field separator itself, so MSH-n is the n-1th ``|``-separated part."""
    position = number - 1 if name == "MSH" else number
    segments = message.split("\r")
    for index, segment in enumerate(segments):
        if segment.startswith(name + "|"):
            fields = segment.split("|")
            fields += [""] * (position + 1 - len(fields))
            fields[position] = edit(fields[position])
            segments[index] = "|".join(fields)
            break
    return "\r".join(segments)


def _edit_cda(cda: bytes, xpath: str, edit: Callable[[etree._Element], None]) -> bytes:
    """``cda`` with ``edit`` applied to every element ``xpath`` (from the ClinicalDocument) finds."""
    root = xmlsafe.parse(cda)
    for element in root.xpath(xpath, namespaces=NS):
        edit(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

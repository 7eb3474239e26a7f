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
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from lxml import etree
from pydicom.uid import generate_uid

from drimva import xmlsafe
from drimva.cda import PS3_20_NS
from drimva.mllp import send_and_receive
from fixtures.cda import build_cda
from fixtures.identities import new_organisation, new_patient
from fixtures.reports import ReportSpec, new_report_spec
from simulators.ris.faults import Fault
from simulators.ris.messages import build_report_message

STEPS = ("initial", "replace", "delete", "contextual")
DEFAULT_CONSENT = "InformationEtOppositionConsultation"  # where-sources-disagree.md: what drimva sends
_control_ids = itertools.count(1)


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
        return self._contextual() if step == "contextual" else self._report(step)

    def _faulty(self, step: str, name: str) -> bool:
        return self.fault is not None and self.fault.step == step and self.fault.name == name

    # -- HL7 --------------------------------------------------------------------------
    def _report(self, step: str) -> str:
        if step == "replace":
            overrides = {"replaces_cda_id": ""} if self._faulty(step, "replace_no_parent") else {}
            self.spec = self.spec.corrected(viewer_host=self.target.viewer_host, **overrides)
        spec = self.spec
        if self._faulty(step, "pid32_missing"):
            spec = dataclasses.replace(spec, pid32="")
        if self._faulty(step, "viewer_url_without_study"):
            spec = dataclasses.replace(spec, viewer_url=re.sub(r"studyUID=[^&]*&?", "", spec.viewer_url))
        cda = build_cda(spec)
        if self._faulty(step, "cda_no_accession"):
            cda = _without_accession(cda)
        kind = "MDM" if step == "replace" else "ORU"
        event = {"initial": "initial", "replace": "replace", "delete": "delete"}[step]
        message = build_report_message(
            spec, cda, kind=kind, event=event,  # type: ignore[arg-type]
            control_id=f"RIS{time.strftime('%H%M%S')}{next(_control_ids):05d}",
            sending=self.target.sending, receiving=self.target.receiving,
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

    def _charset(self, step: str) -> str:
        """The codec of the message bytes: UTF-8 as MSH-18 declares, Latin-1 under ``msh18_utf8_over_latin1``."""
        return "latin-1" if self._faulty(step, "msh18_utf8_over_latin1") else "utf-8"

    def _alter_message(self, step: str, message: str, spec: ReportSpec) -> str:
        if self._faulty(step, "ins_bad_key"):
            ins = spec.patient.ins
            bad = ins[:13] + f"{(int(ins[13:]) + 1) % 100:02d}"
            message = _edit_segment(message, "PID", 3, lambda value: value.replace(ins, bad, 1))
        if self._faulty(step, "obr4_ne_obx3"):
            message = _edit_segment(message, "OBR", 4, lambda _value: "11528-7^Radiology Study observation^LN")
        if self._faulty(step, "no_prt_sender"):
            message = "".join(s + "\r" for s in message.split("\r") if s and not s.startswith("PRT|"))
        if self._faulty(step, "replace_wrong_orc"):
            message = _edit_segment(message, "ORC", 1, lambda _value: "NW")
        if self._faulty(step, "delete_wrong_obx11"):
            message = _edit_segment(message, "OBX", 11, lambda _value: "F")  # the first OBX carries the CDA
        return message

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
        return params

    def _contextual(self) -> str:
        verify: ssl.SSLContext | bool = True
        if self.target.ca_file:
            verify = ssl.create_default_context(cafile=self.target.ca_file)
        try:
            with httpx.Client(verify=verify, timeout=self.target.timeout_s, follow_redirects=False) as client:
                response = client.post(self.target.contextual_url, data=dict(self.contextual_parameters()))
            outcome = f"contextual: HTTP {response.status_code} {response.headers.get('Location', '')}".rstrip()
        except httpx.HTTPError as error:
            outcome = f"contextual: {type(error).__name__}: {error}"
        self.log.info("%s", outcome)
        return outcome


def _edit_segment(message: str, name: str, number: int, edit: Callable[[str], str]) -> str:
    """``message`` with field ``number`` of the first ``name`` segment replaced by ``edit(old value)``."""
    segments = message.split("\r")
    for index, segment in enumerate(segments):
        if segment.startswith(name + "|"):
            fields = segment.split("|")
            fields += [""] * (number + 1 - len(fields))
            fields[number] = edit(fields[number])
            segments[index] = "|".join(fields)
            break
    return "\r".join(segments)


def _without_accession(cda: bytes) -> bytes:
    root = xmlsafe.parse(cda)
    for element in root.iter(f"{{{PS3_20_NS}}}accessionNumber"):
        element.getparent().remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

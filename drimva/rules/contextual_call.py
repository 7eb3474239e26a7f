"""The contextual call a RIS makes to the DRIMbox Conso (trust-list-and-identity.md §7).

An HTTP POST, ``application/x-www-form-urlencoded``, with ten mandatory
parameters: the INS (value and system), the INS traits (birth name, first
birth given name, sex, birth date, birth place), the consent indicator (named
``InformationEtConsentement`` or ``InformationEtOppositionConsultation``, see
where-sources-disagree.md: the accepted names are a profile setting), the IPP
and its issuer. Each must be present, non-empty and well formed, and, when the
session's reports give the patient, name that patient.

Severity: the parameter list and the 400 on a missing or empty parameter come
from the ANS contextual-call test server (the specification §4.6.1 is not
public) and are what the task asks the RIS to honour: error. Points that are
only illustrated (value forms such as ``urn:oid:`` vs a bare OID, FHIR or HL7
gender codes, unknown parameters) are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl

from drimva.context import INS_OIDS, Patient, is_valid_ins
from drimva.findings import Finding, FindingList, Severity

SOURCE = "trust-list-and-identity.md §7 (ANS contextual-call test server)"
FAQ = "ANS FAQ (IPP and its issuer in the contextual call)"
CONSENT_NAMES = ("InformationEtConsentement", "InformationEtOppositionConsultation")
MANDATORY = (
    "Patient.identifier.value",
    "Patient.identifier.system",
    "Patient.name.family",
    "Patient.name.given",
    "Patient.gender",
    "Patient.birthDate",
    "Address.district",
    "PatientID",
    "PatientIDIssuer",
)
OPTIONAL = (
    "Situation",
    "StudyInstanceUID",
    "Modality",
    "AccessionNumber",
    "AccessionNumberIssuer",
    "StudyDate",
    "AnatomicRegion",
)
FORM = "application/x-www-form-urlencoded"
GENDERS = {"F": "F", "M": "M", "U": "U", "female": "F", "male": "M", "unknown": "U", "other": "U"}
CONSENT_VALUES = ("true", "false", "1", "0", "Y", "N", "oui", "non")
_DISTRICT = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")


def check_call_target(path: str, expected_path: str) -> list[Finding]:
    """CTX-URL: the RIS calls the contextual-call URL the DRIMbox Conso publishes (``expected_path`` "" = any path)."""
    if not expected_path or path == expected_path:
        return []
    return [Finding("CTX-URL", "", "HTTP request target", expected_path, path)]


def form_parameters(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-encoded body, in order, empty values kept."""
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def check_contextual_call(
    method: str,
    content_type: str,
    body: bytes,
    *,
    consent_names: Sequence[str] = CONSENT_NAMES,
    patient: Patient | None = None,
    ins_system_form: str = "either",
    consent_values: Sequence[str] = CONSENT_VALUES,
) -> list[Finding]:
    """Judge one contextual call; ``patient`` is who the session's reports were about (None: not compared).

    ``ins_system_form`` is the profile's ``rules.contextual_ins_system``: "either" accepts a bare OID and
    ``urn:oid:<OID>``, "urn-oid" makes a bare OID an error. ``consent_values`` is the profile's
    ``rules.contextual_consent_values``: the value set of the consent indicator is not public, so a
    value outside it is a warning, and the list is a setting (a site's RIS may use another one).
    """
    out = FindingList()
    if method.upper() != "POST":
        out.add("CTX-METHOD", f"{SOURCE}: HTTP POST", "HTTP request line", "POST", method)
    media = content_type.split(";")[0].strip().lower()
    if media != FORM:
        out.add("CTX-CONTENT-TYPE", f"{SOURCE}: form-encoded body", "Content-Type", FORM, content_type or "(absent)")
    pairs = form_parameters(body)
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            out.add("CTX-PARAM-DUPLICATE", f"{SOURCE}: each parameter once", f"form parameter {name}", "1 occurrence",
                    "several", Severity.WARNING)
        values.setdefault(name, value.strip())
    consent = next((name for name in consent_names if name in values), None)
    required = list(MANDATORY) + [consent or " or ".join(consent_names)]
    for name in required:
        if name not in values:
            out.add("CTX-PARAM-MISSING", f"{SOURCE}: mandatory parameter (400 when missing)", f"form parameter {name}", "present", "absent")
        elif not values[name]:
            out.add("CTX-PARAM-EMPTY", f"{SOURCE}: mandatory parameter with a value (400 when empty)", f"form parameter {name}", "a value", "(empty)")
    known = set(MANDATORY) | set(CONSENT_NAMES) | set(OPTIONAL)
    for name in values:
        if name not in known:
            out.add("CTX-PARAM-UNKNOWN", f"{SOURCE}: unknown parameter names are refused (400, DEMO)", f"form parameter {name}",
                    "a known parameter name", name, Severity.WARNING)
        elif name in CONSENT_NAMES and name not in consent_names:
            out.add("CTX-CONSENT-NAME", "where-sources-disagree.md: consent parameter name (profile setting)", f"form parameter {name}",
                    " or ".join(consent_names), name)
    _check_formats(values, consent, out, ins_system_form, tuple(consent_values))
    if patient is not None:
        _check_patient(values, patient, out)
    return out.items


def _check_formats(
    values: dict[str, str], consent: str | None, out: FindingList, ins_system_form: str = "either",
    consent_values: tuple[str, ...] = CONSENT_VALUES,
) -> None:
    ins = values.get("Patient.identifier.value", "")
    if ins and not is_valid_ins(ins):
        out.add("CTX-INS", "CI-SIS Annexe INS: INS matricule = 13-character NIR + 2-digit key", "form parameter Patient.identifier.value",
                "a 15-character INS with a valid key", ins)
    system = values.get("Patient.identifier.system", "")
    if system:
        oid = system.removeprefix("urn:oid:")
        if oid not in INS_OIDS:
            out.add("CTX-INS-SYSTEM", f"{SOURCE}: the INS OID (1.2.250.1.213.1.4.x)", "form parameter Patient.identifier.system",
                    f"urn:oid: + one of {sorted(INS_OIDS)}", system)
        elif oid == system and ins_system_form == "urn-oid":
            out.add("CTX-INS-SYSTEM", f"{SOURCE}: FHIR identifier system form urn:oid: (profile rules.contextual_ins_system = \"urn-oid\"; "
                    "§7's example uses a bare OID, open question 6)", "form parameter Patient.identifier.system", f"urn:oid:{oid}", system)
    gender = values.get("Patient.gender", "")
    if gender and gender not in GENDERS:
        out.add("CTX-GENDER", f"{SOURCE}: sex as an INS trait", "form parameter Patient.gender", "F, M, U (or female, male, unknown, other)", gender)
    birth = values.get("Patient.birthDate", "")
    if birth and _date(birth) is None:
        out.add("CTX-BIRTHDATE", f"{SOURCE}: birth date as an INS trait", "form parameter Patient.birthDate", "YYYYMMDD (or YYYY-MM-DD)", birth)
    district = values.get("Address.district", "")
    if district and not _DISTRICT.match(district):
        out.add("CTX-DISTRICT", f"{SOURCE}: birth place as an INSEE commune code (meaning UNVERIFIED)", "form parameter Address.district",
                "5 characters: digits, or 2A/2B + 3 digits", district)
    if consent and values.get(consent) and values[consent] not in consent_values:
        out.add("CTX-CONSENT", f"{SOURCE}: consent indicator (value set not public; profile rules.contextual_consent_values)",
                f"form parameter {consent}", f"one of {list(consent_values)}", values[consent], Severity.WARNING)
    issuer = values.get("PatientIDIssuer", "")
    if issuer:
        parts = issuer.split("&")
        if len(parts) != 3 or not _OID.match(parts[1]) or parts[2] != "ISO":
            out.add("CTX-IPP-ISSUER", f"{FAQ}: CX-4 of the IPP repetition of PID-3 (namespace&OID&ISO)", "form parameter PatientIDIssuer",
                    "namespace&OID&ISO", issuer)


def check_call_patient(body: bytes, patient: Patient) -> list[Finding]:
    """The call's patient against ``patient`` alone: for a call that came before the session's first CR.

    The call was judged on arrival, when no CR named the patient yet (a RIS
    sending everything at once may call first); its scenario compares it
    with the patient of the CRs received since."""
    values: dict[str, str] = {}
    for name, value in form_parameters(body):
        values.setdefault(name, value.strip())
    out = FindingList()
    _check_patient(values, patient, out)
    return out.items


def _check_patient(values: dict[str, str], patient: Patient, out: FindingList) -> None:
    """The call names the patient of the session's reports (PID-3, PID-5, PID-7, PID-8, PID-11)."""
    requirement = "the contextual call names the patient of the reports sent in the session (INS and traits)"
    system = values.get("Patient.identifier.system", "")
    issuer = f"{patient.ipp_authority}&{patient.ipp_oid}&ISO" if patient.ipp_oid else ""
    sex = values.get("Patient.gender", "")
    birth = _date(values.get("Patient.birthDate", ""))
    pairs = (
        ("Patient.identifier.value", patient.ins, values.get("Patient.identifier.value", ""), "PID-3 (INS)"),
        ("Patient.identifier.system", patient.ins_oid, system.removeprefix("urn:oid:"), "PID-3.4.2 (INS)"),
        ("Patient.name.family", patient.birth_name, values.get("Patient.name.family", ""), "PID-5.1 (L)"),
        ("Patient.name.given", patient.given_name, values.get("Patient.name.given", ""), "PID-5.2 (L)"),
        ("Patient.gender", patient.sex, GENDERS.get(sex, sex), "PID-8"),
        ("Patient.birthDate", patient.birth_date[:8], birth or values.get("Patient.birthDate", ""), "PID-7"),
        ("Address.district", patient.birth_place, values.get("Address.district", ""), "PID-11 (BDL)"),
        ("PatientID", patient.ipp, values.get("PatientID", ""), "PID-3 (PI)"),
        ("PatientIDIssuer", issuer, values.get("PatientIDIssuer", ""), "PID-3.4 (PI)"),
    )
    for name, expected, actual, field in pairs:
        if expected and actual and expected.casefold() != actual.casefold():
            out.add("CTX-PATIENT", requirement, f"form parameter {name}", f"{expected} ({field} of the reports)", actual)


def _date(value: str) -> str | None:
    """YYYYMMDD of a YYYYMMDD or YYYY-MM-DD date, None when it is not a date."""
    for form in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, form).strftime("%Y%m%d")
        except ValueError:
            continue
    return None


def check_patient_known(known: bool, body: bytes | None = None, late_patient: Patient | None = None) -> list[Finding]:
    """CTX-PATIENT: a call that came before any report of its patient is compared with the patient of the reports
    received since (``late_patient``, with the ``body`` of the call), and says so (information); with none, says it
    could not be compared."""
    if known:
        return []
    requirement, location = "the contextual call names the patient of the session's reports", "form parameters"
    expected = "a report with a qualified INS received before the call"
    if late_patient is not None and body is not None:
        return check_call_patient(body, late_patient) + [
            Finding("CTX-PATIENT", requirement, location, expected, "received after the call: compared with it now", Severity.INFO)
        ]
    return [Finding("CTX-PATIENT", requirement, location, expected, "none: the patient could not be compared", Severity.INFO)]

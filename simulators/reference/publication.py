"""What the reference DRIMbox publishes to the DMP, and what came back.

`KosPublication` gathers, once, every fact of one KOS publication (the KOS
bytes, the patient, the report's identifiers and codes, the sender); the XDS
metadata, the VIHF and the DMP client read it and nothing else.
`PublishResult` is the DMP client's answer; it never carries an exception.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KosPublication:
    kos_bytes: bytes
    kos_sop_instance_uid: str
    study_uid: str
    ins: str
    ins_oid: str
    ipp: str
    ipp_oid: str
    birth_name: str
    given_name: str
    birth_date: str
    sex: str
    accession: str
    accession_issuer: str
    order_id: str
    order_root: str
    modalities: tuple[str, ...]  # distinct, in series order
    act_code: tuple[str, str, str] | None  # (code, codeSystem OID, displayName) from serviceEvent/code
    confidentiality: str  # CDA confidentialityCode, e.g. "N"
    masking_flags: tuple[str, ...]  # MASQUE_PS / INVISIBLE_PATIENT / INVISIBLE_REP_LEGAUX set to Y
    secret_connection: bool  # CONNEXION_SECRETE = Y
    author_id: str  # PRT-5 sender (fallback: CDA author)
    author_family: str
    author_given: str
    organisation_id: str  # PRT-8.10
    organisation_name: str
    organisation_id_type: str  # PRT-8.7
    healthcare_facility_code: str
    practice_setting: str
    service_start: str  # YYYYMMDDhhmmss
    service_stop: str  # YYYYMMDDhhmmss
    creation_time: str  # YYYYMMDDhhmmss, UTC
    replaces_entry_uuid: str | None = None
    birth_place: str = ""  # INSEE code of the birth place (PID-11 BDL); the viewer matches FranceConnect+ on it
    patient_id_type: str = "NH"  # CX.5 of the patient id; "" only for the fault xds_cx_without_type

    @property
    def xds_patient_id(self) -> str:
        """The DMP patient id: the INS as a CX with the NH type."""
        typed = f"^{self.patient_id_type}" if self.patient_id_type else ""
        return f"{self.ins}^^^&{self.ins_oid}&ISO{typed}"


@dataclass(frozen=True)
class PublishResult:
    ok: bool
    entry_uuid: str
    unique_id: str
    http_status: int  # 0 when no HTTP answer was received
    registry_status: str  # RegistryResponse/@status, "" when absent
    errors: tuple[str, ...]

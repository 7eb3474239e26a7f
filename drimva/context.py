"""What the harness knows to be true when it judges an artefact.

The harness generates the report (CR) and the PACS study itself, so it knows
the values every published artefact must carry. Rules take these plain
dataclasses as context; they never reach a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INS_NIR_TEST_OID = "1.2.250.1.213.1.4.10"
INS_OIDS = {
    "1.2.250.1.213.1.4.8": "INS-NIR",
    "1.2.250.1.213.1.4.9": "INS-NIA",
    "1.2.250.1.213.1.4.10": "INS-NIR test",
    "1.2.250.1.213.1.4.11": "INS-NIR démonstration",
}


def ins_key(nir13: str) -> str:
    """The 2-digit key of a 13-character NIR: 97 - (NIR mod 97); Corsica 2A/2B count as 19/18."""
    if len(nir13) != 13:
        raise ValueError(f"a NIR has 13 characters, got {len(nir13)}: {nir13!r}")
    department = nir13[5:7].upper()
    digits = nir13[:5] + {"2A": "19", "2B": "18"}.get(department, department) + nir13[7:]
    if not digits.isdigit():
        raise ValueError(f"a NIR is made of digits (2A/2B for Corsica): {nir13!r}")
    return f"{97 - int(digits) % 97:02d}"


def is_valid_ins(value: str) -> bool:
    """A well-formed INS matricule: 13-character NIR + 2-digit key that matches it."""
    if len(value) != 15 or not value[13:].isdigit():
        return False
    try:
        return ins_key(value[:13]) == value[13:]
    except ValueError:
        return False


PS_ID_OID = "1.2.250.1.71.4.2.1"  # national PS identifiers (RPPS / IDNPS)
STRUCTURE_ID_OID = "1.2.250.1.71.4.2.2"  # national structure identifiers (FINESS, SIRET, ...)
KOS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"


@dataclass(frozen=True)
class InstanceRef:
    """One study / series / instance triplet with its SOP class."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str


@dataclass(frozen=True)
class Patient:
    ins: str  # 15-digit matricule (NIR + key)
    ins_oid: str = INS_NIR_TEST_OID
    ipp: str = ""
    ipp_oid: str = ""
    ipp_authority: str = ""
    birth_name: str = ""
    given_name: str = ""
    birth_date: str = ""  # YYYYMMDD
    sex: str = ""  # F / M / U
    birth_place: str = ""  # INSEE commune code

    @property
    def xds_patient_id(self) -> str:
        return f"{self.ins}^^^&{self.ins_oid}&ISO^NH"


@dataclass(frozen=True)
class Organisation:
    name: str
    structure_id: str  # national structure identifier, e.g. "1750803447" or an IDNST
    id_type: str = "FINEG"  # FINEG / FINEJ / IDNST ...


@dataclass(frozen=True)
class Professional:
    national_id: str  # "8" + RPPS
    family: str
    given: str
    id_type: str = "RPPS"


@dataclass(frozen=True)
class ReportContext:
    """The facts of one imaging report (CR) the harness sent, and of its study."""

    patient: Patient
    study_uid: str
    accession: str
    accession_issuer: str
    order_id: str
    order_root: str
    cda_id_root: str
    organisation: Organisation
    author: Professional
    confidentiality: str = "N"
    masking_flags: tuple[str, ...] = ()  # MetaDMPMSS flags set to Y among MASQUE_PS, INVISIBLE_*
    act_code: str = ""
    modalities: tuple[str, ...] = ()
    instances: tuple[InstanceRef, ...] = ()  # what the PACS holds for the study
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""

    @property
    def series_uids(self) -> list[str]:
        seen: dict[str, None] = {}
        for ref in self.instances:
            seen.setdefault(ref.series_uid, None)
        return list(seen)


@dataclass(frozen=True)
class SutEndpoints:
    """Where the SUT says its services are (from the SUT profile)."""

    wado_base_url: str  # e.g. "https://db.example.fr/wado" ; RetrieveURL = base + /studies/..
    retrieve_location_uid: str = ""  # expected value, if the profile names one


@dataclass(frozen=True)
class RuleOptions:
    """Profile settings that change how rules read an artefact (see where-sources-disagree.md)."""

    require_retrieve_location_uid: bool = True
    qualified_identity_statuses: tuple[str, ...] = ("VALI", "QUAL")
    strict: bool = False
    accepted_vihf_versions: tuple[str, ...] = ("3.0", "4.0")
    trusted_ca_pem: bytes | None = None  # CA that must have issued signing certificates
    wado_accept_parameters: str = "required"  # rules.wado_accept_parameters: "required" or "recommended"
    kos_non_image: str = "referenced"  # rules.kos_non_image: "referenced" or "may_leave_out"
    extra: dict[str, str] = field(default_factory=dict)

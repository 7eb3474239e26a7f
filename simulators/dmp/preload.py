"""Place a KOS in the DMP simulator as if a DRIMbox had published it (ITI-41), for the consumer tests (VA-D1).

``kos_submission`` builds a real MTOM ITI-41 request with the ``drimva.xds``
builders (the KOS DocumentEntry metadata of dmp-xds.md §4 and the
SubmissionSet of §5), and parses it back: the registry then registers it
through the same code path as a received publication. Values not given are
read from the KOS (SOP Instance UID, study, accession, creation time, patient
traits).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Sequence

import pydicom

from drimva.context import PS_ID_OID, STRUCTURE_ID_OID, Organisation, Professional
from drimva.mime import build_multipart_related
from drimva.rules.xds import (
    ACCESSION_TYPE,
    CLASS_CODE,
    CONFIDENTIALITY_SCHEME,
    FORMAT_CODE,
    MASKING_SCHEME,
    ORDER_TYPE,
    REFERENCE_ID_LIST,
    STUDY_UID_TYPE,
    TYPE_CODE,
)
from drimva.xds import (
    ACTION_ITI41,
    ASSOC_HAS_MEMBER,
    DE_AUTHOR,
    DE_CLASS_CODE,
    DE_CONFIDENTIALITY_CODE,
    DE_EVENT_CODE_LIST,
    DE_FORMAT_CODE,
    DE_HEALTHCARE_FACILITY_TYPE_CODE,
    DE_PATIENT_ID,
    DE_PRACTICE_SETTING_CODE,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    DOCUMENT_ENTRY_STABLE,
    SS_AUTHOR,
    SS_CONTENT_TYPE_CODE,
    SS_PATIENT_ID,
    SS_SOURCE_ID,
    SS_UNIQUE_ID,
    SUBMISSION_SET_NODE,
    Association,
    Classification,
    DocumentEntry,
    ProvideAndRegister,
    RegistryPackage,
    parse_provide_and_register,
    provide_and_register_xml,
    soap_envelope,
)

MODALITY_SCHEME = "1.2.250.1.213.1.1.5.618"
SOURCE_ID = "1.2.250.1.999.1.1.8121"  # the submitting system (a placeholder, as in the ANS sample)
DEFAULT_ORGANISATION = Organisation("DRIMbox source drimva", "499700367909006", "IDNST")
DEFAULT_AUTHOR = Professional("810001234567", "SOURCE", "DRIMBOX")


@dataclass(frozen=True)
class KosFacts:
    """The DocumentEntry values a source DRIMbox derives from its report and study."""

    accession: str = ""  # default: the KOS's AccessionNumber (top level or ReferencedRequestSequence)
    accession_issuer: str = "1.2.250.1.999.1.2"
    order_id: str = ""
    order_root: str = "1.2.250.1.999.1.3"
    study_uid_authority: str = "1.2.250.1.999.1.4"
    modalities: Sequence[str] = ()
    act_code: tuple[str, str, str] | None = None  # (code, codingScheme, display)
    confidentiality: str = "N"
    masking_flags: Sequence[str] = ()
    organisation: Organisation = DEFAULT_ORGANISATION
    author: Professional = DEFAULT_AUTHOR
    facility_type: tuple[str, str, str] = ("SA01", "1.2.250.1.71.4.2.4", "Etablissement public de santé")
    practice_setting: tuple[str, str, str] = ("AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire")


def _code(scheme: str, code: str, coding_scheme: str, display: str) -> Classification:
    return Classification(scheme=scheme, node_representation=code, coding_scheme=coding_scheme, display_name=display)


def _accession(ds: pydicom.Dataset) -> str:
    if ds.get("AccessionNumber"):
        return str(ds.AccessionNumber)
    requests = ds.get("ReferencedRequestSequence") or []
    return next((str(item.AccessionNumber) for item in requests if item.get("AccessionNumber")), "")


def kos_submission(kos: bytes, *, patient_id: str, unique_id: str | None = None, facts: KosFacts = KosFacts()) -> ProvideAndRegister:
    """A parsed MTOM ITI-41 request publishing ``kos`` for ``patient_id`` (``<INS>^^^&<OID>&ISO^NH``)."""
    ds = pydicom.dcmread(BytesIO(kos), force=True, stop_before_pixels=True)
    unique_id = unique_id or str(ds.SOPInstanceUID)
    created = f"{ds.get('InstanceCreationDate', '')}{ds.get('InstanceCreationTime', '')}"[:14] or datetime.now().strftime("%Y%m%d%H%M%S")
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    org, author = facts.organisation, facts.author
    author_person = f"{author.national_id}^{author.family}^{author.given}^^^^^^&{PS_ID_OID}&ISO^D^^^{author.id_type}"
    institution = f"{org.name}^^^^^&{STRUCTURE_ID_OID}&ISO^{org.id_type}^^^{org.structure_id}"
    authors = {"authorPerson": [author_person], "authorInstitution": [institution]}
    references = [f"{facts.accession or _accession(ds)}^^^&{facts.accession_issuer}&ISO^{ACCESSION_TYPE}"]
    references.append(f"{ds.StudyInstanceUID}^^^&{facts.study_uid_authority}&ISO^{STUDY_UID_TYPE}")
    if facts.order_id:
        references.append(f"{facts.order_id}^^^&{facts.order_root}&ISO^{ORDER_TYPE}")
    name = ds.get("PatientName")
    source_info = [f"PID-5|{name}^^^^^L" if name else "", f"PID-7|{ds.get('PatientBirthDate', '')}", f"PID-8|{ds.get('PatientSex', '')}"]
    classifications = [
        Classification(scheme=DE_AUTHOR, slots=authors),
        _code(DE_CLASS_CODE, CLASS_CODE[0], CLASS_CODE[1], "Imagerie médicale"),
        _code(DE_TYPE_CODE, TYPE_CODE[0], TYPE_CODE[1], "Reference d'objets d'un examen d'imagerie"),
        _code(DE_CONFIDENTIALITY_CODE, facts.confidentiality, CONFIDENTIALITY_SCHEME, facts.confidentiality),
        *(_code(DE_CONFIDENTIALITY_CODE, flag, MASKING_SCHEME, flag) for flag in facts.masking_flags),
        _code(DE_FORMAT_CODE, FORMAT_CODE[0], FORMAT_CODE[1], "Document de Références d'objets d'imagerie selon profil IHE RAD XDS-I"),
        _code(DE_HEALTHCARE_FACILITY_TYPE_CODE, *facts.facility_type),
        _code(DE_PRACTICE_SETTING_CODE, *facts.practice_setting),
        *([_code(DE_EVENT_CODE_LIST, *facts.act_code)] if facts.act_code else []),
        *(_code(DE_EVENT_CODE_LIST, modality, MODALITY_SCHEME, modality) for modality in dict.fromkeys(facts.modalities)),
    ]
    entry = DocumentEntry(
        id="DocumentKOS",
        mime_type="application/dicom",
        object_type=DOCUMENT_ENTRY_STABLE,
        slots={
            "creationTime": [created],
            "hash": [hashlib.sha1(kos).hexdigest()],
            "size": [str(len(kos))],
            "languageCode": ["fr-FR"],
            "sourcePatientId": [patient_id.rsplit("^", 1)[0] + "^PI"],
            "sourcePatientInfo": [v for v in source_info if v],
            REFERENCE_ID_LIST: references,
        },
        classifications=classifications,
        external_identifiers={DE_PATIENT_ID: patient_id, DE_UNIQUE_ID: unique_id},
        name="Reference d'Objets d'un Examen d'Imagerie",
        description="KOS",
    )
    submission_set = RegistryPackage(
        id="SubmissionSet01",
        slots={"submissionTime": [now]},
        classifications=[
            Classification(node=SUBMISSION_SET_NODE),
            Classification(scheme=SS_AUTHOR, slots=authors),
            _code(SS_CONTENT_TYPE_CODE, "04", "1.2.250.1.213.2.2", "Hospitalisation de jour"),
        ],
        external_identifiers={
            SS_PATIENT_ID: patient_id,
            SS_SOURCE_ID: SOURCE_ID,
            SS_UNIQUE_ID: f"2.25.{uuid.uuid4().int}",
        },
    )
    member = Association("a1", ASSOC_HAS_MEMBER, "SubmissionSet01", "DocumentKOS", {"SubmissionSetStatus": ["Original"]})
    envelope = soap_envelope(ACTION_ITI41, provide_and_register_xml([submission_set, entry, member], {"DocumentKOS": "cid:0.2"}))
    body, content_type = build_multipart_related(
        [
            ([("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'), ("Content-ID", "<0.1>")], envelope),
            ([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", "<0.2>")], kos),
        ],
        action=ACTION_ITI41,
    )
    return parse_provide_and_register(body, content_type)


__all__ = ["KosFacts", "kos_submission"]

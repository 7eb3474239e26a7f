"""Named faults of the RIS simulator driven as a system under test (``python -m simulators.ris``).

Each fault breaks one requirement that one scenario of ``features/ris.feature``
judges; ``targets`` names that scenario by its stable id (``@id:`` tag). A fault touches one step of the
session only (the initial CR, the replacement, the deletion or the contextual
call), so the other scenarios still pass.
"""

from __future__ import annotations

from dataclasses import dataclass

S_INITIAL = "RIS1-INITIAL"  # Le RIS transmet un CR initial conforme
S_REPLACE = "RIS2-REPLACE"  # Le RIS transmet un CR corrigé qui remplace le CR initial
S_DELETE = "RIS3-DELETE"  # Le RIS transmet la suppression du CR
S_CONTEXTUAL = "RIS4-CONTEXTUAL"  # Le RIS fait un appel contextuel pour le patient de ses CR


@dataclass(frozen=True)
class Fault:
    name: str
    step: str  # initial | replace | delete | contextual
    description: str
    targets: tuple[str, ...]
    rules: tuple[str, ...] = ()  # the rule ids whose error findings must fail the targets (the self-test checks it)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "targets": list(self.targets), "rules": list(self.rules)}


FAULTS: tuple[Fault, ...] = (
    Fault("pid32_missing", "initial", "initial CR without PID-32 (identity status): the identity is not qualified", (S_INITIAL,), rules=("RIS-QUALIFIED-INS",)),
    Fault("ins_bad_key", "initial", "initial CR whose PID-3 INS has a wrong key", (S_INITIAL,), rules=("HL7-PID3-INS",)),
    Fault("obr4_ne_obx3", "initial", "initial CR whose OBR-4 differs from the document OBX-3", (S_INITIAL,), rules=("HL7-OBR4-OBX3",)),
    Fault("no_prt_sender", "initial", "initial CR without the sender PRT segment", (S_INITIAL,), rules=("HL7-PRT",)),
    Fault("cda_no_accession", "initial", "initial CR whose CDA has no inFulfillmentOf/order/accessionNumber", (S_INITIAL,), rules=("CDA-ACCESSION",)),
    Fault("viewer_url_without_study", "initial", "initial CR whose viewer URL has no studyUID", (S_INITIAL,), rules=("CDA-VIEWER-URL",)),
    Fault("msh18_utf8_over_latin1", "initial", "initial CR declaring MSH-18 UNICODE UTF-8 sent as ISO 8859-1 bytes", (S_INITIAL,), rules=("HL7-CHARSET",)),
    Fault("replace_wrong_orc", "replace", "replacement MDM^T10 with ORC-1 NW instead of RO", (S_REPLACE,), rules=("HL7-EVENT",)),
    Fault("replace_no_parent", "replace", "replacement MDM^T10 without TXA-13 nor CDA relatedDocument RPLC", (S_REPLACE,), rules=("HL7-TXA13",)),
    Fault("delete_wrong_obx11", "delete", "deletion ORU^R01 (ORC-1 CA) whose document OBX-11 is F instead of D", (S_DELETE,), rules=("HL7-EVENT",)),
    Fault("ctx_missing_param", "contextual", "contextual call without PatientIDIssuer", (S_CONTEXTUAL,), rules=("CTX-PARAM-MISSING",)),
    Fault("ctx_wrong_patient", "contextual", "contextual call with the INS of another patient", (S_CONTEXTUAL,), rules=("CTX-PATIENT",)),
    Fault("ctx_empty_value", "contextual", "contextual call with an empty Patient.birthDate", (S_CONTEXTUAL,), rules=("CTX-PARAM-EMPTY",)),
    # -- the initial CR's HL7 message --------------------------------------------------
    Fault("msh9_no_structure", "initial", "initial CR whose MSH-9 is ORU^R01 without the message structure ORU_R01", (S_INITIAL,), rules=("HL7-MSH9",)),
    Fault("msh7_empty", "initial", "initial CR with an empty MSH-7 (date/time of message)", (S_INITIAL,), rules=("HL7-MSH-FIELDS",)),
    Fault("msh17_missing", "initial", "initial CR without MSH-17 (country code FRA)", (S_INITIAL,), rules=("HL7-MSH17",)),
    Fault("msh18_bare_utf8", "initial", "initial CR declaring MSH-18 UTF-8 (not an HL7 table 0211 value) instead of UNICODE UTF-8", (S_INITIAL,), rules=("HL7-MSH18",)),
    Fault("msh21_missing", "initial", "initial CR without MSH-21 (message profile 2.1^CISIS_CDA_HL7_V2)", (S_INITIAL,), rules=("HL7-MSH21",)),
    Fault("routing_default_msh3", "initial", "initial CR whose MSH-3 is the vendor's default application name, not the one configured", (S_INITIAL,), rules=("RIS-ROUTING",)),
    Fault("no_document_obx", "initial", "initial CR carrying the MetaDMPMSS flags but no document OBX (no CDA)", (S_INITIAL,), rules=("HL7-DOC-OBX",)),
    Fault("doctype_generic_radiology", "initial", "initial CR whose OBR-4 and document OBX-3 are 11528-7 (generic radiology report) instead of 18748-4", (S_INITIAL,), rules=("HL7-DOCTYPE",)),
    Fault("obx2_tx", "initial", "initial CR whose document OBX-2 is TX instead of ED", (S_INITIAL,), rules=("HL7-OBX2",)),
    Fault("obx5_b64", "initial", "initial CR whose document OBX-5 says encoding B64 (the CDA attribute) instead of Base64", (S_INITIAL,), rules=("HL7-OBX5",)),
    Fault("prt_after_flags", "initial", "initial CR with the sender PRT at the end of the message, after the MetaDMPMSS flags", (S_INITIAL,), rules=("HL7-STRUCTURE",)),
    Fault("no_metadmpmss_flags", "initial", "initial CR without any MetaDMPMSS flag OBX (a pre-Ségur RIS)", (S_INITIAL,), rules=("HL7-FLAGS",)),
    # -- the initial CR's CDA ----------------------------------------------------------
    Fault("cda_truncated", "initial", "initial CR whose CDA is cut in the middle (a fixed-size buffer)", (S_INITIAL,), rules=("CDA-PARSE", "HL7-OBX5")),
    Fault("cda_code_generic", "initial", "initial CR whose CDA code is 11528-7 (generic radiology report) instead of 18748-4", (S_INITIAL,), rules=("CDA-CODE",)),
    Fault("cda_missing_cisis_template", "initial", "initial CR whose CDA lacks the CI-SIS templateId 1.2.250.1.213.1.1.1.1", (S_INITIAL,), rules=("CDA-TEMPLATES",)),
    Fault("cda_body_no_representation", "initial", "initial CR whose CDA nonXMLBody/text has no representation=\"B64\" (read as plain text)", (S_INITIAL,), rules=("CDA-BODY",)),
    Fault("cda_confidentiality_no_system", "initial", "initial CR whose CDA confidentialityCode has no codeSystem", (S_INITIAL,), rules=("CDA-CONFIDENTIALITY",)),
    Fault("cda_no_ins", "initial", "initial CR whose CDA recordTarget carries the IPP but not the INS", (S_INITIAL,), rules=("CDA-INS",)),
    Fault("cda_no_order_id", "initial", "initial CR whose CDA inFulfillmentOf/order has no id (placer order number)", (S_INITIAL,), rules=("CDA-ORDER",)),
    Fault("cda_act_no_translation", "initial", "initial CR whose CDA serviceEvent/code has no translation (no modality)", (S_INITIAL,), rules=("CDA-ACT-CODE",)),
    Fault("cda_author_local_id", "initial", "initial CR whose CDA author id is the RIS's local user id, not the national PS id", (S_INITIAL,), rules=("CDA-AUTHOR",)),
    Fault("cda_no_legal_authenticator", "initial", "initial CR whose CDA has no legalAuthenticator (an unsigned draft)", (S_INITIAL,), rules=("CDA-LEGAL-AUTHENTICATOR",)),
    Fault("study_uid_zero_padded", "initial", "initial CR whose Study Instance UID has a zero-padded component (not a DICOM UID)", (S_INITIAL,), rules=("CDA-STUDY-UID",)),
    Fault("viewer_other_host", "initial", "initial CR whose viewer URL names another viewer host than this DRIMbox's", (S_INITIAL,), rules=("RIS-VIEWER-HOST",)),
    # -- the replacement and the deletion ----------------------------------------------
    Fault("replace_mdm_v25", "replace", "replacement MDM^T10 declaring MSH-12 2.5 instead of 2.6", (S_REPLACE,), rules=("HL7-VERSION",)),
    Fault("replace_txa17_la", "replace", "replacement MDM^T10 whose TXA-17 is LA instead of AU", (S_REPLACE,), rules=("HL7-TXA",)),
    Fault("replace_txa12_order", "replace", "replacement MDM^T10 whose TXA-12 carries the order number instead of the CDA id", (S_REPLACE,), rules=("HL7-TXA12",)),
    Fault("replace_same_id", "replace", "corrected CR that keeps the CDA id of the report it replaces", (S_REPLACE,), rules=("RIS-RPLC-NEW-ID",)),
    Fault("replace_parent_set_id", "replace", "corrected CR whose RPLC parent (and TXA-13) names the setId instead of the replaced CDA id", (S_REPLACE,), rules=("RIS-RPLC-PARENT",)),
    Fault("delete_new_document", "delete", "deletion carrying a new CDA id and setId instead of the report it withdraws", (S_DELETE,), rules=("RIS-DELETE-TARGET",)),
    Fault("delete_other_accession", "delete", "deletion whose CDA carries another accession number than the report's", (S_DELETE,), rules=("RIS-SAME-EXAM",)),
    Fault("delete_not_sent", "delete", "the RIS never transmits the deletion of the CR", (S_DELETE,), rules=("RIS-SENT",)),
    # -- the contextual call -----------------------------------------------------------
    Fault("ctx_plain_http", "contextual", "contextual call in plain HTTP to the HTTPS endpoint (refused: no call)", (S_CONTEXTUAL,), rules=("RIS-CONTEXTUAL-SENT",)),
    Fault("ctx_get", "contextual", "contextual call as a GET with the parameters in the query string", (S_CONTEXTUAL,), rules=("CTX-METHOD",)),
    Fault("ctx_text_plain", "contextual", "contextual call whose form body is sent as Content-Type text/plain", (S_CONTEXTUAL,), rules=("CTX-CONTENT-TYPE",)),
    Fault("ctx_base_url", "contextual", "contextual call posted to the DRIMbox Conso's root, not its contextual-call path", (S_CONTEXTUAL,), rules=("CTX-URL",)),
    Fault("ctx_ins_without_key", "contextual", "contextual call whose INS is the 13-digit NIR without its key", (S_CONTEXTUAL,), rules=("CTX-INS",)),
    Fault("ctx_ins_c_oid", "contextual", "contextual call whose Patient.identifier.system is the obsolete INS-C OID 1.2.250.1.213.1.4.2", (S_CONTEXTUAL,), rules=("CTX-INS-SYSTEM",)),
    Fault("ctx_gender_insee", "contextual", "contextual call whose Patient.gender is the INSEE sex digit (1 / 2)", (S_CONTEXTUAL,), rules=("CTX-GENDER",)),
    Fault("ctx_birthdate_french", "contextual", "contextual call whose Patient.birthDate is DD/MM/YYYY", (S_CONTEXTUAL,), rules=("CTX-BIRTHDATE",)),
    Fault("ctx_district_department", "contextual", "contextual call whose Address.district is the birth département, not the commune code", (S_CONTEXTUAL,), rules=("CTX-DISTRICT",)),
    Fault("ctx_issuer_oid_only", "contextual", "contextual call whose PatientIDIssuer is the bare OID, not namespace&OID&ISO", (S_CONTEXTUAL,), rules=("CTX-IPP-ISSUER",)),
)
FAULTS_BY_NAME = {fault.name: fault for fault in FAULTS}


class UnknownFault(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS_BY_NAME))}")


def select_fault(name: str | None) -> Fault | None:
    if not name:
        return None
    try:
        return FAULTS_BY_NAME[name]
    except KeyError:
        raise UnknownFault(name) from None

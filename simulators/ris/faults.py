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

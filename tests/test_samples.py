"""Every official ANS sample and every artefact of the ANS demonstrator, through ``drimva validate``.

Nominal files must be conformant. Where a sample departs from a rule (the
financing annex's Retrieve Location UID, values redacted as XXXXXXX, the
``_partial`` skeletons whose base64 payload was cut out), the exact findings
are asserted, and the finding's note or value says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drimva.cli import main
from drimva.findings import Severity
from drimva.validate import validate_bytes

from paths import SHARED
ROOTS = (SHARED / "ans-samples", SHARED / "poc-samples")
NOT_ARTEFACTS = ("readme.md", "manifest.md", "license-drim-m_drimbox")
LOCATION_UID = ["KOS-RETRIEVE-LOCATION-UID", "KOS-RETRIEVE-LOCATION-UID"]
KOS_WARNINGS = ["KOS-TEMPLATE", "KOS-TITLE"]  # the demonstrator's KOS: no ContentTemplateSequence, "MANIFEST"
SKELETON_HL7 = (["HL7-OBX5"], [])  # the base64 CDA was replaced by [BASE64-CDA-PAYLOAD-OMITTED-…]
SIGNER_VALID = datetime(2026, 9, 14, 7, 56, 23, tzinfo=UTC) <= datetime.now(UTC) <= datetime(2029, 9, 14, 7, 56, 23, tzinfo=UTC)

# relative path -> (error rules, warning rules); files not listed here must be conformant with no warning
DEPARTURES: dict[str, tuple[list[str], list[str]]] = {
    # SubmissionSet patientId and VIHF resource-id name PAT-SIX (162018885045327), the KOS entry PAT-HUIT
    # (274075176079430): a cross-validator input, inconsistent on purpose or not; VIHF certificate and
    # structure redacted (XXXXXXX).
    "ans-samples/Echantillons-validateurs/Cross-validateur/Echantillons-de-validation/XDS.xml": (
        ["VIHF-RESOURCE-ID", "VIHF-SIGNATURE", "VIHF-STRUCTURE", "XDS-PATIENTID"], []),
    # VIHF certificate and structure redacted; the VIHF subject (899700367909) is not the entry's authorPerson (899711256811).
    "ans-samples/Echantillons-validateurs/Validateur-XDS/XDS.xml": (["VIHF-SIGNATURE", "VIHF-STRUCTURE", "VIHF-SUBJECT"], []),
    # the deliberately corrupted (unsigned) list
    "ans-samples/Referencement-DRIMBox/Liste-blanche-TEST/Liste-blanche-non-signee/LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml": (
        ["TL-SIGNATURE-PRESENT"], []),
    "ans-samples/Referencement-DRIMBox/Liste-blanche-TEST/Liste-blanche-signee/LISTEBLANCHE_DRIM-M_SIGNEE_TEST.xml": (
        [] if SIGNER_VALID else ["TL-SIGNER-VALIDITY"], []),
    # the PDF was replaced by [BASE64-PDF-OMITTED-222708-CHARS]
    "ans-samples/_partial/Referencement-DRIMBox/Jeux-de-donnees/CDA/Examen-C/CR_C.xml.skeleton": (["CDA-BODY"], []),
    **{f"ans-samples/_partial/Referencement-DRIMBox/Jeux-de-donnees/HL7v2/{name}.hl7.skeleton": SKELETON_HL7 for name in (
        "Examen-C/CR_C-MDM", "Examen-C/CR_C-ORU", "Examen-G/CR_G1_MAJ-MDM", "Examen-G/CR_G1_MAJ-ORU",
        "Examen-I/CR_I_Depublication-MDM", "Examen-I/CR_I_Depublication-ORU")},
    # the frames resource with application/dicom (PS3.18 serves frames as bulk data); an OK_ dry-run sample
    "ans-samples/test-a-blanc/Simulateur-client-wadoRS/OK_Frames.txt": ([], ["WADO-LEVEL"]),
    # Accept entries without a media range; an OK_ dry-run sample
    "ans-samples/test-a-blanc/Validateur-de-requete-reponses/Request-validation-instance/OK_Instances_v2.txt": (
        [], ["WADO-ACCEPT-MEDIA-TYPE"]),
    # a generic CI-SIS example CR: its PDF carries no DRIM-M viewer URL
    "poc-samples/CDA/IMG_CR_IMG_2023.11_CDA-R2-Niveau-1.xml": (["CDA-VIEWER-URL"], []),
    # the demonstrator's KOS carries RetrieveURL only: it departs from the financing annex (Location UID per series)
    "poc-samples/KOS/ko.dcm": (LOCATION_UID, KOS_WARNINGS),
    "poc-samples/XDS/publication.xml": (["VIHF-SIGNATURE", "VIHF-STRUCTURE", *LOCATION_UID], KOS_WARNINGS),
}
NOT_JUDGED = {
    "ans-samples/informatif/HL7v2-OMI-O23-Sample/OMI-O23-ImagingOrder.hl7",  # an order, not a CR message
    "ans-samples/informatif/KIN/Manifest_KOS.xml",  # a dcm2xml dump of a KOS
    "ans-samples/test-a-blanc/Simulateur-client-healthcheck/OK_Healthcheck_Request.txt",  # not a WADO-RS retrieve
}


def sample_files() -> list[Path]:
    return sorted(
        path for root in ROOTS if root.is_dir() for path in root.rglob("*")
        if path.is_file() and path.name.lower() not in NOT_ARTEFACTS
    )


def key(path: Path) -> str:
    return str(path.relative_to(SHARED))


def rules(findings, severity) -> list[str]:
    return sorted(f.rule for f in findings if f.severity is severity)


@pytest.fixture(autouse=True)
def _shared() -> None:
    if not all(root.is_dir() for root in ROOTS):
        pytest.skip(f"shared samples not available under {SHARED}")


@pytest.mark.parametrize("path", sample_files(), ids=key)
def test_sample(path: Path) -> None:
    result = validate_bytes(path.read_bytes(), str(path))
    expected_errors, expected_warnings = DEPARTURES.get(key(path), ([], []))
    assert rules(result.findings, Severity.ERROR) == sorted(expected_errors)
    assert rules(result.findings, Severity.WARNING) == sorted(expected_warnings)
    assert result.judged is (key(path) not in NOT_JUDGED)
    assert result.conformant is (not expected_errors and result.judged)  # a file not judged is never conformant
    for finding in result.findings:
        if finding.rule == "KOS-RETRIEVE-LOCATION-UID":
            assert "depart from the annex" in finding.note
        if finding.severity is Severity.ERROR and finding.rule in ("VIHF-SIGNATURE", "VIHF-STRUCTURE"):
            assert "redacted" in finding.note
        if path.name.endswith(".skeleton"):
            assert finding.severity is not Severity.ERROR or "OMITTED" in finding.actual or finding.rule == "CDA-BODY"


def test_every_listed_sample_exists() -> None:
    present = {key(path) for path in sample_files()}
    assert set(DEPARTURES) <= present and NOT_JUDGED <= present
    assert len(present) == 38  # 34 ANS files (byte-faithful and skeletons) + 4 demonstrator artefacts


def test_the_command_on_all_nominal_samples(capsys) -> None:
    nominal = [str(p) for p in sample_files() if not DEPARTURES.get(key(p), ([], []))[0]]
    assert main(["validate", *nominal]) == 0
    faulty = SHARED / "ans-samples/Referencement-DRIMBox/Liste-blanche-TEST/Liste-blanche-non-signee/LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml"
    assert main(["validate", nominal[0], str(faulty)]) == 1
    assert "NON CONFORME" in capsys.readouterr().out

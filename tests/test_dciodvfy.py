"""dciodvfy as an oracle: what it says of the demonstrator's KOS and of a conformant one."""

from __future__ import annotations


import pytest
from pydicom.dataset import Dataset

from drimva.dicom_text import part10_bytes
from drimva.findings import Severity
from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, OracleResult, dciodvfy_available, run_dciodvfy
from drimva.rules.dciodvfy import oracle_findings, split_location
from drimva.context import Patient
from fixtures.studies import make_kos, make_study

from paths import SHARED
def _findings(result: OracleResult, label: str):
    return oracle_findings(label, errors=result.errors, warnings=result.warnings, problem=result.problem)


POC_KOS = SHARED / "poc-samples" / "KOS" / "ko.dcm"


@pytest.fixture()
def dciodvfy() -> None:
    if not dciodvfy_available():
        pytest.skip("dciodvfy not installed: apt package dicom3tools")


def _conformant_kos() -> Dataset:
    patient = Patient(ins="279035121518989", ipp="IPP101", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")
    return make_kos(
        make_study(patient, "ACN101"),
        patient,
        accession="ACN101",
        accession_issuer="1.2.250.1.213.4.5.2.5",
        order_id="OPN101",
        order_root="1.2.250.1.213.4.5.2.6",
        wado_base_url="https://db.drimva.test/wado-rs",
        retrieve_location_uid="1.2.250.1.213.4.5.9.1",
    )


def _poc_kos() -> bytes:
    if not POC_KOS.exists():
        pytest.skip(f"demonstrator sample absent: {POC_KOS}")
    return POC_KOS.read_bytes()


def test_split_location_converts_paths_to_the_house_notation() -> None:
    message = (
        "</CurrentRequestedProcedureEvidenceSequence(0040,a375)[1]/ReferencedSeriesSequence(0008,1115)[2]/"
        "RetrieveLocationUID(0040,e011)> - Missing attribute for Type 1 Required"
    )
    assert split_location(message) == ("(0040,A375)[0]>(0008,1115)[1]>(0040,E011)", "Missing attribute for Type 1 Required")
    assert split_location("</PatientName(0010,0010)[1]> - Retired form") == ("(0010,0010)", "Retired form")
    assert split_location("Information Object Not found") == ("(file)", "Information Object Not found")


def test_findings_follow_the_verdict() -> None:
    result = OracleResult(available=True, returncode=1, errors=["</Modality(0008,0060)> - Missing"], warnings=["x"])
    findings = _findings(result, "-new")
    assert [(f.rule, f.severity, f.location) for f in findings] == [
        ("DCIODVFY", Severity.ERROR, "(0008,0060)"),
        ("DCIODVFY", Severity.WARNING, "(file)"),
    ]
    [absent] = _findings(OracleResult(available=False, problem="not installed"), "-new")
    assert absent.severity is Severity.WARNING and "not installed" in absent.actual


def test_demonstrator_kos_in_plain_mode(dciodvfy: None) -> None:
    result = run_dciodvfy(_poc_kos())
    assert result.ran and result.iod == "KeyObjectSelectionDocument"
    assert result.errors == []
    assert result.returncode == 0
    # RetrieveURL is warned as not in the IOD (dicom3tools 2022 predates it in the evidence macro)
    assert sum("RetrieveURL" in w for w in result.warnings) == 2


def test_demonstrator_kos_under_the_xdsi_manifest_profile(dciodvfy: None) -> None:
    result = run_dciodvfy(_poc_kos(), profile=XDSI_MANIFEST_PROFILE)
    assert result.iod == "KeyObjectSelectionDocumentIHEXDSIManifest"
    assert result.returncode == 1
    assert len(result.errors) == 4
    missing = sorted(split_location(e)[0] for e in result.errors)
    assert missing == [
        "(0040,A375)[0]>(0008,1115)[0]>(0008,0054)",
        "(0040,A375)[0]>(0008,1115)[0]>(0040,E011)",
        "(0040,A375)[0]>(0008,1115)[1]>(0008,0054)",
        "(0040,A375)[0]>(0008,1115)[1]>(0040,E011)",
    ]
    findings = _findings(result, "-profile IHEXDSIManifest")
    assert sum(f.severity is Severity.ERROR for f in findings) == 4


def test_conformant_kos_passes_both_modes(dciodvfy: None) -> None:
    data = part10_bytes(_conformant_kos())
    plain = run_dciodvfy(data)
    profiled = run_dciodvfy(data, profile=XDSI_MANIFEST_PROFILE)
    assert (plain.errors, plain.returncode) == ([], 0), plain.output
    assert (profiled.errors, profiled.returncode) == ([], 0), profiled.output
    assert profiled.iod == "KeyObjectSelectionDocumentIHEXDSIManifest"


def test_xdsi_profile_demands_a_retrieve_ae_title(dciodvfy: None) -> None:
    """What the reference DRIMbox must emit: the profile makes RetrieveAETitle Type 1 even for WADO-RS only."""
    kos = _conformant_kos()
    for series in kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence:
        del series.RetrieveAETitle
    assert run_dciodvfy(part10_bytes(kos)).errors == []
    errors = run_dciodvfy(part10_bytes(kos), profile=XDSI_MANIFEST_PROFILE).errors
    assert len(errors) == 2 and all("RetrieveAETitle" in e for e in errors)


def test_garbage_is_an_error_not_a_crash(dciodvfy: None) -> None:
    result = run_dciodvfy(b"\x00" * 16)
    assert result.ran and result.errors

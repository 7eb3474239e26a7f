import json
from pathlib import Path

import pytest

from drimva.cli import main
from drimva.profile import ProfileError, load_profile, profile_from_mapping, with_settings
from fixtures.embedded import list_variants

EXAMPLE = Path(__file__).resolve().parents[1] / "drimva" / "profiles" / "example-sut.toml"


def test_embedded_profile_points_at_the_reference() -> None:
    profile = load_profile()
    assert profile.is_embedded
    assert profile.sut.hl7.port == 0
    assert profile.rules.qualified_identity_statuses == ("VALI", "QUAL")


def test_example_profile_is_a_real_sut_with_fixed_ports() -> None:
    profile = load_profile(EXAMPLE)
    assert not profile.is_embedded
    assert profile.harness.pacs.port == 11112
    assert profile.sut.wado.base_url.startswith("https://")


def test_defaults_follow_where_sources_disagree() -> None:
    profile = profile_from_mapping({})
    assert profile.rules.require_retrieve_location_uid is True
    assert profile.rules.publish_requires_destdmp is True
    assert profile.rules.strict is False


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"sut": {"hl7": {"port": "abc"}}}, "sut.hl7.port"),
        ({"sut": {"hl7": {"prot": 1}}}, "sut.hl7.prot: unknown key"),
        ({"sut": {"wado": {"base_url": "db.example.fr"}}}, "sut.wado.base_url"),
        ({"sut": {"roles": ["source", "archive"]}}, "sut.roles.1"),
        ({"organisation": {"structure_id": "x"}}, "organisation.structure_id"),
        ({"timeouts": {"ack_s": -1}}, "timeouts.ack_s"),
        ({"source": "x"}, "source: unknown key"),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ProfileError) as raised:
        profile_from_mapping(data, "test.toml")
    assert key in str(raised.value)


def test_cli_reports_profile_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sut.dicom]\nae_title = 'A_TITLE_FAR_TOO_LONG_FOR_DICOM'\n", "utf-8")
    assert main(["sut-config", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "sut.dicom.ae_title" in err and "Traceback" not in err


def test_cli_reports_invalid_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sut\n", "utf-8")
    assert main(["run", "--profile", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_fault_only_applies_to_the_embedded_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", str(EXAMPLE), "--fault", "hl7_no_ack"]) == 2
    assert "embedded" in capsys.readouterr().err


def test_variant_only_applies_to_the_embedded_reference_and_must_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", str(EXAMPLE), "--variant", "ack_before_processing"]) == 2
    assert "embedded reference" in capsys.readouterr().err
    assert main(["run", "--variant", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown variant 'nope'" in err and "ack_before_processing" in err and "Traceback" not in err


def test_settings_are_laid_over_a_profile_and_validated_again() -> None:
    base = load_profile()
    changed = with_settings(base, {"timeouts": {"no_publication_grace_s": 2.5}}, "test")
    assert changed.timeouts.no_publication_grace_s == 2.5
    assert changed.timeouts.publication_s == base.timeouts.publication_s and changed.sut == base.sut
    assert changed.source == f"{base.source} + test"
    with pytest.raises(ProfileError) as raised:
        with_settings(base, {"timeouts": {"grace": 1}}, "test")
    assert "timeouts.grace: unknown key" in str(raised.value)


def test_every_variant_of_the_reference_is_described_by_valid_profile_settings() -> None:
    base = load_profile()
    described = {
        variant["name"]: with_settings(base, variant["profile"], f"variant {variant['name']}") for variant in list_variants()
    }
    # It may publish up to publication_s after its ACK: a check that nothing is published watches as long.
    early = described["ack_before_processing"].timeouts
    assert early.no_publication_grace_s == early.publication_s


def test_sut_config_names_every_endpoint_and_writes_the_pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "sut.toml"
    pki_dir = tmp_path / "pki"
    profile.write_text(
        EXAMPLE.read_text("utf-8").replace('pki_dir = "drimva-pki"', f'pki_dir = "{pki_dir}"'), "utf-8"
    )
    assert main(["sut-config", "--profile", str(profile), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dmp"]["repository_url"] == "https://127.0.0.1:8443/si-dmp-server/v2/services/repository"
    assert data["pacs"] == {"ae_title": "DRIMVA_PACS", "host": "127.0.0.1", "port": 11112}
    for key in ("tls_client_cert", "tls_client_key", "signing_cert", "signing_key"):
        assert Path(data["organisation_certificate"][key]).is_file()
    assert Path(data["dmp"]["trust_anchor"]).parent == pki_dir

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from drimva.cli import main
from drimva.profile import ProfileError, load_profile, profile_from_mapping

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


def test_paths_of_a_profile_file_are_relative_to_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "sut.toml").write_text('[harness]\npki_dir = "pki"\nreports_dir = "../runs"\n[harness.browser]\nexecutable = "/usr/bin/chromium"\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    profile = load_profile("conf/sut.toml")
    assert profile.harness.pki_dir == str(conf / "pki")
    assert profile.reports_folder == tmp_path / "runs"
    assert profile.harness.browser.executable == "/usr/bin/chromium"


def test_run_folders_default_to_reports_of_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_profile().reports_folder == tmp_path / "reports"
    (tmp_path / "sut.toml").write_text("", "utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_profile(tmp_path / "sut.toml").reports_folder == elsewhere / "reports"


def test_items_the_profile_does_not_claim_are_named_with_the_key() -> None:
    from fixtures.harness import unclaimed_items

    both = profile_from_mapping({"sut": {"roles": ["source", "consumer"]}})
    assert unclaimed_items(both, {"VA-C1", "VA-D1", "VA-F", "securite"}) == []
    source_only = profile_from_mapping({"sut": {"roles": ["source"], "has_viewer": False, "has_supervision": False}})
    assert unclaimed_items(source_only, {"VA-C1", "VA-B1"}) == ["VA-C1: the profile does not claim viewer (sut.has_viewer)"]
    assert unclaimed_items(source_only, {"VA-F"}) == ["VA-F: the profile does not claim supervision (sut.has_supervision)"]
    assert unclaimed_items(source_only, {"VA-D2"}) == ["VA-D2: the profile does not claim consumer (sut.roles)"]
    consumer_only = profile_from_mapping({"sut": {"roles": ["consumer"]}})
    assert unclaimed_items(consumer_only, {"VA-C2"}) == ["VA-C2: the profile does not claim source (sut.roles)"]


# Keys of a RIS under test, documented in example-ris.toml, and those the harness sets itself.
NOT_IN_THE_DRIMBOX_EXAMPLE = {"sut.kind", "sut.embedded", "sut.ris", "harness.drimbox_source", "harness.contextual_call"}


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = f"{prefix}{name}"
        if key in NOT_IN_THE_DRIMBOX_EXAMPLE:
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _model_keys(annotation, key + ".")
        else:
            keys.add(key)
    return keys


def _documented_keys(text: str) -> set[str]:
    """Every ``key =`` line of a TOML file, commented out or not, with the table it is in."""
    keys, table = set(), ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]", line)
        if header:
            table = header.group(1) + "."
            continue
        assignment = re.match(r"^#?\s*(\w+)\s*=", line)
        if assignment:
            keys.add(table + assignment.group(1))
    return keys


def test_the_example_profile_documents_every_key_of_the_model() -> None:
    from drimva.profile import Profile

    model, documented = _model_keys(Profile), _documented_keys(EXAMPLE.read_text("utf-8"))
    assert model - documented == set()
    assert documented - model == set()


def test_example_profile_prints_the_shipped_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example-profile"]) == 0
    assert capsys.readouterr().out == EXAMPLE.read_text("utf-8")
    assert main(["example-profile", "--ris"]) == 0
    assert 'kind = "ris"' in capsys.readouterr().out

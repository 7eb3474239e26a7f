import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from drimva.cli import main
from drimva.profile import VIEWER_PLACEHOLDERS, ProfileError, load_profile, profile_from_mapping, with_settings
from fixtures.embedded import list_faults, list_variants
from fixtures.identities import new_patient
from fixtures.reports import new_report_spec
from fixtures.ris_process import list_ris_faults

PROFILES = Path(__file__).resolve().parents[1] / "drimva" / "profiles"
EXAMPLE = PROFILES / "example-sut.toml"


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


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.toml")), ids=lambda path: path.name)
def test_the_shipped_profiles_load(path: Path) -> None:
    assert load_profile(path).listeners()


def _error_lines(data: dict) -> list[str]:
    with pytest.raises(ProfileError) as raised:
        profile_from_mapping(data, "test.toml")
    return str(raised.value).splitlines()[1:]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {"sut": {"consumer": {"contextual_url": "not a url"}}},
            "  sut.consumer.contextual_url: not an absolute http(s) URL (https://host[:port]/path) (got 'not a url')",
        ),
        ({"sut": {"supervision": {"url": "127.0.0.1:8449/supervision"}}}, "  sut.supervision.url: not an absolute"),
        ({"sut": {"wado": {"base_url": "https://db..example.fr/wado"}}}, "  sut.wado.base_url: the host 'db..example.fr' is not"),
        ({"sut": {"wado": {"base_url": "https://db.example.fr:70000/wado"}}}, "  sut.wado.base_url: the port '70000' is not a number"),
        ({"sut": {"wado": {"base_url": "ftp://db.example.fr/wado"}}}, "  sut.wado.base_url: not an absolute http(s) URL"),
        ({"harness": {"viewer_clients": {"redirect_uri": "/callback"}}}, "  harness.viewer_clients.redirect_uri: not an absolute"),
        ({"harness": {"bind_host": "999.1.1.1"}}, "  harness.bind_host: not an IP address or host name (got '999.1.1.1')"),
        ({"harness": {"bind_host": ""}}, "  harness.bind_host: not an IP address or host name (got '')"),
        ({"sut": {"hl7": {"host": "ris_host"}}}, "  sut.hl7.host: not an IP address or host name"),
        ({"sut": {"dicom": {"host": "-pacs.example.fr"}}}, "  sut.dicom.host: not an IP address or host name"),
        ({"sut": {"trust": {"db": "db.example.fr/"}}}, "  sut.trust.db: not an IP address or host name"),
        ({"harness": {"dmp": {"public_host": "1.2.3"}}}, "  harness.dmp.public_host: not an IP address"),
        ({"harness": {"contextual_call": {"public_host": "a b"}}}, "  harness.contextual_call.public_host: not an IP"),
        ({"harness": {"peer": {"host": "127.0.0.256"}}}, "  harness.peer.host: not an IP address or host name"),
        ({"harness": {"peer": {"untrusted_host": "x" * 64}}}, "  harness.peer.untrusted_host: not an IP address"),
        ({"viewer": {"host": "vi.drimbox.test:0"}}, "  viewer.host: the port '0' is not a number from 1 to 65535"),
        ({"viewer": {"host": "999.1.1.1:443"}}, "  viewer.host: the host '999.1.1.1' is not an IP address or host name"),
        ({"viewer": {"url_template": "{host}/viewer?study={study_uid}"}}, "  viewer.url_template: once filled ({host} = viewer.host): not an absolute"),
        ({"viewer": {"url_template": "https://{host}/v?s={studyUID}"}}, "  viewer.url_template: unknown placeholder(s) {studyUID}; known: {host}"),
        ({"viewer": {"url_template": "https://{host}/v?s={study_uid"}}, "  viewer.url_template: not a URL template: "),
    ],
)
def test_hosts_and_urls_are_checked_at_load(data: dict, line: str) -> None:
    lines = _error_lines(data)
    assert len(lines) == 1 and lines[0].startswith(line), lines


@pytest.mark.parametrize(
    "data",
    [
        {"harness": {"bind_host": "0.0.0.0", "advertise_host": "drimva.local", "dmp": {"public_host": "drimva.local"}}},
        {"harness": {"bind_host": "::1", "peer": {"host": "fd00::2", "untrusted_host": "localhost"}}},
        {"sut": {"wado": {"base_url": "http://[::1]:8080/wado-rs"}, "trust": {"db": "db3.test.mesimagesmedicales.fr"}}},
        {"sut": {"consumer": {"contextual_url": "https://user@db.example.fr./appel"}}},
        {"viewer": {"host": "[::1]:8443", "url_template": "http://{location}/v?s={study_uid}&ins={ins}"}},
        {"viewer": {"host": "vi.example.fr:8443"}, "harness": {"viewer_clients": {"redirect_uri": "https://vi.example.fr:8443/cb"}}},
    ],
)
def test_ip_literals_and_host_names_are_accepted(data: dict) -> None:
    profile_from_mapping(data)


def test_every_viewer_placeholder_is_one_the_report_builder_fills() -> None:
    template = "https://{host}/v?" + "&".join(f"{name}={{{name}}}" for name in VIEWER_PLACEHOLDERS)
    viewer = profile_from_mapping({"viewer": {"url_template": template, "host": "vi.example.fr"}}).viewer
    spec = new_report_spec(new_patient(), "1.2.3", ("CT",), viewer_url_template=viewer.url_template, viewer_host=viewer.host)
    assert spec.viewer_url.startswith("https://vi.example.fr/v?host=vi.example.fr&location=vi.example.fr&study_uid=1.2.3&")


def test_two_services_on_one_port_name_both_keys() -> None:
    lines = _error_lines({"harness": {"pacs": {"port": 8443}, "dmp": {"port": 8443}, "dicom_node": {"stow_port": 8443}}})
    assert lines == [
        "  harness.dmp.port: same port as harness.pacs.port on 127.0.0.1 (got 8443)",
        "  harness.dicom_node.stow_port: same port as harness.pacs.port on 127.0.0.1 (got 8443)",
    ]


def test_a_wildcard_bind_host_shares_its_ports_with_the_peers() -> None:
    lines = _error_lines({"harness": {"bind_host": "0.0.0.0", "advertise_host": "192.0.2.10", "trust": {"port": 8447}}})
    assert lines == [
        "  harness.peer.port: same port as harness.trust.port on 127.0.0.2 (harness.bind_host = 0.0.0.0 listens on every address) (got 8447)"
    ]


def test_ports_are_shared_only_on_one_address_and_among_the_services_of_the_run() -> None:
    profile_from_mapping({"harness": {"pacs": {"port": 8447}}})  # the peer listens on 127.0.0.2
    profile_from_mapping({"harness": {"peer": {"port": 9000, "untrusted_port": 9000}}})  # two peer hosts
    profile_from_mapping({"harness": {"pacs": {"port": 0}, "dmp": {"port": 0}}})  # ephemeral
    profile_from_mapping({"harness": {"drimbox_source": {"port": 8443}}})  # the RIS mode's: not started for a DRIMbox
    profile_from_mapping({"sut": {"kind": "ris"}, "harness": {"contextual_call": {"port": 8443}}})
    with pytest.raises(ProfileError, match="harness.contextual_call.port: same port as harness.drimbox_source.port"):
        profile_from_mapping({"sut": {"kind": "ris"}, "harness": {"drimbox_source": {"port": 8444}}})


def test_cli_exits_2_naming_both_keys_of_a_shared_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[harness.pacs]\nport = 8443\n[harness.dmp]\nport = 8443\n", "utf-8")
    assert main(["run", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "harness.dmp.port: same port as harness.pacs.port" in err and "Traceback" not in err


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


@pytest.mark.parametrize(
    ("command", "faults"),
    [(["run"], list_faults), (["ris"], list_ris_faults), (["soak", "--count", "1"], list_faults)],
    ids=["run", "ris", "soak"],
)
def test_an_unknown_fault_is_a_usage_error_listing_the_faults_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], faults: Callable[[], list[dict[str, Any]]]
) -> None:
    run_dir = tmp_path / "run"
    extra = ["--run-dir", str(run_dir)] if command[0] != "soak" else []
    assert main([*command, *extra, "--fault", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drimva: unknown fault 'nope' of the ") and "Traceback" not in err
    listed = {line.split()[0] for line in err.splitlines()[1:]}
    assert listed == {fault["name"] for fault in faults()} and len(listed) > 1
    if extra:  # the run folder is the first thing a run makes
        assert not run_dir.exists()


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


def test_an_unknown_name_for_a_partial_selftest_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--only", "hl7_no_ack,nope"]) == 2
    error = capsys.readouterr().err
    assert "--only: unknown fault or variant nope" in error and "ack_before_processing" in error


def test_wado_accept_parameters_reading() -> None:
    assert profile_from_mapping({}).rules.wado_accept_parameters == "required"
    relaxed = profile_from_mapping({"rules": {"wado_accept_parameters": "recommended"}})
    assert relaxed.rule_options().wado_accept_parameters == "recommended"
    with pytest.raises(ProfileError, match="rules.wado_accept_parameters"):
        profile_from_mapping({"rules": {"wado_accept_parameters": "optional"}})

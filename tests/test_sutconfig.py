"""``drimva sut-config``: the bundle a vendor configures its DRIMbox from."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from drimva.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "drimva" / "profiles" / "example-sut.toml"


def _profile(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "sut.toml"
    path.write_text(text, "utf-8")
    return path


REMOTE = (
    ('bind_host = "127.0.0.1"      #', 'bind_host = "0.0.0.0"\nadvertise_host = "drimva.labo.test"  #'),
    ('base_url = "https://db.example.fr/drimbox/wado-rs"', 'base_url = "https://db.labo.test:8440/drimbox/wado-rs"'),
)


def test_the_bundle_holds_the_certificates_and_every_address_at_the_advertised_host(tmp_path: Path) -> None:
    profile = _profile(tmp_path, *REMOTE)
    out = tmp_path / "bundle"
    assert main(["sut-config", "--profile", str(profile), "--out", str(out)]) == 0
    data = json.loads((out / "configuration.json").read_text("utf-8"))
    assert data["pki"]["status"] == "created" and Path(data["pki"]["folder"]) == tmp_path / "drimva-pki"
    names = {p.name for p in (out / "pki").iterdir()}
    assert names == {"ca.pem", "organisation-tls.pem", "organisation-tls.key", "organisation-signature.pem",
                     "organisation-signature.key", "drimbox-server.pem", "drimbox-server.key"}
    for path in (out / "pki").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == (0o600 if path.suffix == ".key" else 0o644), path
    for key in (tmp_path / "drimva-pki").glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    text = json.dumps(data)
    assert "0.0.0.0" not in text
    assert data["source"]["pacs"] == {"ae_title": "DRIMVA_PACS", "host": "drimva.labo.test", "port": 11112}
    assert data["source"]["dmp"]["iti41_url"] == "https://drimva.labo.test:8443/si-dmp-server/v2/services/repository"
    assert data["consumer"]["dmp"]["iti18_url"].startswith("https://drimva.labo.test:8443/")
    assert data["trust"]["trust_list_url"].startswith("https://drimva.labo.test:")
    assert data["viewer"]["franceconnect_issuer"].startswith("https://drimva.labo.test:")
    assert data["consumer"]["dicom_node"]["host"] == "drimva.labo.test"
    assert data["supervision"]["url"] and data["source"]["kos"]["retrieve_url"].startswith("https://db.labo.test:8440/")
    server = x509.load_pem_x509_certificate((out / "pki" / "drimbox-server.pem").read_bytes())
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "db.labo.test"
    assert "db.labo.test" in server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    readme = (out / "LISEZMOI.md").read_text("utf-8")
    for value in (data["source"]["dmp"]["iti57_url"], data["consumer"]["contextual_call_url"], data["supervision"]["url"],
                  data["viewer"]["client_id"], "PKI de test créée"):
        assert value in readme
    assert "harness.viewer_clients.redirect_uri" in readme  # the example leaves it empty: the bundle says so
    assert main(["sut-config", "--profile", str(profile), "--out", str(out)]) == 0
    assert json.loads((out / "configuration.json").read_text("utf-8"))["pki"]["status"] == "reused"
    assert (out / "pki" / "ca.pem").read_bytes() == (tmp_path / "drimva-pki" / "ca.pem").read_bytes()


def test_the_bundle_covers_only_the_items_claimed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = _profile(tmp_path, ('roles = ["source", "consumer"]', 'roles = ["source"]'),
                       ("has_supervision = true", "has_supervision = false"))
    assert main(["sut-config", "--profile", str(profile), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["claims"] == ["source", "viewer"]
    assert "consumer" not in data and "supervision" not in data and "source" in data and "viewer" in data
    assert main(["sut-config", "--profile", str(profile)]) == 0
    text = capsys.readouterr().out
    assert "consommatrice" not in text and "Supervision" not in text and "DRIMbox source" in text


def test_a_pki_dir_whose_parent_is_missing_is_refused_and_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = _profile(tmp_path, ('pki_dir = "drimva-pki"', 'pki_dir = "nowhere/pki"'))
    assert main(["sut-config", "--profile", str(profile)]) == 2
    error = capsys.readouterr().err
    assert "harness.pki_dir" in error and "does not exist" in error
    assert not (tmp_path / "nowhere").exists()


def test_a_wildcard_bind_host_needs_an_advertised_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = _profile(tmp_path, ('bind_host = "127.0.0.1"      #', 'bind_host = "0.0.0.0"  #'))
    assert main(["sut-config", "--profile", str(profile)]) == 2
    assert "harness.advertise_host" in capsys.readouterr().err

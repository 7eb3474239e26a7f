"""A DRIMbox on another machine: the reference DRIMbox in a network namespace of its own, configured
only from the bundle ``drimva sut-config --out`` writes, and the whole VA suite run against it from the host.

The namespace has its own address (198.18.N.2, the benchmarking range of RFC 2544, on a veth pair
this test creates); the harness listens on the host's end (198.18.N.1) and advertises that address,
with a second address there (198.18.N.3) for the peer DRIMbox absent from the trust list. The
reference is a DRIMbox like any other here: the test translates the bundle's ``configuration.json``
into the reference's own configuration file, adding only what a vendor decides for its own box
(where it listens, its software identity). Needs root (CI runs as root); elsewhere it skips and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.long(35)  # seconds, roughly: handed out first under pytest-xdist

STARTUP_S = 30.0


@dataclass(frozen=True)
class Namespace:
    name: str
    harness: str  # the host's address on the veth
    second: str  # a second host address (the untrusted peer)
    sut: str  # the namespace's address


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace (CI runs as root)")
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (iproute2) to create a network namespace")
    tag = os.getpid() % 10000
    subnet = f"198.18.{os.getpid() % 250 + 1}"
    ns = Namespace(f"drimva-{tag}", f"{subnet}.1", f"{subnet}.3", f"{subnet}.2")
    host_if, ns_if = f"dvh{tag}", f"dvs{tag}"
    try:
        _ip("netns", "add", ns.name)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot create a network namespace here: {error.stderr.decode(errors='replace').strip()}")
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns.name)
        _ip("addr", "add", f"{ns.harness}/24", "dev", host_if)
        _ip("addr", "add", f"{ns.second}/24", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns.name, "addr", "add", f"{ns.sut}/24", "dev", ns_if)
        _ip("-n", ns.name, "link", "set", ns_if, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30, check=False)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=30, check=False)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# The reference's own settings inside the namespace: where it listens (fixed, the namespace is ours).
SUT_PORTS = {"mllp": 2575, "dicom": 11113, "source": 8440, "consumer": 8444, "viewer": 8442, "supervision": 8449}


def remote_profile(harness: str, second: str, sut: str) -> str:
    """The SUT profile a vendor would write for this box: fixed ports everywhere, the harness advertised."""
    port = {name: _free_port(harness) for name in ("pacs", "dmp", "psc", "franceconnect", "trust", "peer", "node", "stow")}
    return f"""
[sut]
name = "DRIMbox de référence, dans son propre espace réseau"
roles = ["source", "consumer"]
[sut.hl7]
host = "{sut}"
port = {SUT_PORTS["mllp"]}
[sut.dicom]
ae_title = "DRIMBOX"
host = "{sut}"
port = {SUT_PORTS["dicom"]}
[sut.wado]
base_url = "https://{sut}:{SUT_PORTS["source"]}/drimbox/wado-rs"
retrieve_location_uid = "1.2.250.1.999.77.1"
[sut.consumer]
contextual_url = "https://{sut}:{SUT_PORTS["consumer"]}/drimbox/appel-contextuel"
[sut.supervision]
url = "https://{sut}:{SUT_PORTS["supervision"]}/supervision"
[viewer]
host = "{sut}:{SUT_PORTS["viewer"]}"
[harness]
bind_host = "{harness}"
advertise_host = "{harness}"
pki_dir = "pki"
[harness.pacs]
port = {port["pacs"]}
[harness.dmp]
port = {port["dmp"]}
[harness.psc]
port = {port["psc"]}
[harness.franceconnect]
port = {port["franceconnect"]}
[harness.trust]
port = {port["trust"]}
[harness.viewer_clients]
redirect_uri = "https://{sut}:{SUT_PORTS["viewer"]}/viewer/callback"
[harness.peer]
host = "{harness}"
port = {port["peer"]}
untrusted_host = "{second}"
untrusted_port = {_free_port(second)}
[harness.dicom_node]
port = {port["node"]}
stow_port = {port["stow"]}
[rules]
strict_dn_match = true
"""


def reference_config_from_bundle(bundle: Path, sut_host: str, folder: Path) -> dict[str, Any]:
    """The reference DRIMbox's configuration, from the bundle and its own choices only."""
    data = json.loads((bundle / "configuration.json").read_text("utf-8"))
    files = {name: str(bundle / path) for name, path in data["files"].items()}
    source, consumer, viewer = data["source"], data["consumer"], data["viewer"]
    org = data["organisation"]
    kos = source["kos"]
    oidc = {"client_id": viewer["client_id"], "client_secret": viewer["client_secret"]}
    return {
        # its own choices: where it listens, what it is
        "bind_host": sut_host, "mllp_port": SUT_PORTS["mllp"], "dicom_port": SUT_PORTS["dicom"],
        "ae_title": source["pacs_knows_drimbox_as"]["ae_title"],
        "lps": {"id": "drimva-reference", "name": "DRIMbox de reference drimva", "version": "0.1.0", "homologation": "TEST-0000"},
        "source_id": "1.2.250.1.999.77.2", "qualified_statuses": ["VALI", "QUAL"], "publish_requires_destdmp": True,
        "state_dir": str(folder / "state"), "log_file": str(folder / "reference.log"),
        "timeouts": {"dicom_s": 5.0, "http_s": 15.0},
        "consumer": {"consent_names": [consumer["consent_parameter"]]},
        "supervision": {"port": SUT_PORTS["supervision"]},
        # from the bundle
        "wado_base_url": kos["retrieve_url_base"], "retrieve_location_uid": kos["retrieve_location_uid"],
        "pacs": {key: source["pacs"][key] for key in ("ae_title", "host", "port")},
        "dmp": {
            "repository_url": source["dmp"]["iti41_url"], "registry_url": source["dmp"]["iti57_url"],
            "ca_cert": files["ca.pem"], "client_cert": files[org["tls_client"]["cert"]],
            "client_key": files[org["tls_client"]["key"]], "signing_cert": files[org["vihf_signature"]["cert"]],
            "signing_key": files[org["vihf_signature"]["key"]],
        },
        "https": {
            "server_cert": files[data["trust"]["server_certificate"]["cert"]],
            "server_key": files[data["trust"]["server_certificate"]["key"]],
            "source_port": SUT_PORTS["source"], "consumer_port": SUT_PORTS["consumer"],
            "mutual_tls": data["trust"]["wado_mutual_tls"],
        },
        "psc": {key: data["pro_sante_connect"][key] for key in ("issuer", "jwks_url", "audience")},
        "trust": {"list_url": data["trust"]["trust_list_url"], "anchor": files["ca.pem"], "refresh_s": 0.001},
        "dicom_node": {
            "ae_title": consumer["dicom_node"]["ae_title"], "host": consumer["dicom_node"]["host"],
            "port": consumer["dicom_node"]["port"], "ca_cert": files["ca.pem"],
        },
        "viewer": {
            "port": SUT_PORTS["viewer"],
            "psc": {"issuer": viewer["pro_sante_connect_issuer"], **oidc},
            "franceconnect": {"issuer": viewer["franceconnect_issuer"], **oidc},
        },
    }  # fmt: skip


@pytest.fixture
def remote_reference(namespace: Namespace, tmp_path: Path) -> Iterator[tuple[Namespace, Path]]:
    """The bundle written, the reference started in the namespace from it; yields the profile."""
    profile = tmp_path / "sut.toml"
    profile.write_text(remote_profile(namespace.harness, namespace.second, namespace.sut), "utf-8")
    bundle = tmp_path / "bundle"
    done = subprocess.run(
        [sys.executable, "-P", "-m", "drimva", "sut-config", "--profile", str(profile), "--out", str(bundle)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    folder = tmp_path / "sut"
    folder.mkdir()
    config = folder / "config.json"
    config.write_text(json.dumps(reference_config_from_bundle(bundle, namespace.sut, folder), indent=2), "utf-8")
    ready = folder / "ready.json"
    log = (folder / "stderr.log").open("wb")
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, sys.executable, "-P", "-m", "simulators.reference",
         "--config", str(config), "--ready-file", str(ready)],
        cwd=folder, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_S
        while not ready.exists():
            assert process.poll() is None, (folder / "stderr.log").read_text("utf-8", "replace")[-2000:]
            assert time.monotonic() < deadline, f"the reference was not ready within {STARTUP_S} s"
            time.sleep(0.05)
        yield namespace, profile
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_every_item_passes_against_a_drimbox_in_its_own_namespace(remote_reference: tuple[Namespace, Path], tmp_path: Path) -> None:
    namespace, profile = remote_reference
    run_dir = tmp_path / "run"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-P", "-m", "drimva", "run", "--profile", str(profile), "--run-dir", str(run_dir), "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    not_passed = {s["name"]: (s["outcome"], s["message"][:300]) for s in results["scenarios"] if s["outcome"] != "passed"}
    assert not_passed == {}, not_passed
    assert done.returncode == 0, done.stderr[-2000:]
    assert {item["id"]: item["outcome"] for item in results["items"]} == {item["id"]: "passed" for item in results["items"]}
    print(f"VA suite against a DRIMbox in namespace {namespace.name} ({namespace.sut}): {elapsed:.1f} s")

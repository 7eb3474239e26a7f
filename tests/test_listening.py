"""A simulator that cannot bind its socket ends the run with a harness error naming the profile key, host and port."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimva.evidence import NullEvidence
from drimva.outcomes import HarnessError
from drimva.profile import profile_from_mapping
from fixtures.listening import bind_failure, started
from fixtures.pki import TestPki
from fixtures.stack import new_pacs
from simulators.common.binding import BindError
from simulators.dicom_node import DicomNode
from simulators.drimbox_source import DrimboxSourceSimulator
from va_runs import reference_profile, run_drimva


@pytest.fixture()
def taken_port() -> Iterator[int]:
    """A port of 127.0.0.1 another socket listens on for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])



def test_a_taken_pacs_port_names_the_key_the_host_and_the_port(taken_port: int) -> None:
    profile = profile_from_mapping({"harness": {"pacs": {"port": taken_port}}})
    with pytest.raises(HarnessError) as raised:
        started(new_pacs(profile, NullEvidence()), profile.listener("harness.pacs.port"))
    assert str(raised.value) == f"harness.pacs.port = {taken_port} on 127.0.0.1: address already in use"


def test_the_failed_socket_of_a_two_socket_simulator_is_the_one_named(taken_port: int, pki: TestPki) -> None:
    profile = profile_from_mapping({"harness": {"dicom_node": {"port": 0, "stow_port": taken_port}}})
    cert, key = pki.issue_server_cert("dicom-node", ("127.0.0.1",))
    node = DicomNode(NullEvidence(), stow_cert=cert, stow_key=key, stow_port=taken_port, timeout=5)
    keys = (profile.listener("harness.dicom_node.port"), profile.listener("harness.dicom_node.stow_port"))
    with pytest.raises(HarnessError, match=f"^harness.dicom_node.stow_port = {taken_port} on 127.0.0.1: address already in use$"):
        started(node, *keys)
    assert node.port == 0  # its C-STORE SCP, bound first, was closed again: the port is the requested one


def test_the_mllp_listener_of_the_ris_mode_names_its_key(taken_port: int) -> None:
    profile = profile_from_mapping({"sut": {"kind": "ris"}, "harness": {"drimbox_source": {"port": taken_port}}})
    listener = DrimboxSourceSimulator(NullEvidence(), lambda raw: (None, ""), port=taken_port)
    with pytest.raises(HarnessError, match=f"^harness.drimbox_source.port = {taken_port} on 127.0.0.1: address already in use$"):
        started(listener, profile.listener("harness.drimbox_source.port"))


def test_a_host_name_that_does_not_resolve_names_the_host_key() -> None:
    profile = profile_from_mapping({"harness": {"bind_host": "drimva-harness.invalid"}})  # .invalid never resolves (RFC 6761)
    with pytest.raises(HarnessError) as raised:
        started(new_pacs(profile, NullEvidence()), profile.listener("harness.pacs.port"))
    assert str(raised.value).startswith(
        "harness.pacs.port = 11112 on harness.bind_host = drimva-harness.invalid: the host does not resolve to an address to listen on ("
    )


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (OSError(errno.EACCES, "Permission denied"), "harness.psc.port = 443 on 127.0.0.1: permission denied (a port below 1024 needs privileges)"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "harness.psc.port = 443 on harness.bind_host = 127.0.0.1: not an address of this machine"),
        (OSError(errno.ENETDOWN, "Network is down"), "harness.psc.port = 443 on harness.bind_host = 127.0.0.1: network is down"),
    ],
)
def test_each_cause_is_said_with_the_key_it_is_about(cause: OSError, message: str) -> None:
    profile = profile_from_mapping({"harness": {"psc": {"port": 443}}})
    assert bind_failure(BindError("127.0.0.1", 443, cause), (profile.listener("harness.psc.port"),)) == message


def test_a_run_whose_pacs_port_is_taken_ends_in_error_naming_it(tmp_path: Path, taken_port: int) -> None:
    """End to end: exit 3 within two minutes (the whole suite errs at once), every scenario ``error`` with the key and port, in results.json and on the console."""
    profile = reference_profile(tmp_path, settings={"harness.pacs.port": str(taken_port)})
    done = run_drimva("run", "--profile", str(profile), "--run-dir", str(tmp_path / "run"), timeout_s=120)
    assert done.returncode == 3, done.stderr[-2000:]
    expected = f"harness.pacs.port = {taken_port} on 127.0.0.1: address already in use"  # a harness error says what, not its class
    results = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    assert results["scenarios"] and {(s["outcome"], s["message"]) for s in results["scenarios"]} == {("error", expected)}
    assert expected in done.stdout

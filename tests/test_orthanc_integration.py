"""VA-D2 against a real WADO-RS peer: the reference consumer retrieves a study from Orthanc + DICOMweb.

Orthanc is an independent oracle (ARCHITECTURE.md, "Independent oracles"):
the test starts its own ``Orthanc <config.json>`` (storage, index, config and
log in a temp dir, free ports, loopback clients only; the Debian service on
4242/8042 is never used), uploads a generated study with ``POST /instances``,
builds a KOS whose RetrieveURLs point at Orthanc's ``/dicom-web/``, a signed
liste blanche naming ``127.0.0.1``, and lets the reference ``WadoClient``
fetch every series with its unchanged CI-SIS Accept profile.

Measured on Debian 12 (Orthanc 1.10.1, DICOMweb plugin 1.7, libcivetweb1
1.15, OpenSSL 3):

- **Orthanc's own HTTPS crashes.** With ``SslEnabled: true`` the TLS
  handshake succeeds, then the process dies with SIGSEGV on the first
  request: Debian's civetweb 1.15 loads ``libssl.so`` at run time and looks
  up ``SSL_get_peer_certificate``, which OpenSSL 3 no longer exports (it is
  ``SSL_get1_peer_certificate``), and calls the null pointer. The fixture
  tries native HTTPS first; only on that exact failure (exit by SIGSEGV) it
  runs Orthanc on plain HTTP (loopback) behind ``TlsRelay``, a
  byte-transparent TLS terminator, so every HTTP header and body is still
  Orthanc's. Any other start-up failure is an error.
- **CI-SIS Accept**: Orthanc answers 200, ignores the q-values and uses the
  LAST media range of the comma-separated list: for the CI-SIS profile that
  is Explicit VR Little Endian (q=0.4, the least preferred), a syntax that
  was asked, so the exchange interoperates; the same list in reverse order
  gets JPEG Lossless SV1 (``.4.70``). The response ``Content-Type`` and the
  parts carry no ``transfer-syntax`` parameter, and Orthanc chooses its own
  boundary (``boundary=**`` is not echoed). The retrieval test therefore
  keeps the reference client's Accept unchanged.
"""

from __future__ import annotations

import io
import os
import signal
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from orthanc_process import (
    OrthancProcess,
    OrthancStartError,
    TlsRelay,
    find_orthanc,
    port_open,
)
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRLittleEndian, JPEGLosslessSV1, generate_uid

from drimva.evidence import NullEvidence
from drimva.rules.retrieval import (
    check_retrieval,
    kos_series_references,
    pixel_digests,
    pixel_sha256,
)
from fixtures.identities import new_organisation, new_patient
from fixtures.pki import TestPki, build_pki
from fixtures.studies import make_kos, make_study
from simulators.reference.trust_store import TrustStore
from simulators.reference.wado_client import (
    CISIS_ACCEPT,
    WadoClient,
    accept_header,
    kos_series,
    parse_dicom_multipart,
)
from simulators.trust.server import TrustListServer, certificate_dn, trust_domain

DEBIAN_SERVICE_PORTS = {4242, 8042}


@dataclass
class OrthancPeer:
    process: OrthancProcess
    pki: TestPki
    cert: Path
    wado_base: str  # what the KOS RetrieveURLs start with: https://127.0.0.1:<port>/dicom-web
    https: str  # "native" or "relay" (see the module docstring)
    native_exit: int | None  # exit status of the native-HTTPS attempt when it failed


def _binaries() -> tuple[Path, Path]:
    found = find_orthanc()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _assert_stopped(process: OrthancProcess, pid: int) -> None:
    """After the module: the process is gone (reaped), stopped by SIGTERM, its ports closed, its files in its folder."""
    process.stop()  # idempotent
    assert not Path(f"/proc/{pid}").exists(), f"Orthanc pid {pid} still exists after stop()"
    assert process.last_returncode == 0, f"Orthanc did not stop cleanly on SIGTERM: {process.last_returncode}"
    for port in (process.http_port, process.dicom_port):
        assert not port_open(port), f"port {port} still accepts connections after stop()"
    assert sorted(p.name for p in process.folder.iterdir()) == ["orthanc.json", "orthanc.log", "storage"]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    binary, plugin = _binaries()
    folder = tmp_path_factory.mktemp("orthanc")
    pki = build_pki(folder / "pki", new_organisation(), hosts=("127.0.0.1",))
    cert, key = pki.issue_server_cert("orthanc", ("127.0.0.1",))
    pem = folder / "orthanc-cert-and-key.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())

    native = OrthancProcess(folder / "native", pem, pki.ca_cert, binary=binary, plugin=plugin,
                            tls=True, attempts=1, startup_timeout_s=15)
    try:
        native.start()
    except OrthancStartError as exc:
        native.close()
        if exc.returncode != -signal.SIGSEGV:
            raise
        plain = OrthancProcess(folder / "plain", pem, pki.ca_cert, binary=binary, plugin=plugin, tls=False)
        with plain, TlsRelay(plain.http_port, cert, key) as relay:
            pid = plain.pid
            yield OrthancPeer(plain, pki, cert, f"https://127.0.0.1:{relay.port}/dicom-web", "relay", exc.returncode)
        assert not port_open(relay.port)
        _assert_stopped(plain, pid)
        return
    pid = native.pid
    with native:
        yield OrthancPeer(native, pki, cert, native.dicomweb_url, "native", None)
    _assert_stopped(native, pid)


def _part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _upload_study(orthanc: OrthancPeer) -> list[Dataset]:
    study = make_study(new_patient(), "ACN-ORTHANC", series=(("CT", 3), ("MR", 2)))
    answers = [orthanc.process.upload(_part10(ds)) for ds in study]
    assert [a.get("Status") for a in answers] == ["Success"] * len(study), answers
    return study


def _verified(orthanc: OrthancPeer) -> httpx.Client:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(orthanc.pki.ca_cert))
    return httpx.Client(verify=context, timeout=10.0, trust_env=False)


def test_orthanc_is_a_private_child_of_the_test(orthanc: OrthancPeer) -> None:
    process = orthanc.process
    status = Path(f"/proc/{process.pid}/status").read_text()
    assert f"PPid:\t{os.getpid()}" in status
    assert Path(f"/proc/{process.pid}/exe").resolve() == process.binary.resolve()
    assert Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[-2] == str(process.config_path).encode()
    assert {process.http_port, process.dicom_port}.isdisjoint(DEBIAN_SERVICE_PORTS)
    assert port_open(process.http_port) and port_open(process.dicom_port)
    system = process.version()
    assert system["HttpPort"] == process.http_port and system["DicomPort"] == process.dicom_port
    assert "dicom-web" in process.plugins()
    print(f"Orthanc {system['Version']}, plugin {process.plugin}, HTTPS {orthanc.https}"
          f" (native exit {orthanc.native_exit}), start-up {process.startup_s:.2f} s")


def test_reference_consumer_retrieves_the_study_from_orthanc(orthanc: OrthancPeer) -> None:
    began = time.monotonic()
    study = _upload_study(orthanc)
    patient_study = study[0]
    kos = make_kos(study, new_patient(), accession="ACN-ORTHANC", accession_issuer="1.2.250.1.999.1",
                   order_id="CMD-ORTHANC", order_root="1.2.250.1.999.2", wado_base_url=orthanc.wado_base,
                   retrieve_location_uid=generate_uid())
    kos_bytes = _part10(kos)
    manifest = kos_series(kos_bytes)
    assert [s.retrieve_url for s in manifest.series] == [
        f"{orthanc.wado_base}/studies/{patient_study.StudyInstanceUID}/series/{uid}"
        for uid in dict.fromkeys(str(ds.SeriesInstanceUID) for ds in study)
    ]

    domain = trust_domain(1, "127.0.0.1", denomination="Orthanc", dn=certificate_dn(orthanc.cert))
    with TrustListServer(NullEvidence(), orthanc.pki, domains=[domain], timeout=5) as trust_server:
        trust = TrustStore(trust_server.list_url, orthanc.pki.ca_cert, timeout_s=5, refresh_s=3600)
        assert trust.refresh(), trust.last_error
        with WadoClient(trust=trust, ca_cert=orthanc.pki.ca_cert, timeout_s=10) as client:
            results = [client.fetch_series(s, kos_uid=manifest.sop_instance_uid, token="drimva-any-token")
                       for s in manifest.series]

    assert [(r.ok, r.http_status, r.error) for r in results] == [(True, 200, "")] * len(manifest.series)
    instances = [ds for r in results for ds in r.instances]
    received = {str(ds.SOPInstanceUID): pixel_sha256(ds) for ds in instances}
    assert len(received) == len(instances) == len(study)
    assert set(received) == {sop for ref in kos_series_references(kos_bytes) for sop in ref.sop_instance_uids}
    assert check_retrieval(kos_bytes, received, pixel_digests(study)) == []
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in instances} == {ExplicitVRLittleEndian}
    print(f"upload + trust list + retrieval of {len(study)} instances: {time.monotonic() - began:.2f} s")


def test_orthanc_uses_the_last_accept_entry_and_ignores_q(orthanc: OrthancPeer) -> None:
    """Measured behaviour with the CI-SIS Accept profile (see the module docstring)."""
    study = _upload_study(orthanc)
    ds = study[0]
    url = f"{orthanc.wado_base}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    count = sum(1 for other in study if other.SeriesInstanceUID == ds.SeriesInstanceUID)

    def syntaxes(accept: str) -> tuple[int, str, set[str]]:
        with _verified(orthanc) as http:
            response = http.get(url, headers={"Accept": accept})
        assert response.status_code == 200, response.text[:300]
        content_type = response.headers["content-type"]
        parts = parse_dicom_multipart(content_type, response.content)
        return len(parts), content_type, {str(part.file_meta.TransferSyntaxUID) for part in parts}

    cisis = accept_header()
    assert CISIS_ACCEPT[0] == (JPEGLosslessSV1, "0.9") and CISIS_ACCEPT[-1] == (ExplicitVRLittleEndian, "0.4")
    parts, content_type, answered = syntaxes(cisis)
    assert (parts, answered) == (count, {ExplicitVRLittleEndian})  # last entry, lowest q; still one that was asked
    assert "transfer-syntax" not in content_type and "boundary=**" not in content_type
    assert syntaxes(cisis + ",")[2] == {ExplicitVRLittleEndian}  # the validator sample's trailing comma is accepted
    assert syntaxes(accept_header(tuple(reversed(CISIS_ACCEPT))))[2] == {JPEGLosslessSV1}  # order, not q, decides


def test_orthanc_answers_pass_the_live_wado_response_rules(orthanc: OrthancPeer) -> None:
    """Oracle for VA-E's live judgement: a WADO-RS server nobody here wrote passes check_source_responses."""
    from drimva.findings import errors
    from drimva.rules.wado import check_source_responses
    from simulators.peer.consumer import PeerConsumer

    study = _upload_study(orthanc)
    kos = make_kos(study, new_patient(), accession="ACN-ORTHANC", accession_issuer="1.2.250.1.999.1",
                   order_id="CMD-ORTHANC", order_root="1.2.250.1.999.2", wado_base_url=orthanc.wado_base,
                   retrieve_location_uid=generate_uid())
    fetch = PeerConsumer(NullEvidence(), ca_cert=orthanc.pki.ca_cert, timeout=10).fetch_study(_part10(kos), "drimva-any-token")
    exchanges = fetch.wado_exchanges()
    assert [response.status for _, response in exchanges] == [200] * len(kos_series(_part10(kos)).series)
    assert errors(check_source_responses(exchanges)) == []

"""The reference DRIMbox's source role over WADO-RS (VA-E), run as its own process on 127.0.0.2.

Counterparts, all in this test: a test CA, an HTTPS JWKS endpoint of a PSC-like
issuer, the harness PACS simulator (C-GET SCP) holding a three-series study of
which the published KOS references two, and a state_dir seeded with that KOS.
"""

from __future__ import annotations

import io
import json
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pydicom
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from drimva.context import Organisation, Patient
from drimva.evidence import NullEvidence
from drimva.mime import parse_content_type, parse_multipart
from fixtures.pki import TestPki, build_pki
from fixtures.studies import make_kos, make_study
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from simulators.pacs import PacsSimulator
from simulators.reference.config import ConfigError, parse_config
from simulators.reference.faults import listed_faults
from simulators.reference.pacs_client import PacsUnavailable
from simulators.reference.retrieval import Retrieval, RetrievedInstance
from simulators.reference.publication import KosPublication
from simulators.reference.service import ReferenceService
from simulators.reference.https_server import Request
from simulators.reference.source_server import AcceptError, SourceServer, choose_transfer_syntax, parse_accept
from simulators.reference.state import APPROVED, PublishedKos, StateStore
from simulators.reference.token_check import JwksUnavailable

from paths import REPO, SHARED
WADO_SAMPLES = SHARED / "ans-samples" / "test-a-blanc"
HOST = "127.0.0.2"  # the source DRIMbox of the loopback trust space
ISSUER = "https://127.0.0.1/psc/auth/realms/esante-wallet"
PACS_AE = "DRIMVA_PACS"
EXPLICIT_LE = str(ExplicitVRLittleEndian)
ACCEPT = f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_LE}; q=0.4; boundary=**'
JPEG_ONLY = 'multipart/related; type="application/dicom";transfer-syntax=1.2.840.10008.1.2.4.70;q=0.9;boundary=**,'
WADO_FAULTS = ("wado_no_token_check", "wado_ignore_kos_header", "wado_skip_last_instance", "wado_plain_http")
PATIENT = Patient(
    ins="279035121518989", ipp="IPP901", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F"
)


# -- counterparts ------------------------------------------------------------------------------


@dataclass
class World:
    pki: TestPki
    folder: Path
    key: rsa.RSAPrivateKey
    rogue: rsa.RSAPrivateKey
    jwks: HttpsServer
    jwks_fetches: list[str]
    pacs: PacsSimulator
    study: list[Dataset]
    kos_uid: str

    @property
    def study_uid(self) -> str:
        return str(self.study[0].StudyInstanceUID)

    def series(self, index: int) -> list[Dataset]:
        uids = list(dict.fromkeys(str(ds.SeriesInstanceUID) for ds in self.study))
        return [ds for ds in self.study if str(ds.SeriesInstanceUID) == uids[index]]

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": "810000000001",
            "aud": "drimbox",
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "acr": "eidas1",
            "scope": "openid scope_all",
            "preferred_username": "810000000001",
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "psc-1"})

    def config(self, folder: Path, **extra: Any) -> dict[str, Any]:
        cert, key = self.pki.issue_server_cert("source", (HOST, "127.0.0.1"))
        return {
            "bind_host": HOST,
            "mllp_port": 0,
            "ae_title": "DRIMBOX",
            "dicom_port": 0,
            "wado_base_url": "https://configured.invalid/drimbox/wado-rs",
            "retrieve_location_uid": "1.2.250.1.999.77.1",
            "qualified_statuses": ["VALI", "QUAL"],
            "publish_requires_destdmp": True,
            "pacs": {"ae_title": PACS_AE, "host": "127.0.0.1", "port": self.pacs.port},
            "dmp": {
                "repository_url": "https://127.0.0.1:9/repository",  # nothing listens there: not used here
                "registry_url": "https://127.0.0.1:9/registry",
                "ca_cert": str(self.pki.ca_cert),
                "client_cert": str(self.pki.client_cert),
                "client_key": str(self.pki.client_key),
                "signing_cert": str(self.pki.signing_cert),
                "signing_key": str(self.pki.signing_key),
            },
            "lps": {"id": "drimva-reference", "name": "DRIMbox de reference", "version": "0.1.0", "homologation": "T-0"},
            "source_id": "1.2.250.1.999.77.2",
            "state_dir": str(self.folder / "state"),
            "log_file": str(folder / "reference.log"),
            "timeouts": {"dicom_s": 5.0, "http_s": 3.0},
            "https": {"server_cert": str(cert), "server_key": str(key)},
            "psc": {"issuer": ISSUER, "jwks_url": self.jwks.base_url + "/psc/certs"},
            **extra,
        }


def _publication(kos: bytes, kos_uid: str, study_uid: str) -> KosPublication:
    return KosPublication(
        kos_bytes=kos, kos_sop_instance_uid=kos_uid, study_uid=study_uid, ins=PATIENT.ins, ins_oid=PATIENT.ins_oid,
        ipp="IPP901", ipp_oid="1.2.250.1.213.4.5.2.4", birth_name="PAT-TROIS", given_name="DOMINIQUE",
        birth_date="19790328", sex="F", accession="ACN901", accession_issuer="1.2.250.1.999.27", order_id="OPN901",
        order_root="1.2.250.1.999.6", modalities=("CT", "MR"), act_code=None, confidentiality="N", masking_flags=(),
        secret_connection=False, author_id="801234564895", author_family="Thomas", author_given="Eric",
        organisation_id="750803447", organisation_name="Centre Ambroise", organisation_id_type="FINEG",
        healthcare_facility_code="SA08", practice_setting="ORTHOP", service_start="20250101093000",
        service_stop="20250101094500", creation_time="20250102101500",
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("source")
    pki = build_pki(folder / "pki", Organisation("Centre Ambroise", "750803447"))
    key, rogue = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "psc-1", "use": "sig", "alg": "RS256"}
    fetches: list[str] = []

    def serve_jwks(request: HttpRequest) -> HttpResponse:
        fetches.append(request.path)
        if request.path != "/psc/certs":
            return HttpResponse(404)
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps({"keys": [jwk]}).encode())

    cert, cert_key = pki.issue_server_cert("psc", ("127.0.0.1",))
    jwks = HttpsServer(serve_jwks, cert, cert_key, client_auth="none")
    study = make_study(PATIENT, "ACN901", series=(("CT", 3), ("MR", 2), ("CT", 1)))
    pacs = PacsSimulator(NullEvidence(), ae_title=PACS_AE)
    pacs.add_study(study)
    kos = make_kos(
        study[:5], PATIENT, accession="ACN901", accession_issuer="1.2.250.1.999.27", order_id="OPN901",
        order_root="1.2.250.1.999.6", wado_base_url="https://127.0.0.2/drimbox/wado-rs",
        retrieve_location_uid="1.2.250.1.999.77.1",
    )  # fmt: skip
    buffer = io.BytesIO()
    kos.save_as(buffer, enforce_file_format=True)
    kos_uid, study_uid = str(kos.SOPInstanceUID), str(kos.StudyInstanceUID)
    StateStore(folder / "state").record(
        PublishedKos(study_uid, "urn:uuid:" + str(uuid.uuid4()), kos_uid, str(kos.SeriesInstanceUID), 1, APPROVED,
                     _publication(buffer.getvalue(), kos_uid, study_uid))
    )  # fmt: skip
    with jwks, pacs:
        yield World(pki, folder, key, rogue, jwks, fetches, pacs, study, kos_uid)


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log_file: Path

    @property
    def base(self) -> str:
        return str(self.ready["wado_base_url"])


def launch(world: World, name: str, fault: str | None = None, **extra: Any) -> Callable[[], Running]:
    """Start one reference process; the returned function waits for its READY.json."""
    folder = world.folder / name
    folder.mkdir(parents=True, exist_ok=True)
    config = world.config(folder, **extra)
    config_file, ready_file = folder / "config.json", folder / "ready.json"
    config_file.write_text(json.dumps(config), "utf-8")
    command = [sys.executable, "-m", "simulators.reference", "--config", str(config_file), "--ready-file", str(ready_file)]
    process = subprocess.Popen(command + (["--fault", fault] if fault else []), cwd=REPO, stderr=subprocess.PIPE)
    started.append(process)

    def ready() -> Running:
        deadline = time.monotonic() + 20
        while not ready_file.exists():
            assert process.poll() is None, f"reference exited with {process.returncode}: {process.stderr.read().decode()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "reference not ready within 20 s"
            time.sleep(0.02)
        return Running(process, json.loads(ready_file.read_text("utf-8")), Path(config["log_file"]))

    return ready


started: list[subprocess.Popen[bytes]] = []


def stop_all() -> None:
    for process in started:
        process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    started.clear()


@pytest.fixture(scope="module")
def references(world: World) -> Iterator[dict[str | None, Running]]:
    """The faultless reference, one per WADO-RS fault, one without the source role; started together."""
    try:
        waits = {fault: launch(world, fault or "faultless", fault) for fault in (None, *WADO_FAULTS)}
        waits["no-source"] = launch(world, "no-source", https=None, psc=None)
        yield {name: wait() for name, wait in waits.items()}
    finally:
        stop_all()


@pytest.fixture(scope="module")
def source(references: dict[str | None, Running]) -> Running:
    return references[None]


def client(world: World) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(world.pki.ca_cert)), timeout=15.0)


def get(world: World, url: str, *, token: str | None = "valid", kos: str | None = "published", accept: str | list[str] | None = ACCEPT) -> httpx.Response:
    headers: list[tuple[str, str]] = []
    if token is not None:
        headers.append(("Authorization", f"Bearer {world.token() if token == 'valid' else token}"))
    if kos is not None:
        headers.append(("KOS-SOPInstanceUID", world.kos_uid if kos == "published" else kos))
    for value in [accept] if isinstance(accept, str) else accept or []:
        headers.append(("Accept", value))
    scheme_client = client(world) if url.startswith("https:") else httpx.Client(timeout=15.0)
    with scheme_client as http:
        http.headers.pop("Accept", None)  # httpx's default "*/*" would hide a missing Accept
        return http.get(url, headers=headers)


def series_url(running: Running, world: World, index: int) -> str:
    return f"{running.base}/studies/{world.study_uid}/series/{world.series(index)[0].SeriesInstanceUID}"


def parts(response: httpx.Response) -> list[Dataset]:
    """The Part-10 instances of a multipart/related response, read with the harness's own MIME parser."""
    content_type = response.headers["content-type"]
    media, params = parse_content_type(content_type)
    assert (media, params.get("type"), params.get("transfer-syntax")) == ("multipart/related", "application/dicom", EXPLICIT_LE)
    out = []
    for part in parse_multipart(response.content, content_type):
        assert part.mime_type == "application/dicom"
        assert f"transfer-syntax={EXPLICIT_LE}" in part.header("Content-Type", "")
        ds = pydicom.dcmread(io.BytesIO(part.content))
        assert ds.file_meta.TransferSyntaxUID == EXPLICIT_LE
        out.append(ds)
    return out


def same_instances(received: list[Dataset], expected: list[Dataset]) -> None:
    assert [str(ds.SOPInstanceUID) for ds in received] == [str(ds.SOPInstanceUID) for ds in expected]
    for got, want in zip(received, expected):
        assert got == want  # every element, pixel data included


# -- the faultless source ------------------------------------------------------------------------


def test_ready_file_names_the_real_https_base_url(source: Running) -> None:
    port = source.ready["source_port"]
    assert isinstance(port, int) and port > 0
    assert source.base == f"https://{HOST}:{port}/drimbox/wado-rs"


def test_series_is_served_whole_with_a_valid_token_and_kos(source: Running, world: World) -> None:
    for index in (0, 1):
        response = get(world, series_url(source, world, index))
        assert response.status_code == 200, response.text[:300]
        same_instances(parts(response), world.series(index))


def test_study_and_instance_levels_serve_only_what_the_kos_references(source: Running, world: World) -> None:
    study = get(world, f"{source.base}/studies/{world.study_uid}")
    assert study.status_code == 200, study.text[:300]
    same_instances(parts(study), world.study[:5])  # the third series is in the PACS, not in the KOS
    one = world.series(1)[1]
    instance = get(world, f"{series_url(source, world, 1)}/instances/{one.SOPInstanceUID}")
    assert instance.status_code == 200, instance.text[:300]
    same_instances(parts(instance), [one])


def test_official_accept_profiles_are_served(source: Running, world: World) -> None:
    files = sorted((WADO_SAMPLES / "Validateur-de-requete-reponses" / "Request-validation-series").glob("OK_*.txt"))
    if not files:
        pytest.skip(f"ANS WADO-RS samples not found in {WADO_SAMPLES}")
    for path in files:
        accept = [line.split(":", 1)[1].strip() for line in path.read_text("utf-8").splitlines() if line.startswith("Accept:")]
        response = get(world, series_url(source, world, 0), accept=accept)
        assert response.status_code == 200, (path.name, response.text[:300])
        assert len(parts(response)) == 3


@pytest.mark.parametrize(
    "case, status",
    [
        ("no token", 401),
        ("not a JWT", 401),
        ("expired", 401),
        ("unknown issuer", 401),
        ("wrong audience", 401),
        ("signed by another key", 401),
        ("no KOS header", 400),
        ("no Accept", 400),
        ("q out of range", 400),
        ("unknown KOS", 404),
        ("series not in the KOS", 404),
        ("study not published", 404),
        ("instance not in the KOS", 404),
        ("JPEG only", 406),
        ("transfer syntax refused with q=0", 406),
    ],
)
def test_refusals(source: Running, world: World, case: str, status: int) -> None:
    url = series_url(source, world, 0)
    old = int(time.time()) - 600
    kwargs: dict[str, Any] = {
        "no token": {"token": None},
        "not a JWT": {"token": "abc.def"},
        "expired": {"token": world.token(iat=old, exp=old + 300)},
        "unknown issuer": {"token": world.token(key=world.rogue, iss="https://idp.invalid/realms/other")},
        "wrong audience": {"token": world.token(aud="another-service")},
        "signed by another key": {"token": world.token(key=world.rogue)},
        "no KOS header": {"kos": None},
        "no Accept": {"accept": None},
        "q out of range": {"accept": ACCEPT.replace("q=0.4", "q=1.5")},
        "unknown KOS": {"kos": generate_uid()},
        "series not in the KOS": {},
        "study not published": {},
        "instance not in the KOS": {},
        "JPEG only": {"accept": JPEG_ONLY},
        "transfer syntax refused with q=0": {"accept": ACCEPT.replace("q=0.4", "q=0")},
    }[case]
    if case == "series not in the KOS":
        url = series_url(source, world, 2)
    elif case == "study not published":
        url = f"{source.base}/studies/{generate_uid()}/series/{world.series(0)[0].SeriesInstanceUID}"
    elif case == "instance not in the KOS":
        url = f"{url}/instances/{world.series(2)[0].SOPInstanceUID}"
    response = get(world, url, **kwargs)
    assert response.status_code == status, response.text[:300]
    assert "multipart" not in response.headers.get("content-type", "")
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_plain_http_is_refused(source: Running, world: World) -> None:
    with pytest.raises(httpx.TransportError):
        get(world, series_url(source, world, 0).replace("https://", "http://"))


def test_jwks_is_fetched_over_https_once_and_cached(source: Running, world: World) -> None:
    for _ in range(3):
        assert get(world, series_url(source, world, 1)).status_code == 200
    assert world.jwks_fetches.count("/psc/certs") == 1


def test_without_https_and_psc_the_source_does_not_run(references: dict[str | None, Running]) -> None:
    running = references["no-source"]
    assert running.ready["source_port"] is None
    assert running.base == "https://configured.invalid/drimbox/wado-rs"


# -- faults ------------------------------------------------------------------------------------


def test_fault_wado_no_token_check_serves_without_a_valid_token(world: World, references: dict[str | None, Running]) -> None:
    running = references["wado_no_token_check"]
    for token in (None, world.token(iat=0, exp=300), world.token(key=world.rogue, iss="https://idp.invalid")):
        response = get(world, series_url(running, world, 0), token=token)
        assert response.status_code == 200, response.text[:300]
        same_instances(parts(response), world.series(0))


def test_fault_wado_ignore_kos_header_serves_any_series(world: World, references: dict[str | None, Running]) -> None:
    running = references["wado_ignore_kos_header"]
    assert get(world, series_url(running, world, 0), kos=None).status_code == 200
    response = get(world, series_url(running, world, 2), kos=generate_uid())
    assert response.status_code == 200, response.text[:300]
    same_instances(parts(response), world.series(2))


def test_fault_wado_skip_last_instance_answers_200_with_one_instance_less(world: World, references: dict[str | None, Running]) -> None:
    running = references["wado_skip_last_instance"]
    response = get(world, series_url(running, world, 0))
    assert response.status_code == 200
    same_instances(parts(response), world.series(0)[:-1])


def test_fault_wado_plain_http_answers_in_clear_on_the_same_port(world: World, references: dict[str | None, Running]) -> None:
    running = references["wado_plain_http"]
    url = series_url(running, world, 0)
    assert get(world, url).status_code == 200  # TLS still works
    response = get(world, url.replace("https://", "http://"))
    assert response.status_code == 200
    same_instances(parts(response), world.series(0))


def test_wado_faults_are_listed_with_their_targets() -> None:
    listed = {fault.name: fault for fault in listed_faults()}
    assert set(WADO_FAULTS) <= set(listed)
    assert all(listed[name].description and listed[name].targets for name in WADO_FAULTS)


# -- in process: configuration, Accept, KOS base URL --------------------------------------------


def test_config_sections_are_optional_and_strict(world: World, tmp_path: Path) -> None:
    full = world.config(tmp_path)
    bare = {k: v for k, v in full.items() if k not in ("https", "psc")}
    assert not parse_config(bare).source_enabled
    wired = parse_config(
        {
            **full,
            "trust": {"list_url": "https://127.0.0.1:1/liste-blanche.xml", "anchor": str(world.pki.ca_cert)},
            "dicom_node": {"ae_title": "NODE", "host": "127.0.0.1", "port": 11112},
            "consumer": {"consent_names": ["InformationEtConsentement"]},
        }
    )
    assert wired.source_enabled and wired.https is not None and wired.psc is not None and wired.trust is not None
    assert (wired.https.source_port, wired.https.consumer_port, wired.psc.audience, wired.trust.refresh_s) == (0, 0, "drimbox", 300.0)
    assert wired.consumer is not None and wired.consumer.contextual_path == "/drimbox/appel-contextuel"
    for change, named in (
        ({"https": {**full["https"], "bogus": 1}}, "https.bogus"),
        ({"psc": {**full["psc"], "jwks_url": "http://127.0.0.1/certs"}}, "psc.jwks_url"),
        ({"dicom_node": {"ae_title": "NODE", "host": "127.0.0.1"}}, "dicom_node.port"),
        ({"consumer": {"consent_names": []}}, "consumer.consent_names"),
    ):
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            parse_config({**full, **change})


def test_kos_retrieve_url_base_is_the_running_source(world: World, tmp_path: Path) -> None:
    config = parse_config(world.config(tmp_path))
    service = ReferenceService(config, pacs=None, publisher=None, state=StateStore(tmp_path / "s"), wado_base_url="https://127.0.0.2:4443/drimbox/wado-rs")  # type: ignore[arg-type]
    assert service.kos_settings.wado_base_url == "https://127.0.0.2:4443/drimbox/wado-rs"
    assert ReferenceService(config, pacs=None, publisher=None, state=StateStore(tmp_path / "s")).kos_settings.wado_base_url == config.wado_base_url  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values, chosen",
    [
        ([ACCEPT], EXPLICIT_LE),
        ([JPEG_ONLY + ACCEPT + ","], EXPLICIT_LE),  # comma-joined, trailing comma
        ([JPEG_ONLY, ACCEPT], EXPLICIT_LE),  # repeated headers
        ([JPEG_ONLY], None),
        (['multipart/related; type="application/dicom"'], EXPLICIT_LE),  # PS3.18 default syntax
        (['multipart/related; type="application/dicom"; transfer-syntax=*'], EXPLICIT_LE),
        (["*/*"], EXPLICIT_LE),
        (["application/dicom+json"], None),
        ([ACCEPT.replace("q=0.4", "q=0")], None),
    ],
)
def test_accept_negotiation(values: list[str], chosen: str | None) -> None:
    assert choose_transfer_syntax(parse_accept(values)) == chosen


@pytest.mark.parametrize("values", [[], [" , "], ["multipart"], [ACCEPT.replace("q=0.4", "q=x")], [ACCEPT + "; broken"]])
def test_malformed_accept_is_refused(values: list[str]) -> None:
    with pytest.raises(AcceptError):
        parse_accept(values)


class _Retriever:
    def __init__(self, world: World, drop: int = 0, down: bool = False) -> None:
        self.world, self.drop, self.down = world, drop, down

    def get(self, study: str, series: str | None = None, sop: str | None = None, *, sop_classes: Any = ()) -> Retrieval:
        if self.down:
            raise PacsUnavailable("association refused")
        chosen = [ds for ds in self.world.study if series in (None, str(ds.SeriesInstanceUID))]
        chosen = chosen[: len(chosen) - self.drop]
        return Retrieval(tuple(_retrieved(ds) for ds in chosen), failed=self.drop)


class _Verifier:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if self.error:
            raise self.error
        return {"sub": "810000000001"}


def _retrieved(ds: Dataset) -> RetrievedInstance:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return RetrievedInstance(str(ds.SOPInstanceUID), str(ds.SOPClassUID), str(ds.SeriesInstanceUID), EXPLICIT_LE, buffer.getvalue())


@pytest.mark.parametrize(
    "retriever, verifier, status, count",
    [
        ({"drop": 1}, {}, 206, 2),  # a referenced instance the PACS no longer has: partial content
        ({"drop": 3}, {}, 404, 0),
        ({"down": True}, {}, 503, 0),
        ({}, {"error": JwksUnavailable("issuer down")}, 503, 0),
    ],
)
def test_in_process_partial_and_unavailable(world: World, retriever: dict[str, Any], verifier: dict[str, Any], status: int, count: int) -> None:
    cert, key = world.pki.issue_server_cert("source", (HOST, "127.0.0.1"))
    server = SourceServer(
        state=StateStore(world.folder / "state"), retriever=_Retriever(world, **retriever),  # type: ignore[arg-type]
        verifier=_Verifier(**verifier), cert=cert, key=key,  # type: ignore[arg-type]
    )  # fmt: skip
    series = world.series(0)[0].SeriesInstanceUID
    request = Request(
        "GET",
        f"/drimbox/wado-rs/studies/{world.study_uid}/series/{series}",
        (("Authorization", "Bearer x"), ("KOS-SOPInstanceUID", world.kos_uid), ("Accept", ACCEPT)),
    )
    response = server.handle(request)
    assert response.status == status, response.body[:300]
    if count:
        content_type = dict(response.headers)["Content-Type"]
        got = [pydicom.dcmread(io.BytesIO(p.content)) for p in parse_multipart(response.body, content_type)]
        same_instances(got, world.series(0)[:count])

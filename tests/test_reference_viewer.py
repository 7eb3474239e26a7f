"""The reference DRIMbox's viewer entry point (VA-C1, VA-C2), run as its own process.

Counterparts, all in this test: a test CA, two throwaway OIDC providers over
HTTPS (PSC-like: identity in the id_token; FranceConnect+-like: identity in
userinfo only) with discovery, a login form, PKCE-checking token endpoint and
JWKS, and a state_dir seeded with one published KOS. The flow is driven with
httpx as a browser would: no JavaScript, redirects followed, login form posted.
"""

from __future__ import annotations

import base64
from contextlib import closing
import hashlib
import io
import json
import re
import secrets
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from drimva.context import Organisation, Patient
from fixtures.pki import TestPki, build_pki
from fixtures.studies import make_kos, make_study
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer
from simulators.reference.config import ConfigError, parse_config
from simulators.reference.oidc_rp import pkce_challenge
from simulators.reference.publication import KosPublication
from simulators.reference.state import APPROVED, PublishedKos, StateStore
from simulators.reference.viewer import patient_mismatch, query_params

from paths import REPO
HOST = "127.0.0.2"
PATIENT = Patient(
    ins="279035121518989", ipp="IPP901", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F",
    birth_place="51215",
)  # fmt: skip
FC_USERS: dict[str, dict[str, Any]] = {
    "patient": {"family_name": "Pat-Trois", "given_name": "Dominique Marie", "birthdate": "1979-03-28",
                "gender": "female", "birthplace": "51215", "birthcountry": "99100"},
    "other": {"family_name": "PAT-TROIS", "given_name": "DOMINIQUE", "birthdate": "1979-03-28",
              "gender": "female", "birthplace": "75107", "birthcountry": "99100"},
}  # fmt: skip
VIEWER_FAULTS = ("viewer_no_login", "viewer_ignore_patient_identity", "viewer_accept_any_issuer")


# -- a throwaway OIDC provider ------------------------------------------------------------------


@dataclass
class Provider:
    """Authorization code + PKCE; user ``rogue`` gets an id_token of another issuer, signed by another key."""

    name: str
    client_id: str
    client_secret: str
    acr: str
    identity_in_userinfo: bool
    server: HttpsServer | None = None
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    rogue: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    authorize_queries: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return f"{self.server.base_url}/{self.name}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        route = request.path.removeprefix(f"/{self.name}")
        query = {k: v[0] for k, v in request.query.items()}
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if route == "/.well-known/openid-configuration":
            return _json(200, {
                "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo", "code_challenge_methods_supported": ["S256"],
            })  # fmt: skip
        if route == "/jwks":
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return _json(200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
        if route == "/authorize":
            self.authorize_queries.append(query)
            hidden = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in query.items())
            page = f'<form method="post" action="{self.issuer}/login">{hidden}<input name="username"></form>'
            return HttpResponse(200, [("Content-Type", "text/html")], page.encode())
        if route == "/login" and request.method == "POST":
            code = secrets.token_urlsafe(16)
            self.codes[code] = form
            location = f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form['state']})}"
            return HttpResponse(302, [("Location", location)])
        if route == "/token" and request.method == "POST":
            login = self.codes.pop(form.get("code", ""), None)
            if login is None or (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
                return _json(400, {"error": "invalid_grant"})
            if form.get("redirect_uri") != login["redirect_uri"] or pkce_challenge(form.get("code_verifier", "")) != login["code_challenge"]:
                return _json(400, {"error": "invalid_grant", "error_description": "PKCE or redirect_uri"})
            user = login["username"]
            access = secrets.token_urlsafe(16)
            self.tokens[access] = user
            return _json(200, {"access_token": access, "token_type": "Bearer", "id_token": self.id_token(user, login["nonce"])})
        if route == "/userinfo":
            user = self.tokens.get((request.header("Authorization") or "").removeprefix("Bearer "))
            if user is None:
                return _json(401, {"error": "invalid_token"})
            return _json(200, {"sub": f"sub-{user}", **FC_USERS.get(user, {})})
        return HttpResponse(404)

    def id_token(self, user: str, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": f"sub-{user}", "aud": self.client_id, "iat": now,
                                  "exp": now + 300, "nonce": nonce, "acr": self.acr}  # fmt: skip
        if not self.identity_in_userinfo:
            claims |= {"preferred_username": "810000000001", "family_name": "THOMAS", "given_name": "Eric"}
        if user == "rogue":
            claims["iss"] = "https://rogue.invalid/auth"
            return jwt.encode(claims, self.rogue, algorithm="RS256", headers={"kid": "k1"})
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


def _json(status: int, data: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(data).encode())


# -- the reference process ----------------------------------------------------------------------


@dataclass
class World:
    pki: TestPki
    folder: Path
    study_uid: str
    kos_uid: str
    psc: Provider
    fc: Provider


def reference_config(pki: TestPki, folder: Path, state_dir: Path, **extra: Any) -> dict[str, Any]:
    """A reference configuration with only what the HTTPS roles need (no PACS or DMP listens)."""
    cert, key = pki.issue_server_cert("drimbox", (HOST, "127.0.0.1"))
    return {
        "bind_host": HOST, "mllp_port": 0, "ae_title": "DRIMBOX", "dicom_port": 0,
        "wado_base_url": "https://configured.invalid/drimbox/wado-rs", "retrieve_location_uid": "1.2.250.1.999.77.1",
        "qualified_statuses": ["VALI"], "publish_requires_destdmp": True,
        "pacs": {"ae_title": "DRIMVA_PACS", "host": "127.0.0.1", "port": 9},
        "dmp": {"repository_url": "https://127.0.0.1:9/repository", "registry_url": "https://127.0.0.1:9/registry",
                "ca_cert": str(pki.ca_cert), "signing_cert": str(pki.signing_cert), "signing_key": str(pki.signing_key)},
        "lps": {"id": "drimva-reference", "name": "DRIMbox de reference", "version": "0.1.0", "homologation": "T-0"},
        "source_id": "1.2.250.1.999.77.2", "state_dir": str(state_dir), "log_file": str(folder / "reference.log"),
        "timeouts": {"dicom_s": 5.0, "http_s": 3.0},
        "https": {"server_cert": str(cert), "server_key": str(key)},
        **extra,
    }  # fmt: skip


@dataclass
class Reference:
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log_file: Path


class Launcher:
    """Starts reference processes at once; ``wait`` reads their READY.json; ``stop`` sends SIGTERM to each."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def launch(self, folder: Path, config: dict[str, Any], fault: str | None) -> Callable[[], Reference]:
        folder.mkdir(parents=True, exist_ok=True)
        config_file, ready_file = folder / "config.json", folder / "ready.json"
        config_file.write_text(json.dumps(config), "utf-8")
        command = [sys.executable, "-m", "simulators.reference", "--config", str(config_file), "--ready-file", str(ready_file)]
        process = subprocess.Popen(command + (["--fault", fault] if fault else []), cwd=REPO, stderr=subprocess.PIPE)
        self.started.append(process)

        def wait() -> Reference:
            deadline = time.monotonic() + 20
            while not ready_file.exists():
                assert process.poll() is None, f"reference exited with {process.returncode}: {process.stderr.read().decode()}"  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "reference not ready within 20 s"
                time.sleep(0.02)
            return Reference(process, json.loads(ready_file.read_text("utf-8")), Path(config["log_file"]))

        return wait

    def stop(self) -> None:
        for process in self.started:
            process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _publication(kos: bytes, kos_uid: str, study_uid: str) -> KosPublication:
    return KosPublication(
        kos_bytes=kos, kos_sop_instance_uid=kos_uid, study_uid=study_uid, ins=PATIENT.ins, ins_oid=PATIENT.ins_oid,
        ipp="IPP901", ipp_oid="1.2.250.1.213.4.5.2.4", birth_name="PAT-TROIS", given_name="DOMINIQUE",
        birth_date="19790328", sex="F", accession="ACN901", accession_issuer="1.2.250.1.999.27", order_id="OPN901",
        order_root="1.2.250.1.999.6", modalities=("CT", "MR"), act_code=None, confidentiality="N", masking_flags=(),
        secret_connection=False, author_id="801234564895", author_family="Thomas", author_given="Eric",
        organisation_id="750803447", organisation_name="Centre Ambroise", organisation_id_type="FINEG",
        healthcare_facility_code="SA08", practice_setting="ORTHOP", service_start="20250101093000",
        service_stop="20250101094500", creation_time="20250102101500", birth_place="51215",
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("viewer")
    pki = build_pki(folder / "pki", Organisation("Centre Ambroise", "750803447"))
    psc = Provider("psc", "drimbox-viewer", "s3cret-psc", "eidas1", identity_in_userinfo=False)
    fc = Provider("fc", "drimbox-fc", "s3cret-fc", "eidas2", identity_in_userinfo=True)
    providers = {"psc": psc, "fc": fc}

    def route(request: HttpRequest) -> HttpResponse:
        provider = providers.get(request.path.split("/")[1])
        return provider.handle(request) if provider else HttpResponse(404)

    cert, key = pki.issue_server_cert("idp", ("127.0.0.1",))
    server = HttpsServer(route, cert, key, client_auth="none")
    psc.server = fc.server = server
    study = make_study(PATIENT, "ACN901", series=(("CT", 2), ("MR", 1)))
    kos = make_kos(
        study, PATIENT, accession="ACN901", accession_issuer="1.2.250.1.999.27", order_id="OPN901",
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
    with server:
        yield World(pki, folder, study_uid, kos_uid, psc, fc)


def viewer_section(world: World) -> dict[str, Any]:
    return {
        "psc": {"issuer": world.psc.issuer, "client_id": world.psc.client_id, "client_secret": world.psc.client_secret},
        "franceconnect": {"issuer": world.fc.issuer, "client_id": world.fc.client_id, "client_secret": world.fc.client_secret},
    }


@pytest.fixture(scope="module")
def viewers(world: World) -> Iterator[dict[str | None, Reference]]:
    """The faultless reference and one per viewer fault, started together."""
    launcher = Launcher()
    try:
        waits = {
            fault: launcher.launch(
                world.folder / (fault or "faultless"),
                reference_config(world.pki, world.folder / (fault or "faultless"), world.folder / "state",
                                 viewer=viewer_section(world)),
                fault,
            )  # fmt: skip
            for fault in (None, *VIEWER_FAULTS)
        }
        yield {name: wait() for name, wait in waits.items()}
    finally:
        launcher.stop()


# -- a browser without JavaScript ---------------------------------------------------------------


def browser(world: World) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(world.pki.ca_cert)), timeout=10.0)


def viewer_url(world: World, ref: Reference, **extra: str) -> str:
    params = {"requestType": "STUDY", "studyUID": world.study_uid, "Accessionnumber": "1.2.250.1.999.27.ACN901",
              "idCDA": "1.2.250.1.213.4.5.4.901", **extra}  # fmt: skip
    return f"https://{HOST}:{ref.ready['viewer_port']}/IHEInvokeImageDisplay?{urlencode(params)}"


def log_in(http: httpx.Client, authorize: httpx.Response, user: str) -> httpx.Response:
    """Fill the provider's login form (its hidden fields + the user name) and follow the redirects back."""
    assert authorize.status_code == 200, authorize.text
    action = re.search(r'action="([^"]+)"', authorize.text)
    assert action is not None
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', authorize.text))
    return http.post(action.group(1), data={**fields, "username": user}, follow_redirects=True)


def open_study(world: World, ref: Reference, idp: str, user: str) -> tuple[httpx.Client, httpx.Response]:
    http = browser(world)
    first = http.get(viewer_url(world, ref, idp=idp))
    assert first.status_code == 302, first.text
    return http, log_in(http, http.get(first.headers["location"]), user)


def shows_study(response: httpx.Response, study_uid: str) -> bool:
    return response.status_code == 200 and f'<meta name="study-instance-uid" content="{study_uid}">' in response.text


# -- the faultless reference --------------------------------------------------------------------


def test_ready_file_names_the_viewer_port(viewers: dict[str | None, Reference]) -> None:
    ready = viewers[None].ready
    assert isinstance(ready["viewer_port"], int) and ready["viewer_port"] > 0
    assert ready["supervision_url"] is None


def test_professional_logs_in_with_psc_and_sees_the_study(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers[None], "psc", "doctor")
    with closing(http):
        assert shows_study(page, world.study_uid), page.text
        assert world.study_uid in re.sub(r"<[^>]+>", " ", page.text)
        assert [r.status_code for r in page.history] == [302, 302]  # provider -> callback -> viewer
        query = world.psc.authorize_queries[-1]
        assert query["code_challenge_method"] == "S256" and query["acr_values"] == "eidas1"
        assert query["scope"] == "openid scope_all" and query["nonce"] and query["state"]
        api = http.get(f"https://{HOST}:{viewers[None].ready['viewer_port']}/viewer/api/study", params={"studyUID": world.study_uid})
        assert api.status_code == 200 and api.headers["content-type"] == "application/json"
        data = api.json()
        assert data["studyInstanceUID"] == world.study_uid and data["kosSopInstanceUID"] == world.kos_uid
        assert sorted(s["instances"] for s in data["series"]) == [1, 2]


def test_patient_logs_in_with_franceconnect_and_sees_their_study(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers[None], "fc", "patient")
    with closing(http):
        assert shows_study(page, world.study_uid), page.text
        assert world.fc.authorize_queries[-1]["acr_values"] == "eidas2 eidas3"


def test_patient_under_another_identity_is_refused(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers[None], "fc", "other")  # same names and birth date, other birth place
    with closing(http):
        assert page.status_code == 403 and world.study_uid not in page.text
        api = http.get(f"https://{HOST}:{viewers[None].ready['viewer_port']}/viewer/api/study", params={"studyUID": world.study_uid})
        assert api.status_code == 403


def test_without_session_the_study_is_not_served(world: World, viewers: dict[str | None, Reference]) -> None:
    port = viewers[None].ready["viewer_port"]
    with browser(world) as http:
        choice = http.get(viewer_url(world, viewers[None]))
        assert choice.status_code == 200 and world.study_uid not in choice.text
        links = dict(re.findall(r'<a id="login-(\w+)" href="([^"]+)"', choice.text))
        assert set(links) == {"psc", "fc"}
        to_fc = http.get(f"https://{HOST}:{port}" + links["fc"].replace("&amp;", "&"))
        assert to_fc.status_code == 302 and to_fc.headers["location"].startswith(world.fc.issuer + "/authorize?")
        assert http.get(f"https://{HOST}:{port}/viewer/api/study", params={"studyUID": world.study_uid}).status_code == 401


def test_token_of_an_unknown_issuer_is_refused(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers[None], "psc", "rogue")
    with closing(http):
        assert page.status_code == 401 and not shows_study(page, world.study_uid)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"studyUID": "1.2.3.999"}, 404),
        ({"Accessionnumber": "ACN999"}, 404),
        ({"requestType": "SERIES"}, 400),
        ({"studyUID": "not-a-uid"}, 400),
        ({"idp": "nope"}, 400),
    ],
)
def test_bad_entry_requests(world: World, viewers: dict[str | None, Reference], change: dict[str, str], status: int) -> None:
    with browser(world) as http:
        assert http.get(viewer_url(world, viewers[None], **change)).status_code == status


def test_parameter_names_are_case_insensitive_and_accession_may_be_the_extension(
    world: World, viewers: dict[str | None, Reference]
) -> None:
    port = viewers[None].ready["viewer_port"]
    query = urlencode({"REQUESTTYPE": "STUDY", "studyuid": world.study_uid, "accessionNumber": "ACN901", "IDP": "psc"})
    with browser(world) as http:
        response = http.get(f"https://{HOST}:{port}/IHEInvokeImageDisplay?{query}")
        assert response.status_code == 302 and response.headers["location"].startswith(world.psc.issuer + "/authorize?")


def test_replayed_or_forged_state_is_refused(world: World, viewers: dict[str | None, Reference]) -> None:
    port = viewers[None].ready["viewer_port"]
    with browser(world) as http:
        assert http.get(f"https://{HOST}:{port}/viewer/callback", params={"code": "x", "state": "forged"}).status_code == 400


# -- the faults ---------------------------------------------------------------------------------


def test_fault_viewer_no_login_serves_without_session(world: World, viewers: dict[str | None, Reference]) -> None:
    with browser(world) as http:
        assert shows_study(http.get(viewer_url(world, viewers["viewer_no_login"])), world.study_uid)


def test_fault_viewer_ignore_patient_identity(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers["viewer_ignore_patient_identity"], "fc", "other")
    with closing(http):
        assert shows_study(page, world.study_uid)


def test_fault_viewer_accept_any_issuer(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers["viewer_accept_any_issuer"], "psc", "rogue")
    with closing(http):
        assert shows_study(page, world.study_uid)


def test_faults_leave_the_other_checks_alone(world: World, viewers: dict[str | None, Reference]) -> None:
    http, page = open_study(world, viewers["viewer_accept_any_issuer"], "fc", "other")
    with closing(http):
        assert page.status_code == 403
    http, page = open_study(world, viewers["viewer_ignore_patient_identity"], "psc", "rogue")
    with closing(http):
        assert page.status_code == 401


# -- pure parts ---------------------------------------------------------------------------------


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    digest = hashlib.sha256(b"abc").digest()
    assert pkce_challenge("abc") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_patient_match_folds_case_accents_and_separators() -> None:
    pub = _publication(b"", "1.2.3", "1.2.4")
    claims = {"family_name": "pat trois", "given_name": "Dominique Élise", "birthdate": "1979-03-28", "gender": "female",
              "birthplace": "51215"}  # fmt: skip
    assert patient_mismatch(claims, pub) == ""
    assert "gender" in patient_mismatch({**claims, "gender": "male"}, pub)
    assert "birthdate" in patient_mismatch({**claims, "birthdate": "1979-03-29"}, pub)
    assert "given_name" in patient_mismatch({**claims, "given_name": "Marie Dominique"}, pub)
    assert "birthplace" in patient_mismatch({**claims, "birthplace": ""}, pub)


def test_query_parameter_names_are_folded() -> None:
    assert query_params("StudyUID=1.2&studyuid=9&Accessionnumber=") == {"studyuid": "1.2", "accessionnumber": ""}


def test_viewer_config_needs_a_provider_and_names_bad_keys(world: World) -> None:
    base = reference_config(world.pki, world.folder, world.folder / "state")
    with pytest.raises(ConfigError, match="viewer"):
        parse_config({**base, "viewer": {"port": 0}})
    with pytest.raises(ConfigError, match="viewer.psc.client_id"):
        parse_config({**base, "viewer": {"psc": {"issuer": "https://x", "client_secret": "s"}}})
    with pytest.raises(ConfigError, match="unknown key 'viewer.psc.secret'"):
        parse_config({**base, "viewer": {"psc": {"issuer": "https://x", "client_id": "c", "client_secret": "s", "secret": 1}}})
    config = parse_config({**base, "viewer": viewer_section(world), "supervision": {}})
    assert config.viewer is not None and config.viewer.franceconnect is not None and config.supervision is not None

"""The reference DRIMbox: its process (MLLP in, C-FIND out, ACK back, config, faults, SIGTERM)
and, in process, its orchestration with a fake PACS and a fake DMP publisher."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from ports import free_loopback_port
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

from drimva.context import Organisation
from fixtures.pki import build_pki
from simulators.reference.cda_in import read_cda
from simulators.reference.config import parse_config
from drimva.scenario_ids import feature_scenarios
from simulators.reference.faults import FAULTS
from simulators.reference.hl7_in import Event, read_message
from simulators.reference.pacs_client import PacsInstance, PacsStudy, PacsUnavailable
from simulators.reference.publication import KosPublication, PublishResult
from simulators.reference.service import DELETED_STATUS, ReferenceService
from simulators.reference.state import DELETED, StateStore
from simulators.reference.variants import VARIANTS

from paths import REPO, SHARED
SKELETONS = SHARED / "ans-samples" / "_partial" / "Referencement-DRIMBox" / "Jeux-de-donnees" / "HL7v2"
FEATURES = REPO / "drimva" / "features"
KNOWN_STUDY = "1.2.250.1.213.4.5.2.1.901"
UNKNOWN_STUDY = "1.2.250.1.213.4.5.2.1.902"
INS, INS_OID = "279035121518989", "1.2.250.1.213.1.4.10"
CT = "1.2.840.10008.5.1.4.1.1.2"
PACS_AE = "DRIMVA_PACS"
NOW = dt.datetime(2025, 1, 2, 10, 15, 0, tzinfo=dt.timezone.utc)


# -- hand-made CR and HL7 messages ---------------------------------------------------------


def cda(study_uid: str, ins: str = INS) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:ps3-20="urn:dicom-org:ps3-20">
  <id root="1.2.250.1.213.4.5.4.901"/>
  <code code="18748-4" codeSystem="2.16.840.1.113883.6.1" displayName="CR d'imagerie médicale"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <recordTarget><patientRole>
    <id root="{INS_OID}" extension="{ins}"/>
    <id root="1.2.250.1.213.4.5.2.4" extension="IPP901"/>
    <patient>
      <name><family qualifier="BR">PAT-TROIS</family><given qualifier="BR">DOMINIQUE</given></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="19790328"/>
    </patient>
  </patientRole></recordTarget>
  <author><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension="801234560801"/>
    <assignedPerson><name><given>Jacques</given><family>BIDEAULT</family></name></assignedPerson>
    <representedOrganization>
      <id root="1.2.250.1.71.4.2.2" extension="1750803447"/><name>Centre de radiologie Ambroise</name>
      <standardIndustryClassCode code="AMBULATOIRE" codeSystem="1.2.250.1.213.1.1.4.9"/>
    </representedOrganization>
  </assignedAuthor></author>
  <inFulfillmentOf><order>
    <id root="1.2.250.1.213.4.5.2.6" extension="OPN901"/>
    <ps3-20:accessionNumber root="1.2.250.1.925.994044785528.27" extension="ACN901"/>
  </order></inFulfillmentOf>
  <documentationOf><serviceEvent classCode="ACT">
    <id root="{study_uid}"/>
    <code code="24627-2" codeSystem="2.16.840.1.113883.6.1" displayName="CT Chest">
      <translation code="CT" codeSystem="1.2.840.10008.2.16.4" displayName="Tomodensitométrie"/>
    </code>
    <effectiveTime><low value="20241231093000+0100"/><high value="20241231094500+0100"/></effectiveTime>
  </serviceEvent></documentationOf>
  <componentOf><encompassingEncounter><effectiveTime value="20241231"/>
    <location><healthCareFacility><code code="SA08" codeSystem="1.2.250.1.71.4.2.4"/></healthCareFacility></location>
  </encompassingEncounter></componentOf>
</ClinicalDocument>""".encode()


FLAGS = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REP_LEGAUX", "CONNEXION_SECRETE", "DESTDMP")


def message(
    control_id: str,
    study_uid: str = KNOWN_STUDY,
    *,
    kind: str = "ORU",
    trigger: str = "R01",
    version: str | None = None,
    pid32: str = "VALI",
    status: str = "F",
    orc: str = "NW",
    flags: dict[str, str] | None = None,
    wrap_base64: bool = False,
) -> bytes:
    """An ORU^R01 (v2.5) or MDM (v2.6) report message, INS and IPP in reverse order in PID-3."""
    version = version or ("2.5" if kind == "ORU" else "2.6")
    coded = "CE" if kind == "ORU" else "CWE"
    structure = "ORU_R01" if kind == "ORU" else "MDM_T02"
    data = base64.encodebytes(cda(study_uid)).decode().strip() if wrap_base64 else base64.b64encode(cda(study_uid)).decode()
    values = {"MASQUE_PS": "N", "INVISIBLE_PATIENT": "Y", "INVISIBLE_REP_LEGAUX": "N", "CONNEXION_SECRETE": "N", "DESTDMP": "Y"}
    values.update(flags or {})
    segments = [
        f"MSH|^~\\&|RIS_APP|RIS_FAC|DRIMBOX|DB_FAC|20250102101455||{kind}^{trigger}^{structure}|{control_id}|P|{version}"
        "|||||FRA|UNICODE UTF-8|||2.1^CISIS_CDA_HL7_V2",
    ]
    if kind == "MDM":
        segments.append("EVN||20250102101455")
    segments += [
        "PID|||IPP901^^^AUT-AFFECTATION&1.2.250.1.213.4.5.2.4&ISO^PI~"
        f"{INS}^^^ASIP-SANTE-INS-NIR&{INS_OID}&ISO^INS||PAT-TROIS^DOMINIQUE^DOMINIQUE^^^^L||19790328|F"
        + "|" * 23 + f"N|{pid32}",
        "PV1|1|O",
        f"ORC|{orc}",
        "OBR|1|||18748-4^CR d'imagerie médicale^LN",
    ]
    if kind == "MDM":
        segments.append("TXA|1|18748-4|TEXT|202501021014||||||||1.2.250.1.213.4.5.4.901|||||AU")
    text_type = "TEXT" if kind == "ORU" else "text"
    segments += [
        f"OBX|1|ED|18748-4^CR d'imagerie médicale^LN||^{text_type}^XML^Base64^{data}||||||{status}",
        "PRT||UC||SB^Send by^participation|801234564895^Eric^Thomas^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS"
        "|||Centre de radiologie Ambroise^^^^^ASIP-SANTE-ST&1.2.250.1.71.4.2.2&ISO^FINEG^^^750803447",
    ]
    segments += [
        f"OBX|{n}|{coded}|{code}^{code}^MetaDMPMSS||{values[code]}^^expandedYes-NoIndicator||||||F"
        for n, code in enumerate(FLAGS, start=2)
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def fields(ack: bytes, segment: str) -> list[str]:
    for line in ack.decode("utf-8").split("\r"):
        if line.startswith(segment + "|"):
            return [segment] + line.split("|")[1:] if segment != "MSH" else ["MSH", "|"] + line.split("|")[1:]
    return []


# -- the process, with a throwaway C-FIND SCP ----------------------------------------------


@dataclass
class FindScp:
    queries: list[tuple[str, str, str]] = field(default_factory=list)  # (level, study uid, calling AE)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        level, study = identifier.QueryRetrieveLevel, identifier.get("StudyInstanceUID", "")
        with self.lock:
            self.queries.append((level, study, event.assoc.requestor.ae_title))
        if study != KNOWN_STUDY:
            return
        if level == "STUDY":
            answer = Dataset()
            answer.QueryRetrieveLevel, answer.StudyInstanceUID = "STUDY", KNOWN_STUDY
            answer.StudyDate, answer.StudyTime, answer.StudyDescription = "20241231", "093000", "Scanner thorax"
            answer.StudyID, answer.AccessionNumber, answer.ReferringPhysicianName = "S901", "ACN901", ""
            yield 0xFF00, answer
        elif level == "IMAGE":
            for series, number in ((1, 1), (1, 2), (2, 1)):
                answer = Dataset()
                answer.QueryRetrieveLevel, answer.StudyInstanceUID = "IMAGE", KNOWN_STUDY
                answer.SeriesInstanceUID = f"{KNOWN_STUDY}.{series}"
                answer.SeriesNumber, answer.Modality, answer.SeriesDescription = series, "CT", f"serie {series}"
                answer.SOPInstanceUID, answer.SOPClassUID = f"{KNOWN_STUDY}.{series}.{number}", CT
                answer.InstanceNumber = number
                yield 0xFF00, answer


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8") if self.log_file.exists() else ""


def _config(folder: Path, pki_folder: Path, pacs_port: int) -> dict[str, Any]:
    dmp = f"https://127.0.0.1:{free_loopback_port()}/si-dmp-server/v2/services"  # nothing listens there
    return {
        "bind_host": "127.0.0.1",
        "mllp_port": 0,
        "ae_title": "DRIMBOX",
        "dicom_port": 0,
        "wado_base_url": "https://127.0.0.1/drimbox/wado-rs",
        "retrieve_location_uid": "1.2.250.1.999.77.1",
        "qualified_statuses": ["VALI", "QUAL"],
        "publish_requires_destdmp": True,
        "pacs": {"ae_title": PACS_AE, "host": "127.0.0.1", "port": pacs_port},
        "dmp": {
            "repository_url": f"{dmp}/repository",
            "registry_url": f"{dmp}/registry",
            "ca_cert": str(pki_folder / "ca.pem"),
            "client_cert": str(pki_folder / "client.pem"),
            "client_key": str(pki_folder / "client.key"),
            "signing_cert": str(pki_folder / "signing.pem"),
            "signing_key": str(pki_folder / "signing.key"),
        },
        "lps": {"id": "drimva-reference", "name": "DRIMbox de reference drimva", "version": "0.1.0", "homologation": "TEST-0000"},
        "source_id": "1.2.250.1.999.77.2",
        "state_dir": str(folder / "state"),
        "log_file": str(folder / "reference.log"),
        "timeouts": {"dicom_s": 5.0, "http_s": 3.0},
    }


def _start(folder: Path, config: dict[str, Any], *extra: str) -> Running:
    folder.mkdir(parents=True, exist_ok=True)
    config_file, ready_file = folder / "config.json", folder / "ready.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", "simulators.reference", "--config", str(config_file), "--ready-file", str(ready_file), *extra]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not ready_file.exists():
        if process.poll() is not None:
            raise AssertionError(f"reference exited with {process.returncode}: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("reference not ready within 20 s")
        time.sleep(0.02)
    return Running(process, json.loads(ready_file.read_text()), Path(config["log_file"]))


def _stop(running: Running) -> float:
    started = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()
    return time.monotonic() - started


def send(port: int, payload: bytes, timeout: float = 20.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\x0b" + payload + b"\x1c\x0d")
        answer = b""
        while not answer.endswith(b"\x1c\x0d"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"\x0b") and answer.endswith(b"\x1c\x0d"), answer
    return answer[1:-2]


@pytest.fixture(scope="module")
def scp() -> Iterator[tuple[FindScp, int]]:
    finder = FindScp()
    ae = AE(ae_title=PACS_AE)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, finder.handle)])
    yield finder, int(server.server_address[1])
    server.shutdown()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reference")


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Path:
    build_pki(workdir / "pki", Organisation("Centre de radiologie Ambroise", "750803447"))
    return workdir / "pki"


@pytest.fixture(scope="module")
def reference(workdir: Path, pki: Path, scp: tuple[FindScp, int]) -> Iterator[Running]:
    running = _start(workdir / "run", _config(workdir / "run", pki, scp[1]))
    yield running
    _stop(running)


def test_list_faults_is_complete_json_naming_real_scenarios() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulators.reference", "--list-faults"], cwd=REPO, capture_output=True, check=True, timeout=30
    )
    listed = json.loads(out.stdout)
    assert [entry["name"] for entry in listed] == [fault.name for fault in FAULTS]
    assert {"hl7_no_ack", "kos_drop_instance", "delete_ignored", "xds_wrong_hash", "dmp_no_client_cert"} <= {
        entry["name"] for entry in listed
    }
    assert all(entry["description"] and entry["targets"] for entry in listed)
    ids = {scenario.id for scenario in feature_scenarios(FEATURES)}
    for entry in listed:
        for target in entry["targets"]:
            assert target in ids, (entry["name"], target)  # a stable scenario id (@id: tag)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.update(surprise=1), "surprise"),
        (lambda c: c["pacs"].update(colour="blue"), "pacs.colour"),
        (lambda c: c.pop("source_id"), "source_id"),
        (lambda c: c["timeouts"].update(dicom_s="soon"), "timeouts.dicom_s"),
    ],
)
def test_bad_config_exits_2_naming_the_key(workdir: Path, change: Any, named: str) -> None:
    config = _config(workdir / "bad", workdir / "pki", 11112)
    change(config)
    path = workdir / "bad" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "simulators.reference", "--config", str(path), "--ready-file", str(workdir / "bad" / "r.json")],
        cwd=REPO, capture_output=True, timeout=30,
    )
    assert done.returncode == 2
    assert named in done.stderr.decode() and "Traceback" not in done.stderr.decode()


@pytest.mark.parametrize(("option", "known"), [("--fault", "kos_drop_instance"), ("--variant", "ack_before_processing")])
def test_unknown_fault_or_variant_exits_2_with_the_list(workdir: Path, option: str, known: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulators.reference", "--config", "x.json", "--ready-file", "r.json", option, "nope"],
        cwd=REPO, capture_output=True, timeout=30,
    )
    assert done.returncode == 2
    assert "nope" in done.stderr.decode() and known in done.stderr.decode()


def test_list_variants_is_json_naming_the_reading_of_the_sources() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulators.reference", "--list-variants"], cwd=REPO, capture_output=True, check=True, timeout=30
    )
    listed = json.loads(out.stdout)
    assert [entry["name"] for entry in listed] == [variant.name for variant in VARIANTS]
    assert all(entry["description"] and ".md" in entry["reading"] for entry in listed)
    assert all(isinstance(entry["profile"], dict) for entry in listed)
    assert not {entry["name"] for entry in listed} & {fault.name for fault in FAULTS}


def test_ready_file(reference: Running) -> None:
    ready = reference.ready
    assert ready["pid"] == reference.process.pid and ready["fault"] is None and ready["variant"] is None
    assert ready["mllp_port"] > 0 and ready["dicom_port"] > 0
    assert ready["wado_base_url"] == "https://127.0.0.1/drimbox/wado-rs"


def test_oru_known_study_queries_the_pacs_and_answers_ar_when_the_dmp_is_down(
    reference: Running, scp: tuple[FindScp, int]
) -> None:
    ack = send(reference.ready["mllp_port"], message("MSG-ORU-1", wrap_base64=True))
    msh, msa, err = fields(ack, "MSH"), fields(ack, "MSA"), fields(ack, "ERR")
    assert msh[3:7] == ["DRIMBOX", "DB_FAC", "RIS_APP", "RIS_FAC"]
    assert msh[9] == "ACK^R01^ACK" and msh[10] and msh[10] != "MSG-ORU-1"
    assert (msh[11], msh[12], msh[17], msh[18]) == ("P", "2.5", "FRA", "UNICODE UTF-8")
    assert msa[1:3] == ["AR", "MSG-ORU-1"]
    assert err[3].startswith("207^")
    queries = [(level, ae) for level, study, ae in scp[0].queries if study == KNOWN_STUDY]
    assert queries[:2] == [("STUDY", "DRIMBOX"), ("IMAGE", "DRIMBOX")]
    assert "DMP publication" in reference.log() and "3 instance(s) in 2 series" in reference.log()


def test_mdm_t02_is_acknowledged_with_its_trigger(reference: Running) -> None:
    ack = send(reference.ready["mllp_port"], message("MSG-MDM-1", kind="MDM", trigger="T02"))
    msh, msa = fields(ack, "MSH"), fields(ack, "MSA")
    assert (msh[9], msh[12]) == ("ACK^T02^ACK", "2.6")
    assert msa[1:3] == ["AR", "MSG-MDM-1"]


def test_unknown_study_is_accepted_without_publication(reference: Running, scp: tuple[FindScp, int]) -> None:
    ack = send(reference.ready["mllp_port"], message("MSG-UNK", UNKNOWN_STUDY))
    assert fields(ack, "MSA")[1:3] == ["AA", "MSG-UNK"]
    assert any(study == UNKNOWN_STUDY for _, study, _ in scp[0].queries)
    assert f"no publication for study {UNKNOWN_STUDY}: study unknown to the PACS" in reference.log()


def test_unqualified_identity_is_accepted_without_querying_the_pacs(reference: Running, scp: tuple[FindScp, int]) -> None:
    study = "1.2.250.1.213.4.5.2.1.903"
    ack = send(reference.ready["mllp_port"], message("MSG-PROV", study, pid32="PROV"))
    assert fields(ack, "MSA")[1:3] == ["AA", "MSG-PROV"]
    assert not any(queried == study for _, queried, _ in scp[0].queries)
    assert "identity not qualified (PID-32='PROV')" in reference.log()


def test_wrong_version_is_an_application_error(reference: Running) -> None:
    ack = send(reference.ready["mllp_port"], message("MSG-V", kind="MDM", trigger="T02", version="2.5"))
    assert fields(ack, "MSA")[1:3] == ["AE", "MSG-V"]
    assert fields(ack, "ERR")[3].startswith("203^Unsupported version^HL70357")


def test_sigterm_stops_within_two_seconds_and_frees_the_port(workdir: Path, pki: Path, scp: tuple[FindScp, int]) -> None:
    running = _start(workdir / "sigterm", _config(workdir / "sigterm", pki, scp[1]))
    elapsed = _stop(running)
    assert running.process.returncode == 0, running.process.stderr.read()  # type: ignore[union-attr]
    assert elapsed < 2.0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.ready["mllp_port"]), timeout=1).close()
    assert "stopped" in running.log()


# -- in process: orchestration with a fake PACS and a fake publisher ----------------------------


class FakePacs:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.queried: list[str] = []
        self.gate = threading.Event()  # a query waits for it (5 s at most)
        self.gate.set()
        self.accession = "ACN901"  # the PACS's AccessionNumber of the known study (the CR's: ACN901)

    def query_study(self, study_uid: str) -> PacsStudy:
        self.queried.append(study_uid)
        self.gate.wait(5)
        if self.down:
            raise PacsUnavailable("association refused")
        if study_uid != KNOWN_STUDY:
            return PacsStudy(study_uid)
        instances = tuple(
            PacsInstance(f"{study_uid}.{s}", str(s), "CT", "", f"{study_uid}.{s}.{n}", CT, str(n)) for s, n in ((1, 1), (1, 2), (2, 1))
        )
        return PacsStudy(study_uid, "20241231", "093000", "Scanner thorax", "S901", self.accession, "", instances)


class FakePublisher:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.published: list[KosPublication] = []
        self.updates: list[tuple[str, str, KosPublication]] = []

    def publish(self, pub: KosPublication) -> PublishResult:
        self.published.append(pub)
        entry = f"urn:uuid:00000000-0000-0000-0000-{len(self.published):012d}"
        return PublishResult(self.ok, entry, pub.kos_sop_instance_uid, 200 if self.ok else 0, "", () if self.ok else ("refused",))

    def update_status(self, entry_uuid: str, new_status: str, pub: KosPublication) -> PublishResult:
        self.updates.append((entry_uuid, new_status, pub))
        return PublishResult(self.ok, entry_uuid, pub.kos_sop_instance_uid, 200, "", ())

    def close(self) -> None:
        pass


@dataclass
class Harness:
    service: ReferenceService
    pacs: FakePacs
    publisher: FakePublisher
    state: StateStore

    def send(self, payload: bytes) -> tuple[str, list[str]]:
        ack = self.service.handle(payload)
        assert ack is not None
        return fields(ack, "MSA")[1], fields(ack, "ERR")

    def kos(self, index: int = -1) -> pydicom.Dataset:
        return pydicom.dcmread(io.BytesIO(self.publisher.published[index].kos_bytes))


def harness(
    tmp_path: Path, *faults: str, pacs_down: bool = False, dmp_ok: bool = True, variant: str | None = None
) -> Harness:
    config = parse_config(_config(tmp_path, tmp_path / "no-pki", 11112))
    pacs, publisher, state = FakePacs(pacs_down), FakePublisher(dmp_ok), StateStore(tmp_path / "state")
    service = ReferenceService(
        config, pacs=pacs, publisher=publisher, state=state, faults=frozenset(faults), clock=lambda: NOW,
        variants=frozenset({variant} if variant else ()),
    )
    return Harness(service, pacs, publisher, state)


def test_initial_publication_carries_the_report_facts(tmp_path: Path) -> None:
    h = harness(tmp_path)
    assert h.send(message("M1", wrap_base64=True))[0] == "AA"
    (pub,) = h.publisher.published
    assert (pub.ins, pub.ins_oid, pub.ipp, pub.study_uid) == (INS, INS_OID, "IPP901", KNOWN_STUDY)
    assert (pub.accession, pub.order_id, pub.modalities, pub.confidentiality) == ("ACN901", "OPN901", ("CT",), "N")
    assert pub.masking_flags == ("INVISIBLE_PATIENT",) and pub.secret_connection is False
    assert (pub.author_id, pub.organisation_id, pub.organisation_id_type) == ("801234564895", "750803447", "FINEG")
    assert (pub.service_start, pub.healthcare_facility_code, pub.practice_setting) == ("20241231093000", "SA08", "AMBULATOIRE")
    assert pub.creation_time == "20250102101500" and pub.replaces_entry_uuid is None
    kos = h.kos()
    assert kos.SOPInstanceUID == pub.kos_sop_instance_uid and kos.PatientID == INS and kos.StudyDate == "20241231"
    assert h.state.current(KNOWN_STUDY).entry_uuid == "urn:uuid:00000000-0000-0000-0000-000000000001"  # type: ignore[union-attr]


@pytest.mark.parametrize(("publish", "published"), [(True, 1), (False, 0)])
def test_an_accession_the_pacs_holds_otherwise_is_published_with_the_cr_s_or_not_at_all(
    tmp_path: Path, publish: bool, published: int
) -> None:
    """rules.pacs_accession_mismatch: the KOS carries the CR's accession, or (variant refuse_accession_mismatch) none."""
    h = harness(tmp_path)
    h.service.config = h.service.config.model_copy(update={"publish_on_accession_mismatch": publish})
    h.pacs.accession = "PACS77"
    assert h.send(message("M1"))[0] == "AA"
    assert len(h.publisher.published) == published
    if published:
        assert h.kos().ReferencedRequestSequence[0].AccessionNumber == "ACN901"


def test_replacement_is_published_with_rplc_in_the_same_ko_series(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.send(message("M1"))
    assert h.send(message("M2", status="C", orc="RO"))[0] == "AA"
    first, second = h.publisher.published
    assert second.replaces_entry_uuid == "urn:uuid:00000000-0000-0000-0000-000000000001"
    assert h.kos(0).SeriesInstanceUID == h.kos(1).SeriesInstanceUID
    assert (h.kos(0).InstanceNumber, h.kos(1).InstanceNumber) == (1, 2)
    assert first.kos_sop_instance_uid != second.kos_sop_instance_uid


def test_deletion_sets_the_previous_entry_to_deleted(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.send(message("M1"))
    assert h.send(message("M2", kind="MDM", trigger="T04", status="D", orc="CA"))[0] == "AA"
    ((entry, status, pub),) = h.publisher.updates
    assert (entry, status) == ("urn:uuid:00000000-0000-0000-0000-000000000001", DELETED_STATUS)
    assert pub.kos_sop_instance_uid == h.publisher.published[0].kos_sop_instance_uid
    assert h.state.get(KNOWN_STUDY).status == DELETED  # type: ignore[union-attr]
    assert h.send(message("M3", status="D", orc="CA"))[0] == "AA" and len(h.publisher.updates) == 1


@pytest.mark.parametrize(
    ("payload", "code", "error"),
    [
        (message("N1", pid32="PROV"), "AA", None),
        (message("N2", flags={"DESTDMP": "N"}), "AA", None),
        (message("N3", UNKNOWN_STUDY), "AA", None),
        (message("N4", status="C", orc="NW"), "AE", "207"),
        (message("N5", kind="MDM", trigger="T10", status="F", orc="NW"), "AE", "207"),
        (message("N6", kind="ADT", trigger="A01"), "AE", "200"),
        (message("N7", kind="MDM", trigger="T01"), "AE", "201"),
        (message("N8").replace(b"^Base64^", b"^Base64^@@"), "AE", "102"),
        (message("N9").replace(b"|ED|", b"|TX|", 1), "AE", "101"),
        (b"this is not HL7", "AE", "100"),
    ],
)
def test_negative_cases_publish_nothing(tmp_path: Path, payload: bytes, code: str, error: str | None) -> None:
    h = harness(tmp_path)
    msa, err = h.send(payload)
    assert msa == code
    assert (err[3].split("^")[0] if err else None) == error
    assert h.publisher.published == []


def test_ack_before_processing_answers_aa_before_it_queries_the_pacs(tmp_path: Path) -> None:
    h = harness(tmp_path, variant="ack_before_processing")
    h.pacs.gate.clear()  # the PACS does not answer until the ACK has been seen
    assert h.send(message("V1"))[0] == "AA"
    assert h.publisher.published == []
    h.pacs.gate.set()
    assert h.service.drain(5)
    assert h.pacs.queried == [KNOWN_STUDY] and len(h.publisher.published) == 1
    assert h.state.current(KNOWN_STUDY) is not None


def test_ack_before_processing_keeps_the_arrival_order_of_one_study(tmp_path: Path) -> None:
    h = harness(tmp_path, variant="ack_before_processing")
    h.pacs.gate.clear()  # the initial report's work is held up in its PACS query
    assert h.send(message("V1"))[0] == "AA"
    assert h.send(message("V2", kind="MDM", trigger="T04", status="D", orc="CA"))[0] == "AA"
    time.sleep(0.1)
    assert h.publisher.updates == []  # the deletion waits for the initial report
    h.pacs.gate.set()
    assert h.service.drain(5)
    assert len(h.publisher.published) == 1
    assert [status for _, status, _ in h.publisher.updates] == [DELETED_STATUS]  # it withdrew what was published


def test_ack_before_processing_still_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    h = harness(tmp_path, variant="ack_before_processing")
    msa, err = h.send(message("V3", kind="MDM", trigger="T02", version="2.5"))
    assert (msa, err[3].split("^")[0]) == ("AE", "203")
    assert h.service.drain(1) and h.publisher.published == [] and h.pacs.queried == []


def test_circumstantial_failures_answer_ar(tmp_path: Path) -> None:
    assert harness(tmp_path / "pacs", pacs_down=True).send(message("C1"))[0] == "AR"
    h = harness(tmp_path / "dmp", dmp_ok=False)
    assert h.send(message("C2"))[0] == "AR"
    assert h.state.current(KNOWN_STUDY) is None


def test_hl7_faults(tmp_path: Path) -> None:
    assert harness(tmp_path / "a", "hl7_no_ack").service.handle(message("F1")) is None
    ack = harness(tmp_path / "b", "hl7_ack_wrong_msa2").service.handle(message("F2"))
    assert ack is not None and fields(ack, "MSA")[2] != "F2"
    ack = harness(tmp_path / "c", "hl7_ack_wrong_msh9").service.handle(message("F3", kind="MDM", trigger="T02"))
    assert ack is not None and fields(ack, "MSH")[9] == "ACK^R01^ACK"
    ack = harness(tmp_path / "d", "hl7_refuse_without_err").service.handle(message("F4").replace(b"|ED|", b"|TX|", 1))
    assert ack is not None and fields(ack, "MSA")[1] == "AE" and fields(ack, "ERR") == []


def test_gate_and_lifecycle_faults(tmp_path: Path) -> None:
    h = harness(tmp_path / "unq", "publish_unqualified")
    h.send(message("G1", pid32="PROV"))
    assert len(h.publisher.published) == 1
    h = harness(tmp_path / "unk", "publish_unknown_study")
    h.send(message("G2", UNKNOWN_STUDY))
    assert h.kos().CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence == []
    h = harness(tmp_path / "rplc", "replace_without_rplc")
    h.send(message("G3"))
    h.send(message("G4", status="C", orc="RO"))
    assert [pub.replaces_entry_uuid for pub in h.publisher.published] == [None, None]
    h = harness(tmp_path / "del", "delete_ignored")
    h.send(message("G5"))
    assert h.send(message("G6", status="D", orc="CA"))[0] == "AA" and h.publisher.updates == []


def test_kos_faults(tmp_path: Path) -> None:
    def kos(fault: str) -> pydicom.Dataset:
        h = harness(tmp_path / fault, fault)
        h.send(message("K1"))
        return h.kos()

    assert (kos("kos_study_date_not_from_pacs").StudyDate, kos("kos_study_date_not_from_pacs").StudyTime) == ("20250102", "101500")
    evidence = kos("kos_drop_instance").CurrentRequestedProcedureEvidenceSequence[0]
    assert sum(len(series.ReferencedSOPSequence) for series in evidence.ReferencedSeriesSequence) == 2
    series = kos("kos_no_retrieve_url").CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert all("RetrieveURL" not in item for item in series)
    assert kos("kos_wrong_patient_id").PatientID == "IPP901"


@pytest.mark.parametrize(
    ("skeleton", "event"),
    [
        ("Examen-C/CR_C-ORU.hl7.skeleton", Event.INITIAL),
        ("Examen-C/CR_C-MDM.hl7.skeleton", Event.INITIAL),
        ("Examen-G/CR_G1_MAJ-ORU.hl7.skeleton", Event.INITIAL),  # the dataset sends its ORU update as F / NW
        ("Examen-G/CR_G1_MAJ-MDM.hl7.skeleton", Event.REPLACEMENT),
        ("Examen-I/CR_I_Depublication-ORU.hl7.skeleton", Event.DELETION),
        ("Examen-I/CR_I_Depublication-MDM.hl7.skeleton", Event.DELETION),
    ],
)
def test_official_hl7_skeletons_are_read(skeleton: str, event: Event) -> None:
    path = SKELETONS / skeleton
    if not path.exists():
        pytest.skip(f"ANS HL7v2 skeleton absent: {path}")
    text = path.read_text(encoding="utf-8")
    for placeholder, value in (
        ("{{applicationSupplier}}", "RIS"), ("{{facilitySupplier}}", "RIS_FAC"), ("{{applicationReceiver}}", "DRIMBOX"),
        ("{{facilityReceiver}}", "DB_FAC"), ("{{idMessage}}", "ID1"),
    ):
        text = text.replace(placeholder, value)
    payload = base64.encodebytes(cda(KNOWN_STUDY)).decode().strip()
    text = re.sub(r"\[BASE64-CDA-PAYLOAD-OMITTED-\d+-CHARS\]", payload, text)
    report = read_message(text.encode("utf-8"))  # CRLF segments, base64 wrapped on 76-character lines
    assert report.event is event and report.header.control_id == "ID1"
    assert (report.ins, report.ins_oid, report.ipp, report.identity_status) == (INS, INS_OID, "IPP101", "VALI")
    assert report.flag("DESTDMP") and set(report.flags.values()) <= {"Y", "N"}
    assert {"MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REP_LEGAUX", "CONNEXION_SECRETE", "ACK_LECTURE_MSS"} <= set(report.flags)
    sender = report.sender
    assert sender is not None and (sender.person_id, sender.organisation_id_type) == ("801234564895", "FINEG")
    assert sender.organisation_id.isdigit() and sender.organisation_name
    assert report.cda == cda(KNOWN_STUDY)


def test_ans_cda_example_is_read_one_study_per_service_event() -> None:
    path = SHARED / "poc-samples" / "CDA" / "IMG_CR_IMG_2023.11_CDA-R2-Niveau-1.xml"
    if not path.exists():
        pytest.skip(f"ANS CDA example absent: {path}")
    report = read_cda(path.read_bytes())
    assert [study.study_uid for study in report.studies] == [f"1.2.250.1.3.152.235.2.12.18763647{n}" for n in (4, 5, 6)]
    assert (report.patient.ins, report.patient.ins_oid, report.patient.birth_name, report.patient.given_name) == (
        INS, INS_OID, "PAT-TROIS", "DOMINIQUE"
    )
    assert (report.order.accession, report.order.accession_issuer) == ("105234751", "1.2.250.1.925.994044785528.27")
    assert (report.order.order_id, report.order.order_root) == ("984375862", "1.2.250.1.748.12345678.12")
    first = report.studies[0]
    assert first.act_code == ("24727-0", "2.16.840.1.113883.6.1", "CT Head W contrast IV") and first.modalities == ("CT",)
    assert (first.service_start, first.service_stop) == ("20210108102500", "20210108111700")
    assert (report.author_id, report.organisation_id, report.healthcare_facility_code) == ("801234560801", "101235555", "SA08")


def test_study_locks_serialise_one_study_and_let_the_others_run() -> None:
    from simulators.reference.service import StudyLocks

    locks = StudyLocks()
    holding, release = threading.Event(), threading.Event()
    same_study_in = threading.Event()

    def first() -> None:
        with locks.hold(["1.2.3", "1.2.4"]):
            holding.set()
            release.wait(5)

    def same_study() -> None:
        with locks.hold(["1.2.4"]):
            same_study_in.set()

    workers = [threading.Thread(target=first), threading.Thread(target=same_study)]
    workers[0].start()
    assert holding.wait(5)
    workers[1].start()
    other_done = threading.Event()

    def other_study() -> None:
        with locks.hold(["9.9"]):
            other_done.set()

    threading.Thread(target=other_study).start()
    assert other_done.wait(2), "a report on another study waited for the first one"
    assert not same_study_in.wait(0.2), "a report on the same study did not wait"
    release.set()
    assert same_study_in.wait(5)
    for worker in workers:
        worker.join(5)
    assert len(locks) == 0  # no lock is kept for a study nobody holds


def test_study_locks_let_reports_of_one_study_in_in_the_order_they_queued() -> None:
    from simulators.reference.service import StudyLocks

    locks = StudyLocks()
    first, second = locks.queue(["1.2.3"]), locks.queue(["1.2.3", "1.2.4"])
    other = locks.queue(["1.2.4"])  # queued after the second: waits for it
    order: list[str] = []

    def enter(turn: Any, name: str) -> None:
        with turn:
            order.append(name)

    late = [threading.Thread(target=enter, args=(turn, name)) for turn, name in ((other, "other"), (second, "second"))]
    for thread in late:
        thread.start()
    time.sleep(0.1)
    assert order == []  # both wait for the first report of 1.2.3
    enter(first, "first")
    for thread in late:
        thread.join(5)
    assert order == ["first", "second", "other"]
    abandoned = locks.queue(["9.9"])
    abandoned.cancel()
    assert len(locks) == 0

"""Whole ``drimva ris`` sessions with a RIS the harness does not drive: a real process, fed from outside.

Each test starts ``python -m drimva ris --profile <a real-RIS profile>`` as a
subprocess (its own process group, killed at the end), on ephemeral loopback
ports, and plays the RIS from outside: the CR files go through python-hl7's
``mllp_send`` (a client nobody here wrote), the contextual call through
httpx trusting the CA the banner names. The sessions are those a RIS
integrator meets: all in one burst (a RIS replaying its queue), paced with
pauses, an initial CR refused and then nothing more, an operator skipping
steps, and a session stopped by SIGTERM or SIGINT. The per-step wait of the
profile is short so that each test stays fast, and each asserts that the
session did not wait where it had no reason to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from fixtures.reports import ReportSpec
from tests.ports import free_loopback_port
from tests.test_ris_mode import call_params, message, spec

pytestmark = pytest.mark.long(20)  # seconds, roughly: handed out first under pytest-xdist

ROOT = Path(__file__).resolve().parents[1]
MLLP_SEND = ROOT / ".venv" / "bin" / "mllp_send"
START_S = 60.0  # the banner: pytest collected the suite and the listeners are up (a loaded 2-core machine)
END_S = 60.0

INITIAL = "Le RIS transmet un CR initial conforme"
REPLACE = "Le RIS transmet un CR corrigé qui remplace le CR initial"
DELETE = "Le RIS transmet la suppression du CR"
CALL = "Le RIS fait un appel contextuel pour le patient de ses CR"
FOLDER_OF = {INITIAL: "initial", REPLACE: "replace", DELETE: "delete", CALL: "contextual"}


def _mllp_send() -> str:
    found = str(MLLP_SEND) if MLLP_SEND.exists() else shutil.which("mllp_send")
    if not found:
        pytest.skip("mllp_send (python-hl7) is not installed: pip install hl7")
    return found


@dataclass
class Session:
    """A running ``drimva ris`` and what the test needs to play the RIS against it."""

    process: subprocess.Popen[bytes]
    run_dir: Path
    out: Path
    mllp_port: int
    call_port: int

    def output(self) -> str:
        return self.out.read_text("utf-8", errors="replace")

    def wait_output(self, pattern: str, timeout_s: float = START_S) -> re.Match[str]:
        """Wait for ``pattern`` (a regex) in the console output; fail with the output if the process ends first."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"drimva ris exited ({self.process.returncode}) before « {pattern} »:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout_s} s: « {pattern} »:\n{self.output()[-4000:]}")
            time.sleep(0.05)

    def ca_file(self) -> str:
        return self.wait_output(r"AC à faire confiance \(HTTPS\): (\S+)").group(1)

    def send_files(self, *files: Path) -> None:
        """python-hl7's ``mllp_send``, one process per file (each file: one or more CRs)."""
        for file in files:
            done = subprocess.run([_mllp_send(), "--loose", "-f", str(file), "-p", str(self.mllp_port), "127.0.0.1"],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "MSA|" in done.stdout, done.stdout  # mllp_send prints each ACK

    def call(self, params: dict[str, str]) -> httpx.Response:
        """The contextual call a RIS makes: POST form, HTTPS trusting the banner's CA, redirects not followed."""
        return httpx.post(f"https://127.0.0.1:{self.call_port}/appel-contextuel", content=urlencode(params),
                          headers={"Content-Type": "application/x-www-form-urlencoded"},
                          verify=ssl.create_default_context(cafile=self.ca_file()), timeout=15)

    def finish(self, timeout_s: float = END_S) -> dict[str, Any]:
        """Wait for the end of the session; its results.json."""
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"drimva ris did not end within {timeout_s} s:\n{self.output()[-4000:]}")
        results = self.run_dir / "results.json"
        assert results.exists(), self.output()[-4000:]
        return dict(json.loads(results.read_text("utf-8")))

    def skip_step(self) -> None:
        """The operator presses Enter on the console."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"\n")
        self.process.stdin.flush()


def ris_profile(path: Path, mllp_port: int, call_port: int, step_wait_s: float, sending_facility: str = "DRIMVA_FAC") -> Path:
    """A profile of a real RIS (no embedded simulator) on loopback ports, with a short wait per step."""
    path.write_text(f"""
[sut]
name = "RIS de test"
kind = "ris"

[sut.ris]
sending_application = "DRIMVA_RIS"
sending_facility = "{sending_facility}"
step_wait_s = {step_wait_s}
session_duration_s = 300

[harness]
bind_host = "127.0.0.1"
advertise_host = "127.0.0.1"
pki_dir = "pki"

[harness.drimbox_source]
port = {mllp_port}
receiving_application = "DRIMBOX"
receiving_facility = "DB_FAC"

[harness.contextual_call]
port = {call_port}
path = "/appel-contextuel"
tls = true
public_host = "127.0.0.1"
""", encoding="utf-8")
    return path


@pytest.fixture
def start_session(tmp_path: Path) -> Iterator[Callable[..., Session]]:
    """Start ``drimva ris`` on a fresh profile; every process group it started is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(step_wait_s: float, *extra: str, sending_facility: str = "DRIMVA_FAC") -> Session:
        mllp_port, call_port = free_loopback_port(), free_loopback_port()
        profile = ris_profile(tmp_path / "ris.toml", mllp_port, call_port, step_wait_s, sending_facility)
        run_dir, out = tmp_path / "run", tmp_path / "drimva.out"
        with out.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "drimva", "ris", "--profile", str(profile), "--run-dir", str(run_dir), *extra],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started.append(process)
        session = Session(process, run_dir, out, mllp_port, call_port)
        session.wait_output(r"DRIMbox source \(MLLP\)\s+: 127\.0\.0\.1:\d+")
        return session

    yield start
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


@dataclass(frozen=True)
class CrFiles:
    """A RIS session as captured CR files: the initial CR, its correction, the deletion of the correction."""

    report: ReportSpec
    initial: Path
    replace: Path
    delete: Path
    control_ids: dict[str, str]  # event -> MSH-10

    def burst(self, folder: Path) -> Path:
        """All three in one file, as a RIS replaying its queue sends them."""
        path = folder / "session.hl7"
        path.write_bytes(b"\n".join(p.read_bytes().rstrip(b"\n") for p in (self.initial, self.replace, self.delete)) + b"\n")
        return path


def cr_files(folder: Path) -> CrFiles:
    report = spec()
    corrected = report.corrected()
    control_ids = {"initial": f"CRI{os.getpid()}", "replace": f"CRR{os.getpid()}", "delete": f"CRD{os.getpid()}"}
    texts = {
        "initial": message(report, "ORU", "initial", control_ids["initial"]),
        "replace": message(corrected, "MDM", "replace", control_ids["replace"]),
        "delete": message(corrected, "ORU", "delete", control_ids["delete"]),
    }
    paths = {}
    for event, text in texts.items():  # one message per file, segments on lines (as mllp_send --loose reads them)
        paths[event] = folder / f"{event}.hl7"
        paths[event].write_bytes(text.rstrip("\r").encode("utf-8") + b"\n")
    return CrFiles(report, paths["initial"], paths["replace"], paths["delete"], control_ids)


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["outcome"] for s in results["scenarios"]}


def scenario(results: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(s for s in results["scenarios"] if s["name"] == name))


def exchanges(run_dir: Path, results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    log = run_dir / scenario(results, name)["evidence"] / "exchanges.jsonl"
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()] if log.exists() else []


def assert_filed_by_content(session: Session, results: dict[str, Any], files: CrFiles) -> None:
    """Each scenario's folder holds what the RIS sent for it: its CR and the ACK (MSH-10 in the label), or the call."""
    for name, event in FOLDER_OF.items():
        logged = exchanges(session.run_dir, results, name)
        if event == "contextual":
            assert {e["channel"] for e in logged} == {"contextual_call"}, logged
            continue
        labels = [e["label"] for e in logged if e["channel"] == "drimbox_source"]
        assert len(labels) == 2 and all(files.control_ids[event] in label for label in labels), (name, labels)
        others = [cid for ev, cid in files.control_ids.items() if ev != event]
        assert not any(cid in label for label in labels for cid in others), (name, labels)
    session_log = session.run_dir / "evidence" / "_session" / "exchanges.jsonl"
    assert not session_log.exists() or "drimbox_source" not in session_log.read_text("utf-8")


# -- whole sessions ----------------------------------------------------------------------------


def test_a_whole_session_sent_in_one_burst(tmp_path: Path, start_session: Callable[..., Session]) -> None:
    """The call first, then the three CRs in one mllp_send: any order; the call is compared with the CRs' patient at the end."""
    files = cr_files(tmp_path)
    session = start_session(30)
    started = time.monotonic()
    assert session.call(call_params(files.report)).status_code == 303
    session.send_files(files.burst(tmp_path))
    results = session.finish()
    assert session.process.returncode == 0, session.output()[-4000:]
    assert outcomes(results) == {name: "passed" for name in FOLDER_OF}
    assert time.monotonic() - started < 30  # nothing waited out its step: all had arrived
    assert_filed_by_content(session, results, files)
    notes = [f["actual"] for f in scenario(results, CALL)["findings"] if f["rule"] == "CTX-PATIENT"]
    assert notes == ["received after the call: compared with it now"], scenario(results, CALL)["findings"]


def test_a_session_paced_with_pauses(tmp_path: Path, start_session: Callable[..., Session]) -> None:
    files = cr_files(tmp_path)
    session = start_session(30)
    session.wait_output(r"en attente : CR initial — encore")  # the countdown of the pending step (plain lines)
    time.sleep(0.5)
    session.send_files(files.initial)
    session.wait_output(r"en attente : CR corrigé — encore")
    time.sleep(1.0)
    session.send_files(files.replace)
    session.wait_output(r"en attente : suppression du CR — encore")
    time.sleep(1.0)
    session.send_files(files.delete)
    session.wait_output(r"en attente : appel contextuel — encore")
    time.sleep(1.0)
    assert session.call(call_params(files.report)).status_code == 303
    results = session.finish()
    assert session.process.returncode == 0, session.output()[-4000:]
    assert outcomes(results) == {name: "passed" for name in FOLDER_OF}
    assert_filed_by_content(session, results, files)
    output = session.output()
    assert "\x1b" not in output and "\r" not in output  # not a TTY: plain lines, no escape codes


def test_an_initial_cr_refused_then_nothing_but_the_call(tmp_path: Path, start_session: Callable[..., Session]) -> None:
    """The profile expects another MSH-4: the initial CR is refused (AE); a correct RIS sends no follow-up of it."""
    files = cr_files(tmp_path)
    session = start_session(60, sending_facility="AUTRE_FAC")
    started = time.monotonic()
    session.send_files(files.initial)
    session.wait_output(r"en attente : appel contextuel")  # RIS-2 and RIS-3 were not waited for
    assert time.monotonic() - started < 30
    assert session.call(call_params(files.report)).status_code == 303
    results = session.finish()
    assert session.process.returncode == 1
    assert outcomes(results) == {INITIAL: "failed", REPLACE: "skipped", DELETE: "skipped", CALL: "passed"}
    for name in (REPLACE, DELETE):
        assert "refusé (MSA-1 AE)" in scenario(results, name)["message"], scenario(results, name)
    assert time.monotonic() - started < 45  # the session ended with the call, not after two waits of 60 s


# -- the operator, the endpoint's refusals -----------------------------------------------------


def test_the_operator_skips_steps_and_refused_connections_are_named(tmp_path: Path, start_session: Callable[..., Session]) -> None:
    files = cr_files(tmp_path)
    session = start_session(4)
    session.send_files(files.initial)
    session.wait_output(r"en attente : CR corrigé — encore .*Entrée ou « s »")
    session.skip_step()
    session.wait_output(r"en attente : suppression du CR — encore")
    session.skip_step()
    session.wait_output(r"en attente : appel contextuel — encore")
    with socket.create_connection(("127.0.0.1", session.call_port), timeout=5) as plain:  # http:// on the HTTPS port
        plain.sendall(b"POST /appel-contextuel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        plain.settimeout(5)
        try:
            plain.recv(1024)
        except OSError:
            pass
    with pytest.raises(httpx.ConnectError):  # a client trusting only the system's CAs, not the run's
        httpx.post(f"https://127.0.0.1:{session.call_port}/appel-contextuel", content=b"", timeout=5)
    results = session.finish()
    assert session.process.returncode == 1
    assert outcomes(results) == {INITIAL: "passed", REPLACE: "skipped", DELETE: "skipped", CALL: "failed"}
    for name, step in ((REPLACE, "CR corrigé"), (DELETE, "suppression du CR")):
        assert scenario(results, name)["message"] == f"opérateur : étape « {step} » passée depuis la console"
    [finding] = [f for f in scenario(results, CALL)["findings"] if f["rule"] == "RIS-CONTEXTUAL-SENT"]
    assert "2 connexion(s) refusée(s)" in finding["actual"], finding
    assert "requête HTTP en clair sur le port HTTPS" in finding["actual"]
    assert "ne fait pas confiance à l'AC du banc" in finding["actual"]
    refused = [e for e in exchanges(session.run_dir, results, CALL) if e.get("meta", {}).get("direction") == "refused"]
    assert len(refused) == 2, exchanges(session.run_dir, results, CALL)


# -- stopped -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["SIGTERM", "SIGINT-group"])
def test_a_session_stopped_keeps_what_it_received(
    tmp_path: Path, start_session: Callable[..., Session], signum: signal.Signals, group: bool
) -> None:
    """Stopped while RIS-2 waits: RIS-1 passed, the deletion that had arrived is judged, the rest ``interrupted``."""
    files = cr_files(tmp_path)
    session = start_session(120)
    session.send_files(files.initial, files.delete)
    session.wait_output(r"en attente : CR corrigé — encore")
    stopped_at = time.monotonic()
    if group:
        os.killpg(session.process.pid, signum)  # a terminal's Ctrl-C
    else:
        session.process.send_signal(signum)  # a supervisor's kill
    results = session.finish(timeout_s=30)
    assert time.monotonic() - stopped_at < 20  # at once, not at the end of the step's wait
    assert session.process.returncode == 128 + signum, session.output()[-4000:]
    assert (results["interrupted"], results["signal"]) == (True, signum.name)
    assert outcomes(results) == {INITIAL: "passed", REPLACE: "interrupted", DELETE: "passed", CALL: "interrupted"}
    assert signum.name in scenario(results, REPLACE)["message"]
    items = {item["id"]: item["outcome"] for item in results["items"]}
    assert items == {"RIS-1": "passed", "RIS-2": "interrupted", "RIS-3": "passed", "RIS-4": "interrupted"}
    assert (session.run_dir / "junit.xml").stat().st_size > 0 and (session.run_dir / "rapport-va.html").stat().st_size > 0
    assert "interrupted" in (session.run_dir / "junit.xml").read_text("utf-8")
    assert f"<b>Exécution interrompue</b> par {signum.name}" in (session.run_dir / "rapport-va.html").read_text("utf-8")
    assert f"INTERROMPU par {signum.name}" in session.output()


def test_items_select_the_scenarios(tmp_path: Path) -> None:
    """``--items RIS-1,RIS-4`` (embedded RIS simulator): the two others are not run, and not waited for."""
    done = subprocess.run([sys.executable, "-m", "drimva", "ris", "--run-dir", str(tmp_path), "--quiet", "--items", "RIS-1,RIS-4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    results = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes(results) == {INITIAL: "passed", REPLACE: "not_run", DELETE: "not_run", CALL: "passed"}


# -- the pieces --------------------------------------------------------------------------------


def test_the_countdown_text_and_its_pace() -> None:
    from drimva.ris_console import countdown_due, countdown_line, duration_text

    assert [duration_text(s) for s in (0, 0.2, 12, 60, 299.5)] == ["0 s", "1 s", "12 s", "1 min 00 s", "5 min 00 s"]
    line = countdown_line("CR corrigé", 65, can_skip=True)
    assert line.startswith("[drimva ris] en attente : CR corrigé — encore 1 min 05 s (Entrée") and "\x1b" not in line
    assert "Entrée" not in countdown_line("CR corrigé", 65, can_skip=False)
    assert countdown_due(True, 0.0, None) and countdown_due(False, 0.0, None)
    assert countdown_due(True, 2.0, 1.0) and not countdown_due(True, 1.5, 1.0)
    assert not countdown_due(False, 20.0, 0.0) and countdown_due(False, 30.0, 0.0)


def test_a_call_made_before_the_crs_is_compared_with_their_patient_later() -> None:
    from drimva.rules.contextual_call import check_call_patient
    from fixtures.identities import new_patient

    report = spec()
    body = urlencode(call_params(report)).encode()
    assert check_call_patient(body, report.patient) == []
    other = check_call_patient(body, new_patient(sex=report.patient.sex))
    assert other and {f.rule for f in other} == {"CTX-PATIENT"} and all(f.severity.value == "error" for f in other)


def test_a_tls_failure_is_named_by_what_the_client_did() -> None:
    from simulators.conso_endpoint import refusal_reason

    assert "HTTP en clair" in refusal_reason("SSLError: [SSL: HTTP_REQUEST] http request (_ssl.c:1006)")
    assert "AC du banc" in refusal_reason("SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    assert "version de TLS" in refusal_reason("SSLError: [SSL: UNSUPPORTED_PROTOCOL] unsupported protocol")
    assert "avant la fin" in refusal_reason("SSLEOFError: EOF occurred in violation of protocol")
    assert refusal_reason("SSLError: something else") == "poignée de main TLS échouée"


def test_a_line_skips_only_a_step_that_waits() -> None:
    from drimva.ris_operator import OperatorInput

    read, write = os.pipe()
    operator = OperatorInput(read).start()
    try:
        os.write(write, b"\n")  # nothing waits: dropped
        time.sleep(0.2)
        operator.begin_wait()
        assert not operator.skip_requested()
        os.write(write, b"autre chose\n")  # not a skip word
        time.sleep(0.2)
        assert not operator.skip_requested()
        os.write(write, b"S\n")
        deadline = time.monotonic() + 5
        while not operator.skip_requested() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert operator.skip_requested()
        operator.end_wait()
        assert not operator.skip_requested() and operator.available
        os.close(write)
        deadline = time.monotonic() + 5
        while operator.available and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not operator.available  # end of input: the countdown no longer offers the skip
    finally:
        os.close(read)


def test_a_wait_ends_found_skipped_expired_or_interrupted() -> None:
    from drimva.ris_operator import OperatorInput
    from fixtures.ris_harness import RisDriver, SessionInterrupted, StepSkipped

    class Listener:
        received: list[object] = []
        total = 0

    class Endpoint:
        received: list[object] = []

    stops: list[str] = []
    operator = OperatorInput(None)
    driver = RisDriver(Listener(), Endpoint(), lambda step: None, 4, 60, 0.3, operator, on_interrupt=stops.append)  # type: ignore[arg-type]
    assert driver._wait("replace", lambda timeout: None) is None and driver.expired == {"replace"}
    started = time.monotonic()
    assert driver._wait("replace", lambda timeout: None) is None and time.monotonic() - started < 0.1  # not twice

    def skip_then_nothing(timeout: float) -> None:
        if timeout:
            operator._skip.set()  # the reader thread saw a line while the step waited
        return None

    with pytest.raises(StepSkipped):
        driver._wait("delete", skip_then_nothing)
    calls: list[float] = []

    def interrupted(timeout: float) -> str | None:
        calls.append(timeout)
        if timeout:
            raise KeyboardInterrupt
        return "arrived" if len(calls) > 2 else None  # the poll after the signal finds it

    assert driver._wait("contextual", interrupted) == "arrived" and stops == ["SIGINT"]
    with pytest.raises(SessionInterrupted):  # once stopped, nothing is waited for
        driver._wait("initial", lambda timeout: None)
    assert driver._wait("initial", lambda timeout: "there") == "there"  # what has arrived is still taken

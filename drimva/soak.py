"""``drimva soak``: N initial reports at a given rate through the RIS simulator, K/T and publication latency.

Each report is a new patient (qualified INS, PID-32 ``VALI``) with a new
study put in the PACS simulator just before its report is sent, so every
report the SUT receives counts in T. A pacer thread releases the reports at
``rate`` per second into a bounded queue (at most about one second of
reports waits there) that a pool of MLLP senders drains, one connection per
message as a RIS does; when the SUT falls behind, the pool and the queue fill
and the pacer blocks, so the achieved send rate shows what the SUT sustained.

Figures (decisions where the issue is silent):

- T: reports the SUT acknowledged (any MSA-1: the report was *received*),
  with a qualified identity and a study the PACS knows (all of them here);
- K: those of T for which an entry of the patient appeared in the DMP registry
  within ``timeouts.publication_s`` after the last acknowledgement;
- latency: from the start of the send to the arrival at the DMP of the ITI-41
  request that created the registry entry;
- achieved rate: (sent - 1) / (last send start - first send start).

Exit 0 when K/T >= 99 % and the achieved rate >= 90 % of the asked rate.
SIGINT or SIGTERM stops the sending (:mod:`drimva.interruption`): the figures
then cover the reports created before the stop (K: the publications the DMP
had already received, no further wait), are marked interrupted and never pass,
and the exit code is 130 or 143.
The RIS evidence keeps the first messages in full, then only their MSH
segment (the ACKs are kept whole); PACS and DMP evidence is complete.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import queue
import signal
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drimva.console import Console, outcome_word, shorten
from drimva.evidence import EvidenceSink, EvidenceStore
from drimva.hl7msg import Hl7Error, parse_message
from drimva.interruption import RunInterrupted, interruptible, signal_exit_code
from drimva.outcomes import HarnessError, Outcome
from drimva.profile import Profile, load_profile
from drimva.report.values_fr import value_fr
from drimva.runs import check_fault, new_run_id
from drimva.waiting import observed, poll
from fixtures.cda import build_cda
from fixtures.exam import ScenarioState, new_exam
from fixtures.stack import BlockBStack, profile_organisation, start_block_b
from simulators.ris import RisSimulator, build_report_message

KT_THRESHOLD = 0.99
RATE_THRESHOLD = 0.90
FULL_RIS_MESSAGES = 5  # RIS messages kept in full in the evidence; later ones are summarised
QUEUE_SECONDS = 1.0  # at most this much of reports wait in the queue
POLL_S = 0.05
_control_ids = itertools.count(1)


@dataclass
class ReportRun:
    """One report of the soak and what became of it."""

    index: int
    control_id: str
    ins: str
    study_uid: str
    qualified: bool
    in_pacs: bool
    sent_at: float = 0.0  # wall clock, start of the send
    ack_code: str | None = None  # MSA-1, None without ACK
    ack_s: float | None = None
    error: str | None = None
    published_at: float | None = None  # wall clock, arrival of the ITI-41 at the DMP
    entry_uuid: str = ""

    @property
    def latency_s(self) -> float | None:
        return None if self.published_at is None else round(self.published_at - self.sent_at, 3)


@dataclass
class SoakResult:
    asked_count: int
    asked_rate: float
    sent: int = 0
    acked: int = 0  # any ACK
    acked_aa: int = 0
    t: int = 0
    k: int = 0
    send_rate: float = 0.0
    ack_throughput: float = 0.0  # ACKs per second, first send to last ACK
    latency_median_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    run_dir: str = ""
    interrupted: str | None = None  # the signal that stopped the soak ("SIGINT", "SIGTERM")

    @property
    def kt(self) -> float:
        return self.k / self.t if self.t else 0.0

    @property
    def kt_ok(self) -> bool:
        return self.t > 0 and self.kt >= KT_THRESHOLD

    @property
    def rate_ok(self) -> bool:
        return self.send_rate >= RATE_THRESHOLD * self.asked_rate

    @property
    def passed(self) -> bool:
        return self.kt_ok and self.rate_ok and self.interrupted is None

    @property
    def exit_code(self) -> int:
        """0 passed, 1 failed, 128 + the signal's number when interrupted (130 SIGINT, 143 SIGTERM)."""
        if self.interrupted is not None:
            return signal_exit_code(signal.Signals[self.interrupted])
        return 0 if self.passed else 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(kt=round(self.kt, 4), kt_ok=self.kt_ok, rate_ok=self.rate_ok, passed=self.passed)
        return data

    def to_text(self) -> str:
        """The figures in French, as the console prints them (the verdict word last: conforme, non conforme, interrompu)."""
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f} s".replace(".", ",")

        lines = [f"soak INTERROMPU par {self.interrupted} : les chiffres portent sur les CR envoyés avant l'arrêt"] if self.interrupted else []
        lines += [
            (
                f"soak : {self.sent}/{self.asked_count} CR envoyés à {self.send_rate:.2f}/s "
                f"(demandé {self.asked_rate:g}/s, {'tenu' if self.rate_ok else 'sous 90 %'}), en {self.duration_s:.1f} s"
            ).replace(".", ","),
            f"ACK : {self.acked} reçus, dont {self.acked_aa} AA ; débit {self.ack_throughput:.2f}/s".replace(".", ","),
            f"T = {self.t}, K = {self.k}, K/T = {100 * self.kt:.2f} % ({'≥ 99 %' if self.kt_ok else '< 99 %'})".replace(".", ","),
            (
                f"délai de publication : médiane {seconds(self.latency_median_s)}, p95 {seconds(self.latency_p95_s)}, "
                f"max {seconds(self.latency_max_s)}"
            ),
        ]
        if self.errors:
            lines.append(f"erreurs ({len(self.errors)}) :")
            lines += [f"  {shorten(error, 200)}" for error in self.errors[:20]]
            if len(self.errors) > 20:
                lines.append(f"  … et {len(self.errors) - 20} autres (voir soak.json)")
        if self.run_dir:
            lines.append(f"preuves : {self.run_dir}")
        verdict = Outcome.INTERRUPTED if self.interrupted else Outcome.PASSED if self.passed else Outcome.FAILED
        lines.append(f"{outcome_word(verdict).upper()}" + (f" ({self.interrupted})" if self.interrupted else ""))
        return "\n".join(lines)


class SummarisedRisEvidence:
    """Evidence sink for the RIS: the first ``keep`` messages in full, then the MSH segment only."""

    def __init__(self, inner: EvidenceSink, keep: int = FULL_RIS_MESSAGES) -> None:
        self.inner = inner
        self.keep = keep
        self._sent = 0
        self._lock = threading.Lock()

    def record(
        self,
        channel: str,
        label: str,
        raw: bytes,
        decoded: str | None = None,
        meta: dict[str, Any] | None = None,
        suffix: str = "bin",
    ) -> Path:
        meta = dict(meta or {})
        if meta.get("direction") == "sent":
            with self._lock:
                self._sent += 1
                summarise = self._sent > self.keep
            if summarise:
                msh = raw.split(b"\r", 1)[0]
                meta.update(summarised=True, size=len(raw))
                decoded = f"(summarised: {len(raw)} bytes, MSH segment only)\n{msh.decode('utf-8', 'replace')}\n"
                raw = msh
        return self.inner.record(channel, label, raw, decoded, meta, suffix)


def nearest_rank(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def soak(
    profile: Profile,
    count: int,
    rate: float,
    run_dir: Path,
    *,
    fault: str | None = None,
    workers: int | None = None,
) -> SoakResult:
    """Run the soak against the profile's SUT; evidence and ``soak.json`` go to ``run_dir``."""
    if count < 1 or rate <= 0:
        raise HarnessError(f"--count must be >= 1 and --rate > 0 (got {count}, {rate})")
    run_dir.mkdir(parents=True, exist_ok=True)
    evidence = EvidenceStore(run_dir / "evidence")
    started = time.monotonic()
    with start_block_b(profile, run_dir, evidence, fault) as stack:
        evidence.begin_scenario("soak")
        ris = RisSimulator(
            SummarisedRisEvidence(evidence), connect_timeout=profile.timeouts.connect_s, ack_timeout=profile.timeouts.ack_s
        )
        runs: list[ReportRun] = []
        stopped_by: str | None = None
        try:
            _send_all(profile, stack, ris, count, rate, workers or max(2, min(64, math.ceil(rate))), runs)
            _wait_publications(stack, runs, profile.timeouts.publication_s)
        except RunInterrupted as stop:
            stopped_by = stop.signum.name
            _wait_publications(stack, runs, 0)  # one look: what the DMP has received so far counts in K
        result = _figures(runs, count, rate)
        result.interrupted = stopped_by
        result.duration_s = round(time.monotonic() - started, 3)
        result.run_dir = str(run_dir)
        evidence.write_json("soak.json", {"figures": result.to_json(), "reports": [_row(r) for r in runs]})
        evidence.end_scenario()
    (run_dir / "soak.json").write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False), "utf-8")
    return result


def _send_all(
    profile: Profile, stack: BlockBStack, ris: RisSimulator, count: int, rate: float, workers: int, runs: list[ReportRun]
) -> None:
    """Send the reports, appending each to ``runs`` as it is made (the caller keeps them if this is interrupted)."""
    organisation = profile_organisation(profile)
    template = profile.viewer.url_template.replace("{host}", profile.viewer.host)
    qualified = set(profile.rules.qualified_identity_statuses)
    pending: queue.Queue[tuple[ReportRun, str] | None] = queue.Queue(maxsize=max(1, math.ceil(rate * QUEUE_SECONDS)))

    def sender() -> None:
        while True:
            item = pending.get()
            if item is None:
                return
            run, message = item
            run.sent_at = time.time()
            exchange = ris.send(stack.hl7_host, stack.hl7_port, message)
            run.ack_s = exchange.elapsed_s
            run.error = exchange.error
            if exchange.ack_text is not None:
                run.ack_code = _ack_code(exchange.ack_text)

    pool = [threading.Thread(target=sender, name=f"soak-sender-{n}", daemon=True) for n in range(workers)]
    for thread in pool:
        thread.start()
    try:
        start = time.monotonic()
        for index in range(count):
            state = ScenarioState()
            new_exam(state, organisation, template, identity_status=profile.rules.qualified_identity_statuses[0])
            spec = state.require_spec()
            stack.pacs.add_study(state.datasets)
            control_id = f"SOAK{time.strftime('%H%M%S')}{next(_control_ids):06d}"
            message = build_report_message(
                spec,
                build_cda(spec),
                kind="ORU",
                event="initial",
                control_id=control_id,
                sending=(profile.harness.ris.sending_application, profile.harness.ris.sending_facility),
                receiving=(profile.sut.hl7.receiving_application, profile.sut.hl7.receiving_facility),
            )
            run = ReportRun(index, control_id, spec.patient.ins, spec.study_uid, spec.pid32 in qualified, True)
            runs.append(run)
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pending.put((run, message))  # blocks while the pool and the queue are full: the SUT is behind
    except BaseException:
        _drop_waiting(pending)  # interrupted: the reports still in the queue are not sent
        raise
    finally:
        for _ in pool:
            pending.put(None)
        limit = time.monotonic() + profile.timeouts.connect_s + profile.timeouts.ack_s + 5
        for thread in pool:
            thread.join(timeout=max(0.1, limit - time.monotonic()))


def _drop_waiting(pending: queue.Queue[tuple[ReportRun, str] | None]) -> None:
    while True:
        try:
            pending.get_nowait()
        except queue.Empty:
            return


def _ack_code(text: str) -> str:
    try:
        return parse_message(text).get("MSA-1") or "?"
    except Hl7Error:
        return "?"


def _wait_publications(stack: BlockBStack, runs: list[ReportRun], timeout_s: float) -> None:
    """Match registry entries to the reports of T until all are found or ``timeout_s`` passes."""
    waiting = {run.ins: run for run in runs if _in_t(run)}

    def all_found() -> bool:
        entries = stack.dmp.entries()  # first: every submission of an entry seen is recorded by then
        submissions = stack.dmp.submissions
        for entry in entries:
            run = waiting.get(entry.patient_id.split("^", 1)[0])
            if run is not None and 0 <= entry.submission_index < len(submissions):
                run.published_at = submissions[entry.submission_index].at
                run.entry_uuid = entry.entry_uuid
                del waiting[run.ins]
        return not waiting

    poll(all_found, timeout_s, POLL_S, what=f"les publications au DMP ({len(waiting)} KOS attendus)")


def _in_t(run: ReportRun) -> bool:
    return run.ack_code is not None and run.qualified and run.in_pacs


def _figures(runs: list[ReportRun], count: int, rate: float) -> SoakResult:
    result = SoakResult(asked_count=count, asked_rate=rate)
    sent = [run for run in runs if run.sent_at]
    result.sent = len(sent)
    result.acked = sum(1 for run in sent if run.ack_code is not None)
    result.acked_aa = sum(1 for run in sent if run.ack_code == "AA")
    result.t = sum(1 for run in sent if _in_t(run))
    result.k = sum(1 for run in sent if _in_t(run) and run.published_at is not None)
    starts = sorted(run.sent_at for run in sent)
    if len(starts) > 1 and starts[-1] > starts[0]:
        result.send_rate = round((len(starts) - 1) / (starts[-1] - starts[0]), 3)
    elif len(starts) == 1:
        result.send_rate = rate
    acks = [run.sent_at + (run.ack_s or 0.0) for run in sent if run.ack_code is not None]
    if acks and max(acks) > starts[0]:
        result.ack_throughput = round(len(acks) / (max(acks) - starts[0]), 3)
    latencies = [run.latency_s for run in sent if run.latency_s is not None]
    if latencies:
        result.latency_median_s = round(statistics.median(latencies), 3)
        result.latency_p95_s = round(nearest_rank(latencies, 0.95), 3)
        result.latency_max_s = round(max(latencies), 3)
    for run in runs:
        where = f"CR {run.index} ({run.control_id}, INS {run.ins})"
        if not run.sent_at:
            result.errors.append(f"{where} : non envoyé")
        elif run.ack_code is None:
            result.errors.append(f"{where} : pas d'ACK ({value_fr(run.error) if run.error else 'cause inconnue'})")
        elif run.ack_code != "AA":
            result.errors.append(f"{where} : ACK {run.ack_code}")
        elif _in_t(run) and run.published_at is None:
            result.errors.append(f"{where} : aucun KOS dans le registre du DMP")
    return result


def _row(run: ReportRun) -> dict[str, Any]:
    return {**asdict(run), "latency_s": run.latency_s}


def run_soak(args: argparse.Namespace) -> int:
    """The ``drimva soak`` subcommand: 0 when K/T >= 99 % and the rate held, 1 otherwise, 130 / 143 when interrupted."""
    profile = load_profile(args.profile)
    run_dir = profile.reports_folder / f"soak-{new_run_id()}"
    fault = getattr(args, "fault", None)
    check_fault(profile, fault)
    console = Console.for_stdout()
    try:
        with interruptible(), observed(console.waiting):  # the wait for the last publications, when it lasts
            result = soak(profile, int(args.count), float(args.rate), run_dir, fault=fault)
    finally:
        console.close()
    print(result.to_text())
    json_out = getattr(args, "json_out", None)
    if json_out:
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if json_out == "-":
            print(text)
        else:
            Path(json_out).write_text(text + "\n", "utf-8")
    return result.exit_code

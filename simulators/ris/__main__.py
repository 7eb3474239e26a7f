"""``python -m simulators.ris``: the RIS simulator as a system under test, in its own process.

    python -m simulators.ris --mllp HOST:PORT --contextual-url URL [--ca FILE] [--fault NAME]
                             --ready-file F [--step-mode] [options]
    python -m simulators.ris --list-faults

Without ``--step-mode`` it plays the whole session once started (initial
ORU^R01, replacement MDM^T10, deletion ORU^R01, contextual call), waiting for
each ACK, then exits. With ``--step-mode`` it reads one step name per line on
stdin (``initial``, ``replace``, ``delete``, ``contextual``; ``quit`` or end
of input stops it) and answers one line per step on stdout: the harness
drives it scenario by scenario, as an operator drives a real RIS. Exit codes:
0 done, 2 bad command line or fault name.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from simulators.ris.faults import FAULTS, UnknownFault, select_fault
from simulators.ris.session import DEFAULT_CONSENT, STEPS, RisSession, RisTarget


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _pair(value: str) -> tuple[str, str]:
    application, _, facility = value.partition("^")
    return application, facility


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.ris", description="RIS simulator (system under test)")
    parser.add_argument("--mllp", type=_host_port, help="DRIMbox Source MLLP listener, HOST:PORT")
    parser.add_argument("--contextual-url", help="DRIMbox Conso contextual-call URL")
    parser.add_argument("--ca", help="CA certificate (PEM) to trust for an HTTPS contextual-call URL")
    parser.add_argument("--fault", help="fault to inject (see --list-faults)")
    parser.add_argument("--ready-file", type=Path, help="written once the simulator is ready")
    parser.add_argument("--step-mode", action="store_true", help="read one step per line on stdin")
    parser.add_argument("--sending", type=_pair, default=("DRIMVA_RIS", "DRIMVA_FAC"), help="MSH-3^MSH-4")
    parser.add_argument("--receiving", type=_pair, default=("DRIMBOX", "DB_FAC"), help="MSH-5^MSH-6")
    parser.add_argument("--viewer-template", default="", help="viewer URL template of the DRIMbox (fixtures.reports)")
    parser.add_argument("--viewer-host", default="vi.drimbox.test")
    parser.add_argument("--consent-parameter", default=DEFAULT_CONSENT)
    parser.add_argument("--timeout", type=float, default=15.0, help="connect / ACK / HTTP timeout, seconds")
    parser.add_argument("--log", type=Path, help="log file (default: stderr)")
    parser.add_argument("--list-faults", action="store_true", help="print the faults as JSON and exit")
    args = parser.parse_args(argv)
    if args.list_faults:
        print(json.dumps([fault.as_json() for fault in FAULTS], ensure_ascii=False, indent=2))
        return 0
    if args.mllp is None or args.contextual_url is None or args.ready_file is None:
        parser.error("--mllp, --contextual-url and --ready-file are required")
    try:
        fault = select_fault(args.fault)
    except UnknownFault as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        filename=args.log, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    log = logging.getLogger("ris")
    target = RisTarget(
        mllp_host=args.mllp[0],
        mllp_port=args.mllp[1],
        contextual_url=args.contextual_url,
        ca_file=args.ca,
        sending=args.sending,
        receiving=args.receiving,
        viewer_url_template=args.viewer_template,
        viewer_host=args.viewer_host,
        consent_parameter=args.consent_parameter,
        timeout_s=args.timeout,
    )
    session = RisSession(target, fault, log)
    _write_ready(args.ready_file, {"pid": os.getpid(), "fault": fault.name if fault else None, "ins": session.patient.ins})
    log.info("ready: patient %s, fault %s", session.patient.ins, fault.name if fault else "-")
    if not args.step_mode:
        for step in STEPS:
            session.run(step)
        return 0
    for line in sys.stdin:
        step = line.strip()
        if not step:
            continue
        if step == "quit":
            break
        try:
            outcome = session.run(step)
        except ValueError as error:
            outcome = f"error: {error}"
        print(outcome, flush=True)
    log.info("stopped")
    return 0


def _write_ready(path: Path, data: dict[str, object]) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data), "utf-8")
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())

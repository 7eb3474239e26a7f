"""``python -m simulators.reference``: run the reference DRIMbox as its own process.

    python -m simulators.reference --config CONFIG.json [--fault NAME] --ready-file READY.json
    python -m simulators.reference --list-faults

Binds its servers (port 0 = ephemeral), writes READY.json atomically
(``{"pid", "mllp_port", "dicom_port", "wado_base_url", "fault"}``), logs every
decision to ``log_file`` and stops on SIGTERM / SIGINT. Exit codes: 0 clean
stop, 2 bad command line / configuration / fault name.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .config import ConfigError, ReferenceConfig, load_config
from .dicom_server import DicomServer
from .faults import FAULTS, UnknownFault, select_faults
from .mllp_server import MllpServer
from .pacs_client import PacsClient
from .service import Publisher, ReferenceService
from .state import StateStore, atomic_write

LOGGER = "reference"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.reference", description="reference DRIMbox (source role)")
    parser.add_argument("--config", type=Path, help="CONFIG.json")
    parser.add_argument("--fault", help="name of the fault to inject (see --list-faults)")
    parser.add_argument("--ready-file", type=Path, help="where to write READY.json once listening")
    parser.add_argument("--list-faults", action="store_true", help="print the known faults as JSON and exit")
    args = parser.parse_args(argv)
    if args.list_faults:
        print(json.dumps([fault.as_json() for fault in FAULTS], ensure_ascii=False, indent=2))
        return 0
    if args.config is None or args.ready_file is None:
        parser.error("--config and --ready-file are required")
    try:
        faults = select_faults(args.fault)
        config = load_config(args.config)
    except (UnknownFault, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = _logging(config.log_file)
    try:
        publisher = _dmp_client(config, faults)
    except (OSError, ValueError) as exc:
        print(f"error: cannot set up the DMP client from the 'dmp' keys: {exc}", file=sys.stderr)
        return 2
    return run(config, faults, publisher, args.ready_file, log)


def run(config: ReferenceConfig, faults: frozenset[str], publisher: Publisher, ready_file: Path, log: logging.Logger) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pacs = PacsClient(
        calling_ae=config.ae_title,
        called_ae=config.pacs.ae_title,
        host=config.pacs.host,
        port=config.pacs.port,
        timeout_s=config.timeouts.dicom_s,
    )
    service = ReferenceService(config, pacs=pacs, publisher=publisher, state=StateStore(config.state_dir), faults=faults, log=log)
    mllp = MllpServer(service.handle, config.bind_host, config.mllp_port, log=log)
    dicom = DicomServer(config.ae_title, config.bind_host, config.dicom_port, log=log)
    try:
        try:
            mllp.start()
            dicom.start()
        except OSError as exc:
            print(f"error: cannot listen on {config.bind_host}: {exc}", file=sys.stderr)
            log.error("cannot listen on %s: %s", config.bind_host, exc)
            return 1
        ready = {
            "pid": os.getpid(),
            "mllp_port": mllp.port,
            "dicom_port": dicom.port,
            "wado_base_url": config.wado_base_url,
            "fault": next(iter(faults), None),
        }
        atomic_write(ready_file, json.dumps(ready).encode("utf-8"))
        log.info("ready: %s", ready)
        while not stop.wait(0.2):
            pass
    finally:
        mllp.stop()
        dicom.stop()
        publisher.close()
        log.info("stopped")
    return 0


def _dmp_client(config: ReferenceConfig, faults: frozenset[str]) -> Publisher:
    from .dmp_client import DmpClient

    dmp = config.dmp
    return DmpClient(
        repository_url=dmp.repository_url,
        registry_url=dmp.registry_url,
        ca_cert=dmp.ca_cert,
        client_cert=dmp.client_cert,
        client_key=dmp.client_key,
        signing_cert=dmp.signing_cert,
        signing_key=dmp.signing_key,
        lps=config.lps.model_dump(),
        source_id=config.source_id,
        timeout_s=config.timeouts.http_s,
        faults=faults,
    )


def _logging(log_file: Path) -> logging.Logger:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return logging.getLogger(LOGGER)


if __name__ == "__main__":
    sys.exit(main())

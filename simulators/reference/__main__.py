"""``python -m simulators.reference``: run the reference DRIMbox as its own process.

    python -m simulators.reference --config CONFIG.json [--fault NAME] [--variant NAME] --ready-file READY.json
    python -m simulators.reference --list-faults
    python -m simulators.reference --list-variants

Binds its servers (port 0 = ephemeral), writes READY.json atomically
(``{"pid", "mllp_port", "dicom_port", "source_port", "wado_base_url", "fault", "variant"}``),
logs every decision to ``log_file`` and stops on SIGTERM / SIGINT. When the
configuration has ``https`` and ``psc`` the WADO-RS source server runs too:
``source_port`` is its port and ``wado_base_url`` (also the base of every KOS
RetrieveURL) its real URL ``https://{bind_host}:{port}/drimbox/wado-rs``;
otherwise ``source_port`` is null and ``wado_base_url`` the configured one.
With ``https`` + ``viewer``, the viewer entry point runs (``viewer_port``:
``https://{bind_host}:{viewer_port}/IHEInvokeImageDisplay?…``); with
``https`` + ``supervision``, the supervision endpoint (``supervision_url``);
both null otherwise.
Exit codes: 0
clean stop, 1 cannot listen, 2 bad command line / configuration / fault or variant name.
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

from .config import DEFAULT_CONSENT_NAMES, ConfigError, ReferenceConfig, load_config
from .config import FC_ACR, FC_SCOPE, PSC_ACR, PSC_SCOPE, OidcClientConfig
from .consumer import ConsumerServer
from .dicom_server import DicomServer
from .dmp_query import DmpQueryClient
from .faults import listed_faults, select_faults
from .mllp_server import MllpServer
from .named import UnknownName
from .oidc_rp import OidcRelyingParty
from .pacs_client import PacsClient
from .retrieval import MoveInbox, PacsRetriever
from .self_signed import self_signed_identity
from .service import Publisher, ReferenceService
from .source_server import SourceServer
from .state import StateStore, atomic_write
from .supervision import SupervisionServer
from .store_scu import StoreScu
from .stow_client import StowClient
from .token_check import TokenVerifier
from .trust_store import TrustStore
from .variants import (
    ACCEPT_DEFAULT_TRANSFER_SYNTAX,
    CONSENT_INFORMATION_ET_CONSENTEMENT,
    CONTEXTUAL_302,
    CONTEXTUAL_BARE_OID,
    CMOVE_RETRIEVE,
    DSG_SIGNATURE,
    HIERARCHICAL_CFIND,
    VARIANTS,
    VIHF_4,
    select_variants,
)
from .viewer import PATIENT, PROFESSIONAL, ViewerServer
from .wado_client import WadoClient

LOGGER = "reference"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.reference", description="reference DRIMbox (source role)")
    parser.add_argument("--config", type=Path, help="CONFIG.json")
    parser.add_argument("--fault", help="name of the fault to inject (see --list-faults)")
    parser.add_argument("--ready-file", type=Path, help="where to write READY.json once listening")
    parser.add_argument("--variant", help="name of the conformant variant to behave as (see --list-variants)")
    parser.add_argument("--list-faults", action="store_true", help="print the known faults as JSON and exit")
    parser.add_argument("--list-variants", action="store_true", help="print the conformant variants as JSON and exit")
    args = parser.parse_args(argv)
    if args.list_faults or args.list_variants:
        listed = listed_faults() if args.list_faults else VARIANTS
        print(json.dumps([entry.as_json() for entry in listed], ensure_ascii=False, indent=2))
        return 0
    if args.config is None or args.ready_file is None:
        parser.error("--config and --ready-file are required")
    try:
        faults = select_faults(args.fault)
        variants = select_variants(args.variant)
        config = load_config(args.config)
    except (UnknownName, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = _logging(config.log_file)
    try:
        publisher = _dmp_client(config, faults, variants)
    except (OSError, ValueError) as exc:
        print(f"error: cannot set up the DMP client from the 'dmp' keys: {exc}", file=sys.stderr)
        return 2
    try:
        inbox = MoveInbox() if CMOVE_RETRIEVE in variants else None
        source = _source_server(config, faults, log, inbox)
    except (OSError, ValueError) as exc:
        publisher.close()
        print(f"error: cannot set up the WADO-RS source from the 'https' / 'psc' keys: {exc}", file=sys.stderr)
        return 2
    try:
        consumer = _consumer_server(config, faults, log, variants)
    except (OSError, ValueError) as exc:
        publisher.close()
        print(f"error: cannot set up the consumer role from the 'https' / 'trust' / 'dicom_node' keys: {exc}", file=sys.stderr)
        return 2
    try:
        viewer = _viewer_server(config, faults, log)
        supervision = _supervision_server(config, faults, log)
    except (OSError, ValueError) as exc:
        publisher.close()
        print(f"error: cannot set up the viewer / supervision from the 'https' / 'viewer' / 'supervision' keys: {exc}", file=sys.stderr)
        return 2
    return run(config, faults, publisher, args.ready_file, log, source, consumer, viewer, supervision, variants, inbox)


def run(
    config: ReferenceConfig,
    faults: frozenset[str],
    publisher: Publisher,
    ready_file: Path,
    log: logging.Logger,
    source: SourceServer | None = None,
    consumer: ConsumerServer | None = None,
    viewer: ViewerServer | None = None,
    supervision: SupervisionServer | None = None,
    variants: frozenset[str] = frozenset(),
    inbox: MoveInbox | None = None,
) -> int:
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
        hierarchical=HIERARCHICAL_CFIND in variants,
    )
    service: ReferenceService | None = None
    dicom = DicomServer(
        config.ae_title, config.bind_host, config.dicom_port, log=log, inbox=inbox, timeout_s=config.timeouts.dicom_s,
        on_rejection=lambda studies: service.on_rejection_note(studies) if service is not None else 0xA700,
    )
    mllp: MllpServer | None = None
    try:
        try:
            wado_base_url = source.start().base_url if source is not None else config.wado_base_url
            service = ReferenceService(
                config,
                pacs=pacs,
                publisher=publisher,
                state=source.state if source is not None else StateStore(config.state_dir),
                faults=faults,
                variants=variants,
                log=log,
                wado_base_url=wado_base_url,
            )
            mllp = MllpServer(service.handle, config.bind_host, config.mllp_port, log=log)
            mllp.start()
            dicom.start()
            if consumer is not None:
                consumer.start()
            if viewer is not None:
                viewer.start()
            if supervision is not None:
                supervision.checks.update(mllp=lambda: mllp is not None and mllp.port > 0, dicom=lambda: dicom.port > 0)
                supervision.start()
        except OSError as exc:
            print(f"error: cannot listen on {config.bind_host}: {exc}", file=sys.stderr)
            log.error("cannot listen on %s: %s", config.bind_host, exc)
            return 1
        ready = {
            "pid": os.getpid(),
            "mllp_port": mllp.port,
            "dicom_port": dicom.port,
            "source_port": source.port if source is not None else None,
            "consumer_port": consumer.port if consumer is not None else None,
            "wado_base_url": wado_base_url,
            "viewer_port": viewer.port if viewer is not None else None,
            "supervision_url": supervision.url if supervision is not None else None,
            "fault": next(iter(faults), None),
            "variant": ",".join(sorted(variants)) or None,
        }
        atomic_write(ready_file, json.dumps(ready).encode("utf-8"))
        log.info("ready: %s", ready)
        while not stop.wait(0.2):
            pass
    finally:
        if mllp is not None:
            mllp.stop()
        dicom.stop()
        if source is not None:
            source.stop()
        if consumer is not None:
            consumer.stop()
        if viewer is not None:
            viewer.stop()
        if supervision is not None:
            supervision.stop()
        if service is not None and not service.drain(config.timeouts.http_s):
            log.info("stopping with reports still being processed after their ACK")
        publisher.close()
        pacs.close()  # the association kept between studies: released now, not left to end idle (timeouts.dicom_s)
        log.info("stopped")
    return 0


def _consent_names(configured: tuple[str, ...], variants: frozenset[str]) -> tuple[str, ...]:
    """The consent parameter names the contextual call accepts: the variant reads the ANS test server's only."""
    return ("InformationEtConsentement",) if CONSENT_INFORMATION_ET_CONSENTEMENT in variants else configured


def _vihf_version(variants: frozenset[str]) -> str:
    from .vihf import VIHF_VERSION

    return "4.0" if VIHF_4 in variants else VIHF_VERSION


def _dmp_client(config: ReferenceConfig, faults: frozenset[str], variants: frozenset[str] = frozenset()) -> Publisher:
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
        vihf_version=_vihf_version(variants),
        dsg_signature=DSG_SIGNATURE in variants,
    )


def _source_server(
    config: ReferenceConfig, faults: frozenset[str], log: logging.Logger, inbox: MoveInbox | None = None
) -> SourceServer | None:
    """The WADO-RS source (not started), or None when ``https`` / ``psc`` are not configured; with ``inbox`` it
    retrieves from the PACS by C-MOVE to its own DICOM listener (variant cmove_retrieve), else by C-GET."""
    if config.https is None or config.psc is None:
        return None
    retriever = PacsRetriever(
        calling_ae=config.ae_title,
        called_ae=config.pacs.ae_title,
        host=config.pacs.host,
        port=config.pacs.port,
        timeout_s=config.timeouts.dicom_s,
        inbox=inbox,
    )
    verifier = TokenVerifier(
        issuer=config.psc.issuer,
        jwks_url=config.psc.jwks_url,
        audience=config.psc.audience,
        ca_cert=config.dmp.ca_cert,
        timeout_s=config.timeouts.http_s,
    )
    tls_cert, tls_key = _tls_identity(config, faults)
    return SourceServer(
        state=StateStore(config.state_dir),
        retriever=retriever,
        verifier=verifier,
        cert=tls_cert,
        key=tls_key,
        host=config.bind_host,
        port=config.https.source_port,
        faults=faults,
        timeout_s=config.timeouts.http_s,
        client_ca=config.dmp.ca_cert if config.https.mutual_tls else None,
        log=log.getChild("source"),
    )


def _tls_identity(config: ReferenceConfig, faults: frozenset[str], *, front: str = "") -> tuple[Path, Path]:
    """The HTTPS servers' certificate and key (the trust list names this certificate's DN).

    ``front``: the name of a user-facing endpoint ("consumer": the contextual call, "viewer"), which fault
    ``https_front_self_signed`` leaves with a self-signed certificate (one per endpoint).
    """
    assert config.https is not None
    if front and "https_front_self_signed" in faults:
        return self_signed_identity(config.state_dir / "factory-tls" / front, config.bind_host)
    if "tls_wrong_certificate" in faults:
        return config.dmp.signing_cert, config.dmp.signing_key
    return config.https.server_cert, config.https.server_key


def _consumer_server(
    config: ReferenceConfig, faults: frozenset[str], log: logging.Logger, variants: frozenset[str] = frozenset()
) -> ConsumerServer | None:
    """The consumer role (not started), or None when ``https`` / ``trust`` / ``dicom_node`` are not configured."""
    if config.https is None or config.trust is None or config.dicom_node is None:
        return None
    dmp, timeout = config.dmp, config.timeouts.http_s
    trust = TrustStore(
        config.trust.list_url,
        config.trust.anchor,
        timeout_s=timeout,
        refresh_s=config.trust.refresh_s,
        log=log.getChild("trust"),
        faults=faults,
    )
    query = DmpQueryClient(
        registry_url=dmp.registry_url,
        repository_url=dmp.repository_url,
        ca_cert=dmp.ca_cert,
        client_cert=None if "dmp_no_client_cert" in faults else dmp.client_cert,
        client_key=None if "dmp_no_client_cert" in faults else dmp.client_key,
        signing_cert=dmp.signing_cert,
        signing_key=dmp.signing_key,
        lps=config.lps.model_dump(),
        timeout_s=timeout,
        log=log.getChild("dmp-query"),
        vihf_version=_vihf_version(variants),
    )
    client_cert = (dmp.client_cert, dmp.client_key) if config.https.mutual_tls and dmp.client_cert and dmp.client_key else None
    wado = WadoClient(
        trust=trust, ca_cert=config.trust.anchor, timeout_s=timeout, faults=faults, client_cert=client_cert,
        log=log.getChild("wado"), default_syntax=ACCEPT_DEFAULT_TRANSFER_SYNTAX in variants,
    )
    node = config.dicom_node
    store: StoreScu | StowClient
    if node.stow_url:
        store = StowClient(
            base_url=node.stow_url, ca_cert=node.ca_cert or config.trust.anchor, timeout_s=timeout, log=log.getChild("stow")
        )
    else:
        store = StoreScu(
            calling_ae=config.ae_title,
            called_ae=node.ae_title,
            host=node.host,
            port=node.port,
            timeout_s=config.timeouts.dicom_s,
            log=log.getChild("store"),
        )
    consumer = config.consumer
    tls_cert, tls_key = _tls_identity(config, faults, front="consumer")
    return ConsumerServer(
        bind_host=config.bind_host,
        port=config.https.consumer_port,
        server_cert=tls_cert,
        server_key=tls_key,
        contextual_path=consumer.contextual_path if consumer else "/drimbox/appel-contextuel",
        consent_names=_consent_names(consumer.consent_names if consumer else DEFAULT_CONSENT_NAMES, variants),
        trust=trust,
        dmp=query,
        wado=wado,
        store=store,
        faults=faults,
        log=log.getChild("consumer"),
        timeout_s=timeout,
        redirect_status=302 if CONTEXTUAL_302 in variants else 303,
        bare_oid_only=CONTEXTUAL_BARE_OID in variants,
    )


def _viewer_server(config: ReferenceConfig, faults: frozenset[str], log: logging.Logger) -> ViewerServer | None:
    """The viewer entry point (not started), or None when ``https`` / ``viewer`` are not configured."""
    if config.https is None or config.viewer is None:
        return None
    defaults = {PROFESSIONAL: (PSC_SCOPE, PSC_ACR), PATIENT: (FC_SCOPE, FC_ACR)}
    identity = {PROFESSIONAL: (), PATIENT: ("family_name", "given_name", "birthdate", "gender")}
    clients: dict[str, OidcClientConfig | None] = {PROFESSIONAL: config.viewer.psc, PATIENT: config.viewer.franceconnect}
    providers = {
        name: OidcRelyingParty(
            name=name,
            issuer=client.issuer,
            client_id=client.client_id,
            client_secret=client.client_secret,
            scope=client.scope or defaults[name][0],
            acr_values=client.acr_values if client.acr_values is not None else defaults[name][1],
            ca_cert=config.dmp.ca_cert,
            timeout_s=config.timeouts.http_s,
            identity_claims=identity[name],
            accept_any_issuer="viewer_accept_any_issuer" in faults,
        )
        for name, client in clients.items()
        if client is not None
    }
    cert, key = _tls_identity(config, faults, front="viewer")
    return ViewerServer(
        state=StateStore(config.state_dir),
        providers=providers,
        cert=cert,
        key=key,
        host=config.bind_host,
        port=config.viewer.port,
        faults=faults,
        timeout_s=config.timeouts.http_s,
        log=log.getChild("viewer"),
    )


def _supervision_server(config: ReferenceConfig, faults: frozenset[str], log: logging.Logger) -> SupervisionServer | None:
    """The supervision endpoint (not started; ``run`` adds the listener checks), or None when not configured."""
    if config.https is None or config.supervision is None:
        return None
    state_dir = config.state_dir
    cert, key = _tls_identity(config, faults)
    return SupervisionServer(
        checks={"state_dir": lambda: os.access(state_dir, os.W_OK)},
        cert=cert,
        key=key,
        host=config.bind_host,
        port=config.supervision.port,
        faults=faults,
        timeout_s=config.timeouts.http_s,
        log=log.getChild("supervision"),
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

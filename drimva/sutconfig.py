"""``drimva sut-config``: what the SUT must be configured with to be tested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drimva.context import Organisation
from drimva.profile import Profile
from fixtures.pki import load_or_build_pki
from simulators.dmp import REGISTRY_PATH, REPOSITORY_PATH
from simulators.idp.psc import DEFAULT_ISSUER_PATH as PSC_ISSUER_PATH


def describe(profile: Profile) -> tuple[str, dict[str, Any]]:
    harness = profile.harness
    org = profile.organisation
    pki = load_or_build_pki(
        profile.pki_folder(profile.reports_folder / "sut-config"),
        Organisation(name=org.name, structure_id=org.structure_id, id_type=org.id_type),
        sorted({"localhost", "127.0.0.1", harness.bind_host, harness.dmp.public_host}),
    )
    dmp_base = f"https://{harness.dmp.public_host}:{harness.dmp.port}"
    data: dict[str, Any] = {
        "pacs": {"ae_title": harness.pacs.ae_title, "host": harness.bind_host, "port": harness.pacs.port},
        "pacs_knows_sut_as": {
            "ae_title": profile.sut.dicom.ae_title,
            "host": profile.sut.dicom.host,
            "port": profile.sut.dicom.port,
        },
        "dmp": {
            "repository_url": dmp_base + REPOSITORY_PATH,
            "registry_url": dmp_base + REGISTRY_PATH,
            "trust_anchor": str(pki.ca_cert),
        },
        "organisation_certificate": {
            "tls_client_cert": str(pki.client_cert),
            "tls_client_key": str(pki.client_key),
            "signing_cert": str(pki.signing_cert),
            "signing_key": str(pki.signing_key),
            "structure_id": org.structure_id,
        },
        "ris_sends_to": {
            "host": profile.sut.hl7.host,
            "port": profile.sut.hl7.port,
            "transport": profile.sut.hl7.transport,
        },
        "kos_retrieve_url_base": profile.sut.wado.base_url,
        "pro_sante_connect": {
            "issuer": f"https://{harness.bind_host}:{harness.psc.port}{PSC_ISSUER_PATH}",
            "jwks_url": f"https://{harness.bind_host}:{harness.psc.port}{PSC_ISSUER_PATH}/protocol/openid-connect/certs",
            "audience": harness.psc.audience,
        },
        "trust_list": {"url": f"https://{harness.bind_host}:{harness.trust.port}/liste-blanche.xml", "anchor": str(pki.ca_cert)},
        "dicom_node": {
            "ae_title": harness.dicom_node.ae_title, "host": harness.bind_host, "port": harness.dicom_node.port,
            "stow_rs": f"https://{harness.bind_host}:{harness.dicom_node.stow_port}{harness.dicom_node.stow_path}",
            "expected_transport": profile.sut.consumer.node_transport,
        },
        "peer_source": f"https://{harness.peer.host}:{harness.peer.port}/drimbox/wado-rs",
        "wado_between_drimboxes_mutual_tls": profile.sut.trust.mutual_tls,
        "consumer_receives_contextual_call_at": profile.sut.consumer.contextual_url,
    }
    ephemeral = [
        name
        for name, port in (
            ("PACS", harness.pacs.port),
            ("DMP", harness.dmp.port),
            ("PSC", harness.psc.port),
            ("trust list", harness.trust.port),
            ("DICOM node", harness.dicom_node.port),
            ("DICOM node STOW-RS", harness.dicom_node.stow_port),
        )
        if port == 0
    ]
    lines = [
        f"SUT profile: {profile.source}",
        "Configure the DRIMbox with:",
        f"  PACS (Q/R SCP)        AE {harness.pacs.ae_title} at {harness.bind_host}:{harness.pacs.port}",
        f"  DMP repository (ITI-41) {data['dmp']['repository_url']}",
        f"  DMP registry (ITI-57)   {data['dmp']['registry_url']}",
        f"  trust the CA          {pki.ca_cert}",
        f"  TLS client cert/key   {pki.client_cert} / {pki.client_key}  (OU={org.structure_id})",
        f"  VIHF signing cert/key {pki.signing_cert} / {pki.signing_key}",
        f"  KOS RetrieveURL base  {profile.sut.wado.base_url}/studies/{{study}}/series/{{series}}",
        f"  Pro Santé Connect     issuer {data['pro_sante_connect']['issuer']} (JWKS {data['pro_sante_connect']['jwks_url']})",
        f"  DRIM-M trust list     {data['trust_list']['url']} (signed by the CA above)",
        *(
            ["  WADO-RS between DRIMboxes: mutual TLS; present the TLS client cert above, require one the CA above issued"]
            if profile.sut.trust.mutual_tls else []
        ),
        f"  DICOM node (VA-D3)    AE {harness.dicom_node.ae_title} at {harness.bind_host}:{harness.dicom_node.port}"
        f" or STOW-RS {data['dicom_node']['stow_rs']} (the profile expects {profile.sut.consumer.node_transport})",
        "The harness expects:",
        f"  the DRIMbox's MLLP listener at {profile.sut.hl7.host}:{profile.sut.hl7.port}",
        f"  its DICOM AE {profile.sut.dicom.ae_title} at {profile.sut.dicom.host}:{profile.sut.dicom.port}"
        " (C-MOVE destination declared in the PACS simulator)",
        f"  its contextual-call endpoint at {profile.sut.consumer.contextual_url}",
        f"  a peer source DRIMbox at {data['peer_source']} (in the trust list) and one at"
        f" {harness.peer.untrusted_host}:{harness.peer.untrusted_port} (absent from it)",
    ]
    if ephemeral:
        lines.append(
            f"  note: {', '.join(ephemeral)} port 0 is ephemeral (chosen at each run): set fixed ports "
            "in [harness.pacs] / [harness.dmp] for a real DRIMbox"
        )
    return "\n".join(lines), data

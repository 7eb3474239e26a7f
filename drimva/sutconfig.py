"""``drimva sut-config``: the configuration bundle of the DRIMbox under test.

Everything the DRIMbox must be configured with to be tested, for the items its
profile claims only (``Profile.claims``): the test CA, the organisation's TLS
client and VIHF signing certificates, a server certificate for the DRIMbox
(SAN: its trust-list ``db`` and the hosts of its URLs), the counterparts the
harness plays (PACS, DMP, trust list, identity providers, peer DRIMboxes,
DICOM node) at the address the DRIMbox reaches them by
(``harness.advertise_host``), and what the harness will expect of it.

``build_bundle`` returns it as French text (``LISEZMOI.md``) and as data;
``write_bundle`` writes both into a folder with copies of the certificates
and keys (keys 0600, never the CA's key).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drimva.installation import commit, version
from drimva.profile import Profile, ProfileError
from fixtures.pki import TestPki
from fixtures.stack import profile_pki, sut_db, sut_server_names
from simulators.dmp import REGISTRY_PATH, REPOSITORY_PATH
from simulators.idp.franceconnect import ISSUER_PATH as FRANCECONNECT_ISSUER_PATH
from simulators.idp.psc import DEFAULT_ISSUER_PATH as PSC_ISSUER_PATH
from simulators.peer.source import BASE_PATH as PEER_WADO_PATH
from simulators.trust.server import LIST_PATH

README = "LISEZMOI.md"
DATA = "configuration.json"
PKI_FOLDER = "pki"


@dataclass
class Bundle:
    """What the DRIMbox must be configured with: ``data`` (JSON), ``text`` (French), the PKI files it names."""

    data: dict[str, Any]
    text: str
    files: dict[str, Path] = field(default_factory=dict)  # bundle name -> file in the PKI folder


def _url(host: str, port: int, path: str = "") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{port}{path}"


def _pki(profile: Profile) -> tuple[TestPki, str]:
    """The test PKI of a real SUT (kept across runs) and whether it was ``reused`` or ``created``."""
    folder = profile.pki_folder(profile.reports_folder / "sut-config")
    if profile.harness.pki_dir and not folder.parent.is_dir():
        raise ProfileError(f"harness.pki_dir: the folder {folder.parent} does not exist (got {profile.harness.pki_dir!r})")
    before = (folder / "ca.pem").read_bytes() if (folder / "ca.pem").is_file() else b""
    folder.mkdir(parents=not profile.harness.pki_dir, exist_ok=True)
    pki = profile_pki(profile, folder.parent)
    return pki, "reused" if before and pki.ca_cert.read_bytes() == before else "created"


def build_bundle(profile: Profile) -> Bundle:
    if profile.is_ris:
        raise ProfileError(f"the profile {profile.source} describes a RIS (sut.kind = \"ris\"): sut-config is for a DRIMbox")
    harness = profile.harness
    host = harness.advertised_host
    claims = profile.claims
    pki, pki_status = _pki(profile)
    server_cert, server_key = pki.issue_server_cert("sut", sut_server_names(profile))
    files = {
        "ca.pem": pki.ca_cert,
        "organisation-tls.pem": pki.client_cert, "organisation-tls.key": pki.client_key,
        "organisation-signature.pem": pki.signing_cert, "organisation-signature.key": pki.signing_key,
        "drimbox-server.pem": server_cert, "drimbox-server.key": server_key,
    }  # fmt: skip
    dmp_base = _url(harness.dmp_host, harness.dmp.port)
    psc_issuer = _url(host, harness.psc.port, PSC_ISSUER_PATH)
    viewer_clients = harness.viewer_clients
    data: dict[str, Any] = {
        "drimva": {"version": version(), "commit": commit()},
        "profile": profile.source,
        "sut": profile.sut.name,
        "claims": sorted(claims),
        "harness_address": host,
        "pki": {"folder": str(pki.folder), "status": pki_status},
        "files": {name: str(path) for name, path in files.items()},
        "trust": {
            "ca_cert": "ca.pem",
            "server_certificate": {"cert": "drimbox-server.pem", "key": "drimbox-server.key",
                                   "names": sut_server_names(profile)},
            "trust_list_url": _url(host, harness.trust.port, LIST_PATH),
            "trust_list_entry": {"db": sut_db(profile), "dn": profile.sut.trust.dn or "(le sujet de drimbox-server.pem)"},
            "wado_mutual_tls": profile.sut.trust.mutual_tls,
        },
        "organisation": {
            "name": profile.organisation.name, "structure_id": profile.organisation.structure_id,
            "tls_client": {"cert": "organisation-tls.pem", "key": "organisation-tls.key"},
            "vihf_signature": {"cert": "organisation-signature.pem", "key": "organisation-signature.key"},
        },
        "pro_sante_connect": {
            "issuer": psc_issuer, "jwks_url": f"{psc_issuer}/protocol/openid-connect/certs", "audience": harness.psc.audience,
        },
    }  # fmt: skip
    if "source" in claims:
        data["source"] = {
            "ris_sends_to": {"host": profile.sut.hl7.host, "port": profile.sut.hl7.port, "transport": profile.sut.hl7.transport,
                             "msh5": profile.sut.hl7.receiving_application, "msh6": profile.sut.hl7.receiving_facility},
            "pacs": {"ae_title": harness.pacs.ae_title, "host": host, "port": harness.pacs.port},
            "pacs_knows_drimbox_as": {"ae_title": profile.sut.dicom.ae_title, "host": profile.sut.dicom.host,
                                      "port": profile.sut.dicom.port},
            "dmp": {"iti41_url": dmp_base + REPOSITORY_PATH, "iti57_url": dmp_base + REGISTRY_PATH},
            "kos": {
                "retrieve_url_base": profile.sut.wado.base_url,
                "retrieve_url": profile.sut.wado.base_url.rstrip("/") + "/studies/{study}/series/{series}",
                "retrieve_location_uid": profile.sut.wado.retrieve_location_uid or None,
                "retrieve_location_uid_required": profile.rules.require_retrieve_location_uid,
                "retrieve_ae_title": "optionnel, non jugé",
            },
        }  # fmt: skip
    if {"source", "viewer"} <= claims:
        data["viewer"] = {
            "url_template": profile.viewer.url_template, "host": profile.viewer.host,
            "client_id": viewer_clients.client_id, "client_secret": viewer_clients.client_secret,
            "redirect_uri": viewer_clients.redirect_uri or None,
            "pro_sante_connect_issuer": psc_issuer,
            "franceconnect_issuer": _url(host, harness.franceconnect.port, FRANCECONNECT_ISSUER_PATH),
        }  # fmt: skip
    if "consumer" in claims:
        peer = harness.peer
        data["consumer"] = {
            "contextual_call_url": profile.sut.consumer.contextual_url,
            "consent_parameter": profile.sut.consumer.consent_parameter,
            "ins_system": profile.sut.consumer.ins_system,
            "dmp": {"iti18_url": dmp_base + REGISTRY_PATH, "iti43_url": dmp_base + REPOSITORY_PATH},
            "peer_source": _url(peer.host, peer.port, PEER_WADO_PATH),
            "untrusted_peer_source": _url(peer.untrusted_host, peer.untrusted_port, PEER_WADO_PATH),
            "dicom_node": {
                "ae_title": harness.dicom_node.ae_title, "host": host, "port": harness.dicom_node.port,
                "stow_rs_url": _url(host, harness.dicom_node.stow_port, harness.dicom_node.stow_path),
                "expected_transport": profile.sut.consumer.node_transport,
            },
        }  # fmt: skip
    if "supervision" in claims:
        supervision = profile.sut.supervision
        data["supervision"] = {
            "url": supervision.url, "method": supervision.method, "expect_status": supervision.expect_status,
            "expect_json_status": supervision.expect_json_status or None, "timeout_s": supervision.timeout_s,
        }  # fmt: skip
    data["to_set"] = _unset(profile)
    return Bundle(data, readme_fr(data), files)


def _unset(profile: Profile) -> list[str]:
    """Settings without which a claimed item cannot be tested (ephemeral ports, missing redirect URI)."""
    harness = profile.harness
    ports = {
        "harness.pacs.port": harness.pacs.port, "harness.dmp.port": harness.dmp.port, "harness.psc.port": harness.psc.port,
        "harness.trust.port": harness.trust.port, "harness.franceconnect.port": harness.franceconnect.port,
        "harness.peer.port": harness.peer.port, "harness.peer.untrusted_port": harness.peer.untrusted_port,
        "harness.dicom_node.port": harness.dicom_node.port, "harness.dicom_node.stow_port": harness.dicom_node.stow_port,
    }  # fmt: skip
    notes = [f"{key} = 0 : port éphémère, choisi à chaque exécution ; fixez-le pour une DRIMbox réelle"
             for key, port in ports.items() if port == 0 and not profile.is_embedded]  # fmt: skip
    if {"source", "viewer"} <= profile.claims and not harness.viewer_clients.redirect_uri and not profile.is_embedded:
        notes.append("harness.viewer_clients.redirect_uri : l'URI de retour OIDC de la visionneuse, à renseigner (VA-C1, VA-C2)")
    return notes


def readme_fr(data: dict[str, Any]) -> str:
    """The bundle as a French text for the vendor's engineer (``LISEZMOI.md``)."""
    trust = data["trust"]
    org = data["organisation"]
    lines = [
        f"# Configuration de la DRIMbox « {data['sut']} » pour drimva",
        "",
        f"drimva {data['drimva']['version']} (commit {data['drimva']['commit']}) · profil `{data['profile']}`",
        f"· fonctions revendiquées : {', '.join(data['claims'])} · adresse du banc : `{data['harness_address']}`",
        f"· PKI de test {'réutilisée' if data['pki']['status'] == 'reused' else 'créée'} dans `{data['pki']['folder']}`",
        "",
        "## Confiance",
        f"- AC de test à approuver : `{trust['ca_cert']}` (elle signe tous les certificats du banc)",
        f"- certificat serveur TLS de la DRIMbox : `{trust['server_certificate']['cert']}` / "
        f"`{trust['server_certificate']['key']}` (noms : {', '.join(trust['server_certificate']['names'])})",
        f"- liste blanche DRIM-M : {trust['trust_list_url']} ; entrée de la DRIMbox : db = `{trust['trust_list_entry']['db']}`,"
        f" DNCertificatOperateur = `{trust['trust_list_entry']['dn']}`",
        f"- certificat TLS client de la structure ({org['name']}, {org['structure_id']}) : "
        f"`{org['tls_client']['cert']}` / `{org['tls_client']['key']}`",
        f"- certificat de signature VIHF : `{org['vihf_signature']['cert']}` / `{org['vihf_signature']['key']}`",
        f"- Pro Santé Connect (jetons) : émetteur {data['pro_sante_connect']['issuer']}, JWKS "
        f"{data['pro_sante_connect']['jwks_url']}, audience `{data['pro_sante_connect']['audience']}`",
    ]
    if trust["wado_mutual_tls"]:
        lines.append("- WADO-RS entre DRIMbox en TLS mutuel : présenter le certificat client ci-dessus, exiger un certificat de l'AC")
    if "source" in data:
        source = data["source"]
        ris, pacs, sut_ae, kos = source["ris_sends_to"], source["pacs"], source["pacs_knows_drimbox_as"], source["kos"]
        lines += [
            "", "## DRIMbox source (VA-B, VA-E)",
            f"- le banc (RIS) envoie les CR en MLLP à `{ris['host']}:{ris['port']}` (MSH-5 `{ris['msh5']}`, MSH-6 `{ris['msh6']}`)",
            f"- PACS (Q/R SCP) : AE `{pacs['ae_title']}` sur `{pacs['host']}:{pacs['port']}` ; il connaît la DRIMbox comme AE "
            f"`{sut_ae['ae_title']}` sur `{sut_ae['host']}:{sut_ae['port']}` (destination C-MOVE)",
            f"- DMP, ITI-41 : {source['dmp']['iti41_url']} ; ITI-57 : {source['dmp']['iti57_url']}",
            f"- KOS : RetrieveURL `{kos['retrieve_url']}` ; RetrieveLocationUID "
            f"{'`' + kos['retrieve_location_uid'] + '`' if kos['retrieve_location_uid'] else 'libre'}"
            f" ({'exigé' if kos['retrieve_location_uid_required'] else 'facultatif'}) ; RetrieveAETitle {kos['retrieve_ae_title']}",
        ]  # fmt: skip
    if "viewer" in data:
        viewer = data["viewer"]
        lines += [
            "", "## Visionneuse (VA-C1, VA-C2)",
            f"- URL dans le CR : `{viewer['url_template']}` (host `{viewer['host']}`)",
            f"- client OIDC : client_id `{viewer['client_id']}`, secret `{viewer['client_secret']}`, redirect_uri "
            f"`{viewer['redirect_uri'] or 'À RENSEIGNER (harness.viewer_clients.redirect_uri)'}`",
            f"- Pro Santé Connect : {viewer['pro_sante_connect_issuer']} ; FranceConnect+ : {viewer['franceconnect_issuer']}",
        ]  # fmt: skip
    if "consumer" in data:
        consumer = data["consumer"]
        node = consumer["dicom_node"]
        lines += [
            "", "## DRIMbox consommatrice (VA-D1 à VA-D3, VA-A)",
            f"- le banc fait l'appel contextuel sur {consumer['contextual_call_url']} (consentement : `{consumer['consent_parameter']}`, "
            f"OID de l'INS : {'nu' if consumer['ins_system'] == 'oid' else 'urn:oid:'})",
            f"- DMP, ITI-18 : {consumer['dmp']['iti18_url']} ; ITI-43 : {consumer['dmp']['iti43_url']}",
            f"- DRIMbox source paire (dans la liste blanche) : {consumer['peer_source']} ; absente de la liste : "
            f"{consumer['untrusted_peer_source']}",
            f"- nœud DICOM : AE `{node['ae_title']}` sur `{node['host']}:{node['port']}` ou STOW-RS {node['stow_rs_url']}"
            f" (attendu : {node['expected_transport']})",
        ]  # fmt: skip
    if "supervision" in data:
        sup = data["supervision"]
        lines += ["", "## Supervision (VA-F)",
                  f"- le banc sonde `{sup['method']} {sup['url']}` : statut {sup['expect_status']}"
                  + (f", JSON status `{sup['expect_json_status']}`" if sup["expect_json_status"] else "")
                  + f", en moins de {sup['timeout_s']:g} s"]  # fmt: skip
    if data["to_set"]:
        lines += ["", "## À compléter dans le profil", *(f"- {note}" for note in data["to_set"])]
    return "\n".join(lines) + "\n"


def write_bundle(bundle: Bundle, out: Path) -> Path:
    """Write ``LISEZMOI.md``, ``configuration.json`` and ``pki/`` into ``out`` (its parent must exist)."""
    if not out.parent.is_dir():
        raise ProfileError(f"--out: the folder {out.parent} does not exist")
    pki_out = out / PKI_FOLDER
    pki_out.mkdir(parents=True, exist_ok=True)
    for name, source in bundle.files.items():
        target = pki_out / name
        shutil.copyfile(source, target)
        os.chmod(target, 0o600 if name.endswith(".key") else 0o644)
    data = {**bundle.data, "files": {name: f"{PKI_FOLDER}/{name}" for name in bundle.files}}
    (out / DATA).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (out / README).write_text(bundle.text, "utf-8")
    return out

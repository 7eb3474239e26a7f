"""Conformant variants of the reference DRIMbox: behaviours the sources allow and a real DRIMbox may choose.

A fault (``faults.py``) breaks one requirement and must make its target
scenarios fail. A variant breaks none: the self-test runs the whole VA suite
against the reference with each variant on, and every scenario must pass; a
scenario that fails there is a false fail of the harness (it reads the
sources more narrowly than they are written).

Each variant names the reading of the sources it exercises, and ``profile``:
the SUT-profile settings a vendor of a DRIMbox behaving so would declare
(nested like the TOML, e.g. ``{"timeouts": {"no_publication_grace_s": 3.0}}``).
The harness lays them over the embedded profile for a run with that variant
(``drimva run --variant NAME``); it reads them from ``--list-variants``, since
it never imports this package.

Who reads which: the MLLP service (``service.py``) ``ack_before_processing``,
``kos_implicit_vr``, ``withdraw_deprecated``, ``no_retrieve_location_uid`` and ``kos_images_only``;
the PACS client (``pacs_client.py``) ``hierarchical_cfind``; the source's
retriever (``retrieval.py``, with ``dicom_server.py``) ``cmove_retrieve``; the DMP clients
(``dmp_client.py``, ``dmp_query.py``) ``vihf_4`` and ``dsg_signature``; the
consumer role (``consumer.py``) ``contextual_302``, ``contextual_bare_oid``
and ``consent_information_et_consentement``, its WADO-RS client
(``wado_client.py``) ``accept_default_transfer_syntax``. ``stow_rs_node``, ``qual_only``,
``publish_destdmp_n``, ``wado_mutual_tls`` and ``refuse_accession_mismatch`` are profile settings only (the
consumer sends over STOW-RS when its config names a STOW-RS URL; the
qualified statuses, the DESTDMP reading, mutual TLS and the reading of an accession the PACS holds otherwise
reach the reference's config from the profile).
A variant can be combined with a fault (``--variant V --fault F``): the fault
must still make its targets fail. Several variants combine
(``--variant A,B``): each reads a different point of the sources, so the
self-test runs them all at once, and one by one only when that run fails;
a variant with ``not_applicable`` runs alone (its profile would take those
scenarios away from the others).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .named import select_named

ACK_BEFORE_PROCESSING = "ack_before_processing"
KOS_IMPLICIT_VR = "kos_implicit_vr"
WITHDRAW_DEPRECATED = "withdraw_deprecated"
VIHF_4 = "vihf_4"
CONTEXTUAL_302 = "contextual_302"
STOW_RS_NODE = "stow_rs_node"
HIERARCHICAL_CFIND = "hierarchical_cfind"
DSG_SIGNATURE = "dsg_signature"
NO_RETRIEVE_LOCATION_UID = "no_retrieve_location_uid"
QUAL_ONLY = "qual_only"
CONSENT_INFORMATION_ET_CONSENTEMENT = "consent_information_et_consentement"
PUBLISH_DESTDMP_N = "publish_destdmp_n"
CONTEXTUAL_BARE_OID = "contextual_bare_oid"
WADO_MUTUAL_TLS = "wado_mutual_tls"
CMOVE_RETRIEVE = "cmove_retrieve"
ACCEPT_DEFAULT_TRANSFER_SYNTAX = "accept_default_transfer_syntax"
REFUSE_ACCESSION_MISMATCH = "refuse_accession_mismatch"
KOS_IMAGES_ONLY = "kos_images_only"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    reading: str  # the sources and the reading of them this variant exercises
    profile: Mapping[str, Any] = field(default_factory=dict)
    # the catalogue's rule ids whose reading the variant exercises (each must pass it)
    rules: tuple[str, ...] = ()
    # tags of the scenarios the variant's profile makes not applicable (pytest.skip "not_applicable: ..."):
    # the self-test accepts ``not_applicable`` there, and only there
    not_applicable: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name, "description": self.description, "reading": self.reading, "profile": dict(self.profile),
            "rules": list(self.rules), "not_applicable": list(self.not_applicable),
        }  # fmt: skip


VARIANTS: tuple[Variant, ...] = (
    Variant(
        ACK_BEFORE_PROCESSING,
        "acknowledges a report it can read (MSA-1 AA) at once, then queries the PACS and publishes, replaces or "
        "withdraws the KOS in the background, one study at a time in arrival order; a failure after the ACK is logged",
        "hl7v2-ris-to-drimbox.md open question 2 (ACK timing): the volet asks for a technical ACK only (§1, §6: AA = "
        "the DRIMbox takes responsibility) and does not say whether it comes on receipt or after the KOS publication; "
        "the reference acknowledges after publishing, this variant on receipt",
        # It may publish up to timeouts.publication_s (3 s in the embedded profile) after its ACK: a check
        # that nothing is published must wait as long to see a KOS it should not have published.
        profile={"timeouts": {"no_publication_grace_s": 3.0}},
        rules=("ACK-MSA1", "PACS-CFIND", "DMP-PUBLICATION", "DMP-NO-PUBLICATION"),
    ),
    Variant(
        KOS_IMPLICIT_VR,
        "writes the KOS in Implicit VR Little Endian (the reference writes Explicit VR Little Endian)",
        "kos-manifest.md open question 6: every DRIM-M sample (ANS datasets, demonstrator) is Implicit VR LE; "
        "DICOM PS3.5 allows both for a Part-10 file and XDS-I.b does not choose",
        rules=("KOS-PART10",),
    ),
    Variant(
        WITHDRAW_DEPRECATED,
        "withdraws the KOS of a deleted report with ITI-57 to the ebRIM status Deprecated "
        "(the reference uses the ASIP status urn:asip:ci-sis:2010:StatusType:Deleted)",
        "dmp-xds.md §7 and open question 7: the demonstrator deletes with the ASIP Deleted status, IHE ITI-57 "
        "defines Approved -> Deprecated; either makes the KOS unavailable",
        rules=("DMP-WITHDRAWN",),
    ),
    Variant(
        VIHF_4,
        "signs its ITI-41 / ITI-18 / ITI-43 calls with a VIHF of version 4.0 (the reference: 3.0)",
        "where-sources-disagree.md (VIHF version): 3.0 in the demonstrator and the samples, 4.0 in the HL7v2 "
        "volet's mapping; drimva accepts both and records which",
        rules=("VIHF-VERSION",),
    ),
    Variant(
        CONTEXTUAL_302,
        "answers a valid contextual call 302 Found (the reference: 303 See Other)",
        "where-sources-disagree.md (optional contextual-call parameters): success is 303 in the demonstrator, 302 "
        "also seen; either is a redirection the professional's browser follows with a GET",
        rules=("CALL-REDIRECT",),
    ),
    Variant(
        STOW_RS_NODE,
        "sends the retrieved study to the DICOM node over STOW-RS (the reference: C-STORE)",
        "where-sources-disagree.md (VA-D3): the VA says a DICOM node, the demonstrator sends STOW-RS to its PACS; the "
        "harness's node takes both and the profile says which the SUT uses",
        profile={"sut": {"consumer": {"node_transport": "stow-rs"}}},
        rules=("NODE-TRANSPORT",),
    ),
    Variant(
        HIERARCHICAL_CFIND,
        "queries the PACS hierarchically: STUDY level on the Study Instance UID, then SERIES level within the study, "
        "then IMAGE level within each series (the reference: STUDY, then one relational IMAGE-level query)",
        "dicom-query-retrieve.md §3 and open question 2: PS3.4 C.4.1.2 hierarchical search is what every SCP "
        "supports; the ANS demonstrator sends a relational IMAGE-level query on the Study UID alone; either yields "
        "the instances of the study",
        rules=("PACS-CFIND", "KOS-EVIDENCE-COMPLETE", "KOS-STUDY-FROM-PACS"),
    ),
    Variant(
        DSG_SIGNATURE,
        "adds an IHE DSG signature DocumentEntry (Signature01: text/xml, XML-DSig over a Manifest of the submission "
        "set and KOS uniqueIds) to its ITI-41 submission, with HasMember and signs associations (the reference: none)",
        "where-sources-disagree.md (DocumentEntries in one KOS publication) and dmp-xds.md §6: the ANS XDS validator "
        "sample and the demonstrator send the KOS entry plus Signature01; the signature profile the DMP requires is "
        "not public, so drimva accepts one KOS entry with or without it",
        rules=("XDS-ONE-KOS-ENTRY", "XDS-SIGNATURE-ENTRY"),
    ),
    Variant(
        NO_RETRIEVE_LOCATION_UID,
        "writes no Retrieve Location UID (0040,E011) in the KOS series, only the RetrieveURL and the Retrieve AE "
        "Title (the reference writes all three); its profile turns the annex's requirement into a warning",
        "where-sources-disagree.md (Retrieve Location UID): the annex AF-IMG-DB-Va2 asks for the Location UID per "
        "series, the ANS samples and the demonstrator carry only RetrieveURL; rules.require_retrieve_location_uid = "
        "false is the switch for such a box, and the report says it was used",
        profile={"rules": {"require_retrieve_location_uid": False}},
        rules=("KOS-RETRIEVE-LOCATION-UID",),
    ),
    Variant(
        QUAL_ONLY,
        "publishes only for a report whose identity status PID-32 is QUAL (the reference: VALI or QUAL); its profile "
        "lists QUAL alone, and the harness then sends its qualified CRs with QUAL",
        "where-sources-disagree.md (qualified identity in PID-32): the official datasets carry VALI, the French "
        "identity-vigilance statuses name QUAL the qualified one, the volet only says the INS must be qualified",
        profile={"rules": {"qualified_identity_statuses": ["QUAL"]}},
        rules=("HL7-PID32", "DMP-PUBLICATION", "DMP-NO-PUBLICATION"),
    ),
    Variant(
        CONSENT_INFORMATION_ET_CONSENTEMENT,
        "reads the consent parameter of the contextual call under the name InformationEtConsentement only "
        "(the reference: either name); its profile makes the harness send that name",
        "where-sources-disagree.md (consent parameter): InformationEtConsentement in the ANS contextual-call test "
        "server, InformationEtOppositionConsultation in the demonstrator API; the name is a profile setting",
        profile={"sut": {"consumer": {"consent_parameter": "InformationEtConsentement"}}},
        rules=("CALL-REDIRECT", "CALL-400"),
    ),
    Variant(
        PUBLISH_DESTDMP_N,
        "publishes the KOS of a report whatever its MetaDMPMSS DESTDMP flag (the reference: no publication for N); "
        "its profile says so (rules.publish_requires_destdmp = false), which makes the DESTDMP scenario not applicable",
        "hl7v2-ris-to-drimbox.md open question 7: the volet carries DESTDMP but does not say the DRIMbox must not "
        "publish on N (the RIS may be the one to withhold the report); a profile setting for either reading",
        profile={"rules": {"publish_requires_destdmp": False}},
        rules=("DMP-NO-PUBLICATION",),
        not_applicable=("DESTDMP",),
    ),
    Variant(
        CONTEXTUAL_BARE_OID,
        "reads Patient.identifier.system of the contextual call as a bare OID only, and refuses urn:oid:<OID> with "
        "400 (the reference: either); its profile makes the harness send the bare OID",
        "trust-list-and-identity.md §7 and open question 6: the ANS test server's example and the old RIS simulator "
        "send the bare OID 1.2.250.1.213.1.4.10, the FHIR form is urn:oid:; the ITI-18 patient id the DRIMbox then "
        "builds is a CX (<INS>^^^&<OID>&ISO) in every source, so that reading has no variant",
        profile={"sut": {"consumer": {"ins_system": "oid"}}},
        rules=("CALL-REDIRECT", "CALL-400", "DMP-ITI-18"),
    ),
    Variant(
        WADO_MUTUAL_TLS,
        "requires a TLS client certificate of the trust space on its WADO-RS source, and presents the "
        "organisation's as a consumer (the reference: server authentication only); its profile says so",
        "where-sources-disagree.md (trust between DRIMboxes): the official datasets sign a trust list, the "
        "demonstrator has neither a list nor mutual TLS; sut.trust.mutual_tls is the profile option",
        profile={"sut": {"trust": {"mutual_tls": True}}},
        rules=("WADO-SERIES-FETCHED", "WADO-SECURITY", "RETRIEVAL-COMPLETE", "TRUST-UNLISTED-PEER"),
    ),
    Variant(
        CMOVE_RETRIEVE,
        "as a source, retrieves the instances a WADO-RS request asks for from the PACS by C-MOVE to its own AE "
        "(the reference: C-GET on the same association)",
        "dicom-query-retrieve.md §4 and open question 3: the demonstrator moves (Study Root C-MOVE at SERIES level), "
        "C-GET is allowed by DICOM and used by none of the DRIM-M samples; the PACS simulator serves both",
        rules=("RETRIEVAL-COMPLETE", "RETRIEVAL-PIXELS", "WADO-SERIES-FETCHED"),
    ),
    Variant(
        ACCEPT_DEFAULT_TRANSFER_SYNTAX,
        "as a consumer, asks for each series with one Accept entry without transfer-syntax (PS3.18's default, "
        "Explicit VR Little Endian) instead of the CI-SIS list of syntaxes; its profile reads the missing parameter "
        "as PS3.18 does (rules.wado_accept_parameters = recommended: a warning)",
        "dicomweb-between-drimboxes.md §3 and open question 3: every ANS sample carries transfer-syntax, q and "
        "boundary and the demonstrator source answers 400 without them; PS3.18 defaults the transfer syntax",
        profile={"rules": {"wado_accept_parameters": "recommended"}},
        rules=("WADO-ACCEPT-TS", "WADO-SERIES-FETCHED"),
    ),
    Variant(
        REFUSE_ACCESSION_MISMATCH,
        "publishes no KOS (and acknowledges AA) when the PACS holds the study under another AccessionNumber than the "
        "CR's (the reference: publishes, the KOS carrying the CR's accession); its profile says so "
        "(rules.pacs_accession_mismatch = no_publication)",
        "dicom-query-retrieve.md §3: the ANS demonstrator refuses to build the KOS when the PACS's AccessionNumber is "
        "not the CR's; kos-manifest.md §3 and §9 check 3 take the KOS's accession from the CR, whatever the PACS "
        "holds; neither source says a DRIMbox must publish or must not",
        profile={"rules": {"pacs_accession_mismatch": "no_publication"}},
        rules=("DMP-NO-PUBLICATION", "KOS-REQUEST-ACCESSION"),
    ),
    Variant(
        KOS_IMAGES_ONLY,
        "references only the study's image instances in the KOS, leaving its presentation states and SR out (the "
        "reference: every instance, the non-image ones as COMPOSITE items); its profile says so "
        "(rules.kos_non_image = may_leave_out)",
        "kos-manifest.md open question 3: whether non-image instances (SR, PR, KO) are included as COMPOSITE or "
        "excluded is not said; its interim reading compares the KOS with the PACS's instances filtered by the profile",
        profile={"rules": {"kos_non_image": "may_leave_out"}},
        rules=("KOS-EVIDENCE-COMPLETE", "KOS-CONTENT-VALUE-TYPE"),
    ),
)

VARIANTS_BY_NAME: dict[str, Variant] = {variant.name: variant for variant in VARIANTS}


def select_variants(names: str | None) -> frozenset[str]:
    """The set of active variants for ``--variant NAME[,NAME…]`` (empty when None; :class:`UnknownName` if one is unknown)."""
    if names is None:
        return frozenset()
    selected: set[str] = set()
    for name in names.split(","):
        selected |= select_named("variant", name.strip(), VARIANTS_BY_NAME)
    return frozenset(selected)

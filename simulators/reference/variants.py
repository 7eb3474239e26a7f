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
``kos_implicit_vr`` and ``withdraw_deprecated``; the DMP clients
(``dmp_client.py``, ``dmp_query.py``) ``vihf_4``; the consumer role
(``consumer.py``) ``contextual_302``; ``stow_rs_node`` is a profile setting
only (the consumer sends over STOW-RS when its config names a STOW-RS URL).
A variant can be combined with a fault (``--variant V --fault F``): the fault
must still make its targets fail. Several variants combine
(``--variant A,B``): each reads a different point of the sources, so the
self-test runs them all at once, and one by one only when that run fails.
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


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    reading: str  # the sources and the reading of them this variant exercises
    profile: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "reading": self.reading, "profile": dict(self.profile)}


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
    ),
    Variant(
        KOS_IMPLICIT_VR,
        "writes the KOS in Implicit VR Little Endian (the reference writes Explicit VR Little Endian)",
        "kos-manifest.md open question 6: every DRIM-M sample (ANS datasets, demonstrator) is Implicit VR LE; "
        "DICOM PS3.5 allows both for a Part-10 file and XDS-I.b does not choose",
    ),
    Variant(
        WITHDRAW_DEPRECATED,
        "withdraws the KOS of a deleted report with ITI-57 to the ebRIM status Deprecated "
        "(the reference uses the ASIP status urn:asip:ci-sis:2010:StatusType:Deleted)",
        "dmp-xds.md §7 and open question 7: the demonstrator deletes with the ASIP Deleted status, IHE ITI-57 "
        "defines Approved -> Deprecated; either makes the KOS unavailable",
    ),
    Variant(
        VIHF_4,
        "signs its ITI-41 / ITI-18 / ITI-43 calls with a VIHF of version 4.0 (the reference: 3.0)",
        "where-sources-disagree.md (VIHF version): 3.0 in the demonstrator and the samples, 4.0 in the HL7v2 "
        "volet's mapping; drimva accepts both and records which",
    ),
    Variant(
        CONTEXTUAL_302,
        "answers a valid contextual call 302 Found (the reference: 303 See Other)",
        "where-sources-disagree.md (optional contextual-call parameters): success is 303 in the demonstrator, 302 "
        "also seen; either is a redirection the professional's browser follows with a GET",
    ),
    Variant(
        STOW_RS_NODE,
        "sends the retrieved study to the DICOM node over STOW-RS (the reference: C-STORE)",
        "where-sources-disagree.md (VA-D3): the VA says a DICOM node, the demonstrator sends STOW-RS to its PACS; the "
        "harness's node takes both and the profile says which the SUT uses",
        profile={"sut": {"consumer": {"node_transport": "stow-rs"}}},
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

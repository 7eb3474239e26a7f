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

Who reads which: the MLLP service (``service.py``) the ``ack_*`` ones. A
variant can be combined with a fault (``--variant V --fault F``): the fault
must still make its targets fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .named import select_named

ACK_BEFORE_PROCESSING = "ack_before_processing"


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
)

VARIANTS_BY_NAME: dict[str, Variant] = {variant.name: variant for variant in VARIANTS}


def select_variants(name: str | None) -> frozenset[str]:
    """The set of active variants for ``--variant NAME`` (empty when None; :class:`UnknownName` if unknown)."""
    return select_named("variant", name, VARIANTS_BY_NAME)

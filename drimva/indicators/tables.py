"""The AF-IMG-DB-Va2 price tables, as printed (va-checklist.md §5).

Tranche from the annual reference exam count (AF §5.3), ceilings of the
Prestation principale "Mise à jour DB" and "Nouvelle acquisition DB"
(AF §5.3) and the semestrial flat fees of the Prestation secondaire (AF §5.4).
The values are the printed ones, as ``Decimal``: the printed TTC comes from an
unrounded HT, so recomputing TTC from HT would be off by a cent in places.
The ANS/ASP webinar of 24/04/2025 shows other figures; the annex prevails.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SOURCE_TRANCHES = "AF-IMG-DB-Va2 §5.3 (tranches)"
SOURCE_UPDATE = "AF-IMG-DB-Va2 §5.3 (Mise à jour DB)"
SOURCE_NEW = "AF-IMG-DB-Va2 §5.3 (Nouvelle acquisition DB)"
SOURCE_FORFAIT = "AF-IMG-DB-Va2 §5.4 (forfaits semestriels)"

# (tranche, first exam count, last exam count or None for "and more")
TRANCHES: tuple[tuple[str, int, int | None], ...] = (
    ("A", 1, 15_000),
    ("B", 15_001, 30_000),
    ("C", 30_001, 60_000),
    ("D", 60_001, 120_000),
    ("E", 120_001, 240_000),
    ("F", 240_001, 480_000),
    ("G", 480_001, 960_000),
    ("H", 960_001, None),
)
TRANCHE_LETTERS: tuple[str, ...] = tuple(t[0] for t in TRANCHES)


@dataclass(frozen=True)
class Price:
    """One row of a price table, in euros: TTC at 20 % VAT, TTC at 8.5 % VAT, HT."""

    ttc_20: Decimal
    ttc_8_5: Decimal
    ht: Decimal

    def times(self, factor: Decimal) -> Price:
        """Each amount × ``factor``, rounded to the cent (half up, as invoices round)."""
        cent = Decimal("0.01")
        return Price(
            (self.ttc_20 * factor).quantize(cent, ROUND_HALF_UP),
            (self.ttc_8_5 * factor).quantize(cent, ROUND_HALF_UP),
            (self.ht * factor).quantize(cent, ROUND_HALF_UP),
        )

    def to_dict(self) -> dict[str, str]:
        return {"ht": str(self.ht), "ttc_20": str(self.ttc_20), "ttc_8_5": str(self.ttc_8_5)}


def _table(rows: str) -> dict[str, Price]:
    table: dict[str, Price] = {}
    for line in rows.strip().splitlines():
        letter, ttc_20, ttc_8_5, ht = line.split()
        table[letter] = Price(Decimal(ttc_20), Decimal(ttc_8_5), Decimal(ht))
    return table


# Columns as printed: TTC 20 %, TTC 8.5 %, HT.
UPDATE: dict[str, Price] = _table(
    """
    A 12096.00 10936.80 10080.00
    B 13349.33 12070.02 11124.44
    C 16530.00 14945.88 13775.00
    D 21083.91 19063.37 17569.92
    E 27670.44 25018.69 23058.70
    F 35510.62 32107.52 29592.18
    G 48556.57 43903.23 40463.81
    H 59267.08 53587.32 49389.24
    """
)
NEW_ACQUISITION: dict[str, Price] = _table(
    """
    A 16128.00 14582.40 13440.00
    B 17799.11 16093.36 14832.59
    C 22040.00 19927.83 18366.67
    D 28111.88 25417.82 23426.56
    E 36893.92 33358.25 30744.93
    F 47347.49 42810.02 39456.24
    G 64742.10 58537.65 53951.75
    H 79022.78 71449.76 65852.31
    """
)
FORFAIT_SEMESTRIEL: dict[str, Price] = _table(
    """
    A 1344.00 1215.20 1120.00
    B 1483.26 1341.11 1236.05
    C 1836.67 1660.65 1530.56
    D 2342.66 2118.15 1952.21
    E 3074.49 2779.85 2562.08
    F 3945.62 3567.50 3288.02
    G 5395.17 4878.14 4495.98
    H 6585.23 5954.15 5487.69
    """
)


def tranche_for_exams(count: int) -> str:
    """The tranche (A-H) of an annual reference exam count; ValueError below 1 (no eligible activity)."""
    if count < 1:
        raise ValueError(f"an annual reference exam count starts at 1 ({SOURCE_TRANCHES}), got {count}")
    for letter, _first, last in TRANCHES:
        if last is None or count <= last:
            return letter
    raise AssertionError("unreachable: the last tranche is open-ended")


def normalise_tranche(value: str) -> str:
    """``value`` as a tranche letter (case and spaces ignored); ValueError when it is not A-H."""
    letter = value.strip().upper()
    if letter not in TRANCHE_LETTERS:
        raise ValueError(f"a tranche is one of {', '.join(TRANCHE_LETTERS)}, got {value!r}")
    return letter

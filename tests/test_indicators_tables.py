"""The AF-IMG-DB-Va2 price tables (va-checklist.md §5) and the tranche of an exam count."""

from decimal import Decimal

import pytest

from drimva.indicators.tables import (
    FORFAIT_SEMESTRIEL,
    NEW_ACQUISITION,
    TRANCHE_LETTERS,
    UPDATE,
    Price,
    normalise_tranche,
    tranche_for_exams,
)

CENT = Decimal("0.01")


@pytest.mark.parametrize(
    "count, tranche",
    [
        (1, "A"), (15_000, "A"), (15_001, "B"), (30_000, "B"), (30_001, "C"), (60_000, "C"), (60_001, "D"),
        (120_000, "D"), (120_001, "E"), (240_000, "E"), (240_001, "F"), (480_000, "F"), (480_001, "G"),
        (960_000, "G"), (960_001, "H"), (10_000_000, "H"),
    ],
)
def test_tranche_boundaries(count: int, tranche: str) -> None:
    assert tranche_for_exams(count) == tranche


@pytest.mark.parametrize("count", [0, -5])
def test_no_tranche_without_activity(count: int) -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        tranche_for_exams(count)


def test_printed_values() -> None:
    # spot checks against va-checklist.md §5.2-§5.4, as printed
    assert UPDATE["D"] == Price(Decimal("21083.91"), Decimal("19063.37"), Decimal("17569.92"))
    assert NEW_ACQUISITION["H"] == Price(Decimal("79022.78"), Decimal("71449.76"), Decimal("65852.31"))
    assert FORFAIT_SEMESTRIEL["A"] == Price(Decimal("1344.00"), Decimal("1215.20"), Decimal("1120.00"))
    assert FORFAIT_SEMESTRIEL["G"].ttc_8_5 == Decimal("4878.14")
    # update D: 17 569,92 × 1,2 = 21 083,904 → 21 083,90, but the AF prints 21 083,91: never recompute
    assert (UPDATE["D"].ht * Decimal("1.2")).quantize(CENT) != UPDATE["D"].ttc_20
    # the webinar's figures (update A HT 4 012,50) are not used
    assert UPDATE["A"].ht == Decimal("10080.00")


@pytest.mark.parametrize("letter", TRANCHE_LETTERS)
def test_table_invariants(letter: str) -> None:
    """The relations of va-checklist.md §5 (calc), within a cent: catches a mistyped digit."""
    for table in (UPDATE, NEW_ACQUISITION, FORFAIT_SEMESTRIEL):
        price = table[letter]
        assert abs(price.ht * Decimal("1.2") - price.ttc_20) <= CENT
        assert abs(price.ht * Decimal("1.085") - price.ttc_8_5) <= CENT
    assert abs(UPDATE[letter].ht * 4 / 3 - NEW_ACQUISITION[letter].ht) <= CENT
    assert abs(UPDATE[letter].ht / 9 - FORFAIT_SEMESTRIEL[letter].ht) <= CENT


def test_times_rounds_half_up() -> None:
    # B × 0.5: HT 1 236,05 / 2 = 618,025 → 618,03 ; TTC 8,5 % 1 341,11 / 2 = 670,555 → 670,56
    half = FORFAIT_SEMESTRIEL["B"].times(Decimal("0.5"))
    assert half == Price(Decimal("741.63"), Decimal("670.56"), Decimal("618.03"))
    assert FORFAIT_SEMESTRIEL["H"].times(Decimal(0)).to_dict() == {"ht": "0.00", "ttc_20": "0.00", "ttc_8_5": "0.00"}


def test_normalise_tranche() -> None:
    assert normalise_tranche(" c ") == "C"
    with pytest.raises(ValueError, match="one of A, B"):
        normalise_tranche("I")

"""Unavailability journal, business hours and PERF (AF-IMG-DB-Va2 §3.3), with hand-checked values.

Business hours: Mon-Fri 09:00-19:00, Sat 09:00-13:00, Paris time; Sundays and
French public holidays excluded. 2025 holidays used: Easter Monday 21 April,
1 May (Thursday), Ascension 29 May, Whit Monday 9 June, 14 July (Monday).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from drimva.indicators.availability import (
    PARIS,
    BusinessCalendar,
    compute_availability,
    hours_text,
    merge,
    minutes,
    parse_journal,
    perf,
    semester_window,
)

HEADER = "start,duration_minutes,service,cause,responsabilite\n"
VIEW, CALL, PEER = "visualisation_lien_cr", "appel_contextuel", "reponse_db_consommatrice"


def journal(*rows: tuple[str, object, str, str], semester: date | None = None):
    text = HEADER + "".join(f"{start},{duration},{service},panne,{resp}\n" for start, duration, service, resp in rows)
    return parse_journal(text, semester)


def d_minutes(*rows: tuple[str, object, str, str]) -> tuple[Decimal, Decimal]:
    parsed = journal(*rows)
    assert parsed.conformant, [i.describe() for i in parsed.issues]
    result = compute_availability(parsed)
    return minutes(result.d_t), minutes(result.d_f)


def one(start: str, duration: object, resp: str = "fournisseur") -> Decimal:
    d_t, _ = d_minutes((start, duration, VIEW, resp))
    return d_t


# -- business hours --------------------------------------------------------------------------


def test_weekend_saturday_morning_counts_sunday_does_not() -> None:
    # Fri 13 June 17:00 → Mon 16 June 10:00 (65 h = 3900 min): Fri 17-19 = 2 h, Sat 9-13 = 4 h,
    # Sun 0, Mon 9-10 = 1 h → 7 h = 420 min
    assert one("2025-06-13T17:00:00+02:00", 3900) == 420


def test_whole_week_is_54_hours() -> None:
    # Mon 16 June 00:00 → Mon 23 June 00:00 (10 080 min): 5 × 10 h + 4 h = 54 h = 3240 min
    assert one("2025-06-16T00:00:00+02:00", 10080) == 3240


@pytest.mark.parametrize(
    "start",
    [
        "2025-07-14T09:00:00+02:00",  # Fête nationale, Monday
        "2025-05-01T09:00:00+02:00",  # 1 May, Thursday
        "2025-05-29T09:00:00+02:00",  # Ascension Thursday
        "2025-04-21T09:00:00+02:00",  # Easter Monday
        "2025-06-09T09:00:00+02:00",  # Whit Monday
        "2025-06-15T09:00:00+02:00",  # a Sunday
    ],
)
def test_public_holidays_and_sundays_count_nothing(start: str) -> None:
    # a whole business day (9-19 = 600 min) on a day off → 0
    assert one(start, 600) == 0


def test_a_working_day_counts() -> None:
    # the control of the holiday cases: Tue 17 June 9-19 → 600 min
    assert one("2025-06-17T09:00:00+02:00", 600) == 600


def test_event_across_weekend_and_14_july() -> None:
    # Fri 11 July 18:00 → Tue 15 July 10:00 (88 h = 5280 min): Fri 18-19 = 1 h, Sat 9-13 = 4 h,
    # Sun 0, Mon 14 July 0, Tue 9-10 = 1 h → 6 h = 360 min
    assert one("2025-07-11T18:00:00+02:00", 5280) == 360


@pytest.mark.parametrize(
    "start, duration, expected",
    [
        ("2025-06-17T08:30:00+02:00", 60, 30),  # 8:30-9:30 → 9:00-9:30 = 30 min
        ("2025-06-17T18:45:00+02:00", 30, 15),  # 18:45-19:15 → 18:45-19:00 = 15 min
        ("2025-06-14T12:00:00+02:00", 120, 60),  # Sat 12:00-14:00 → 12:00-13:00 = 60 min
        ("2025-06-17T19:00:00+02:00", 840, 0),  # Tue 19:00 → Wed 09:00: no business time
        ("2025-06-17T07:00:00+02:00", 120, 0),  # 7:00-9:00 ends at the opening
        ("2025-06-17T09:00:00+02:00", 0.5, Decimal("0.5")),  # 30 s
    ],
)
def test_business_hour_edges(start: str, duration: object, expected: object) -> None:
    assert one(start, duration) == expected


def test_offsets_other_than_paris() -> None:
    # 07:00Z in June = 09:00 CEST → 60 min; 07:00Z in January = 08:00 CET → 0; 08:30Z in January = 09:30 CET → 60
    assert one("2025-06-17T07:00:00Z", 60) == 60
    assert one("2025-01-14T07:00:00Z", 60) == 0
    assert one("2025-01-14T08:30:00Z", 60) == 60
    # New York: 2025-06-17 03:00-04:00 EDT = 09:00-10:00 Paris → 60
    assert one("2025-06-17T03:00:00-04:00", 60) == 60


def test_dst_spring_forward_week() -> None:
    # Paris goes CET → CEST on Sun 30 March 2025. Fri 28 March 08:00Z (09:00 CET) → Mon 31 March 08:00Z
    # (10:00 CEST), 72 h = 4320 min: Fri 9-19 = 10 h, Sat 9-13 = 4 h, Sun 0, Mon 9-10 = 1 h → 15 h = 900 min
    assert one("2025-03-28T08:00:00Z", 4320) == 900


def test_dst_fall_back_week() -> None:
    # CEST → CET on Sun 26 October 2025. Fri 24 Oct 17:00Z (19:00 CEST: closed) → Mon 27 Oct 09:00Z
    # (10:00 CET), 64 h = 3840 min: Sat 9-13 = 4 h, Mon 9-10 = 1 h → 5 h = 300 min
    assert one("2025-10-24T17:00:00Z", 3840) == 300


# -- overlaps ------------------------------------------------------------------------------------


def test_overlapping_events_count_once() -> None:
    # 10:00-11:00 and 10:30-11:30 → 10:00-11:30 = 90 min
    assert d_minutes(("2025-06-17T10:00:00+02:00", 60, VIEW, "fournisseur"), ("2025-06-17T10:30:00+02:00", 60, VIEW, "fournisseur")) == (90, 90)


def test_nested_events_count_once() -> None:
    # 10:00-12:00 contains 10:30-11:00 → 120 min
    assert d_minutes(("2025-06-17T10:00:00+02:00", 120, VIEW, "fournisseur"), ("2025-06-17T10:30:00+02:00", 30, VIEW, "fournisseur")) == (120, 120)


def test_touching_events_add_up() -> None:
    # 10:00-11:00 then 11:00-12:00 → 120 min
    assert d_minutes(("2025-06-17T10:00:00+02:00", 60, VIEW, "fournisseur"), ("2025-06-17T11:00:00+02:00", 60, VIEW, "fournisseur")) == (120, 120)


def test_overlap_in_other_offsets_is_detected() -> None:
    # 08:00Z-09:00Z (10:00-11:00 CEST) and 10:30+02:00-11:30 → 90 min
    assert d_minutes(("2025-06-17T08:00:00Z", 60, VIEW, "fournisseur"), ("2025-06-17T10:30:00+02:00", 60, VIEW, "fournisseur")) == (90, 90)


def test_responsibility_classes_and_services() -> None:
    rows = (
        ("2025-06-17T10:00:00+02:00", 60, VIEW, "fournisseur"),  # 10:00-11:00
        ("2025-06-17T10:30:00+02:00", 60, CALL, "tiers"),  # 10:30-11:30
        ("2025-06-17T14:00:00+02:00", 30, PEER, "fournisseur"),  # 14:00-14:30
        ("2025-06-17T14:15:00+02:00", 30, VIEW, "fournisseur"),  # 14:15-14:45
    )
    result = compute_availability(journal(*rows))
    # D_t: union of all = 10:00-11:30 (90) + 14:00-14:45 (45) = 135 min
    assert minutes(result.d_t) == 135
    # D_f: union of fournisseur events across services = 10:00-11:00 (60) + 14:00-14:45 (45) = 105 min
    assert minutes(result.d_f) == 105
    per = {s: (minutes(t), minutes(f)) for s, (t, f) in result.per_service.items()}
    # view: 10:00-11:00 (60) + 14:15-14:45 (30) = 90, all fournisseur; call: 60 tiers; peer: 30 fournisseur
    assert per == {VIEW: (90, 90), CALL: (60, 0), PEER: (30, 30)}


def test_merge() -> None:
    a = datetime(2025, 6, 17, 10, tzinfo=PARIS)
    hour = timedelta(hours=1)
    assert merge([(a + hour, a + 2 * hour), (a, a + hour), (a, a)]) == [(a, a + 2 * hour)]


# -- PERF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d_f, expected",
    [
        (timedelta(0), Decimal(1)),
        (timedelta(hours=10), Decimal(1)),  # exactly 10 h → 1
        (timedelta(hours=10, minutes=1), Decimal("0.5")),
        (timedelta(hours=20), Decimal("0.5")),  # exactly 20 h → 0.5
        (timedelta(hours=20, minutes=1), Decimal(0)),  # 20 h 01 → 0
    ],
)
def test_perf_boundaries(d_f: timedelta, expected: Decimal) -> None:
    assert perf(d_f) == expected


def test_perf_from_journal_ten_hours_exactly() -> None:
    # Tue 17 June 9-19 = 600 min = 10 h of fournisseur + a tiers event → D_f 10 h → PERF 1
    parsed = journal(("2025-06-17T09:00:00+02:00", 600, VIEW, "fournisseur"), ("2025-06-18T09:00:00+02:00", 600, VIEW, "tiers"))
    result = compute_availability(parsed)
    assert (minutes(result.d_t), minutes(result.d_f), result.perf) == (1200, 600, Decimal(1))
    # plus one fournisseur minute on Wed 18 June 10:00 → 10 h 01 → 0.5
    parsed = journal(("2025-06-17T09:00:00+02:00", 600, VIEW, "fournisseur"), ("2025-06-18T10:00:00+02:00", 1, CALL, "fournisseur"))
    assert compute_availability(parsed).perf == Decimal("0.5")


def test_hours_text() -> None:
    assert hours_text(timedelta(hours=20, minutes=1)) == "20 h 01"
    assert hours_text(timedelta(minutes=61, seconds=30)) == "1 h 01 30 s"


# -- validation -----------------------------------------------------------------------------------


def issues(text: str, semester: date | None = None) -> list[tuple[int, str, bool]]:
    return [(i.line, i.column, i.fatal) for i in parse_journal(text, semester).issues]


def test_missing_column_is_fatal() -> None:
    assert issues("start,duration_minutes,service,cause\n2025-06-17T10:00:00+02:00,60,x,y\n") == [(1, "responsabilite", True)]


def test_semicolon_journal_with_decimal_comma() -> None:
    parsed = parse_journal("start;duration_minutes;service;cause;responsabilite\n2025-06-17T10:00:00+02:00;1,5;appel_contextuel;x;tiers\n")
    assert parsed.conformant
    assert minutes(compute_availability(parsed).d_t) == Decimal("1.5")


@pytest.mark.parametrize(
    "row, expected",
    [
        ("2025-06-17 10h00,60,visualisation_lien_cr,x,tiers", (2, "start", True)),  # bad date
        (",60,visualisation_lien_cr,x,tiers", (2, "start", True)),  # missing date
        ("2025-06-17T10:00:00+02:00,une heure,visualisation_lien_cr,x,tiers", (2, "duration_minutes", True)),
        ("2025-06-17T10:00:00+02:00,,visualisation_lien_cr,x,tiers", (2, "duration_minutes", True)),
        ("2025-06-17T10:00:00+02:00,0,visualisation_lien_cr,x,tiers", (2, "duration_minutes", False)),  # zero
        ("2025-06-17T10:00:00+02:00,-30,visualisation_lien_cr,x,tiers", (2, "duration_minutes", False)),  # negative
        ("2025-06-17T10:00:00+02:00,60,pacs,x,tiers", (2, "service", False)),  # unknown service
        ("2025-06-17T10:00:00+02:00,60,,x,tiers", (2, "service", False)),  # missing service
        ("2025-06-17T10:00:00+02:00,60,visualisation_lien_cr,x,client", (2, "responsabilite", False)),
        ("2025-06-17T10:00:00+02:00,60,visualisation_lien_cr,,tiers", (2, "cause", False)),  # missing cause
        ("2025-06-17T10:00:00+02:00,60,visualisation_lien_cr,x", (2, "responsabilite", False)),  # short row
    ],
)
def test_each_validation_error_names_line_and_column(row: str, expected: tuple[int, str, bool]) -> None:
    good = "2025-06-16T10:00:00+02:00,60,appel_contextuel,x,tiers\n"
    # line 1 header, line 2 the bad row, line 3 a good one
    assert issues(HEADER + row + "\n" + good) == [expected]


def test_event_outside_the_semester() -> None:
    semester = date(2025, 1, 1)  # [2025-01-01 00:00 Paris, 2025-07-01 00:00 Paris)
    text = HEADER + (
        "2024-12-31T23:30:00+01:00,60,visualisation_lien_cr,x,tiers\n"  # line 2: before
        "2024-12-31T23:30:00Z,60,visualisation_lien_cr,x,tiers\n"  # line 3: 2025-01-01 00:30 Paris: inside
        "2025-06-30T23:59:00+02:00,60,visualisation_lien_cr,x,tiers\n"  # line 4: inside
        "2025-07-01T00:00:00+02:00,60,visualisation_lien_cr,x,tiers\n"  # line 5: after
    )
    assert issues(text, semester) == [(2, "start", False), (5, "start", False)]


def test_events_are_clipped_to_the_semester() -> None:
    # Mon 30 June 2025 18:00 → Tue 1 July 10:00; semester ends 1 July 00:00 → only 18:00-19:00 = 60 min
    parsed = parse_journal(HEADER + "2025-06-30T18:00:00+02:00,960,visualisation_lien_cr,x,fournisseur\n", date(2025, 1, 1))
    assert parsed.conformant
    assert minutes(compute_availability(parsed).d_f) == 60


def test_semester_window() -> None:
    assert semester_window(date(2025, 7, 1)) == (datetime(2025, 7, 1, tzinfo=PARIS), datetime(2026, 1, 1, tzinfo=PARIS))
    with pytest.raises(ValueError, match="first day of a month"):
        semester_window(date(2025, 7, 2))


def test_extra_holidays() -> None:
    # a local holiday (e.g. Alsace-Moselle 26 December) can be added
    calendar = BusinessCalendar(extra_days=[date(2025, 12, 26)])
    start = datetime(2025, 12, 26, 9, tzinfo=PARIS)
    assert calendar.business_time(start, start + timedelta(hours=10)) == timedelta(0)

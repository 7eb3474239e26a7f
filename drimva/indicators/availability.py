"""The unavailability journal and the D_t / D_f / PERF indicators (AF-IMG-DB-Va2 §1.2, §3.3).

The journal is a CSV file with the columns ``start`` (ISO 8601 date and
time; without an offset it is Europe/Paris wall-clock time, as the business
hours are: ``2025-06-17T09:00`` is 09:00 in Paris, summer or winter; an
offset, ``+02:00`` or ``Z``, is still read as written; the hour a naive time
repeats when the clocks go back is read as its first, summer-time,
occurrence, an early Sunday, outside business hours anyway), ``duration_minutes``, ``service`` (``reponse_db_consommatrice``,
``visualisation_lien_cr``, ``appel_contextuel``: the three services of the
§1.2 definition), ``cause`` and ``responsabilite`` (``fournisseur`` or
``tiers``). Comma-separated; a header with semicolons and no comma is read as
semicolon-separated (French spreadsheets), where a decimal comma is accepted
in ``duration_minutes``. Line numbers are CSV line numbers (the header is
line 1).

Two kinds of problems (each names its line and column):

- *fatal*: the journal cannot be computed (a missing column, an unreadable or
  ``start``, a missing or non-numeric ``duration_minutes``);
- *non-conformity*: the journal is readable but not conformant (a missing
  ``cause``, an unknown ``service`` or ``responsabilite``, a duration that is
  not positive, an event that starts outside the semester). The semestrial
  amount is then zero (§5.4); D_t and D_f are still computed.

Business hours (§3.3, *période ouvrable*): Monday-Friday 09:00-19:00,
Saturday 09:00-13:00, Europe/Paris wall-clock time (DST included); Sundays and
French public holidays (``holidays`` package, metropolitan list, Whit Monday
included) do not count.

Overlaps are counted once (decision, the AF is silent on the detail):
D_t is the business time of the union of *all* events, whatever their service
or responsibility; D_f the business time of the union of the ``fournisseur``
events (across services); the per-service figures merge within a service.
An event with an unknown service counts in D_t (all causes) only; one with an
unknown responsibility counts in D_t but not in D_f. When a semester is given,
events are clipped to it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

SOURCE = "AF-IMG-DB-Va2 §3.3"
PARIS = ZoneInfo("Europe/Paris")
SERVICES = ("reponse_db_consommatrice", "visualisation_lien_cr", "appel_contextuel")
RESPONSIBILITIES = ("fournisseur", "tiers")
SUPPLIER = "fournisseur"
COLUMNS = ("start", "duration_minutes", "service", "cause", "responsabilite")
WEEKDAY_HOURS = (time(9), time(19))
SATURDAY_HOURS = (time(9), time(13))
PERF_FULL_LIMIT = timedelta(hours=10)
PERF_HALF_LIMIT = timedelta(hours=20)

Interval = tuple[datetime, datetime]
# what each column takes, for the error messages, ``--help`` and the README
ALLOWED = {
    "start": "ISO 8601 date and time, e.g. 2025-06-17T09:00 (Europe/Paris) or 2025-06-17T09:00+02:00",
    "duration_minutes": "a positive number of minutes (decimal comma in a semicolon-separated file)",
    "service": " | ".join(SERVICES),
    "cause": "any non-empty text",
    "responsabilite": " | ".join(RESPONSIBILITIES),
}


@dataclass(frozen=True)
class JournalIssue:
    """A problem of the journal at a CSV line and column."""

    line: int
    column: str
    message: str
    fatal: bool = False  # the figures cannot be computed
    value: str = ""  # the cell as written
    allowed: str = ""  # what the column takes

    def describe(self) -> str:
        text = f"line {self.line}, column {self.column}: {self.message}"
        return text + (f" (allowed: {self.allowed})" if self.allowed else "")

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.line, "column": self.column, "value": self.value, "allowed": self.allowed,
            "message": self.message, "fatal": self.fatal,
        }  # fmt: skip


@dataclass(frozen=True)
class Event:
    line: int
    start: datetime  # timezone-aware
    end: datetime
    service: str
    cause: str
    responsabilite: str


@dataclass
class Journal:
    events: list[Event] = field(default_factory=list)
    issues: list[JournalIssue] = field(default_factory=list)
    semester: Interval | None = None

    @property
    def readable(self) -> bool:
        return not any(issue.fatal for issue in self.issues)

    @property
    def conformant(self) -> bool:
        return not self.issues


# -- calendar ------------------------------------------------------------------------------


class BusinessCalendar:
    """Business hours in Paris time, minus Sundays and French public holidays (plus ``extra_days``)."""

    def __init__(self, extra_days: Iterable[date] = ()) -> None:
        self._holidays = holidays.country_holidays("FR")  # metropolitan national list; years load lazily
        self._extra = frozenset(extra_days)

    def is_holiday(self, day: date) -> bool:
        return day in self._extra or day in self._holidays

    def window(self, day: date) -> Interval | None:
        """The business window of a calendar day in Paris, or None (Sunday, public holiday)."""
        weekday = day.weekday()
        if weekday == 6 or self.is_holiday(day):
            return None
        opening, closing = SATURDAY_HOURS if weekday == 5 else WEEKDAY_HOURS
        return datetime.combine(day, opening, PARIS), datetime.combine(day, closing, PARIS)

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two aware instants (zero when ``end <= start``)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(PARIS).date()
        last = end.astimezone(PARIS).date()
        while day <= last:
            window = self.window(day)
            if window is not None:
                lo, hi = max(start, window[0]), min(end, window[1])
                if lo < hi:
                    # subtract in UTC: same-tzinfo subtraction is wall-clock time in Python
                    total += hi.astimezone(UTC) - lo.astimezone(UTC)
            day += timedelta(days=1)
        return total


FRANCE = BusinessCalendar()


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals merged into disjoint ones, in order."""
    merged: list[Interval] = []
    for start, end in sorted((s, e) for s, e in intervals if e > s):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def union_business_time(intervals: Iterable[Interval], calendar: BusinessCalendar = FRANCE) -> timedelta:
    """Business time of the union of ``intervals`` (each instant counted once)."""
    return sum((calendar.business_time(s, e) for s, e in merge(intervals)), timedelta(0))


# -- journal -------------------------------------------------------------------------------


def semester_window(first_day: date) -> Interval:
    """[first day 00:00, same day six months later 00:00) in Paris time; the first day must be a 1st."""
    if first_day.day != 1:
        raise ValueError(f"a semester starts on the first day of a month (AF §4.5), got {first_day.isoformat()}")
    month = first_day.month + 6
    end = date(first_day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return datetime.combine(first_day, time(0), PARIS), datetime.combine(end, time(0), PARIS)


def read_journal(path: Path, semester_start: date | None = None) -> Journal:
    """Read a journal file; OSError when it cannot be opened, fatal issue when it is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Journal(issues=[JournalIssue(line, "-", f"not UTF-8 text (byte {error.start})", fatal=True)])
    return parse_journal(text, semester_start)


def parse_journal(text: str, semester_start: date | None = None) -> Journal:
    """Parse and validate a journal (see the module docstring for the two kinds of issues)."""
    journal = Journal(semester=semester_window(semester_start) if semester_start else None)
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = ";" if ";" in header and "," not in header else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    names: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if names is None:
            names = [name.strip().lower() for name in row]
            missing = [column for column in COLUMNS if column not in names]
            for column in missing:
                journal.issues.append(JournalIssue(line, column, f"missing column (columns: {', '.join(COLUMNS)})", fatal=True))
            if missing:
                return journal
            continue
        if not any(cell.strip() for cell in row):
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(names)}
        event = _event(line, values, delimiter, journal)
        if event is not None:
            journal.events.append(event)
    if names is None:
        journal.issues.append(JournalIssue(1, "start", f"empty journal: no header (columns: {', '.join(COLUMNS)})", fatal=True))
    return journal


def _event(line: int, values: dict[str, str], delimiter: str, journal: Journal) -> Event | None:
    issues: list[JournalIssue] = []
    start = _parse_start(values["start"])
    if isinstance(start, str):
        issues.append(JournalIssue(line, "start", start, fatal=True, value=values["start"], allowed=ALLOWED["start"]))
    minutes = _parse_minutes(values["duration_minutes"], delimiter)
    duration = values["duration_minutes"]
    if isinstance(minutes, str):
        issues.append(JournalIssue(line, "duration_minutes", minutes, fatal=True, value=duration, allowed=ALLOWED["duration_minutes"]))
    elif minutes <= 0:
        issues.append(
            JournalIssue(line, "duration_minutes", f"a duration is positive, got {duration}", value=duration, allowed=ALLOWED["duration_minutes"])
        )
    service, cause, responsibility = values["service"], values["cause"], values["responsabilite"]
    if service not in SERVICES:
        what = "missing value" if not service else f"unknown service {service!r}"
        issues.append(JournalIssue(line, "service", f"{what} (AF §1.2)", value=service, allowed=ALLOWED["service"]))
    if not cause:
        issues.append(JournalIssue(line, "cause", "missing value (the cause qualification of §3.3)", allowed=ALLOWED["cause"]))
    if responsibility not in RESPONSIBILITIES:
        what = "missing value" if not responsibility else f"unknown responsibility {responsibility!r}"
        issues.append(JournalIssue(line, "responsabilite", what, value=responsibility, allowed=ALLOWED["responsabilite"]))
    if isinstance(start, datetime) and journal.semester is not None:
        first, after = journal.semester
        if not first <= start < after:
            issues.append(
                JournalIssue(
                    line, "start",
                    f"event outside the semester [{first.date().isoformat()}, {after.date().isoformat()}): {values['start']}",
                    value=values["start"],
                    allowed=f"a start in [{first.date().isoformat()}, {after.date().isoformat()})",
                )
            )
    journal.issues.extend(issues)
    if isinstance(start, str) or isinstance(minutes, str) or minutes <= 0:
        return None
    end = start + timedelta(seconds=float(minutes * 60))
    return Event(line, start, end, service, cause, responsibility)


def _parse_start(value: str) -> datetime | str:
    if not value:
        return "missing value"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"not an ISO 8601 date and time: {value!r}"
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # Paris wall-clock time (the module docstring); in UTC, so that adding the duration is elapsed time across DST
        return parsed.replace(tzinfo=PARIS).astimezone(UTC)
    return parsed


def _parse_minutes(value: str, delimiter: str) -> Decimal | str:
    if not value:
        return "missing value (minutes)"
    text = value.replace(",", ".") if delimiter == ";" else value
    try:
        minutes = Decimal(text)
    except InvalidOperation:
        return f"not a number of minutes: {value!r}"
    if not minutes.is_finite():
        return f"not a number of minutes: {value!r}"
    return minutes


# -- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    d_t: timedelta
    d_f: timedelta
    per_service: dict[str, tuple[timedelta, timedelta]]  # service -> (D_t, D_f)
    events: int

    @property
    def perf(self) -> Decimal:
        return perf(self.d_f)


def perf(d_f: timedelta) -> Decimal:
    """PERF (§3.3): 1 if D_f <= 10 h, 0.5 if D_f <= 20 h, else 0."""
    if d_f <= PERF_FULL_LIMIT:
        return Decimal(1)
    if d_f <= PERF_HALF_LIMIT:
        return Decimal("0.5")
    return Decimal(0)


def compute_availability(journal: Journal, calendar: BusinessCalendar = FRANCE) -> Availability:
    """D_t, D_f (overall and per service) in business hours, overlaps counted once."""
    events: list[tuple[Interval, Event]] = []
    for event in journal.events:
        interval = _clip(event, journal.semester)
        if interval is not None:
            events.append((interval, event))

    def total(select: Sequence[tuple[Interval, Event]]) -> timedelta:
        return union_business_time((interval for interval, _ in select), calendar)

    supplier = [(i, e) for i, e in events if e.responsabilite == SUPPLIER]
    per_service = {
        service: (
            total([(i, e) for i, e in events if e.service == service]),
            total([(i, e) for i, e in supplier if e.service == service]),
        )
        for service in SERVICES
    }
    return Availability(total(events), total(supplier), per_service, len(events))


def _clip(event: Event, semester: Interval | None) -> Interval | None:
    start, end = event.start, event.end
    if semester is not None:
        start, end = max(start, semester[0]), min(end, semester[1])
    return (start, end) if end > start else None


def minutes(value: timedelta) -> Decimal:
    """A duration in minutes (exact, trailing zeros dropped)."""
    micro = Decimal(value // timedelta(microseconds=1))
    result = micro / Decimal(60_000_000)
    return result.quantize(Decimal(1)) if result == result.to_integral_value() else result.normalize()


def hours_text(value: timedelta) -> str:
    """``12 h 05`` (minutes rounded down; seconds shown only when there are some)."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours} h {mins:02d}" + (f" {secs:02d} s" if secs else "")

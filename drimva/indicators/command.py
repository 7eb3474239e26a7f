"""``drimva indicators``: K, T, K/T, D_t, D_f, PERF, tranche, ceilings and the semestrial amount.

Exit codes: 0 = computed, nothing wrong; 1 = the journal is not conformant or
K/T < 99 % (the semestrial amount is then zero, AF-IMG-DB-Va2 §5.4); 2 = bad
input (the error names the file, the CSV line and the column).

When T = 0, K/T is ``n/a`` and the K/T condition is deemed met: the AF's
special case for a supplier who is not also the RIS supplier (va-checklist.md
§4; open question 9). A supplier who is also the RIS supplier gets nothing for
such a semester: ``supplier_is_ris_supplier`` (read from the arguments when
the CLI offers it) applies that rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from drimva.indicators.availability import (
    SERVICES,
    Availability,
    Journal,
    compute_availability,
    hours_text,
    minutes,
    read_journal,
)
from drimva.indicators.kt import (
    KtCounts,
    RunFolderError,
    count_runs,
    meets_target,
    rate,
)
from drimva.indicators.tables import (
    FORFAIT_SEMESTRIEL,
    NEW_ACQUISITION,
    SOURCE_FORFAIT,
    UPDATE,
    normalise_tranche,
    tranche_for_exams,
)

EXIT_OK, EXIT_NOT_MET, EXIT_BAD_INPUT = 0, 1, 2


def number(value: Decimal) -> int | float:
    """A JSON number: an integer when the value is whole (``1380``), else a float (``0.5``, ``1120.5``)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _price(price: dict[str, str]) -> dict[str, int | float]:
    return {key: number(Decimal(value)) for key, value in price.items()}


class BadInput(ValueError):
    """An argument or input file that cannot be used; the message says which and why."""


@dataclass
class Indicators:
    """Everything ``drimva indicators`` computes; fields are None when their inputs were not given."""

    k: int | None = None
    t: int | None = None
    kt_detail: KtCounts | None = None
    journal: Journal | None = None
    availability: Availability | None = None
    tranche: str | None = None
    tranche_source: str = ""  # "declared" / "exams"
    exams: int | None = None
    exams_tranche: str | None = None
    supplier_is_ris_supplier: bool = False
    notes: list[str] = field(default_factory=list)

    # -- derived ----------------------------------------------------------------------
    @property
    def kt_met(self) -> bool | None:
        """K/T >= 99 %; T = 0 follows the AF special case; None when K and T are unknown."""
        if self.k is None or self.t is None:
            return None
        met = meets_target(self.k, self.t)
        return (not self.supplier_is_ris_supplier) if met is None else met

    @property
    def journal_conformant(self) -> bool | None:
        return None if self.journal is None else self.journal.conformant

    def amount(self) -> tuple[dict[str, int | float] | None, list[str]]:
        """(semestrial amount, why it is what it is); amount None when an input is missing."""
        missing = [
            what
            for what, value in (("a tranche (--tranche or --exams)", self.tranche), ("a journal (--journal)", self.availability), ("K and T (--run or --k/--t)", self.kt_met))
            if value is None
        ]
        if missing:
            return None, ["not computed: needs " + ", ".join(missing)]
        assert self.tranche is not None and self.availability is not None
        reasons: list[str] = []
        factor = self.availability.perf
        if not self.journal_conformant:
            factor = Decimal(0)
            reasons.append("journal not conformant: amount 0 (§5.4)")
        if not self.kt_met:
            factor = Decimal(0)
            reasons.append("K/T below 99 %: amount 0 (§5.4)" if self.t else "T = 0 and the supplier is the RIS supplier: nothing due until a CR arrives (§5.4)")
        if self.t == 0 and self.kt_met:
            reasons.append("T = 0: K/T n/a, deemed >= 99 % until the first CR arrives (§5.4)")
        amount = FORFAIT_SEMESTRIEL[self.tranche].times(factor)
        return {**_price(amount.to_dict()), "factor": number(factor)}, reasons

    @property
    def exit_code(self) -> int:
        if self.journal_conformant is False or self.kt_met is False:
            return EXIT_NOT_MET
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        amount, reasons = self.amount()
        kt: dict[str, Any] | None = None
        if self.k is not None and self.t is not None:
            r = rate(self.k, self.t)
            kt = {"K": self.k, "T": self.t, "K/T": None if r is None else number(r), "target_reached": meets_target(self.k, self.t)}
            if self.kt_detail is not None:
                kt["detail"] = self.kt_detail.to_dict()
        availability = None
        if self.availability is not None and self.journal is not None:
            a = self.availability
            availability = {
                "conformant": self.journal.conformant,
                "issues": [i.to_dict() for i in self.journal.issues],
                "events": a.events,
                "D_t_minutes": number(minutes(a.d_t)),
                "D_f_minutes": number(minutes(a.d_f)),
                "D_t": hours_text(a.d_t),
                "D_f": hours_text(a.d_f),
                "per_service": {
                    s: {"D_t_minutes": number(minutes(dt)), "D_f_minutes": number(minutes(df))} for s, (dt, df) in a.per_service.items()
                },
                "PERF": number(a.perf),
            }
        tranche = None
        if self.tranche is not None:
            tranche = {
                "tranche": self.tranche,
                "from": self.tranche_source,
                "exams": self.exams,
                "exams_tranche": self.exams_tranche,
                "ceilings": {
                    "mise_a_jour": _price(UPDATE[self.tranche].to_dict()),
                    "nouvelle_acquisition": _price(NEW_ACQUISITION[self.tranche].to_dict()),
                    "forfait_semestriel": _price(FORFAIT_SEMESTRIEL[self.tranche].to_dict()),
                },
            }
        return {
            "kt": kt,
            "availability": availability,
            "tranche": tranche,
            "amount": amount,
            "amount_notes": reasons,
            "notes": self.notes,
            "exit_code": self.exit_code,
        }


def gather(args: argparse.Namespace) -> Indicators:
    """Read the inputs the arguments name and compute; BadInput when one cannot be used."""
    out = Indicators(supplier_is_ris_supplier=bool(getattr(args, "supplier_is_ris_supplier", False)))
    semester = None
    if args.semester_start:
        try:
            semester = date.fromisoformat(args.semester_start)
        except ValueError:
            raise BadInput(f"--semester-start: not a date YYYY-MM-DD: {args.semester_start!r}") from None
    if args.tranche:
        try:
            out.tranche, out.tranche_source = normalise_tranche(args.tranche), "declared"
        except ValueError as error:
            raise BadInput(f"--tranche: {error}") from None
    if args.exams is not None:
        try:
            out.exams, out.exams_tranche = args.exams, tranche_for_exams(args.exams)
        except ValueError as error:
            raise BadInput(f"--exams: {error}") from None
        if out.tranche is None:
            out.tranche, out.tranche_source = out.exams_tranche, "exams"
        elif out.tranche != out.exams_tranche:
            out.notes.append(
                f"{args.exams} exams make tranche {out.exams_tranche}, the declared tranche is {out.tranche}: "
                f"the forfait uses the tranche declared at order ({SOURCE_FORFAIT})"
            )
    _gather_kt(args, out)
    if args.journal:
        path = Path(args.journal)
        try:
            out.journal = read_journal(path, semester)
        except OSError as error:
            raise BadInput(f"{path}: cannot read the journal ({error.strerror or error})") from None
        except ValueError as error:  # the semester start
            raise BadInput(f"--semester-start: {error}") from None
        fatal = [issue for issue in out.journal.issues if issue.fatal]
        if fatal:  # every problem of the journal at once, the non-conformities too: one pass to fix them all
            raise BadInput("\n".join(f"{path}: {issue.describe()}" for issue in out.journal.issues))
        out.availability = compute_availability(out.journal)
    elif semester is not None:
        out.notes.append("--semester-start without --journal: nothing to check against it")
    if out.tranche is None and out.availability is None and out.k is None:
        raise BadInput("nothing to compute: give --run or --k/--t, --journal, --tranche or --exams")
    return out


def _gather_kt(args: argparse.Namespace, out: Indicators) -> None:
    if (args.k is None) != (args.t is None):
        raise BadInput("--k and --t go together")
    if args.k is not None:
        if args.run_dirs:
            raise BadInput("--k/--t and --run both give K and T: choose one")
        if args.k < 0 or args.t < 0:
            raise BadInput(f"K and T are counts: got K={args.k}, T={args.t}")
        out.k, out.t = args.k, args.t
    elif args.run_dirs:
        try:
            out.kt_detail = count_runs([Path(p) for p in args.run_dirs])
        except RunFolderError as error:
            raise BadInput(str(error)) from None
        out.k, out.t = out.kt_detail.k, out.kt_detail.t
        out.notes.extend(run_folder_notes(out.kt_detail))


T_RULE = (
    "T compte les CR initiaux (ORU^R01 OBX-11 F, MDM^T02) acquittés par la DRIMbox, à identité qualifiée "
    "(PID-32 qualifié, INS dans PID-3) et portant dans le CDA l'UID d'examen, le numéro d'accession et l'identifiant "
    "de demande ; K, ceux de T pour lesquels un KOS du patient et de l'examen a été enregistré au DMP"
)
VA_NOT_A_SAMPLE = (
    "une exécution VA n'est pas un échantillon de K/T : ses scénarios créent exprès des cas où aucun KOS n'est dû "
    "ou n'est attendu à temps (remplacement, suppression, examen inconnu du PACS, défaut injecté, scénario bloqué), "
    "et un CR de T resté sans KOS y dit qu'un scénario a échoué, pas qu'un semestre de service l'est ; "
    "mesurez K/T avec « drimva soak » (chaque CR y compte dans T) ou sur l'activité réelle du semestre"
)


def run_folder_notes(detail: KtCounts) -> list[str]:
    """Why the K/T of run folders reads as it does: what counts in T, and that a VA run is no K/T sample (issue 12 §5)."""
    notes = [T_RULE]
    scenarios: dict[str, list[int]] = {}
    for report in detail.reports:
        counted = scenarios.setdefault(str(report.get("scenario") or "?"), [0, 0])
        counted[0] += 1
        counted[1] += report.get("kos") is not None
    for scenario, (in_t, with_kos) in sorted(scenarios.items()):
        notes.append(f"T : {in_t} CR du scénario {scenario}, dont {with_kos} avec KOS")
    if any(run.get("kind") in ("drimbox", "ris") for run in detail.runs):
        notes.append(VA_NOT_A_SAMPLE)
    return notes


def text_report(result: Indicators) -> str:
    data = result.to_dict()
    lines = ["Indicateurs de continuité de service (AF-IMG-DB-Va2 §3.3, §5.3, §5.4)"]
    kt = data["kt"]
    if kt is not None:
        state = {True: "atteint", False: "NON atteint", None: "n/a"}[kt["target_reached"]]
        lines.append(f"  K = {kt['K']}   T = {kt['T']}   K/T = {'n/a' if kt['K/T'] is None else format(kt['K/T'], '.4f')}   (objectif 99 % : {state})")
        detail = kt.get("detail")
        if detail:
            lines.append(
                f"    hors T : {len(detail['initial_reports_not_in_T'])} CR initiaux, {detail['reports_not_acknowledged']} non acquittés ; "
                f"remplacements : {detail['replacement_reports']} CR / {detail['kos_replacements']} KOS ; "
                f"suppressions : {detail['deletion_reports']} CR / {detail['kos_deletions']} KOS ; "
                f"KOS en double : {detail['kos_duplicates']} ; KOS hors T : {detail['kos_not_matching_T']}"
            )
            for report in detail["reports"]:
                if report["kos"] is None:
                    lines.append(f"    sans KOS : {report['control_id']} ({report['scenario']})")
    a = data["availability"]
    if a is not None:
        lines.append(f"  D_t = {a['D_t']} ({a['D_t_minutes']} min)   D_f = {a['D_f']} ({a['D_f_minutes']} min)   PERF = {a['PERF']}   ({a['events']} événements)")
        for service in SERVICES:
            figures = a["per_service"][service]
            lines.append(f"    {service}: D_t {figures['D_t_minutes']} min, D_f {figures['D_f_minutes']} min")
        lines.append("  journal : " + ("conforme" if a["conformant"] else f"NON conforme ({len(a['issues'])} problèmes)"))
        lines.extend(f"    ligne {i['line']}, colonne {i['column']} : {i['message']}" for i in a["issues"])
    t = data["tranche"]
    if t is not None:
        origin = "déclarée" if t["from"] == "declared" else f"{t['exams']} examens"
        lines.append(f"  tranche {t['tranche']} ({origin})")
        for key, label in (("mise_a_jour", "Mise à jour DB"), ("nouvelle_acquisition", "Nouvelle acquisition DB"), ("forfait_semestriel", "Forfait semestriel")):
            price = t["ceilings"][key]
            lines.append(f"    {label:<24} HT {price['ht']:>9.2f} €   TTC 20 % {price['ttc_20']:>9.2f} €   TTC 8,5 % {price['ttc_8_5']:>9.2f} €")
    amount = data["amount"]
    if amount is not None:
        lines.append(f"  montant semestriel (× {amount['factor']}) : HT {amount['ht']:.2f} €   TTC 20 % {amount['ttc_20']:.2f} €   TTC 8,5 % {amount['ttc_8_5']:.2f} €")
    lines.extend(f"  {note}" for note in data["amount_notes"] + data["notes"])
    return "\n".join(lines)


def run_indicators(args: argparse.Namespace) -> int:
    try:
        result = gather(args)
    except BadInput as error:
        for line in str(error).splitlines():
            print(f"drimva indicators: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    data = result.to_dict()
    if args.json_out == "-":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(text_report(result))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return result.exit_code

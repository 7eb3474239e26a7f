"""``drimva indicators``: amounts, exit codes, text and JSON output, bad input (AF-IMG-DB-Va2 §5.4)."""

import json
from pathlib import Path

import pytest

from drimva.cli import build_parser
from drimva.indicators.command import run_indicators

HEADER = "start,duration_minutes,service,cause,responsabilite\n"
# Tue 17 June 2025 09:00-19:00: 600 business minutes = 10 h of supplier unavailability → PERF 1
TEN_HOURS = "2025-06-17T09:00:00+02:00,600,visualisation_lien_cr,panne serveur,fournisseur\n"
# + Wed 18 June 09:00-09:01: 1 min more → 10 h 01 → PERF 0.5
ONE_MORE_MINUTE = "2025-06-18T09:00:00+02:00,1,appel_contextuel,panne,fournisseur\n"


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str, journal: str | None = None) -> tuple[int, dict, str]:
    args = list(argv)
    if journal is not None:
        path = tmp_path / "journal.csv"
        path.write_text(journal, "utf-8")
        args += ["--journal", str(path)]
    code = run_indicators(build_parser().parse_args(["indicators", *args, "--json", "-"]))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def test_full_amount_tranche_a(tmp_path, capsys) -> None:
    code, data, _ = run(tmp_path, capsys, "--tranche", "A", "--k", "99", "--t", "100", journal=HEADER + TEN_HOURS)
    # K/T = 99/100 = 0.99 (reached); D_f = 10 h → PERF 1; forfait A × 1
    assert code == 0
    assert data["kt"]["K/T"] == 0.99 and data["kt"]["target_reached"] is True
    assert data["availability"]["PERF"] == 1
    assert data["amount"] == {"ht": 1120, "ttc_20": 1344, "ttc_8_5": 1215.2, "factor": 1}


def test_half_amount_tranche_b(tmp_path, capsys) -> None:
    code, data, _ = run(tmp_path, capsys, "--exams", "15001", "--k", "10", "--t", "10", journal=HEADER + TEN_HOURS + ONE_MORE_MINUTE)
    # 15 001 exams → B; D_f = 601 min → PERF 0.5; B × 0.5: 1 236,05/2 = 618,025 → 618,03;
    # 1 483,26/2 = 741,63; 1 341,11/2 = 670,555 → 670,56
    assert code == 0
    assert data["tranche"]["tranche"] == "B" and data["availability"]["D_f_minutes"] == 601
    assert data["amount"] == {"ht": 618.03, "ttc_20": 741.63, "ttc_8_5": 670.56, "factor": 0.5}


def test_kt_below_99_percent_zeroes_the_amount(tmp_path, capsys) -> None:
    # 98/100 = 0.98 < 0.99 → amount 0 whatever PERF; exit 1
    code, data, _ = run(tmp_path, capsys, "--tranche", "H", "--k", "98", "--t", "100", journal=HEADER + TEN_HOURS)
    assert code == 1
    assert data["amount"]["ht"] == 0 and data["amount"]["factor"] == 0
    assert any("K/T below 99" in note for note in data["amount_notes"])


def test_t_zero_is_not_applicable(tmp_path, capsys) -> None:
    # T = 0: K/T n/a, deemed met (supplier not the RIS supplier) → forfait C × PERF 1 = 1 530,56 HT
    code, data, _ = run(tmp_path, capsys, "--tranche", "C", "--k", "0", "--t", "0", journal=HEADER)
    assert code == 0
    assert data["kt"]["K/T"] is None and data["kt"]["target_reached"] is None
    assert data["amount"]["ht"] == 1530.56
    assert any("T = 0" in note for note in data["amount_notes"])


def test_non_conformant_journal_zeroes_the_amount(tmp_path, capsys) -> None:
    journal = HEADER + TEN_HOURS + "2025-06-19T10:00:00+02:00,30,pacs,panne,fournisseur\n"  # line 3: unknown service
    code, data, _ = run(tmp_path, capsys, "--tranche", "A", "--k", "1", "--t", "1", journal=journal)
    assert code == 1
    assert data["availability"]["conformant"] is False
    assert [(i["line"], i["column"]) for i in data["availability"]["issues"]] == [(3, "service")]
    assert data["amount"]["ht"] == 0
    # D_t still counts the event: 600 + 30 = 630 min
    assert data["availability"]["D_t_minutes"] == 630


def test_event_outside_semester_is_a_non_conformity(tmp_path, capsys) -> None:
    code, data, _ = run(tmp_path, capsys, "--tranche", "A", "--semester-start", "2025-07-01", journal=HEADER + TEN_HOURS)
    assert code == 1
    assert [(i["line"], i["column"]) for i in data["availability"]["issues"]] == [(2, "start")]
    assert data["amount"] is None  # K and T not given


@pytest.mark.parametrize(
    "journal, where",
    [
        ("start,duration_minutes,service,responsabilite\n", "line 1, column cause"),
        (HEADER + TEN_HOURS + "17/06/2025 10:00,60,appel_contextuel,x,tiers\n", "line 3, column start"),
        (HEADER + "2025-06-17T10:00:00+02:00,1h,appel_contextuel,x,tiers\n", "line 2, column duration_minutes"),
    ],
)
def test_bad_journal_exits_2_naming_line_and_column(tmp_path, capsys, journal: str, where: str) -> None:
    code, data, err = run(tmp_path, capsys, "--tranche", "A", journal=journal)
    assert code == 2 and data == {}
    assert where in err and "journal.csv" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k", "3"], "--k and --t go together"),
        (["--tranche", "Z"], "--tranche"),
        (["--exams", "0"], "--exams"),
        (["--journal", "/nonexistent/journal.csv"], "cannot read the journal"),
        (["--semester-start", "2025-13-01", "--tranche", "A"], "--semester-start"),
        (["--run", "/nonexistent-run"], "not a run folder"),
        ([], "nothing to compute"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, argv: list[str], message: str) -> None:
    code, _, err = run(tmp_path, capsys, *argv)
    assert code == 2 and message in err


def test_declared_tranche_prevails_over_exams(tmp_path, capsys) -> None:
    code, data, _ = run(tmp_path, capsys, "--tranche", "A", "--exams", "960001")
    assert code == 0
    assert (data["tranche"]["tranche"], data["tranche"]["exams_tranche"]) == ("A", "H")
    assert data["tranche"]["ceilings"]["mise_a_jour"]["ht"] == 10080
    assert any("declared tranche is A" in note for note in data["notes"])


def test_text_output_and_json_file(tmp_path, capsys) -> None:
    journal = tmp_path / "j.csv"
    journal.write_text(HEADER + TEN_HOURS, "utf-8")
    out_file = tmp_path / "out.json"
    args = ["indicators", "--tranche", "D", "--k", "5", "--t", "5", "--journal", str(journal), "--json", str(out_file)]
    assert run_indicators(build_parser().parse_args(args)) == 0
    text = capsys.readouterr().out
    assert "K/T = 1.0000" in text and "D_f = 10 h 00" in text and "PERF = 1" in text
    assert "HT 1952.21 €" in text  # forfait D × 1
    assert json.loads(out_file.read_text("utf-8"))["amount"]["ttc_20"] == 2342.66


def test_json_numbers_are_numbers(tmp_path, capsys) -> None:
    _, data, _ = run(tmp_path, capsys, "--tranche", "B", "--k", "10", "--t", "10", journal=HEADER + TEN_HOURS + ONE_MORE_MINUTE)
    figures = data["availability"]
    assert isinstance(figures["D_t_minutes"], int) and isinstance(figures["PERF"], float)
    assert all(isinstance(v, (int, float)) for v in data["amount"].values())
    assert all(isinstance(v, (int, float)) for price in data["tranche"]["ceilings"].values() for v in price.values())
    assert isinstance(data["kt"]["K/T"], (int, float))


def test_every_problem_of_a_journal_comes_in_one_pass(tmp_path, capsys) -> None:
    journal = HEADER + "hier,60,pacs,,client\n" + "2025-06-17T10:00,une heure,visualisation_lien_cr,x,tiers\n"
    code, _, err = run(tmp_path, capsys, "--tranche", "A", journal=journal)
    assert code == 2
    problems = [line.split(": ", 2)[2] for line in err.splitlines()]  # "drimva indicators: FILE: line …"
    assert [p.split(":")[0] for p in problems] == [
        "line 2, column start", "line 2, column service", "line 2, column cause", "line 2, column responsabilite",
        "line 3, column duration_minutes",
    ]  # fatal and non-conformities together, in the journal's order
    assert "allowed: reponse_db_consommatrice | visualisation_lien_cr | appel_contextuel" in problems[1]
    assert "allowed: fournisseur | tiers" in problems[3]


def test_a_naive_start_is_paris_time(tmp_path, capsys) -> None:
    # 09:00 without an offset is 09:00 in Paris (summer: +02:00), so the same 10 h as with the offset
    naive = TEN_HOURS.replace("2025-06-17T09:00:00+02:00", "2025-06-17T09:00:00")
    code, data, _ = run(tmp_path, capsys, "--tranche", "A", "--k", "1", "--t", "1", journal=HEADER + naive)
    assert code == 0 and data["availability"]["D_f_minutes"] == 600 and data["availability"]["issues"] == []
    # in winter (+01:00) too: 18:30 Paris is 30 business minutes before closing whatever the offset of the day
    winter = HEADER + "2025-01-14T18:30,120,appel_contextuel,panne,fournisseur\n"
    _, data, _ = run(tmp_path, capsys, "--tranche", "A", "--k", "1", "--t", "1", journal=winter)
    assert data["availability"]["D_f_minutes"] == 30

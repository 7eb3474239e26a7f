"""drimva command line: parses the arguments of each command and hands them to its module.

What a run does lives in :mod:`drimva.runs`; each other command in its own module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drimva.filetypes import FileType
from drimva.installation import build_label
from drimva.interruption import signal_exit_code, stop_signal
from drimva.outcomes import HarnessError
from drimva.profile import Profile, ProfileError, load_profile
from drimva.runs import UsageError, parse_items, run_suite
from drimva.va import VA_ITEMS


def _cmd_run(args: argparse.Namespace) -> int:
    code, _ = run_suite(
        args.profile,
        run_dir=Path(args.run_dir) if args.run_dir else None,
        fault=args.fault,
        variant=args.variant,
        select=args.select,
        quiet=args.quiet,
        browser=args.browser,
        items=parse_items(args.items, VA_ITEMS),
        scenarios=tuple(args.scenario or ()),
        preflight=not args.no_preflight,
        verbose=args.verbose,
    )
    return code


def _cmd_demo(args: argparse.Namespace) -> int:
    code, _ = run_suite(
        None, select=args.select, browser=args.browser, items=parse_items(args.items, VA_ITEMS),
        quiet=args.quiet, verbose=args.verbose,
    )  # fmt: skip
    return code


def _cmd_selftest(args: argparse.Namespace) -> int:
    from drimva.selftest import run_selftest

    names = {name.strip() for name in args.only.split(",") if name.strip()} if args.only else None
    return run_selftest(Path(args.out), jobs=args.jobs, timeout_s=args.timeout, names=names)


def _cmd_validate(args: argparse.Namespace) -> int:
    from drimva.validate import run_validate

    return run_validate(args.files, json_out=args.json_out, profile_path=args.profile, strict=args.strict, forced_type=args.type, dciodvfy=args.dciodvfy)


def _cmd_coverage(args: argparse.Namespace) -> int:
    from drimva.coverage import run_coverage
    from drimva.report.coverage_html import coverage_page

    return run_coverage(
        as_json=args.json, selftest=Path(args.selftest) if args.selftest else None,
        html=Path(args.html) if args.html else None, page=coverage_page,
    )


def _cmd_ris(args: argparse.Namespace) -> int:
    from drimva.ris_mode import run_ris

    return run_ris(args)


def _cmd_indicators(args: argparse.Namespace) -> int:
    from drimva.indicators.command import run_indicators

    return run_indicators(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from drimva.report.command import run_report

    return run_report(args)


def _cmd_soak(args: argparse.Namespace) -> int:
    from drimva.soak import run_soak

    return run_soak(args)


def _cmd_sut_config(args: argparse.Namespace) -> int:
    profile: Profile = load_profile(args.profile)
    from drimva.sutconfig import build_bundle, write_bundle

    bundle = build_bundle(profile)
    if args.out:
        out = write_bundle(bundle, Path(args.out).resolve())
        print(f"drimva sut-config: {out}/LISEZMOI.md, configuration.json, pki/ (PKI {bundle.data['pki']['status']})")
        return 0
    print(json.dumps(bundle.data, indent=2, ensure_ascii=False) if args.json else bundle.text)
    return 0


def _cmd_example_profile(args: argparse.Namespace) -> int:
    from importlib import resources

    name = "example-ris.toml" if args.ris else "example-sut.toml"
    print(resources.files("drimva.profiles").joinpath(name).read_text("utf-8"), end="")
    return 0


ITEMS_HELP = (
    "only these VA items, comma-separated (e.g. VA-B1,VA-B3; items: " + ", ".join(item.id for item in VA_ITEMS)
    + "); the others are reported not_run"
)


def _console_options(command: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--verbose`` of the commands that run the suite (:mod:`drimva.console`)."""
    command.add_argument(
        "--quiet", action="store_true", help="print only the final summary (no line per scenario, per item, per long wait)"
    )
    command.add_argument("--verbose", action="store_true", help="print pytest's own output too (test names, tracebacks)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drimva",
        description="Pre-VA conformance harness for DRIM-M DRIMboxes (AF-IMG-DB-Va2 §4.4).",
    )
    parser.add_argument("--version", action="version", version=f"drimva {build_label()}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the VA suite against the embedded reference DRIMbox")
    demo.add_argument("-k", dest="select", help="only the scenarios matching this pytest -k expression")
    demo.add_argument("--items", help=ITEMS_HELP)
    demo.add_argument("--browser", choices=("http", "chromium"), help="browser of the viewer scenarios: the built-in HTTP client, or headless Chromium (default: the profile's harness.browser)")
    _console_options(demo)
    demo.set_defaults(func=_cmd_demo)

    run = commands.add_parser("run", help="run the VA suite against the SUT of a profile")
    run.add_argument("--profile", help="SUT profile (TOML); default: the embedded reference DRIMbox")
    run.add_argument("--fault", help="fault of the embedded reference DRIMbox (self-test)")
    run.add_argument(
        "--variant", help="conformant variant(s) of the embedded reference DRIMbox, comma-separated (python -m simulators.reference --list-variants)"
    )
    run.add_argument("--run-dir", help="folder for this run (default: <reports_dir>/<run id>)")
    run.add_argument("-k", dest="select", help="only the scenarios matching this pytest -k expression")
    run.add_argument("--items", help=ITEMS_HELP)
    run.add_argument(
        "--scenario", action="append", help="only the scenario of this stable id (B1-ORU, its @id: tag) or exact title (repeatable; the self-test runs a fault's targets so)"
    )
    run.add_argument(
        "--no-preflight", action="store_true",
        help="do not check, before the first scenario, that every address of the claimed items answers "
        "(DNS, TCP, TLS against the run's CA, HTTP); by default a scenario that needs an address that does not answer "
        "ends 'error' naming the profile key, the address and the cause (preflight.json in the run folder)",
    )
    run.add_argument("--browser", choices=("http", "chromium"), help="browser of the viewer scenarios: the built-in HTTP client, or headless Chromium (default: the profile's harness.browser)")
    _console_options(run)
    run.set_defaults(func=_cmd_run)

    selftest = commands.add_parser(
        "selftest", help="prove every scenario passes on the reference and fails on a fault of it"
    )
    selftest.add_argument("--out", default="reports/selftest.json", help="kill matrix file")
    selftest.add_argument("--jobs", type=int, default=3, help="runs in parallel (default 3: the runs mostly wait on sockets)")
    selftest.add_argument("--timeout", type=float, default=600.0, help="time limit of one run, seconds")
    selftest.add_argument(
        "--only", help="only these faults / variants (comma-separated; ris:<fault> for the RIS), with the faultless runs: "
        "a partial matrix that checks their targets but not that every scenario is killed"
    )
    selftest.set_defaults(func=_cmd_selftest)

    cover = commands.add_parser("coverage", help="per catalogue entry: its rule, the scenarios, faults and variants that exercise, kill and pass it; left-over entries marked")
    cover.add_argument("--json", action="store_true", help="JSON instead of the console table")
    cover.add_argument("--selftest", metavar="RUN_DIR", help="a self-test folder (default: the latest reports/selftest-*)")
    cover.add_argument("--html", metavar="FILE", help="also write the coverage as an HTML page (French) there")
    cover.set_defaults(func=_cmd_coverage)

    validate = commands.add_parser(
        "validate", help="validate captured files offline (HL7, CDA, ITI-41, KOS, trust list, WADO-RS)"
    )
    validate.add_argument("files", nargs="+", help="files or directories (read recursively) to validate; type detected from content")
    validate.add_argument("--dciodvfy", action="store_true", help="add dciodvfy's verdict on each DICOM file as a sub-report (says so when dciodvfy is not installed)")
    validate.add_argument("--type", choices=[t.value for t in FileType], help="read every file as this type instead of detecting it")
    validate.add_argument("--json", dest="json_out", help="also write the findings as JSON to this file ('-': stdout)")
    validate.add_argument("--profile", help="SUT profile whose [rules] settings apply")
    validate.add_argument("--strict", action="store_true", help="warnings make a file non-conformant too")
    validate.set_defaults(func=_cmd_validate)

    ris = commands.add_parser(
        "ris", help="the RIS is the system under test: play the DRIMbox and judge what the RIS sends"
    )
    ris.add_argument("--profile", help="RIS profile (TOML); default: the embedded RIS simulator")
    ris.add_argument("--count", type=int, help="end the session after this many reports")
    ris.add_argument("--duration", type=float, help="end the session after this many seconds at most")
    ris.add_argument("--step-wait", type=float, help="each step waits this many seconds for the RIS (default sut.ris.step_wait_s)")
    ris.add_argument("--fault", help="fault of the embedded RIS simulator (self-test)")
    ris.add_argument("--items", help="only these RIS items, comma-separated (RIS-1 … RIS-4); the others are reported not_run")
    ris.add_argument("--run-dir", help="folder for this run (default: <reports_dir>/<run id>)")
    ris.add_argument("--quiet", action="store_true", help="print only the final summary")
    ris.set_defaults(func=_cmd_ris)

    indicators = commands.add_parser(
        "indicators",
        help="service-continuity indicators: K, T, K/T, D_t, D_f, PERF, semestrial amount, tranche (AF-IMG-DB-Va2 §3.3, §5.3, §5.4)",
    )
    indicators.add_argument("--run", dest="run_dirs", action="append", default=[], help="a run folder whose evidence gives K and T (repeatable)")
    indicators.add_argument(
        "--journal",
        help="unavailability journal, CSV with the columns start (ISO 8601; without an offset: Europe/Paris time), "
        "duration_minutes, service (reponse_db_consommatrice | visualisation_lien_cr | appel_contextuel), cause (text), "
        "responsabilite (fournisseur | tiers); every problem is listed at once (line, column, value, what is allowed)",
    )
    indicators.add_argument("--semester-start", help="first day of the semester (YYYY-MM-DD), to check the journal's events")
    indicators.add_argument("--tranche", help="the tranche declared at order (A-H)")
    indicators.add_argument("--exams", type=int, help="annual reference exam count, to compute the tranche")
    indicators.add_argument("--k", type=int, help="K given directly (KOS sent to Mon espace santé)")
    indicators.add_argument("--t", type=int, help="T given directly (reports with a qualified INS and all imaging attributes)")
    indicators.add_argument(
        "--supplier-is-ris-supplier",
        action="store_true",
        help="AF §5.4: with T = 0 nothing is paid when the DRIMbox supplier also supplies the RIS (else K/T is deemed met)",
    )
    indicators.add_argument("--json", dest="json_out", help="also write the figures as JSON to this file ('-': stdout)")
    indicators.set_defaults(func=_cmd_indicators)

    soak = commands.add_parser("soak", help="send N reports at a given rate to the SUT and measure K/T and publication latency")
    soak.add_argument("--profile", help="SUT profile (TOML); default: the embedded reference DRIMbox")
    soak.add_argument("--count", type=int, default=100, help="reports to send (default 100)")
    soak.add_argument("--rate", type=float, default=10.0, help="reports per second (default 10)")
    soak.add_argument("--fault", help="fault of the embedded reference DRIMbox (to see a soak fail)")
    soak.add_argument("--json", dest="json_out", help="also write the figures as JSON to this file ('-': stdout)")
    soak.set_defaults(func=_cmd_soak)

    report = commands.add_parser("report", help="write the French HTML VA report of a run folder again (--pdf: and print it)")
    report.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (holds results.json and evidence/)")
    report.add_argument("--pdf", action="store_true", help="also print it to A4 PDF with headless Chromium")
    report.set_defaults(func=_cmd_report)

    sut_config = commands.add_parser(
        "sut-config",
        help="what the DRIMbox must be configured with, for the items it claims: certificates, counterparts, expectations",
    )
    sut_config.add_argument("--profile", help="SUT profile (TOML); default: the embedded reference")
    sut_config.add_argument("--json", action="store_true", help="print the bundle as JSON (default: the French text)")
    sut_config.add_argument(
        "--out", help="write the bundle into this folder: LISEZMOI.md, configuration.json, pki/ (keys 0600, never the CA key)"
    )
    sut_config.set_defaults(func=_cmd_sut_config)

    example = commands.add_parser(
        "example-profile", help="print the commented example profile of a DRIMbox (or, with --ris, of a RIS) to start yours from"
    )
    example.add_argument("--ris", action="store_true", help="the example profile of a RIS under test")
    example.set_defaults(func=_cmd_example_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ProfileError, UsageError) as error:
        print(f"drimva: {error}", file=sys.stderr)
        return 2
    except HarnessError as error:
        print(f"drimva: harness error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as error:
        signum = stop_signal(error)
        print(f"drimva: interrupted ({signum.name}); the evidence written so far is kept", file=sys.stderr)
        return signal_exit_code(signum)


if __name__ == "__main__":
    sys.exit(main())

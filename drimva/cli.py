"""drimva command line: ``demo``, ``run``, ``selftest``, ``sut-config``."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from drimva.installation import STEPS_DIR, VA_INI, build_label
from drimva.interruption import interruptible, signal_exit_code, stop_signal
from drimva.outcomes import HarnessError
from drimva.profile import Profile, ProfileError, load_profile
from drimva.va import VA_ITEMS, VaItem
from fixtures.embedded import list_faults
from fixtures.ris_process import list_ris_faults


class UsageError(ValueError):
    """A command line that cannot be run as given (exit code 2, like a bad profile)."""


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _update_latest(reports_dir: Path, run_dir: Path) -> None:
    latest = reports_dir / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError:
        pass  # a file system without symlinks keeps no "latest" link; the run folder is printed anyway


def check_fault(profile: Profile, fault: str | None) -> None:
    """``--fault`` names a fault of the profile's embedded SUT, else a usage error (exit 2) listing its faults.

    Called before anything starts; the faults are listed by the embedded SUT's
    own process (``--list-faults``), never imported."""
    if not fault:
        return
    if not profile.is_embedded:
        raise ProfileError("--fault applies to an embedded SUT only (sut.embedded = \"reference\" or \"ris-simulator\")")
    owner, faults = ("the RIS simulator", list_ris_faults()) if profile.is_ris else ("the reference DRIMbox", list_faults())
    if fault in {item["name"] for item in faults}:
        return
    width = max(len(item["name"]) for item in faults)
    listing = "\n".join(f"  {item['name']:<{width}}  {item.get('description', '')}".rstrip() for item in faults)
    raise ProfileError(f"unknown fault {fault!r} of {owner}; --fault takes one of:\n{listing}")


def run_suite(
    profile_path: str | None,
    *,
    run_dir: Path | None = None,
    fault: str | None = None,
    variant: str | None = None,
    select: str | None = None,
    quiet: bool = False,
    marker: str = "not ris",
    browser: str | None = None,
    items: tuple[str, ...] = (),
    scenarios: tuple[str, ...] = (),
    preflight: bool = True,
    extra_args: tuple[str, ...] = (),
) -> tuple[int, Path]:
    """Run the VA features against the profile's SUT; return (exit code, run folder).

    ``preflight``: probe the SUT's addresses before the first scenario (:mod:`drimva.preflight`).

    ``marker`` selects the features by tag: the DRIMbox VA suite is everything
    but ``@ris`` (the RIS-under-test mode selects ``ris``); ``items`` keeps the
    scenarios of those checklist items only, the others are ``not_run``. SIGINT and SIGTERM
    stop the run as Ctrl-C does (:mod:`drimva.interruption`): the results say
    so and the exit code is 130 or 143."""
    import pytest

    from drimva.results import RESULTS_FILE, exit_code, load_results, summary_lines

    profile = load_profile(profile_path)
    if profile.is_ris != (marker == "ris"):
        command = "drimva ris" if profile.is_ris else "drimva run"
        raise ProfileError(f"the profile {profile.source} describes a sut.kind = {profile.sut.kind!r}: use '{command}'")
    check_fault(profile, fault)
    if variant:
        _check_variant(variant, profile)
    reports_dir = profile.reports_folder
    if run_dir is None:
        run_dir = reports_dir / new_run_id()
        latest_of: Path | None = reports_dir
    else:
        run_dir = run_dir.resolve()  # the reference DRIMbox's process is handed paths inside it
        latest_of = None
    run_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(STEPS_DIR),
        "-c", str(VA_INI),
        "--rootdir", str(STEPS_DIR),
        "-p", "drimva.pytest_plugin",
        "-p", "fixtures.harness",
        "--drimva-run-dir", str(run_dir),
        "--junitxml", str(run_dir / "junit.xml"),
        "-o", "junit_suite_name=drimva-va",
        "--no-header",
        "--tb=no",  # findings are in the summary, results.json and the report; tracebacks in junit.xml
        "-q" if not quiet else "-qq",
    ]
    if profile_path:
        args += ["--drimva-profile", str(Path(profile_path).resolve())]
    if fault:
        args += ["--drimva-fault", fault]
    if variant:
        args += ["--drimva-variant", variant]
    if browser:
        args += ["--drimva-browser", browser]
    if not preflight:
        args += ["--drimva-no-preflight"]
    selection = [f"--items {','.join(items)}"] if items else []
    for title in scenarios:
        args.append(f"--drimva-scenario={title}")
    if scenarios:
        selection.append(f"--scenario ×{len(scenarios)}")
    if select:
        args += ["-k", select]
        selection.append(f"-k {select!r}")
    if items:
        marker = f"{marker} and ({' or '.join(items)})" if marker else " or ".join(items)
    if marker:
        args += ["-m", marker]
    if selection:
        args.append("--drimva-selection=" + " ".join(selection))  # "=": the value starts with "-"
    args += list(extra_args)
    with interruptible() as interruption:
        pytest_code = pytest.main(args)
    if latest_of is not None:
        _update_latest(latest_of, run_dir)
    if pytest_code == pytest.ExitCode.USAGE_ERROR:  # e.g. a -k expression pytest cannot read; it said why
        print("drimva: bad selection (pytest's message above)", file=sys.stderr)
        return 2, run_dir
    if not (run_dir / RESULTS_FILE).exists():
        if interruption.signum is not None:
            print(f"drimva: {interruption.signum.name} before the run could write its results", file=sys.stderr)
            return signal_exit_code(interruption.signum), run_dir
        print(f"drimva: the run produced no results (pytest exit code {pytest_code})", file=sys.stderr)
        return 3, run_dir
    results = load_results(run_dir)
    if pytest_code == pytest.ExitCode.NO_TESTS_COLLECTED and selection:
        print(f"drimva: no scenario matches {' '.join(selection)}", file=sys.stderr)
        return 2, run_dir
    if not quiet:
        print("\n".join(summary_lines(results)))
        print(f"  results: {run_dir / RESULTS_FILE}")
        print(f"  rapport VA: {run_dir / 'rapport-va.html'}")
    return exit_code(results), run_dir


def _check_variant(name: str, profile: Profile) -> None:
    """``--variant NAME``: the embedded reference DRIMbox only, and one of its variants."""
    from fixtures.embedded import UnknownVariant, find_variant

    if profile.sut.embedded != "reference":
        raise UsageError("--variant applies to the embedded reference DRIMbox only (sut.embedded = \"reference\")")
    try:
        find_variant(name)
    except UnknownVariant as error:
        raise UsageError(str(error)) from None


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
    )
    return code


def _cmd_demo(args: argparse.Namespace) -> int:
    code, _ = run_suite(None, select=args.select, browser=args.browser, items=parse_items(args.items, VA_ITEMS))
    return code


def parse_items(text: str | None, table: Sequence[VaItem]) -> tuple[str, ...]:
    """``--items VA-B1,VA-B3`` as item ids of ``table`` (case-insensitive), in the table's order."""
    if not text:
        return ()
    known = {item.id.upper(): item.id for item in table}
    asked = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [part for part in asked if part not in known]
    if unknown or not asked:
        raise UsageError(f"--items: unknown item(s) {', '.join(unknown) or repr(text)}; the items are {', '.join(known.values())}")
    return tuple(item.id for item in table if item.id.upper() in asked)


def _cmd_selftest(args: argparse.Namespace) -> int:
    from drimva.selftest import run_selftest

    names = {name.strip() for name in args.only.split(",") if name.strip()} if args.only else None
    return run_selftest(Path(args.out), jobs=args.jobs, timeout_s=args.timeout, names=names)


def _cmd_validate(args: argparse.Namespace) -> int:
    from drimva.validate import run_validate

    return run_validate(args.files, json_out=args.json_out, profile_path=args.profile, strict=args.strict)


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
    demo.set_defaults(func=_cmd_demo)

    run = commands.add_parser("run", help="run the VA suite against the SUT of a profile")
    run.add_argument("--profile", help="SUT profile (TOML); default: the embedded reference DRIMbox")
    run.add_argument("--fault", help="fault of the embedded reference DRIMbox (self-test)")
    run.add_argument(
        "--variant", help="conformant variant of the embedded reference DRIMbox (python -m simulators.reference --list-variants)"
    )
    run.add_argument("--run-dir", help="folder for this run (default: <reports_dir>/<run id>)")
    run.add_argument("-k", dest="select", help="only the scenarios matching this pytest -k expression")
    run.add_argument("--items", help=ITEMS_HELP)
    run.add_argument(
        "--scenario", action="append", help="only the scenario of this exact title (repeatable; the self-test runs a fault's targets so)"
    )
    run.add_argument("--quiet", action="store_true", help="print no summary")
    run.add_argument(
        "--no-preflight", action="store_true",
        help="do not check, before the first scenario, that every address of the claimed items answers "
        "(DNS, TCP, TLS against the run's CA, HTTP); by default a scenario that needs an address that does not answer "
        "ends 'error' naming the profile key, the address and the cause (preflight.json in the run folder)",
    )
    run.add_argument("--browser", choices=("http", "chromium"), help="browser of the viewer scenarios: the built-in HTTP client, or headless Chromium (default: the profile's harness.browser)")
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

    validate = commands.add_parser(
        "validate", help="validate captured files offline (HL7, CDA, ITI-41, KOS, trust list, WADO-RS)"
    )
    validate.add_argument("files", nargs="+", help="files to validate (type detected from content)")
    validate.add_argument("--json", dest="json_out", help="also write the findings as JSON to this file ('-': stdout)")
    validate.add_argument("--profile", help="SUT profile whose [rules] settings apply")
    validate.add_argument("--strict", action="store_true", help="warnings make a file non-conformant too")
    validate.set_defaults(func=_cmd_validate)

    ris = commands.add_parser(
        "ris", help="the RIS is the system under test: play the DRIMbox and judge what the RIS sends"
    )
    ris.add_argument("--profile", help="RIS profile (TOML); default: the embedded RIS simulator")
    ris.add_argument("--count", type=int, help="end the session after this many reports")
    ris.add_argument("--duration", type=float, help="end the session after this many seconds")
    ris.add_argument("--fault", help="fault of the embedded RIS simulator (self-test)")
    ris.add_argument("--items", help="only these RIS items, comma-separated (RIS-1 … RIS-4); the others are reported not_run")
    ris.add_argument("--run-dir", help="folder for this run (default: <reports_dir>/<run id>)")
    ris.add_argument("--quiet", action="store_true", help="print no summary")
    ris.set_defaults(func=_cmd_ris)

    indicators = commands.add_parser(
        "indicators",
        help="service-continuity indicators: K, T, K/T, D_t, D_f, PERF, semestrial amount, tranche (AF-IMG-DB-Va2 §3.3, §5.3, §5.4)",
    )
    indicators.add_argument("--run", dest="run_dirs", action="append", default=[], help="a run folder whose evidence gives K and T (repeatable)")
    indicators.add_argument("--journal", help="unavailability journal (CSV: start, duration_minutes, service, cause, responsabilite)")
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

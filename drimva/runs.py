"""The run library: one VA run of the features against a profile's SUT, and what a run needs.

``run_suite`` is what ``drimva run`` / ``demo`` / ``ris`` and the self-test
call; ``cli`` only parses arguments. :class:`UsageError` is a command line
that cannot be run as given (exit code 2).
"""

from __future__ import annotations

import os

import secrets
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from drimva.installation import STEPS_DIR, VA_INI
from drimva.interruption import interruptible, signal_exit_code
from drimva.profile import Profile, ProfileError, load_profile
from drimva.va import VaItem
from fixtures.embedded import list_faults
from fixtures.ris_process import list_ris_faults


class UsageError(ValueError):
    """A command line that cannot be run as given (exit code 2, like a bad profile)."""


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def update_latest(reports_dir: Path, run_dir: Path) -> None:
    latest = reports_dir / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError:
        pass  # a file system without symlinks keeps no "latest" link; the run folder is printed anyway


FAULTS_CHECKED = "DRIMVA_FAULTS_CHECKED"  # set by drimva selftest, which checked every fault name before its runs


def check_fault(profile: Profile, fault: str | None) -> None:
    """``--fault`` names a fault of the profile's embedded SUT, else a usage error (exit 2) listing its faults.

    Called before anything starts; the faults are listed by the embedded SUT's
    own process (``--list-faults``), never imported."""
    if not fault:
        return
    if not profile.is_embedded:
        raise ProfileError("--fault applies to an embedded SUT only (sut.embedded = \"reference\" or \"ris-simulator\")")
    if os.environ.get(FAULTS_CHECKED) == "1":  # the self-test listed the faults once for its ~160 runs
        return
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
    verbose: bool = False,
) -> tuple[int, Path]:
    """Run the VA features against the profile's SUT; return (exit code, run folder).

    ``preflight``: probe the SUT's addresses before the first scenario (:mod:`drimva.preflight`).

    ``marker`` selects the features by tag: the DRIMbox VA suite is everything
    but ``@ris`` (the RIS-under-test mode selects ``ris``); ``items`` keeps the
    scenarios of those checklist items only, the others are ``not_run``. SIGINT and SIGTERM
    stop the run as Ctrl-C does (:mod:`drimva.interruption`): the results say
    so and the exit code is 130 or 143.

    The suite runs in this process (``pytest.main``) with pytest's terminal
    reporter off: drimva's plugin prints a line per scenario and per item
    (:mod:`drimva.pytest_console`), this prints the summary; ``quiet``: the
    summary only; ``verbose``: pytest's own output as well."""
    import pytest

    from drimva.results import RESULTS_FILE, exit_code, load_results, summary_lines

    profile = load_profile(profile_path)
    if profile.is_ris != (marker == "ris"):
        command = "drimva ris" if profile.is_ris else "drimva run"
        raise ProfileError(f"the profile {profile.source} describes a sut.kind = {profile.sut.kind!r}: use '{command}'")
    check_fault(profile, fault)
    if variant:
        check_variant(variant, profile)
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
        "--drimva-run-dir", str(run_dir),  # junit.xml is written there from the results (drimva.junit)
        "--drimva-console", "quiet" if quiet else "normal",
    ]
    # findings are in the console, results.json and the report; pytest says nothing unless asked
    args += ["-v", "--tb=short"] if verbose else ["-p", "no:terminal"]
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
        update_latest(latest_of, run_dir)
    if pytest_code == pytest.ExitCode.USAGE_ERROR:  # e.g. a -k expression pytest cannot read; it said why
        print("drimva: sélection invalide (message de pytest ci-dessus)", file=sys.stderr)
        return 2, run_dir
    if not (run_dir / RESULTS_FILE).exists():
        if interruption.signum is not None:
            print(f"drimva: {interruption.signum.name} avant que l'exécution n'écrive ses résultats", file=sys.stderr)
            return signal_exit_code(interruption.signum), run_dir
        print(f"drimva: l'exécution n'a produit aucun résultat (code de sortie de pytest {pytest_code})", file=sys.stderr)
        return 3, run_dir
    results = load_results(run_dir)
    if pytest_code == pytest.ExitCode.NO_TESTS_COLLECTED and selection:
        print(f"drimva: aucun scénario ne correspond à {' '.join(selection)}", file=sys.stderr)
        return 2, run_dir
    print("\n".join(summary_lines(results)))
    print(f"  résultats : {run_dir / RESULTS_FILE}")
    print(f"  JUnit : {run_dir / 'junit.xml'}")
    print(f"  rapport VA : {run_dir / 'rapport-va.html'}")
    return exit_code(results), run_dir


def check_variant(names: str, profile: Profile) -> None:
    """``--variant NAME[,NAME…]``: the embedded reference DRIMbox only, and variants of it."""
    from fixtures.embedded import UnknownVariant, find_variants

    if profile.sut.embedded != "reference":
        raise UsageError("--variant applies to the embedded reference DRIMbox only (sut.embedded = \"reference\")")
    try:
        find_variants(names)
    except UnknownVariant as error:
        raise UsageError(str(error)) from None


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

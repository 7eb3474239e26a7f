"""``drimva ris``: the RIS is the system under test; the harness plays the DRIMbox.

Runs the ``@ris`` features (``features/ris.feature``) with the RIS fixtures
(``fixtures.ris_harness``): a DRIMbox Source MLLP listener and a DRIMbox Conso
contextual-call endpoint judge and answer what the RIS sends. With no
``--profile`` the SUT is the embedded RIS simulator
(``drimva/profiles/ris-reference.toml``); a real RIS is described by a profile
with ``sut.kind = "ris"`` (see ``drimva/profiles/example-ris.toml``). The run
folder and outcomes are those of ``drimva run``, with the RIS items
(``drimva.va.RIS_ITEMS``) in ``results.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import drimva.profiles
from drimva.profile import EMBEDDED_RIS_PROFILE, ProfileError

EMBEDDED_RIS = Path(drimva.profiles.__file__).resolve().parent / EMBEDDED_RIS_PROFILE


def ris_suite_args(count: int | None, duration: float | None) -> tuple[str, ...]:
    """The pytest arguments a RIS run adds to the VA suite's."""
    extra = ["-p", "fixtures.ris_harness"]
    if count is not None:
        if count < 1:
            raise ProfileError("--count must be at least 1")
        extra += ["--drimva-ris-count", str(count)]
    if duration is not None:
        if duration <= 0:
            raise ProfileError("--duration must be positive")
        extra += ["--drimva-ris-duration", str(duration)]
    return tuple(extra)


def run_ris(args: argparse.Namespace) -> int:
    from drimva.runs import parse_items, run_suite
    from drimva.va import RIS_ITEMS

    code, _ = run_suite(
        args.profile or str(EMBEDDED_RIS),
        run_dir=Path(args.run_dir) if args.run_dir else None,
        fault=args.fault,
        quiet=args.quiet,
        marker="ris",
        items=parse_items(getattr(args, "items", None), RIS_ITEMS),
        extra_args=ris_suite_args(args.count, args.duration),
    )
    return code

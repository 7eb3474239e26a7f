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
import os
import sys
from pathlib import Path

import drimva.profiles
from drimva.profile import EMBEDDED_RIS_PROFILE, ProfileError
from drimva.ris_operator import console_input_fd

EMBEDDED_RIS = Path(drimva.profiles.__file__).resolve().parent / EMBEDDED_RIS_PROFILE


def ris_suite_args(
    count: int | None, duration: float | None, step_wait: float | None = None, input_fd: int | None = None, tty: bool = False
) -> tuple[str, ...]:
    """The pytest arguments a RIS run adds to the VA suite's."""
    extra = ["-p", "fixtures.ris_harness"]
    if step_wait is not None:
        if step_wait <= 0:
            raise ProfileError("--step-wait must be positive")
        extra += ["--drimva-ris-step-wait", str(step_wait)]
    if input_fd is not None:
        extra += ["--drimva-ris-input-fd", str(input_fd)]
    if tty:
        extra.append("--drimva-ris-tty")
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
    """Run the RIS session; the console's input and whether it is a terminal are taken here, before pytest captures them."""
    from drimva.runs import parse_items, run_suite
    from drimva.va import RIS_ITEMS

    items = parse_items(getattr(args, "items", None), RIS_ITEMS)
    input_fd = console_input_fd() if args.profile else None  # the embedded RIS needs no operator
    try:
        code, _ = run_suite(
            args.profile or str(EMBEDDED_RIS),
            run_dir=Path(args.run_dir) if args.run_dir else None,
            fault=args.fault,
            quiet=args.quiet,
            marker="ris",
            items=items,
            extra_args=ris_suite_args(args.count, args.duration, getattr(args, "step_wait", None), input_fd,
                                      sys.stdout.isatty()),
        )
    finally:
        if input_fd is not None:
            os.close(input_fd)  # the reader thread never closes it (drimva.ris_operator)
    return code

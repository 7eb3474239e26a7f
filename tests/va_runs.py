"""``drimva run`` for the tests: a process of its own, as a user would start it, against the embedded reference.

``reference_profile`` writes the embedded profile with some tables added;
``run_va`` runs the suite and returns its ``results.json`` (``run_va_exit``: and its exit code).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE_PROFILE = REPO / "drimva" / "profiles" / "reference.toml"


def reference_profile(folder: Path, extra_toml: str) -> Path:
    """``folder/profile.toml``: the embedded reference profile plus ``extra_toml`` (tables it does not define)."""
    text = REFERENCE_PROFILE.read_text("utf-8")
    for table in re.findall(r"^\[([^\]]+)\]", extra_toml, re.MULTILINE):
        assert f"[{table}]" not in text, f"reference.toml already defines [{table}]: append to it instead"
    path = folder / "profile.toml"
    path.write_text(text + "\n" + extra_toml, "utf-8")
    return path


def run_va(run_dir: Path, *args: str, fault: str | None = None, profile: Path | None = None) -> dict[str, Any]:
    """``drimva run --run-dir RUN_DIR --quiet ARGS…`` (with ``--fault`` / ``--profile`` when given); its results."""
    return run_va_exit(run_dir, *args, fault=fault, profile=profile)[1]


def run_va_exit(
    run_dir: Path, *args: str, fault: str | None = None, profile: Path | None = None
) -> tuple[int, dict[str, Any]]:
    """:func:`run_va`, with the exit code of ``drimva run``."""
    command = [sys.executable, "-m", "drimva", "run", "--run-dir", str(run_dir), "--quiet", *args]
    if fault:
        command += ["--fault", fault]
    if profile:
        command += ["--profile", str(profile)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    results = run_dir / "results.json"
    assert results.exists(), f"no results (exit {done.returncode}): {done.stderr[-2000:]}"
    return done.returncode, json.loads(results.read_text("utf-8"))


def scenarios_by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {scenario["name"]: scenario for scenario in results["scenarios"]}

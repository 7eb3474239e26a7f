"""``drimva run`` for the tests: a process of its own, as a user would start it, against the embedded reference.

``reference_profile`` writes the embedded profile with some tables added or
some of its keys set; ``run_va`` runs the suite and returns its
``results.json`` (``scenarios``: those that ran; ``left_out``: those a
selection left out; ``run_va_exit``: and its exit code); ``run_drimva`` runs
any command and returns the process.
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
LEFT_OUT = "non sélectionné"


def reference_profile(folder: Path, extra_toml: str = "", settings: dict[str, str] | None = None) -> Path:
    """``folder/profile.toml``: the embedded reference profile plus ``extra_toml`` (tables it does not define),
    with ``settings`` (dotted keys it defines, to a TOML value: ``{"harness.pacs.port": "11112"}``) changed."""
    text = REFERENCE_PROFILE.read_text("utf-8")
    for table in re.findall(r"^\[([^\]]+)\]", extra_toml, re.MULTILINE):
        assert f"[{table}]" not in text, f"reference.toml already defines [{table}]: append to it instead"
    for key, value in (settings or {}).items():
        table, _, name = key.rpartition(".")
        line = re.compile(rf"^(\[{re.escape(table)}\]\n(?:[^\[].*\n|\n)*?){re.escape(name)} = .*$", re.MULTILINE)
        text, count = line.subn(lambda match: f"{match.group(1)}{name} = {value}", text)
        if count == 0 and f"[{table}]\n" in text:  # a key of a table it defines, left at its default
            text, count = text.replace(f"[{table}]\n", f"[{table}]\n{name} = {value}\n", 1), 1
        assert count == 1, f"reference.toml does not define [{table}]: add it with extra_toml"
    path = folder / "profile.toml"
    path.write_text(text + "\n" + extra_toml, "utf-8")
    return path


def run_drimva(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m drimva ARGS…`` in a process of its own, from the repository; never longer than ``timeout_s``."""
    command = [sys.executable, "-m", "drimva", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False)


def run_va(run_dir: Path, *args: str, fault: str | None = None, profile: Path | None = None) -> dict[str, Any]:
    """``drimva run --run-dir RUN_DIR --quiet ARGS…`` (with ``--fault`` / ``--profile`` when given); its results."""
    return run_va_exit(run_dir, *args, fault=fault, profile=profile)[1]


def run_va_exit(
    run_dir: Path, *args: str, fault: str | None = None, profile: Path | None = None
) -> tuple[int, dict[str, Any]]:
    """:func:`run_va`, with the exit code of ``drimva run``."""
    command = ["run", "--run-dir", str(run_dir), "--quiet", *args]
    if fault:
        command += ["--fault", fault]
    if profile:
        command += ["--profile", str(profile)]
    done = run_drimva(*command)
    results_file = run_dir / "results.json"
    assert results_file.exists(), f"no results (exit {done.returncode}): {done.stderr[-2000:]}"
    results: dict[str, Any] = json.loads(results_file.read_text("utf-8"))
    # the scenarios a -k / --items selection left out (not_run, "non sélectionné") apart from those that ran
    scenarios = results["scenarios"]
    results["left_out"] = [s for s in scenarios if s["message"].startswith(LEFT_OUT)]
    results["scenarios"] = [s for s in scenarios if not s["message"].startswith(LEFT_OUT)]
    return done.returncode, results


def scenarios_by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {scenario["name"]: scenario for scenario in results["scenarios"]}

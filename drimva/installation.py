"""Where an installed drimva finds its own files, and which build it is.

drimva runs from any folder, installed from a wheel or from a checkout: the
Gherkin features and the embedded profiles are package data
(``drimva/features``, ``drimva/profiles``), the VA suite's pytest
configuration sits beside its steps (``steps/va.ini``). Nothing here depends
on the current folder.

The version is the distribution's; the commit is read from the git checkout
the code runs from (an editable install), else from ``_commit.txt``, which
``setup.py`` writes into a built wheel.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata, util
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
FEATURES_DIR = PACKAGE_DIR / "features"


def _package_folder(name: str) -> Path:
    """A sibling top-level package's folder, found without importing it."""
    spec = util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"drimva is installed without its package {name!r}")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


STEPS_DIR = _package_folder("steps")
VA_INI = STEPS_DIR / "va.ini"
COMMIT_FILE = PACKAGE_DIR / "_commit.txt"
UNKNOWN = "unknown"


@cache
def version() -> str:
    try:
        return metadata.version("drimva")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return UNKNOWN


@cache
def commit() -> str:
    """The git commit of this build (``+dirty`` when a checkout has uncommitted changes), or ``unknown``."""
    checkout = _checkout_commit(PACKAGE_DIR.parent)
    if checkout:
        return checkout
    try:
        return COMMIT_FILE.read_text("ascii").strip() or UNKNOWN
    except OSError:
        return UNKNOWN


def build_label() -> str:
    """``0.1.0 (commit 1a2b3c4d5e6f)``: what ``drimva --version`` prints and every report carries."""
    return f"{version()} (commit {commit()})"


def _checkout_commit(folder: Path) -> str:
    if not (folder / ".git").exists():
        return ""
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if head.returncode != 0:
            return ""
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    dirty = "+dirty" if status.returncode == 0 and status.stdout.strip() else ""
    return head.stdout.strip() + dirty

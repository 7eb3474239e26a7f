"""The product code type-checks: mypy over drimva, simulators, fixtures, steps, scripts and dicombounds ([tool.mypy] in pyproject.toml).

A type error there is often a real bug (an Optional used as a value, a str
where bytes are expected); the tests themselves are not checked.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install -e '.[dev]' installs it)")
def test_the_product_code_type_checks() -> None:
    with tempfile.TemporaryDirectory(prefix="drimva-mypy-") as cache:
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--cache-dir", cache],
            cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

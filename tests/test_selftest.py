"""The self-test: every VA scenario passes on the reference DRIMbox and fails on a fault of it.

This runs ``drimva selftest`` (the faultless reference plus one run per fault,
each a separate process over the network) and checks the kill matrix.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drimva.oracles.dciodvfy import XDSI_MANIFEST_PROFILE, dciodvfy_available, run_dciodvfy

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(1800)  # the whole self-test: ~45 runs of the suite, about 5 min on 2 cores
def test_kill_matrix_is_complete(tmp_path: Path) -> None:
    out = ROOT / "reports" / "selftest.json"
    done = subprocess.run(
        [sys.executable, "-m", "drimva", "selftest", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    print(done.stdout[-6000:], done.stderr[-3000:])
    matrix = json.loads(out.read_text("utf-8"))
    assert matrix["problems"] == [], matrix["problems"]
    assert done.returncode == 0
    assert matrix["scenarios"], "no scenario ran"
    for key, row in matrix["scenarios"].items():
        assert row["reference"] == "passed", key
        assert row["killed_by"], key
    published = sorted((Path(matrix["runs_dir"]) / "reference" / "reference" / "state" / "kos").glob("*.dcm"))
    assert published, "the faultless reference published no KOS"
    check_with_dciodvfy(published)


def check_with_dciodvfy(files: list[Path]) -> None:
    """Every KOS the reference DRIMbox published passes dciodvfy in both modes (external oracle)."""
    if not dciodvfy_available():
        print("dciodvfy check skipped: dicom3tools is not installed (apt-get install dicom3tools)")
        return
    failures = []
    for path in files:
        for mode in (None, XDSI_MANIFEST_PROFILE):
            result = run_dciodvfy(path.read_bytes(), profile=mode)
            if result.errors or not result.ran:
                failures.append(f"{path.name} ({mode or '-new'}): {result.errors or result.problem}")
    assert failures == []

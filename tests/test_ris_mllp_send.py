"""A real MLLP client nobody here wrote (python-hl7's ``mllp_send``) sends a whole RIS session in one burst.

The listener files each CR and its ACK under the scenario the CR is (by
content), even though no scenario runs while the burst arrives. Whole
``drimva ris`` sessions driven by ``mllp_send`` (burst and paced) are in
``tests/test_ris_session.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drimva.evidence import EvidenceStore
from fixtures.ris_harness import ContentRouting, scenario_folder
from simulators.drimbox_source import DrimboxSourceSimulator, report_judge
from tests.test_ris_mode import OPTIONS, message, spec

MLLP_SEND = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "mllp_send"


def _mllp_send() -> str:
    found = str(MLLP_SEND) if MLLP_SEND.exists() else shutil.which("mllp_send")
    if not found:
        pytest.skip("mllp_send (python-hl7) is not installed: pip install hl7")
    return found


def test_mllp_send_burst_is_filed_by_content(tmp_path: Path) -> None:
    report = spec()
    session = [message(report, "ORU", "initial", "S1"), message(report, "MDM", "replace", "S2"),
               message(report, "ORU", "delete", "S3")]
    cr_file = tmp_path / "session.hl7"
    cr_file.write_bytes("\n".join(m.rstrip("\r") for m in session).encode("utf-8") + b"\n")
    store = EvidenceStore(tmp_path / "evidence")
    with DrimboxSourceSimulator(ContentRouting(store), report_judge(OPTIONS)) as listener:
        done = subprocess.run([_mllp_send(), "--loose", "-f", str(cr_file), "-p", str(listener.port), "127.0.0.1"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert listener.wait_for(lambda r: r.index == 2, 0, 10) is not None, done.stdout
    assert [r.judgement.claims for r in listener.received] == [{"initial"}, {"replace"}, {"delete"}]
    folders = {e.scenario for e in store.exchanges()}
    assert folders == {store.scenario_dir(scenario_folder(e)).name for e in ("initial", "replace", "delete")}

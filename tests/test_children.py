"""The harness's child processes: stopped when their start-up is cut short, escalated to SIGKILL, terminated at exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import pytest

from drimva.outcomes import HarnessError
from fixtures.children import await_ready, spawn, terminate

from paths import REPO
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"]


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_whose_start_up_is_interrupted_is_stopped(tmp_path: Path) -> None:
    process = spawn(SLEEPER)
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # Ctrl-C while the harness waits for the ready file
        with pytest.raises(KeyboardInterrupt):
            await_ready(process, tmp_path / "ready.json", 30.0, "the sleeper", tmp_path / "log")
        assert process.poll() is not None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        process.kill()
        process.wait(timeout=5)


def test_a_child_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    process = spawn(SLEEPER)
    try:
        with pytest.raises(HarnessError, match="the sleeper was not ready within 0.2 s"):
            await_ready(process, tmp_path / "ready.json", 0.2, "the sleeper", tmp_path / "log")
        assert process.poll() is not None
    finally:
        process.kill()
        process.wait(timeout=5)


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    process = spawn(STUBBORN, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "up\n"  # its SIGTERM handler is set
        started = time.monotonic()
        terminate(process, grace_s=0.5)
        assert process.returncode == -signal.SIGKILL and time.monotonic() - started < 5
    finally:
        process.kill()
        process.wait(timeout=5)


def test_a_child_left_running_is_terminated_when_the_harness_exits() -> None:
    script = (
        "import subprocess; from fixtures.children import spawn; "
        f"print(spawn({SLEEPER!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid, flush=True)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30, check=True)
    pid = int(done.stdout)
    if _alive(pid):  # not our child: a leftover would be reparented, not a zombie of ours
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the child {pid} outlived the harness")

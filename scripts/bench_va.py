#!/usr/bin/env python3
"""Benchmark: wall time of the VA suite against the embedded reference DRIMbox.

Runs ``drimva run`` (a fresh process each time, as a user would) N times and
prints the wall time of each run, the median and the slowest scenarios. It
measures; it asserts nothing (timing assertions do not belong in tests).

    .venv/bin/python scripts/bench_va.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls: list[float] = []
    scenario_times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="drimva-bench-") as tmp:
        for index in range(args.runs):
            run_dir = Path(tmp) / f"run{index}"
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "drimva", "run", "--run-dir", str(run_dir), "--quiet"],
                cwd=ROOT, capture_output=True, text=True, check=False,
            )
            wall = time.perf_counter() - started
            walls.append(wall)
            results = json.loads((run_dir / "results.json").read_text("utf-8"))
            for scenario in results["scenarios"]:
                scenario_times.setdefault(scenario["name"], []).append(scenario["duration_s"])
            print(f"run {index + 1}: {wall:.2f} s wall, suite {results['duration_s']:.2f} s, "
                  f"exit {done.returncode}, {results['scenario_counts']}")
    print(f"median wall time: {statistics.median(walls):.2f} s over {len(walls)} runs")
    print("slowest scenarios (median s):")
    ranked = sorted(scenario_times.items(), key=lambda kv: -statistics.median(kv[1]))
    for name, times in ranked[:5]:
        print(f"  {statistics.median(times):5.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

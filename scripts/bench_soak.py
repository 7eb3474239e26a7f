#!/usr/bin/env python3
"""Benchmark: ``drimva soak`` against the embedded reference DRIMbox at several rates.

Runs ``drimva soak --count N --rate R --json -`` (a fresh process each time,
as a user would) for each rate and prints sent, K/T, the achieved send rate,
the ACK throughput and the publication latency. The issue asks for at least
10 reports per second sustained against the reference on a 2-core machine;
this script measures it, it asserts nothing.

    .venv/bin/python scripts/bench_soak.py [--count 200] [--rates 10 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "drimva" / "profiles" / "reference.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 20.0])
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; {args.count} reports per run")
    with tempfile.TemporaryDirectory(prefix="drimva-soak-bench-") as tmp:
        profile = Path(tmp) / "profile.toml"
        text = PROFILE.read_text("utf-8").replace("[harness]\n", f'[harness]\nreports_dir = "{Path(tmp) / "reports"}"\n')
        profile.write_text(text, "utf-8")
        for rate in args.rates:
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "drimva", "soak", "--profile", str(profile), "--count", str(args.count),
                 "--rate", str(rate), "--json", str(Path(tmp) / "figures.json")],
                cwd=ROOT, capture_output=True, text=True, check=False,
            )
            wall = time.perf_counter() - started
            figures_file = Path(tmp) / "figures.json"
            if not figures_file.exists():
                print(f"rate {rate:g}/s: no figures (exit {done.returncode}): {done.stderr.strip()[-400:]}")
                continue
            f = json.loads(figures_file.read_text("utf-8"))
            figures_file.unlink()
            print(
                f"asked {rate:5.1f}/s: sent {f['sent']}, AA {f['acked_aa']}, K/T {f['k']}/{f['t']} = {f['kt']:.2%}; "
                f"send rate {f['send_rate']:.2f}/s, ACK throughput {f['ack_throughput']:.2f}/s; latency median "
                f"{f['latency_median_s']} s, p95 {f['latency_p95_s']} s, max {f['latency_max_s']} s; "
                f"exit {done.returncode}, {wall:.1f} s wall"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

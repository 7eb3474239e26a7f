"""Benchmark of ``drimva validate DIR`` on a KOS history export, against dciodvfy in the same run.

Generates N conformant KOS (one ``fixtures.studies.make_kos`` manifest, then
its SOP Instance UID and content time varied per file, as the versions of a
service's KOS history) into a temporary folder, runs ``drimva validate DIR``
as a user would (a process of its own, every core), then dciodvfy spawned per
file on a sample of them, and prints both rates and their ratio.

    .venv/bin/python scripts/bench_validate.py [-n 10000] [--sample 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydicom.uid import generate_uid

from drimva.context import Patient
from drimva.dicom_text import part10_bytes
from fixtures.studies import make_kos, make_study

PATIENT = Patient(ins="279035121518989", ipp="IPP101", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")


def generate(folder: Path, count: int) -> list[Path]:
    """``count`` KOS of one study, 1 000 per sub-folder (an export is a tree)."""
    study = make_study(PATIENT, "ACC1", series=(("CT", 3), ("MR", 2)), accession_issuer="1.2.250.1.999.1")
    kos = make_kos(
        study, PATIENT, accession="ACC1", accession_issuer="1.2.250.1.999.1", order_id="ORD1",
        order_root="1.2.250.1.999.2", wado_base_url="https://db.example.fr/wado", retrieve_location_uid="1.2.250.1.999.3",
    )
    paths = []
    for index in range(count):
        kos.SOPInstanceUID = generate_uid()
        kos.file_meta.MediaStorageSOPInstanceUID = kos.SOPInstanceUID
        kos.ContentTime = f"{index // 3600 % 24:02d}{index // 60 % 60:02d}{index % 60:02d}"
        path = folder / f"{index // 1000:02d}" / f"kos-{index:05d}.dcm"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(part10_bytes(kos))
        paths.append(path)
    return paths


def time_validate(folder: Path) -> tuple[float, int]:
    command = [sys.executable, "-m", "drimva", "validate", str(folder), "--json", os.devnull]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=3600, check=False)
    return time.perf_counter() - start, done.returncode


def time_dciodvfy(paths: list[Path]) -> float | None:
    executable = shutil.which("dciodvfy")
    if executable is None:
        return None
    start = time.perf_counter()
    for path in paths:
        subprocess.run([executable, "-new", str(path)], capture_output=True, timeout=60, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="number of KOS files (default 10000)")
    parser.add_argument("--sample", type=int, default=200, help="files dciodvfy is run on, one process each (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drimva-bench-") as tmp:
        folder = Path(tmp)
        paths = generate(folder, args.n)
        elapsed, code = time_validate(folder)
        rate = args.n / elapsed
        print(f"drimva validate: {args.n} KOS in {elapsed:.1f} s = {rate:.0f} KOS/s on {os.cpu_count()} core(s) (exit {code})")
        dciodvfy = time_dciodvfy(paths[: args.sample])
    if dciodvfy is None:
        print("dciodvfy: not installed (apt package dicom3tools): no ratio")
    else:
        other = min(args.sample, args.n) / dciodvfy
        print(f"dciodvfy per file: {min(args.sample, args.n)} KOS in {dciodvfy:.1f} s = {other:.0f} KOS/s")
        print(f"ratio drimva / dciodvfy: {rate / other:.1f}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

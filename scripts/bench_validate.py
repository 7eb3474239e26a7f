"""Benchmark of ``drimva validate`` on generated KOS files (target: ≥ 200 KOS/s).

Generates N conformant KOS (``fixtures.studies.make_study`` + ``make_kos``)
into a temporary folder, then validates them in one process through the
command's code path (``drimva.validate.validate_paths``, no console output)
and prints files per second.

    .venv/bin/python scripts/bench_validate.py [-n 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drimva.context import Patient
from drimva.dicom_text import part10_bytes
from drimva.validate import validate_paths
from fixtures.studies import make_kos, make_study

PATIENT = Patient(ins="279035121518989", ipp="IPP101", birth_name="PAT-TROIS", given_name="DOMINIQUE", birth_date="19790328", sex="F")


def generate(folder: Path, count: int) -> list[Path]:
    study = make_study(PATIENT, "ACC1", series=(("CT", 3), ("MR", 2)), accession_issuer="1.2.250.1.999.1")
    paths = []
    for index in range(count):
        kos = make_kos(
            study, PATIENT, accession="ACC1", accession_issuer="1.2.250.1.999.1", order_id=f"ORD{index}",
            order_root="1.2.250.1.999.2", wado_base_url="https://db.example.fr/wado", retrieve_location_uid="1.2.250.1.999.3",
        )
        path = folder / f"kos-{index:05d}.dcm"
        path.write_bytes(part10_bytes(kos))
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="number of KOS files (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drimva-bench-") as tmp:
        paths = generate(Path(tmp), args.n)
        start = time.perf_counter()
        results, problems = validate_paths(paths)
        elapsed = time.perf_counter() - start
    bad = [r.path for r in results if not r.conformant]
    print(f"{len(results)} KOS validated in {elapsed:.2f} s: {len(results) / elapsed:.0f} KOS/s"
          f" ({len(bad)} not conformant, {len(problems)} usage errors)")
    return 0 if not bad and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

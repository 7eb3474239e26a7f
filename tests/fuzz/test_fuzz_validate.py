"""Fixed-seed mutation fuzzing of ``drimva validate`` (issue 13 §4, the validate part).

Valid artefacts of every type ``validate`` reads (HL7 report, CDA, ITI-41
request and MTOM response captures, trust list, KOS, WADO-RS request and
response captures) are mutated (bytes flipped, ranges cut, duplicated or
inserted, truncation, XML attacks spliced in); every mutant must get a
verdict or a "not judged" reason, no rule may hit an unexpected exception,
and the command must exit 0, 1 or 2 with no traceback, within bounded time.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers of tests/

from drimva.cli import main  # noqa: E402
from drimva.mime import build_multipart_related  # noqa: E402
from drimva.profile import DEFAULT_VIEWER_TEMPLATE  # noqa: E402
from drimva.validate import INTERNAL_ERROR, validate_paths  # noqa: E402
from drimva.xds import ACTION_ITI41_RESPONSE, RESPONSE_SUCCESS, registry_response, soap_envelope  # noqa: E402
from fixtures.cda import build_cda  # noqa: E402
from fixtures.reports import new_report_spec  # noqa: E402
from fixtures.identities import new_patient  # noqa: E402
from paths import SHARED  # noqa: E402
from test_validate import WADO, kos_bytes, report  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on every corrupt element

SEED = 20261202
MUTANTS_PER_SEED = int(os.environ.get("DRIMVA_FUZZ_INPUTS", "150"))  # the long run: DRIMVA_FUZZ_INPUTS=10000
SECONDS_PER_150 = 60  # the bound of a run, scaled: a hang, not a speed target (1 200 files take about 5 s)
PUBLICATION = SHARED / "poc-samples" / "XDS" / "publication.xml"
TRUST_LIST = next(iter(sorted((SHARED / "ans-samples" / "Referencement-DRIMBox").rglob("LISTEBLANCHE*.xml"))), None) if SHARED.is_dir() else None
SPLICES = (
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b"&b;", b"\x00", b"\xff\xfe", b"]]>", b"<!--", b"\r\n\r\n", b"--boundary--", b"|^~\\&", b"\\" * 500,
)


def _response_capture() -> bytes:
    envelope = soap_envelope(ACTION_ITI41_RESPONSE, registry_response(RESPONSE_SUCCESS, []), relates_to="urn:uuid:1")
    body, content_type = build_multipart_related([([("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
                                                     ("Content-ID", "<root@drimva>")], envelope)])
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode() + body


def seeds() -> dict[str, bytes]:
    out = {
        "report.hl7": report().encode(),
        "cda.xml": build_cda(new_report_spec(new_patient(random.Random(4)), "1.2.826.0.1.3680043.8.498.1", ("CT",),
                                             viewer_url_template=DEFAULT_VIEWER_TEMPLATE, rng=random.Random(9))),
        "response.http": _response_capture(),
        "kos.dcm": kos_bytes(),
        "wado-request.txt": WADO.format(extra="").encode(),
        "wado-response.txt": b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\n\r\n--b\r\nContent-Type: application/dicom\r\n\r\n"
        + kos_bytes() + b"\r\n--b--\r\n",
    }
    if PUBLICATION.is_file():
        out["publication.xml"] = PUBLICATION.read_bytes()
    if TRUST_LIST is not None:
        out["trust-list.xml"] = TRUST_LIST.read_bytes()
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of ``data``."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(buffer) + 1)
        operation = rng.choice(("flip", "cut", "duplicate", "insert", "truncate", "splice"))
        if operation == "flip" and buffer:
            index = min(position, len(buffer) - 1)
            buffer[index] ^= 1 << rng.randrange(8)
        elif operation == "cut":
            del buffer[position:position + rng.randint(1, 64)]
        elif operation == "duplicate":
            buffer[position:position] = buffer[position:position + rng.randint(1, 256)] * rng.randint(1, 4)
        elif operation == "insert":
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif operation == "truncate":
            del buffer[position:]
        else:
            buffer[position:position] = rng.choice(SPLICES)
    return bytes(buffer)


def test_seeds_cover_every_type_validate_reads() -> None:
    if not PUBLICATION.is_file() or TRUST_LIST is None:
        pytest.skip(f"shared samples not found under {SHARED}: the ITI-41 request and trust-list seeds come from them")
    results, problems = validate_paths([], workers=1)
    assert (results, problems) == ([], [])
    assert len(seeds()) == 8


def test_mutants_always_get_a_verdict_or_a_reason_in_bounded_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    written = []
    for name, data in seeds().items():
        (tmp_path / "seeds").mkdir(exist_ok=True)
        for index in range(MUTANTS_PER_SEED):
            path = tmp_path / "mutants" / f"{index:05d}-{name}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(mutate(data, rng))
            written.append(path)
    start = time.perf_counter()
    results, problems = validate_paths([tmp_path / "mutants"], workers=1)
    elapsed = time.perf_counter() - start
    internal = [p for p in problems if INTERNAL_ERROR in p]
    with capsys.disabled():
        print(f"\nfuzz validate: {len(written)} fichiers ({MUTANTS_PER_SEED} par type), {len(results)} verdicts, "
              f"{len(problems)} non lus avec leur raison, {len(internal)} exceptions de règle, en {elapsed:.0f} s")
    assert elapsed < SECONDS_PER_150 * max(1, MUTANTS_PER_SEED / 150), f"{len(written)} mutants took {elapsed:.0f} s"
    assert len(results) + len(problems) == len(written)  # every file: a verdict or a reason
    assert internal == [], "rules that raised:\n" + "\n".join(internal[:10])
    assert all(r.outcome in ("conforme", "non conforme", "non jugé") for r in results)
    code = main(["validate", str(tmp_path / "mutants"), "--json", str(tmp_path / "out.json")])
    captured = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "Traceback" not in captured.out + captured.err

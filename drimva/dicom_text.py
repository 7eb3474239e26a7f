"""DICOM datasets as evidence: raw bytes and a readable dump.

Simulators and rules log DICOM exchanges (C-FIND identifiers, C-STORE data
sets, KOS files) to the evidence store; these helpers give the bytes to keep
and the text a human reads. They do no I/O.
"""

from __future__ import annotations

from io import BytesIO
from typing import Iterable

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import dcmread
from pydicom.filewriter import dcmwrite, write_dataset

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"


def dataset_bytes(ds: Dataset, implicit_vr: bool = False) -> bytes:
    """Encode a data set (no preamble, no file meta) in little endian, Explicit VR by default."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit_vr
    write_dataset(fp, ds)
    return fp.getvalue()


def part10_bytes(ds: Dataset) -> bytes:
    """Encode a data set with its file meta as a DICOM Part-10 file (the meta must be set)."""
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def read_part10(data: bytes) -> Dataset:
    """Parse Part-10 bytes (or a bare Explicit/Implicit data set when there is no preamble)."""
    return dcmread(BytesIO(data), force=True)


def dump_dataset(ds: Dataset, title: str = "") -> str:
    """A readable dump of a data set (pydicom's text form, file meta first when present)."""
    lines: list[str] = []
    if title:
        lines.append(f"# {title}")
    meta = getattr(ds, "file_meta", None)
    if meta is not None and len(meta):
        lines.append("# File meta")
        lines.append(str(meta))
        lines.append("# Data set")
    lines.append(str(ds) if len(ds) else "(empty data set)")
    return "\n".join(lines) + "\n"


def dump_lines(pairs: Iterable[tuple[str, object]]) -> str:
    """``key: value`` lines, for the association and response details next to a dump."""
    return "".join(f"{key}: {value}\n" for key, value in pairs)

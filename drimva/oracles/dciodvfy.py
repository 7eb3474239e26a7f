"""dciodvfy (dicom3tools) as an external oracle for DICOM objects, the KOS first.

``run_dciodvfy`` writes the bytes to a temporary file and runs
``dciodvfy -new [-profile <name>] <file>``; ``-new`` makes dciodvfy print the
location of each message as a path (``</Seq(gggg,eeee)[1]/Attr(gggg,eeee)>``).
Its messages start with ``Error - `` or ``Warning - `` and go to stderr; the
exit status is 1 when it found errors. The profile used for the XDS-I.b
manifest is ``IHEXDSIManifest``, which makes RetrieveAETitle (0008,0054) and
RetrieveLocationUID (0040,E011) Type 1 in every Referenced Series item.
What its messages mean for the object is judged by :mod:`drimva.rules.dciodvfy`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

DCIODVFY = "dciodvfy"
XDSI_MANIFEST_PROFILE = "IHEXDSIManifest"


@dataclass(frozen=True)
class OracleResult:
    """What one run of dciodvfy said."""

    available: bool
    command: tuple[str, ...] = ()
    returncode: int | None = None
    output: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    iod: str = ""  # the IOD (and profile) dciodvfy recognised, e.g. "KeyObjectSelectionDocument"
    problem: str = ""  # why the tool could not judge (absent, timeout); empty when it ran

    @property
    def ran(self) -> bool:
        return self.available and not self.problem


def dciodvfy_available() -> bool:
    return shutil.which(DCIODVFY) is not None


def run_dciodvfy(data: bytes, profile: str | None = None, timeout: float = 30) -> OracleResult:
    """Run dciodvfy on Part-10 bytes; never raises for what the tool says."""
    executable = shutil.which(DCIODVFY)
    if executable is None:
        return OracleResult(available=False, problem="dciodvfy not installed (apt package dicom3tools)")
    handle, path = tempfile.mkstemp(suffix=".dcm", prefix="drimva-dciodvfy-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        command = [executable, "-new"]
        if profile:
            command += ["-profile", profile]
        command.append(path)
        shown = tuple(command[:-1] + ["<file>"])
        try:
            completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return OracleResult(available=True, command=shown, problem=f"dciodvfy timed out after {timeout} s")
    finally:
        os.unlink(path)
    output = (completed.stdout + completed.stderr).decode("utf-8", "replace")
    errors, warnings, iod = _parse(output)
    return OracleResult(
        available=True,
        command=shown,
        returncode=completed.returncode,
        output=output,
        errors=errors,
        warnings=warnings,
        iod=iod,
    )


def _parse(output: str) -> tuple[list[str], list[str], str]:
    errors: list[str] = []
    warnings: list[str] = []
    iod = ""
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Error - "):
            errors.append(line[len("Error - ") :])
        elif line.startswith("Warning - "):
            warnings.append(line[len("Warning - ") :])
        elif line and not iod and re.fullmatch(r"[A-Za-z0-9]+", line):
            iod = line
    return errors, warnings, iod

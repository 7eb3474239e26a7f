"""dciodvfy (dicom3tools) as an external oracle for DICOM objects, the KOS first.

``run_dciodvfy`` writes the bytes to a temporary file and runs
``dciodvfy -new [-profile <name>] <file>``; ``-new`` makes dciodvfy print the
location of each message as a path (``</Seq(gggg,eeee)[1]/Attr(gggg,eeee)>``).
Its messages start with ``Error - `` or ``Warning - `` and go to stderr; the
exit status is 1 when it found errors. The profile used for the XDS-I.b
manifest is ``IHEXDSIManifest``, which makes RetrieveAETitle (0008,0054) and
RetrieveLocationUID (0040,E011) Type 1 in every Referenced Series item.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from drimva.findings import Finding, FindingList, Severity

DCIODVFY = "dciodvfy"
XDSI_MANIFEST_PROFILE = "IHEXDSIManifest"
RULE = "DCIODVFY"

_PATH = re.compile(r"^</([^>]*)>\s*-\s*(.*)$")
_COMPONENT = re.compile(r"\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)(?:\[(\d+)\])?$")


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


def oracle_findings(result: OracleResult, mode_label: str) -> list[Finding]:
    """One ERROR finding per dciodvfy error, one WARNING per warning; a WARNING if it could not run."""
    findings = FindingList(source=f"dciodvfy {mode_label}")
    requirement = f"DICOM PS3.3 IOD conformance as checked by dciodvfy ({mode_label})"
    if not result.ran:
        findings.add(RULE, requirement, "(file)", "dciodvfy verdict", f"not run: {result.problem}", Severity.WARNING)
        return findings.items
    for severity, messages in ((Severity.ERROR, result.errors), (Severity.WARNING, result.warnings)):
        for message in messages:
            location, text = split_location(message)
            findings.add(RULE, requirement, location, "no dciodvfy " + severity.value, text, severity)
    return findings.items


def split_location(message: str) -> tuple[str, str]:
    """``</A(0040,a375)[1]/B(0008,1115)[2]/C(0008,0054)> - text`` -> ``(0040,A375)[0]>(0008,1115)[1]>(0008,0054)``."""
    match = _PATH.match(message)
    if not match:
        return "(file)", message
    parts: list[str] = []
    components = match.group(1).split("/")
    for position, component in enumerate(components):
        tag = _COMPONENT.search(component)
        if tag is None:
            parts.append(component)
            continue
        text = f"({tag.group(1).upper()},{tag.group(2).upper()})"
        if tag.group(3) and position < len(components) - 1:  # item index of a sequence, 1-based
            text += f"[{int(tag.group(3)) - 1}]"
        parts.append(text)
    return ">".join(parts), match.group(2)


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

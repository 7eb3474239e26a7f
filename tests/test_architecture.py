"""The judge never imports the judged (ARCHITECTURE.md, rules of the house)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUDGE_PACKAGES = ("drimva", "steps", "fixtures", "simulators")
REFERENCE = "simulators.reference"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_nothing_outside_the_reference_imports_it() -> None:
    offenders = []
    for package in JUDGE_PACKAGES:
        for path in _python_files(package):
            if (ROOT / "simulators" / "reference") in path.parents:
                continue
            bad = {n for n in _imports(path) if n == REFERENCE or n.startswith(REFERENCE + ".")}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_the_reference_imports_nothing_of_the_judge() -> None:
    offenders = []
    for path in _python_files("simulators/reference"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ("drimva", "steps", "fixtures") or (
                name.startswith("simulators.") and not name.startswith(REFERENCE)
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_rules_are_pure() -> None:
    """Rules take artefacts and return findings: no simulators, sockets or subprocesses."""
    forbidden = ("simulators", "fixtures", "steps", "socket", "subprocess", "httpx", "pynetdicom")
    offenders = []
    for path in _python_files("drimva/rules"):
        for name in _imports(path):
            if name.split(".")[0] in forbidden:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_nothing_imports_the_faulty_ris_process() -> None:
    """In RIS mode the RIS simulator process is the judged: reached only over the network."""
    judged = ("simulators.ris.session", "simulators.ris.faults", "simulators.ris.__main__")
    offenders = []
    for package in JUDGE_PACKAGES:
        for path in _python_files(package):
            if (ROOT / "simulators" / "ris") in path.parents:
                continue
            bad = {n for n in _imports(path) if n.startswith(judged)}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []

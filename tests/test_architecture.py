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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports, at top level or inside a function alike."""
    modules = {_module_name(path): path for path in _python_files(package)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # "from drimva.x import y" names drimva.x and drimva.x.y: keep the ones that are modules
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_drimva() -> None:
    """A module of drimva never imports, even lazily inside a function, one that imports it back
    (``cli`` parses arguments; what a run does is in ``runs``, which the commands import)."""
    assert _cycles(_import_graph("drimva")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

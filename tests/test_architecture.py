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


def test_dicombounds_is_neither_judge_nor_judged() -> None:
    """The SCP bounds both the simulators and the reference DRIMbox use import nothing of either side."""
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_files("dicombounds")
        for name in _imports(path)
        if name.split(".")[0] in ("drimva", "steps", "fixtures", "simulators")
    ]
    assert offenders == []
    assert list(_python_files("dicombounds")), "no dicombounds package"


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


# -- steps only drive, call rules and record (issue 11 §2) ------------------------------------

VERDICT_METHODS = {"judge", "note", "precondition", "reject"}
JUDGEMENT_NAMES = {"Finding", "Severity", "FindingList"}  # building or weighing a finding is a rule's work


def _findings_argument_is_a_rule_call(node: ast.expr) -> bool:
    """What a step hands to the verdict: a rule's answer (a call, a name bound to one, their sum) or nothing (``[]``)."""
    if isinstance(node, (ast.Call, ast.Name, ast.Attribute)):
        return True
    if isinstance(node, ast.List):
        return not node.elts
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _findings_argument_is_a_rule_call(node.left) and _findings_argument_is_a_rule_call(node.right)
    return False  # a list comprehension, an if-expression, a literal list of findings: a verdict decided in the step


def _findings_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and "finding" in node.id.lower()


def judgement_in_step(source: str, name: str = "<step>") -> list[str]:
    """Where a step module judges instead of calling a rule: each offence as ``name:line: what``.

    It refuses: a ``Finding`` / ``Severity`` / ``FindingList`` called or read from (constructing
    or weighing a finding; as a type annotation it is fine); a verdict method given anything but a rule's answer (a list
    comprehension filtering findings, ``[] if x == y else [...]``); a findings list grown
    or built in the step (``findings.append``, ``findings = [f for …]``).
    """
    offences: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        line = getattr(node, "lineno", 0)
        used = node.func if isinstance(node, ast.Call) else node.value if isinstance(node, ast.Attribute) else None
        if isinstance(used, ast.Name) and used.id in JUDGEMENT_NAMES:  # Finding(…), Severity.WARNING; annotations are fine
            offences.append(f"{name}:{line}: uses {used.id}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, owner = node.func.attr, node.func.value
            if method in VERDICT_METHODS and isinstance(owner, ast.Name) and owner.id == "verdict":
                if len(node.args) >= 2 and not _findings_argument_is_a_rule_call(node.args[1]):
                    offences.append(f"{name}:{line}: verdict.{method} given findings built in the step")
            elif method in ("append", "insert", "extend") and _findings_name(owner):
                offences.append(f"{name}:{line}: {ast.unparse(owner)}.{method} in a step")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_findings_name(t) for t in targets) and not _findings_argument_is_a_rule_call(node.value):
                offences.append(f"{name}:{line}: findings built in the step")
    return offences


def test_steps_build_no_finding_and_decide_no_verdict_themselves() -> None:
    offences = []
    for path in _python_files("steps"):
        offences += judgement_in_step(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    assert offences == []


def test_the_step_judgement_check_finds_each_kind_of_offence() -> None:
    """The check above can fail: each way a step used to judge is caught."""
    bad = '''
from drimva.findings import Finding, Severity
def a(verdict, status):
    verdict.judge("x", [] if status == 400 else [Finding("CALL-400", "", "HTTP status", "400", str(status))])
def b(verdict, found):
    verdict.judge("x", [f for f in found if f.rule != "ACK-MSA1"])
def c(verdict, found):
    findings = []
    findings.append(found)
    verdict.judge("x", findings)
def d(verdict, found):
    findings = [f for f in found if f.severity == Severity.ERROR]
    verdict.note("x", findings)
'''
    found = judgement_in_step(bad)
    assert [o.split(": ", 1)[1] for o in found if o.startswith("<step>:4")] == [
        "verdict.judge given findings built in the step", "uses Finding",
    ]
    assert "<step>:6: verdict.judge given findings built in the step" in found
    assert "<step>:9: findings.append in a step" in found
    assert "<step>:12: findings built in the step" in found and "<step>:12: uses Severity" in found
    good = '''
from drimva.rules.consultation import check_call_refused
def a(verdict, status, more):
    findings = check_call_refused(status) + more
    verdict.judge("x", findings)
    verdict.judge("y", [])
'''
    assert judgement_in_step(good) == []


def test_rules_sign_nothing() -> None:
    """Rules verify signatures; the signers (trust list, …) live beside the simulators that use them."""
    signing = []
    for path in _python_files("drimva/rules"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sign":
                signing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.FunctionDef) and node.name.startswith("sign_"):
                signing.append(f"{path.relative_to(ROOT)}:{node.lineno}: def {node.name}")
    assert signing == []


# -- only rules make findings (issue 11 §2: one home for judgement) -----------------------------

FINDING_MAKERS = {"Finding", "FindingList"}
MAY_MAKE_FINDINGS = ("drimva/rules/", "drimva/findings.py")  # the rules, and the finding model itself


def finding_constructions(source: str, name: str = "<module>") -> list[str]:
    """Where a module builds a finding: ``Finding(…)``, ``FindingList(…)``, also as ``findings.Finding(…)``."""
    offences = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in FINDING_MAKERS:
            offences.append(f"{name}:{node.lineno}: {called}(…)")
    return offences


def test_no_module_outside_the_rules_constructs_a_finding() -> None:
    """drimva, steps, fixtures and the simulators hand findings on; only drimva/rules/ makes them."""
    offences = []
    for package in JUDGE_PACKAGES:
        for path in _python_files(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(MAY_MAKE_FINDINGS) or relative.startswith("simulators/reference/"):
                continue
            offences += finding_constructions(path.read_text("utf-8"), relative)
    assert offences == []


def test_the_finding_construction_check_finds_each_form() -> None:
    bad = '''
from drimva import findings
from drimva.findings import Finding, FindingList
def a(error):
    return [Finding("HL7-PARSE", "", "MSH", "an HL7 v2 message", error)]
def b(error):
    out = FindingList()
    out.add("XDS-PARSE", "", "(file)", "a readable ITI-41 request", error)
    return [findings.Finding("X-Y", "", "l", "e", "a")] + out.items
'''
    assert sorted(o.split(": ", 1)[0] + ": " + o.split(": ", 1)[1] for o in finding_constructions(bad)) == [
        "<module>:5: Finding(…)", "<module>:7: FindingList(…)", "<module>:9: Finding(…)",
    ]
    good = '''
from drimva.findings import Finding
from drimva.rules.hl7_report import unreadable_message
def a(error) -> list[Finding]:
    return unreadable_message(error)
'''
    assert finding_constructions(good) == []

"""The rule ids a scenario evaluated, passed or not: what ``results.json`` records per scenario.

Why: a rule that passes returns no finding, so the findings alone cannot say
which requirement a scenario judges (``drimva coverage`` could only read it
from the fault runs). While a scenario runs, :class:`RuleTrace` notes each
function of ``drimva/rules/`` that the main thread calls (a profile hook;
steps call rules in the main thread, the simulators' threads are not traced);
a judge that runs in a thread of its own (the RIS mode's listener) traces
itself with ``with RuleTrace() as trace:`` and hands the ids to the verdict;
the rule ids a function evaluates are read once from its source
(:func:`ids_by_function`): the catalogue ids written in its body, directly or
through a module-level constant. An id built at run time (an f-string) is not
seen there; the ids of the scenario's findings are added to what was traced.
"""

from __future__ import annotations

import ast
import os
import sys
from functools import lru_cache
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Iterable

from drimva.rules.catalogue import entries

RULES = Path(__file__).with_name("rules")


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module-level ``NAME = "text"`` (or ``NAME: str = "text"``) of a module."""
    out: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            out.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return out


def _ids_in(node: ast.AST, constants: dict[str, str], known: set[str]) -> frozenset[str]:
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in known:
            found.add(sub.value)
        elif isinstance(sub, ast.Name) and constants.get(sub.id) in known:
            found.add(constants[sub.id])
    return frozenset(found)


def module_functions(source: str, known: set[str]) -> dict[str, frozenset[str]]:
    """Per function of a module's ``source`` (by ``__qualname__``), the ids of ``known`` it evaluates."""
    tree = ast.parse(source)
    constants = _constants(tree)
    out: dict[str, frozenset[str]] = {}

    def visit(body: Iterable[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + node.name
                ids = _ids_in(node, constants, known)
                if ids:
                    out[name] = ids
                visit(node.body, name + ".<locals>.")
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")
    return out


@lru_cache(maxsize=1)
def ids_by_function() -> dict[tuple[str, str], frozenset[str]]:
    """``(real path of the module, qualname)`` → the rule ids that function of ``drimva/rules/`` evaluates."""
    known = set(entries())
    out: dict[tuple[str, str], frozenset[str]] = {}
    for path in sorted(RULES.glob("*.py")):
        real = os.path.realpath(path)
        for name, ids in module_functions(path.read_text("utf-8"), known).items():
            out[(real, name)] = ids
    return out


class RuleTrace:
    """Notes the functions of ``drimva/rules/`` called in this thread between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.table = ids_by_function()
        self.files = {real for real, _ in self.table}
        self.files |= {str(RULES / Path(real).name) for real in self.files}  # the path as imported, if not the real one
        self.codes: set[CodeType] = set()
        self.active = False

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_filename in self.files:
                self.codes.add(code)

    def start(self) -> bool:
        """Trace; False (nothing traced) when another profiler is already on (a debugger's, a profiler's, or an
        enclosing trace of this thread, which sees the same calls)."""
        if sys.getprofile() is not None:
            return False
        self.codes.clear()
        sys.setprofile(self._profile)
        self.active = True
        return True

    def stop(self) -> None:
        if self.active:
            sys.setprofile(None)
            self.active = False

    def __enter__(self) -> "RuleTrace":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def rule_ids(self) -> set[str]:
        """The rule ids the traced calls evaluated."""
        out: set[str] = set()
        for code in self.codes:
            out |= self.table.get((os.path.realpath(code.co_filename), code.co_qualname), frozenset())
        return out

"""Stable scenario ids: the ``@id:<ID>`` tag every scenario of ``drimva/features/*.feature`` carries.

Why: faults, variants and the coverage name scenarios; French titles change
with their wording, an id does not. Form: ``@id:`` then the VA item without
``VA-`` (``B1``, ``E``, ``RIS1``; ``C`` for a scenario of both VA-C1 and
VA-C2), a dash and a short upper-case mnemonic: ``@id:B1-ORU``,
``@id:E-NO-TOKEN``. An id is given once and never reused.
``tests/test_scenario_ids.py`` checks that every scenario has one and that
they are unique.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ID_TAG = "id:"
ID_FORM = re.compile(r"^(A|B[1-3]|C[12]?|D[1-3]|E|F|RIS[1-4])-[A-Z0-9]+(-[A-Z0-9]+)*$")
FEATURES = Path(__file__).with_name("features")
_SCENARIO = re.compile(r"^\s*(Scénario|Plan du scénario|Exemple):\s*(?P<title>.+?)\s*$")


@dataclass(frozen=True)
class FeatureScenario:
    feature: str  # file name
    title: str
    tags: tuple[str, ...]  # the scenario's own tags, without "@"

    @property
    def id(self) -> str:
        return scenario_id(self.tags)


def scenario_id(tags: Iterable[str]) -> str:
    """The id of the ``id:…`` tag among ``tags`` ("" when there is none)."""
    return next((tag[len(ID_TAG):] for tag in tags if tag.startswith(ID_TAG)), "")


def feature_scenarios(folder: Path = FEATURES) -> list[FeatureScenario]:
    """Every scenario of the ``.feature`` files of ``folder``, with the tags of the lines just above it."""
    out: list[FeatureScenario] = []
    for path in sorted(folder.glob("*.feature")):
        tags: list[str] = []
        for line in path.read_text("utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("@"):
                tags += [word[1:] for word in stripped.split() if word.startswith("@")]
                continue
            match = _SCENARIO.match(line)
            if match:
                out.append(FeatureScenario(path.name, match.group("title"), tuple(tags)))
            if stripped and not stripped.startswith("#"):
                tags = []
    return out

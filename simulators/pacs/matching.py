"""Query/Retrieve matching over the PACS simulator's instances (PS3.4 C.2.2.2, C.6).

Pure functions: an identifier and a list of stored instances in, matches out.
The matching covers what DRIM-M uses: single value, wildcards ``*`` / ``?``,
UID lists, universal (empty) matching and date / time ranges. Any key of the
identifier is matched against the instance, whatever the level, so both the
hierarchical sequence and the relational IMAGE-level query on the Study UID
alone (what the ANS demonstrator sends) are answered.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

LEVEL_KEY = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
UNIQUE_KEYS = tuple(LEVEL_KEY.values())
PATIENT_ROOT_LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
STUDY_ROOT_LEVELS = ("STUDY", "SERIES", "IMAGE")
# Keys an SCP computes over the entity rather than reading from one instance.
COMPUTED_KEYS = {
    "ModalitiesInStudy",
    "SOPClassesInStudy",
    "NumberOfPatientRelatedStudies",
    "NumberOfPatientRelatedSeries",
    "NumberOfPatientRelatedInstances",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "NumberOfSeriesRelatedInstances",
    "RetrieveAETitle",
    "InstanceAvailability",
}
_NOT_MATCHED = {"QueryRetrieveLevel", "SpecificCharacterSet", "TimezoneOffsetFromUTC"} | COMPUTED_KEYS
_RANGE_VRS = {"DA", "TM", "DT"}
_WILDCARD_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}


class QueryError(Exception):
    """The identifier cannot be processed; ``status`` is the DIMSE status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def query_level(identifier: Dataset, model_levels: Sequence[str]) -> str:
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    if level not in model_levels:
        raise QueryError(0xA900, f"QueryRetrieveLevel {level or '(absent)'} not in {list(model_levels)}")
    return level


def check_hierarchical(identifier: Dataset, level: str, model_levels: Sequence[str]) -> None:
    """Refuse a relational query: every level above ``level`` must carry its unique key."""
    for upper in model_levels[: model_levels.index(level)]:
        key = LEVEL_KEY[upper]
        if not [v for v in _values(_element(identifier, key)) if "*" not in v and "?" not in v]:
            raise QueryError(0xA900, f"hierarchical query at {level} level needs a value for {key}")


def element_matches(query: DataElement, candidate: DataElement | None) -> bool:
    """Whether one stored element matches one identifier key (PS3.4 C.2.2.2)."""
    if query.VR == "SQ":
        return True  # sequence matching is not used by DRIM-M: universal
    wanted = _values(query)
    if not wanted or wanted == ["*"]:
        return True
    if candidate is None or candidate.VR == "SQ":
        return False
    have = _values(candidate)
    if not have:
        return False
    if query.VR == "UI":
        return any(value in wanted for value in have)
    if query.VR in _RANGE_VRS and len(wanted) == 1 and "-" in wanted[0]:
        low, _, high = wanted[0].partition("-")
        return any(_in_range(value, low, high, query.VR) for value in have)
    if query.VR in _WILDCARD_VRS and any("*" in w or "?" in w for w in wanted):
        patterns = [_wildcard(w) for w in wanted]
        return any(p.fullmatch(value) for p in patterns for value in have)
    if query.VR in ("IS", "DS", "US", "UL", "SS", "SL", "FL", "FD"):
        return any(_number(value) == _number(w) for value in have for w in wanted)
    return any(value in wanted for value in have)


def instance_matches(instance: Dataset, identifier: Dataset) -> bool:
    for element in identifier:
        if element.keyword in _NOT_MATCHED or element.tag.group == 0x0002:
            continue
        if not element_matches(element, instance.get(element.tag)):
            return False
    return True


def select_instances(instances: Iterable[Dataset], identifier: Dataset) -> list[Dataset]:
    """The instances a C-MOVE / C-GET identifier designates (it must carry a unique key)."""
    if not any(_values(_element(identifier, key)) for key in UNIQUE_KEYS):
        raise QueryError(0xA900, f"the identifier carries none of the unique keys {list(UNIQUE_KEYS)}")
    return [ds for ds in instances if instance_matches(ds, identifier)]


Related = Callable[[str, str], Sequence[Dataset]]


def find_responses(
    instances: Sequence[Dataset],
    identifier: Dataset,
    level: str,
    *,
    retrieve_ae_title: str,
    minimal_keys: bool = False,
    related: Related | None = None,
) -> list[Dataset]:
    """One response identifier per matching entity at ``level``, with only the keys asked for.

    ``related(key, value)`` gives every instance whose ``key`` (PatientID,
    StudyInstanceUID or SeriesInstanceUID) is ``value``: what the computed keys
    count. By default it is computed from ``instances``, which must then be the
    whole store; a store with indexes passes its own and only the candidates.
    """
    related = related or _grouping(instances)
    key = LEVEL_KEY[level]
    responses: list[Dataset] = []
    seen: set[str] = set()
    computed_for: dict[tuple[str, ...], dict[str, object]] = {}  # the same for every instance of a series
    for ds in instances:
        entity = str(ds.get(key, ""))
        if entity in seen or not instance_matches(ds, identifier):
            continue
        place = tuple(str(ds.get(k, "") or "") for k in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID"))
        computed = computed_for.get(place)
        if computed is None:
            computed = computed_for[place] = _computed(ds, related, retrieve_ae_title)
        if not _computed_keys_match(identifier, computed):
            continue
        seen.add(entity)
        responses.append(_response(identifier, ds, level, computed, minimal_keys))
    return responses


def _grouping(instances: Sequence[Dataset]) -> Related:
    groups: dict[tuple[str, str], list[Dataset]] = {}
    for ds in instances:
        for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID"):
            groups.setdefault((keyword, str(ds.get(keyword, "") or "")), []).append(ds)
    return lambda keyword, value: groups.get((keyword, value), [])


def _response(identifier: Dataset, source: Dataset, level: str, computed: dict[str, object], minimal: bool) -> Dataset:
    out = Dataset()
    if "SpecificCharacterSet" in source:
        out.SpecificCharacterSet = source.SpecificCharacterSet
    out.QueryRetrieveLevel = level
    for element in identifier:
        keyword = element.keyword
        if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or element.tag.group == 0x0002:
            continue
        if minimal and level == "IMAGE" and keyword == "SOPClassUID":
            continue  # dcmqrscp keeps a fixed index: no SOP class at IMAGE level
        if keyword in computed:
            out.add_new(element.tag, element.VR, computed[keyword])
        elif element.tag in source:
            out.add(source[element.tag])
        else:
            out.add_new(element.tag, element.VR, DicomSequence() if element.VR == "SQ" else None)
    return out


def _computed(first: Dataset, related: Related, ae_title: str) -> dict[str, object]:
    patient = related("PatientID", str(first.get("PatientID", "") or ""))
    study = related("StudyInstanceUID", str(first.get("StudyInstanceUID", "") or ""))
    series = related("SeriesInstanceUID", str(first.get("SeriesInstanceUID", "") or ""))
    return {
        "ModalitiesInStudy": _distinct(study, "Modality"),
        "SOPClassesInStudy": _distinct(study, "SOPClassUID"),
        "NumberOfPatientRelatedStudies": len(_distinct(patient, "StudyInstanceUID")),
        "NumberOfPatientRelatedSeries": len(_distinct(patient, "SeriesInstanceUID")),
        "NumberOfPatientRelatedInstances": len(patient),
        "NumberOfStudyRelatedSeries": len(_distinct(study, "SeriesInstanceUID")),
        "NumberOfStudyRelatedInstances": len(study),
        "NumberOfSeriesRelatedInstances": len(series),
        "RetrieveAETitle": ae_title,
        "InstanceAvailability": "ONLINE",
    }


def _computed_keys_match(identifier: Dataset, computed: dict[str, object]) -> bool:
    for keyword in ("ModalitiesInStudy", "SOPClassesInStudy"):
        wanted = _values(_element(identifier, keyword))
        if wanted and wanted != ["*"]:
            have = computed[keyword]
            assert isinstance(have, list)
            if not any(any(_wildcard(w).fullmatch(h) for h in have) for w in wanted):
                return False
    return True


def _distinct(datasets: Iterable[Dataset], keyword: str) -> list[str]:
    return list(dict.fromkeys(str(ds.get(keyword, "")) for ds in datasets if ds.get(keyword, "") != ""))


def _element(ds: Dataset, keyword: str) -> DataElement | None:
    return ds[keyword] if keyword in ds else None


def _values(element: DataElement | None) -> list[str]:
    if element is None or element.value is None or element.VR == "SQ":
        return []
    value = element.value
    items = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    return [str(v).strip() for v in items if str(v).strip() != ""]


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _in_range(value: str, low: str, high: str, vr: str) -> bool:
    width = {"DA": 8, "TM": 13, "DT": 21}[vr]

    def norm(text: str, fill: str) -> str:
        text = text.strip()
        if vr == "TM" and "." not in text:
            text = text.ljust(6, fill) + "." + fill * 6
        return text.ljust(width, fill)

    item = norm(value, "0")
    return (not low or item >= norm(low, "0")) and (not high or item <= norm(high, "9"))

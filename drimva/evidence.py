"""The run's evidence folder.

Every exchange a simulator sees or makes is written here *before* it is
judged: the raw bytes, a decoded view (HL7 text, DICOM dump, pretty XML, HTTP
request/response) and a line in ``exchanges.jsonl``. Files are written and
flushed as exchanges happen, so a crash or Ctrl-C keeps what was seen.

Simulators run in threads shared by all scenarios; the store keeps a
"current scenario" that the pytest plugin sets, and files exchanges under it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SESSION_FOLDER = "_session"


class EvidenceSink(Protocol):
    """What a simulator needs to log an exchange."""

    def record(
        self,
        channel: str,
        label: str,
        raw: bytes,
        decoded: str | None = None,
        meta: dict[str, Any] | None = None,
        suffix: str = "bin",
    ) -> Path: ...


@dataclass(frozen=True)
class Exchange:
    seq: int
    scenario: str
    channel: str
    label: str
    raw_path: str
    decoded_path: str | None
    meta: dict[str, Any]
    at: float


SCENARIO_FOLDER_LIMIT = 120  # characters of a scenario's evidence folder name


def slug(text: str, limit: int = 80) -> str:
    """A file-system friendly name for a scenario or label (accents folded: "reçu" -> "recu")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folded.strip()).strip("-")
    return (cleaned or "unnamed")[:limit]


class EvidenceStore:
    """A folder of evidence, one sub-folder per scenario."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = 0
        self._scenario = SESSION_FOLDER
        self._exchanges: list[Exchange] = []

    # -- scenario context -------------------------------------------------
    @property
    def scenario(self) -> str:
        return self._scenario

    def begin_scenario(self, name: str) -> Path:
        with self._lock:
            self._scenario = slug(name, SCENARIO_FOLDER_LIMIT)
            folder = self.root / self._scenario
            folder.mkdir(parents=True, exist_ok=True)
            return folder

    def end_scenario(self) -> None:
        with self._lock:
            self._scenario = SESSION_FOLDER

    def scenario_dir(self, name: str | None = None) -> Path:
        folder = self.root / (slug(name, SCENARIO_FOLDER_LIMIT) if name else self._scenario)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- recording --------------------------------------------------------
    def record(
        self,
        channel: str,
        label: str,
        raw: bytes,
        decoded: str | None = None,
        meta: dict[str, Any] | None = None,
        suffix: str = "bin",
        scenario: str | None = None,
    ) -> Path:
        """Write one exchange under ``scenario`` (a folder name) or, by default, the running scenario's folder."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            scenario = slug(scenario, SCENARIO_FOLDER_LIMIT) if scenario else self._scenario
            folder = self.root / scenario
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"{seq:04d}-{slug(channel, 20)}-{slug(label, 60)}"
            raw_path = folder / f"{stem}.{suffix}"
            _write(raw_path, raw)
            decoded_path = None
            if decoded is not None:
                decoded_path = folder / f"{stem}.txt"
                _write(decoded_path, decoded.encode("utf-8"))
            exchange = Exchange(
                seq=seq,
                scenario=scenario,
                channel=channel,
                label=label,
                raw_path=str(raw_path.relative_to(self.root)),
                decoded_path=str(decoded_path.relative_to(self.root)) if decoded_path else None,
                meta=dict(meta or {}),
                at=time.time(),
            )
            self._exchanges.append(exchange)
            with (folder / "exchanges.jsonl").open("a", encoding="utf-8") as log:
                log.write(json.dumps(exchange.__dict__, default=str) + "\n")
                log.flush()
            return raw_path

    def write_json(self, name: str, data: Any, scenario: str | None = None) -> Path:
        path = self.scenario_dir(scenario) / name
        _write(path, json.dumps(data, indent=2, ensure_ascii=False, default=str).encode("utf-8"))
        return path

    def exchanges(self, channel: str | None = None, scenario: str | None = None) -> list[Exchange]:
        with self._lock:
            return [
                e
                for e in self._exchanges
                if (channel is None or e.channel == channel)
                and (scenario is None or e.scenario == slug(scenario))
            ]


def seq_of(path: Path | None) -> int | None:
    """The sequence number of the exchange :meth:`EvidenceStore.record` wrote at ``path`` (its file name starts with it).

    None for a path that is not an exchange's file (``NullEvidence``'s ``/dev/null``, no path)."""
    if path is None:
        return None
    match = re.match(r"(\d{4,})-", Path(path).name)
    return int(match.group(1)) if match else None


def seqs_of(*paths: Path | None) -> tuple[int, ...]:
    """The sequence numbers of the exchanges written at ``paths``, in order, those that are exchanges' files only."""
    return tuple(seq for seq in (seq_of(path) for path in paths) if seq is not None)


class NullEvidence:
    """An evidence sink that keeps exchanges in memory; for unit tests only."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes, str | None, dict[str, Any]]] = []

    def record(
        self,
        channel: str,
        label: str,
        raw: bytes,
        decoded: str | None = None,
        meta: dict[str, Any] | None = None,
        suffix: str = "bin",
    ) -> Path:
        self.records.append((channel, label, raw, decoded, dict(meta or {})))
        return Path("/dev/null")


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()

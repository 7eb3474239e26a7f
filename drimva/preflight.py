"""Pre-flight: before the first scenario, does every address of the claimed VA items answer?

:func:`plan` says, from the profile alone, which address each claimed item
needs (the profile key that gives it, and the scenarios that use it);
:func:`run_preflight` probes them all at once (:mod:`drimva.reachability`:
DNS, TCP, TLS against the run's CA, any HTTP answer), each stage bounded by
``timeouts.connect_s``. A scenario that needs an address that does not answer
ends ``error`` naming the key, the address and the cause
(:meth:`PreflightReport.failures_for`): an unreachable SUT is the
environment's problem, not a non-conformity. Only a SUT the harness did not
start is probed (the embedded reference's addresses are the ones it reported
once up).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from drimva.outcomes import HarnessError
from drimva.profile import Profile
from drimva.reachability import Reachability, check
from drimva.va import VA_BY_ID

PREFLIGHT_FILE = "preflight.json"
EVIDENCE_FOLDER = "pre-vol"
ROLES = ("source", "consumer")


def _items(*ids: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset({item}) for item in ids)


# Which scenarios need each address: a scenario needs it when its tags hold one of the sets.
# VA-C and VA-E need sut.hl7 too: their Background sends the CR that publishes the study.
NEEDED_BY: dict[str, tuple[frozenset[str], ...]] = {
    "sut.hl7": _items("VA-B1", "VA-B2", "VA-B3", "VA-C1", "VA-C2", "VA-E"),
    "sut.dicom": _items("VA-B2") + (frozenset({"VA-B3", "IOCM"}),),  # the C-MOVE destination; where IOCM notes go
    "sut.wado.base_url": _items("VA-E") + (frozenset({"VA-A", "source"}),),  # VA-A: its server certificate
    "sut.consumer.contextual_url": _items("VA-D1", "VA-D2", "VA-D3") + (frozenset({"VA-A", "consumer"}),),
    "sut.supervision.url": _items("VA-F"),
    "viewer.host": _items("VA-C1", "VA-C2"),
}


# The reason of a scenario an address blocks: "pré-vol : <key>: <address> — <cause>; <key>: …" (French on the
# console and in the report: drimva.report.values_fr translates the causes, address by address)
REASON_PREFIX = "pré-vol : "
REASON_SEPARATOR = "; "


class PreflightFailure(HarnessError):
    """A scenario needs an address of the SUT that did not answer the pre-flight."""


@dataclass(frozen=True)
class Endpoint:
    """One address of the SUT, the profile key that gives it, and the scenarios that need it."""

    key: str
    target: str  # what is probed: "tcp://host:port" or an http(s) URL
    needed_by: tuple[frozenset[str], ...]
    client_cert: bool = False  # present the organisation's TLS client certificate (sut.trust.mutual_tls)

    @property
    def address(self) -> str:
        """As the profile gives it: ``host:port``, or the URL."""
        return self.target.removeprefix("tcp://")

    def needed(self, tags: Iterable[str]) -> bool:
        have = set(tags)
        return any(need <= have for need in self.needed_by)


@dataclass(frozen=True)
class Check:
    endpoint: Endpoint
    result: Reachability

    def describe(self) -> str:
        """``sut.hl7: db.example.fr:2575 — db.example.fr does not resolve``."""
        return f"{self.endpoint.key}: {self.endpoint.address} — {self.result.cause}"

    def to_dict(self) -> dict[str, Any]:
        needs = sorted("+".join(sorted(need)) for need in self.endpoint.needed_by)  # "VA-A+source": VA-A's source scenarios
        return {"key": self.endpoint.key, "address": self.endpoint.address, "needed_by": needs, **self.result.to_dict()}


@dataclass(frozen=True)
class PreflightReport:
    """The pre-flight of a run: its checks, or why it did not run."""

    checks: tuple[Check, ...] = ()
    not_run: str = ""  # why there was no pre-flight (empty: it ran)
    timeout_s: float = 0.0
    duration_s: float = 0.0

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.result.ok)

    def failures_for(self, tags: Iterable[str]) -> list[Check]:
        """The failed checks of the addresses a scenario with these tags needs."""
        have = set(tags)
        return [c for c in self.failed if c.endpoint.needed(have)]

    def failure_message(self, tags: Iterable[str]) -> str:
        """Why a scenario with these tags cannot run (empty: it can)."""
        failures = self.failures_for(tags)
        return (REASON_PREFIX + REASON_SEPARATOR.join(c.describe() for c in failures)) if failures else ""

    def summary(self) -> str:
        if self.not_run:
            return f"pré-vol non exécuté : {self.not_run}"
        return f"pré-vol : {len(self.checks) - len(self.failed)}/{len(self.checks)} adresses joignables ({self.duration_s:.1f} s)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ran": not self.not_run, "not_run": self.not_run, "timeout_s": self.timeout_s, "duration_s": self.duration_s,
            "ok": not self.failed, "failed": [c.describe() for c in self.failed], "checks": [c.to_dict() for c in self.checks],
        }  # fmt: skip


def _applies(profile: Profile, need: frozenset[str]) -> bool:
    """A set of scenario tags the profile's SUT is tested on: claimed items and roles, not deferred."""
    for tag in need:
        if tag in ROLES and tag not in profile.sut.roles:
            return False
        item = VA_BY_ID.get(tag)
        if item is not None and not set(item.claims) <= profile.claims:
            return False
        if item is not None and item.needs_ris_vague2 and not profile.sut.ris_vague2:
            return False
    return True


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _viewer_origin(profile: Profile) -> str:
    """Scheme and host of the viewer URL the CR carries (``viewer.url_template`` with ``viewer.host``)."""
    url = urlsplit(profile.viewer.url_template.replace("{host}", profile.viewer.host))
    return f"{url.scheme or 'https'}://{url.netloc}/"


def plan(profile: Profile) -> tuple[Endpoint, ...]:
    """The addresses the claimed items of the profile's SUT need, each with the scenarios that need it."""
    sut = profile.sut
    targets = {
        "sut.hl7": f"tcp://{_netloc(sut.hl7.host, sut.hl7.port)}",
        "sut.dicom": f"tcp://{_netloc(sut.dicom.host, sut.dicom.port)}",
        "sut.wado.base_url": sut.wado.base_url,
        "sut.consumer.contextual_url": sut.consumer.contextual_url,
        "sut.supervision.url": sut.supervision.url,
        "viewer.host": _viewer_origin(profile),
    }
    endpoints = []
    for key, target in targets.items():
        needs = tuple(need for need in NEEDED_BY[key] if _applies(profile, need))
        if needs:
            endpoints.append(Endpoint(key, target, needs, client_cert=key == "sut.wado.base_url" and sut.trust.mutual_tls))
    return tuple(endpoints)


def run_preflight(
    endpoints: Iterable[Endpoint], *, timeout_s: float, ca_cert: Path, client_cert: tuple[Path, Path] | None = None
) -> PreflightReport:
    """Probe every endpoint, all at once (the run waits for the slowest, at most four stages of ``timeout_s``)."""
    planned = tuple(endpoints)
    if not planned:
        return PreflightReport(not_run="the profile claims no item with an address of the SUT", timeout_s=timeout_s)

    def probe(endpoint: Endpoint) -> Check:
        cert = client_cert if endpoint.client_cert else None
        return Check(endpoint, check(endpoint.target, timeout_s=timeout_s, ca_cert=ca_cert, client_cert=cert))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="preflight") as pool:
        checks = tuple(pool.map(probe, planned))
    return PreflightReport(checks, timeout_s=timeout_s, duration_s=round(time.monotonic() - started, 3))

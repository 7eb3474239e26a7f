"""drimva.rules.supervision: what the probes of the ANS supervision tool saw (VA-F)."""

from __future__ import annotations

import time

from rule_findings import whole

from drimva.rules.supervision import availability, campaign, check_probes
from simulators.supervision.prober import ProbeRecord

OK = ProbeRecord(at=0.0, status=200, elapsed_s=0.05, ok=True, problem="")
SLOW = ProbeRecord(at=3600.0, status=200, elapsed_s=2.5, ok=False, problem="answered after the 2 s limit")
EXPECTED = "HTTP 200, JSON status 'UP', within 2.0 s"


def test_probes_that_pass_give_no_finding() -> None:
    assert check_probes([OK, OK], "GET https://sut/health", EXPECTED) == []


def test_a_failed_probe_is_named_by_its_rank() -> None:
    assert whole(check_probes([OK, SLOW], "GET https://sut/health", EXPECTED)) == [
        ("SUPERVISION-PROBE", "GET https://sut/health (probe 2)", EXPECTED, "answered after the 2 s limit (2.50 s)", "error")
    ]


def test_availability_counts_the_probes_that_passed() -> None:
    assert whole(availability([OK, SLOW, OK], "https://sut/health")) == [
        ("SUPERVISION-AVAILABILITY", "https://sut/health", "3/3", "2/3", "info")
    ]


def test_a_clean_campaign_is_information() -> None:
    assert whole(campaign([OK, OK], "bg")) == [("SUPERVISION-CAMPAIGN", "bg", "2/2", "2/2", "info")]


def test_failed_background_probes_are_warnings_five_at_most() -> None:
    at = time.strftime("%H:%M:%S", time.localtime(SLOW.at))
    found = whole(campaign([OK] + [SLOW] * 7, "bg"))
    assert found[:5] == [("SUPERVISION-CAMPAIGN", f"bg at {at}", "the expected answer in time",
                          "answered after the 2 s limit (2.50 s)", "warning")] * 5  # fmt: skip
    assert found[5:] == [("SUPERVISION-CAMPAIGN", "bg", "8/8", "1/8", "warning")]

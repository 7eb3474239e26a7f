"""drimva.rules.source_security: what the SUT source answered to the peer consumer (VA-E)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rule_findings import whole

from drimva.rules.source_security import check_security_probe, check_series_served


@dataclass
class Answer:
    series_uid: str
    status: int | None
    problems: list[str] = field(default_factory=list)


def test_served_series_pass_and_an_unserved_one_fails() -> None:
    assert check_series_served([Answer("1.1", 200)]) == []
    assert whole(check_series_served([Answer("1.1", 200), Answer("1.2", 403, ["forbidden", "no body"])])) == [
        ("WADO-SERIES-200", "GET …/series/1.2", "200", "403: forbidden; no body", "error")
    ]
    assert whole(check_series_served([Answer("1.3", None, ["timed out"])])) == [
        ("WADO-SERIES-200", "GET …/series/1.3", "200", "None: timed out", "error")
    ]


def test_a_refusal_with_an_expected_code_passes() -> None:
    assert check_security_probe("https://sut/s/1", {"token"}, 401, "", {401}) == []
    assert check_security_probe("https://sut/s/1", (), 404, "", {403, 404}) == []


def test_a_faulty_request_served_fails() -> None:
    assert whole(check_security_probe("https://sut/s/1", {"token", "kos_header"}, 200, "", {401, 400})) == [
        ("WADO-SECURITY", "GET https://sut/s/1 without kos_header, token", "400 or 401", "200", "error")
    ]
    assert whole(check_security_probe("https://sut/s/1", (), None, "reset", {403})) == [
        ("WADO-SECURITY", "GET https://sut/s/1 without a valid request element", "403", "reset", "error")
    ]

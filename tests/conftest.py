"""Fixtures the test modules share: one test PKI for the session and an evidence sink.

A module that needs a PKI of another organisation (its name or FINESS is asserted)
keeps its own ``pki`` fixture, which overrides this one."""

from __future__ import annotations

import pytest

from drimva.evidence import NullEvidence
from drimva.context import Organisation
from fixtures.pki import TestPki, build_pki

#: the organisation of the shared PKI: the ANS test certificates' cabinet (``../shared/ans-samples``)
ORG = Organisation("CABINET M DOC0036790", "499700367909006", "IDNST")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A CA, the organisation's TLS and signing certificates, and server certificates, built once."""
    return build_pki(tmp_path_factory.mktemp("pki"), ORG)


@pytest.fixture
def evidence() -> NullEvidence:
    """Exchanges recorded nowhere: for tests that judge what a server answered, not what it kept."""
    return NullEvidence()


def _expected_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("long")
    return float(marker.args[0]) if marker and marker.args else 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long modules first, longest first, each module's tests in their order: pytest-xdist's
    ``--dist loadfile`` hands modules out in this order, so the self-test (minutes) starts at once
    instead of last, beside the short ones. A stable sort: without the marker nothing moves."""
    items.sort(key=lambda item: -_expected_seconds(item))

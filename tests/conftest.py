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

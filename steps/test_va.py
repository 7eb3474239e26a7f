"""Binds every VA feature file to the step definitions (run through ``drimva run``)."""

from pathlib import Path

from pytest_bdd import scenarios

FEATURES = Path(__file__).resolve().parents[1] / "features"

scenarios(str(FEATURES))

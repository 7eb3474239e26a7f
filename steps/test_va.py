"""Binds every VA feature file to the step definitions (run through ``drimva run``)."""

from pytest_bdd import scenarios

from drimva.installation import FEATURES_DIR

scenarios(str(FEATURES_DIR))

# The two commands of drimva (see README):
#   make demo   set up, then run the VA suite against the embedded reference DRIMbox
#   make test   set up, then run the test suite (unit tests, oracles, self-test kill matrix)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.drimva-installed

.PHONY: setup system-deps demo test clean

setup: system-deps $(STAMP)

system-deps:
	@./scripts/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/drimva demo

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf reports $(VENV) *.egg-info

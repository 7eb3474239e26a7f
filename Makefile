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

# The tests mostly wait on sockets and on the processes they start: three workers on two cores,
# one test module per worker at a time (module fixtures stay in one process), longest first.
TEST_WORKERS ?= 3

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf reports $(VENV) *.egg-info

# The two commands of the README:
#   make demo   set up, ingest seeds/, answer a question from them (QUESTION=...)
#   make test   set up, run the test suite
# Both create .venv on first use and reinstall only when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QUESTION ?= Which prison did the rebel forces take over?

.PHONY: setup demo test ui lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --constraint constraints.txt --editable ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qa ingest seeds
	$(BIN)/qa ask "$(QUESTION)"

test: $(STAMP)
	$(BIN)/python -m pytest

ui: $(STAMP)
	$(BIN)/python app.py

lint: $(STAMP)
	$(BIN)/python -m ruff check qa tests bench app.py

clean:
	rm -rf $(VENV)

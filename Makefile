# The two commands: `make book` and `make test`. Each sets up everything it needs on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Set up again whenever pyproject.toml changes.
STAMP  := $(VENV)/.installed

.PHONY: book test venv notebooks clean help browser

help:
	@echo "make book   - install into $(VENV)/, execute every notebook (offline default), build _build/html/"
	@echo "make test   - install with test extras, then run the whole test suite"
	@echo "make notebooks - regenerate notebooks/*.ipynb from their py:percent sources"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python >= 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,book]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sae-concept-kit)"
	touch $@

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/kit book

# The book's browser tests drive Debian's Chromium; install it when it is missing and apt-get can.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) ; } || \
	  echo "note: no Chromium; the browser checks of the book will be skipped (they fail under CI)"

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb notebooks/[0-9][0-9]_*.py

clean:
	rm -rf _build runs

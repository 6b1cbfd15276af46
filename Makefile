# veille — one virtual environment, two entry points (see README.md).
#   make run    set up, run the pipeline 30 s on synthetic posts, show a trend query
#   make test   set up, run the whole test suite against the real local broker and chDB
#   make faults set up, run the fault tests only (tests/faults, docs/reliability.md)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= .veille

.PHONY: setup run test faults lint clean chromium docker-compose

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@($(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[dev]') \
		> $(VENV)/install.log 2>&1 || (tail -n 40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/veille up --source synthetic --rate 200 --duration 30 --data-dir $(DATA)
	$(BIN)/veille query mentions_over_time --param interval_s=3600 --data-dir $(DATA)
	$(BIN)/veille query sentiment_by_brand --data-dir $(DATA)

# `veille report`'s tests render the HTML in headless Chromium (Debian's package; needs root).
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The compose file's tests validate it offline with Debian's docker-compose (needs root).
docker-compose:
	@command -v docker-compose >/dev/null || (apt-get update && apt-get install -y --no-install-recommends docker-compose)

test: setup chromium docker-compose
	$(BIN)/python -m pytest

# The fault tests alone (also part of `make test`): a Faust worker and a sink killed with SIGKILL,
# ClickHouse away for 60 s, 10,000 fuzzed bad records. docs/reliability.md says what each proves.
faults: setup
	$(BIN)/python -m pytest tests/faults

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy veille ingest processors sinks pipeline

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache *.egg-info

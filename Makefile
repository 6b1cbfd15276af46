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

# Debian packages that some tests run. As root, a missing one is installed; otherwise make says
# which tests will skip and how to install it (with CI set, those tests fail instead of skipping).
INSTALL_TOOLS := sudo apt-get install --no-install-recommends chromium docker-compose

# $(call tool,COMMAND,TESTS): install Debian's COMMAND when missing and root, else say TESTS skip
define tool
	@command -v $(1) >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y --no-install-recommends $(1); \
		else \
			echo "$(1) not installed: $(2) will be skipped (with CI set: fail); install it with: $(INSTALL_TOOLS)"; \
		fi; }
endef

# `veille report`'s tests render the HTML in headless Chromium.
chromium:
	$(call tool,chromium,the Chromium checks of tests/sinks/test_report.py)

# The compose file's tests validate it offline with Debian's docker-compose.
docker-compose:
	$(call tool,docker-compose,the docker-compose checks of tests/deploy/test_compose.py)

test: setup chromium docker-compose
	$(BIN)/python -m pytest

# The fault tests alone (also part of `make test`): a Faust worker and a sink killed with SIGKILL,
# ClickHouse away for 25 s, 10,000 fuzzed bad records. docs/reliability.md says what each proves.
faults: setup
	$(BIN)/python -m pytest tests/faults

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy veille ingest processors sinks pipeline

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache *.egg-info

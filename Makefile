# labelaudit: `make audit` and `make test` are all a new user types; `make help` lists the rest.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LABELS ?= data/raw
REPORTS ?= reports
PROCESSED ?= data/processed
JOBS ?=
PROTOCOL ?=
N ?= 200
FAIL_ON ?= fails
PYTEST_ARGS ?= -n auto --dist loadfile
AUDIT_ARGS = $(LABELS) --out $(REPORTS) --work $(PROCESSED) $(if $(JOBS),--jobs $(JOBS)) $(if $(PROTOCOL),--protocol $(PROTOCOL))

.PHONY: help
help: ## Show this help
	@echo "Usage: make <target> [LABELS=folder] [REPORTS=folder] [PROCESSED=folder]"
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: install
install: $(BIN)/.installed ## Create the virtual environment and install (done by audit/test on first use)

.PHONY: audit
audit: $(BIN)/.installed ## Audit the label files in LABELS (default data/raw) -> REPORTS/audit.html
	$(BIN)/labelaudit audit $(AUDIT_ARGS)

.PHONY: nightly
nightly: $(BIN)/.installed ## Scheduled form: quiet, waits for a running audit, exits 4 on FAIL_ON (fails), logs to REPORTS/nightly.log
	@mkdir -p $(REPORTS)
	@echo "--- $$(date -u +%Y-%m-%dT%H:%M:%SZ) labelaudit audit $(LABELS)" >> $(REPORTS)/nightly.log
	@$(BIN)/labelaudit audit $(AUDIT_ARGS) --quiet --wait 600 $(foreach f,$(FAIL_ON),--fail-on $(f)) >> $(REPORTS)/nightly.log 2>&1

.PHONY: test
test: lint ## Lint, type-check and run the whole test suite, one worker a core (PYTEST_ARGS= for one process)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: lint
lint: $(BIN)/.installed-dev ## ruff (lint + format check) and mypy
	$(BIN)/ruff check pipeline tests labelgen bench scripts
	$(BIN)/ruff format --check pipeline tests labelgen bench scripts
	$(BIN)/mypy

.PHONY: format
format: $(BIN)/.installed-dev ## Format the code with ruff
	$(BIN)/ruff format pipeline tests labelgen bench scripts
	$(BIN)/ruff check --fix pipeline tests labelgen bench scripts

.PHONY: samples
samples: $(BIN)/.installed-dev ## Regenerate the sample labels in data/raw (needs reportlab, a dev dependency)
	$(BIN)/python -m scripts.make_samples

.PHONY: bench
bench: $(BIN)/.installed-dev ## Benchmark on N generated labels: make bench N=2000
	$(BIN)/python -m bench.run --n $(N)

.PHONY: bench-catalog
bench-catalog: $(BIN)/.installed-dev ## Catalog benchmark: a DSLD-style zip of N labels against a bare json loop: make bench-catalog N=40000
	$(BIN)/python -m bench.catalog --n $(N)

.PHONY: bench-ocr
bench-ocr: $(BIN)/.installed-dev ## OCR seconds per label image (median, p90) on the generated image styles, beside the plain tesseract command
	$(BIN)/python -m bench.ocr $(if $(OCR_ENGINE),--engine $(OCR_ENGINE))

.PHONY: bench-report
bench-report: $(BIN)/.installed-dev ## The report at catalog scale: write it for N synthetic products and use it in Chromium: make bench-report N=40000
	$(BIN)/python -m bench.report_scale --n $(N)

.PHONY: accuracy
accuracy: $(BIN)/.installed ## Rows and protocol fields right on real label images with truth (default ../shared/realworld-dev): make accuracy [DEV_SET=dir] [OCR_ENGINE=name]
	$(BIN)/python -m scripts.accuracy $(if $(DEV_SET),--dev-set $(DEV_SET)) $(if $(OCR_ENGINE),--ocr-engine $(OCR_ENGINE))

.PHONY: clean
clean: ## Remove generated artifacts (keeps the virtual environment)
	rm -rf $(PROCESSED)/* $(REPORTS)/*
	@touch $(PROCESSED)/.gitkeep $(REPORTS)/.gitkeep

# One command from a fresh clone: every target first makes sure .venv is set up (via its stamp).
# `make test` never needs the SAM CLI; `make validate` / `make build` install it on first use.

SHELL := bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
SAM := $(VENV)/bin/sam
REGION ?= us-east-1

# Same hash as scripts/setup.sh: sha1 of requirements-dev.txt + pyproject.toml.
STAMP := $(VENV)/.stamp-$(shell cat requirements-dev.txt pyproject.toml | sha1sum | cut -c1-40)
SAM_CLI_VERSION := $(shell sed -n 's/^SAM_CLI_VERSION_DEFAULT=//p' scripts/setup.sh)
SAM_STAMP := .tools/sam/.stamp-aws-sam-cli-$(SAM_CLI_VERSION)

# Root template and every nested app stack (override: make validate TEMPLATES=path.yaml).
TEMPLATES ?= template.yaml $(sort $(wildcard stacks/*.yaml))
BUILD_TEMPLATE ?= template.yaml
PYTEST_ARGS ?=
APPS ?=

# Logical ids of `PackageType: Image` functions in the given templates (indentation based, no
# YAML parser needed): tracks the top-level section and the current key under Resources.
IMAGE_FUNCS_AWK := FNR==1 {sec=""; ind=-1; id=""} \
  /^[^[:space:]\#][^:]*:/ {sec=$$0; sub(/:.*/, "", sec); ind=-1; next} \
  sec=="Resources" && /^[[:space:]]+[A-Za-z0-9]+:[[:space:]]*$$/ { \
    match($$0, /^[[:space:]]+/); if (ind < 0) ind=RLENGTH; \
    if (RLENGTH == ind) {id=$$0; gsub(/[[:space:]:]/, "", id)} } \
  sec=="Resources" && /^[[:space:]]+PackageType:[[:space:]]*.?Image/ {print id}

.PHONY: help setup test lint validate build demo bench up clean distclean

help:
	@echo "make setup     create .venv (+ SAM CLI in .tools/sam; SETUP_SAM=0 to skip it)"
	@echo "make test      run the test suite (PYTEST_ARGS='-m \"not slow\"' to narrow it)"
	@echo "make lint      ruff check ."
	@echo "make validate  sam validate --lint + cfn-lint on template.yaml and stacks/*.yaml"
	@echo "make build     sam build (image functions skipped when there is no Docker engine)"
	@echo "make demo      localcloud demo [APPS='app1 app2']"
	@echo "make bench     run bench/run.py"
	@echo "make up        localcloud up (whole collection on 127.0.0.1)"
	@echo "make clean     remove build/test artifacts (distclean: also .venv and .tools)"

# Explicit setup: everything, SAM CLI included unless SETUP_SAM=0.
setup:
	@bash scripts/setup.sh

# Implicit setup for the other targets: no SAM CLI unless asked for (make test must not need it).
$(STAMP): requirements-dev.txt pyproject.toml $(wildcard deps/*.txt)
	@SETUP_SAM=$${SETUP_SAM:-0} bash scripts/setup.sh

$(SAM_STAMP) $(SAM): | $(STAMP)
	@SETUP_SAM=1 bash scripts/setup.sh

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/ $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

validate: $(STAMP) $(SAM_STAMP) $(SAM)
	@failed=""; \
	for t in $(TEMPLATES); do \
	  echo "== sam validate --lint -t $$t"; \
	  $(SAM) validate --lint -t "$$t" --region $(REGION) || failed="$$failed sam:$$t"; \
	  echo "== cfn-lint $$t"; \
	  $(VENV)/bin/cfn-lint --regions $(REGION) -- "$$t" || failed="$$failed cfn-lint:$$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "validate FAILED:$$failed"; exit 1; fi; \
	echo "validate: all templates passed"

build: $(STAMP) $(SAM_STAMP) $(SAM)
	@images="$$(awk '$(IMAGE_FUNCS_AWK)' $(TEMPLATES) | sort -u | tr '\n' ' ')"; \
	exclude=(); \
	if [ -n "$${images// /}" ]; then \
	  if docker info >/dev/null 2>&1; then \
	    echo "image functions: $$images(Docker engine available: building them too)"; \
	  else \
	    echo "skipping image functions: no Docker engine: $$images"; \
	    echo "  (the build below is NOT deployable as a whole: those functions have no image)"; \
	    for i in $$images; do exclude+=(--exclude "$$i"); done; \
	  fi; \
	fi; \
	set -x; \
	$(SAM) build -t $(BUILD_TEMPLATE) --region $(REGION) --parallel --cached "$${exclude[@]}"

demo: $(STAMP)
	$(VENV)/bin/localcloud demo $(APPS)

bench: $(STAMP)
	$(PY) bench/run.py

up: $(STAMP)
	$(VENV)/bin/localcloud up

clean:
	rm -rf .aws-sam .localcloud .pytest_cache .ruff_cache build *.egg-info
	find . \( -path ./.venv -o -path ./.tools -o -path ./.git \) -prune -o \
	  -name __pycache__ -type d -exec rm -rf {} + -prune
	find . \( -path ./.venv -o -path ./.tools -o -path ./.git \) -prune -o -name '*.pyc' -type f -exec rm -f {} +

distclean: clean
	rm -rf $(VENV) .tools

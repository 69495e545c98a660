# The Multi-Agency Safeguarding Hub. A newcomer needs two commands: `make run`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PY_PROJECTS := pyproject.toml uv.lock shared/pyproject.toml deploy/tools/pyproject.toml $(wildcard services/*/pyproject.toml)

.PHONY: help setup run cluster chaos test test-fast lint format bench bench-trial demo clean

help:
	@echo "make run    start Kafka, Zipkin and the services on loopback (Ctrl-C stops them)"
	@echo "make cluster  3 Kafka nodes, PostgreSQL, 2 replicas of every service, Zipkin"
	@echo "make chaos  a fault campaign against the cluster, then a table of what was lost"
	@echo "make test   the whole suite: unit, integration (real Kafka, SQLite and PostgreSQL), e2e"
	@echo "make setup  create .venv, fetch the broker and Zipkin (run and test do this themselves)"
	@echo "make lint   ruff and mypy;  make bench  benchmarks;  make demo  a synthetic day"
	@echo "make bench-trial  a policy trial over a seeded year of 100,000 incidents (goal < 60 s)"

setup: .venv/.synced .data/kafka-libs/.complete .data/kafka-security/passwords.json .data/keys/jwks.json .data/zipkin/.complete .env services/console/node_modules/.complete
	@chmod 700 .data; chmod 600 .env

$(CURDIR)/.tools/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --target .tools uv

.venv/.synced: $(PY_PROJECTS) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

.data/kafka-libs/.complete: deploy/pom.xml
	bash deploy/kafka.sh fetch

# the bus's certificate authority, broker certificate and Kafka passwords (owner-only)
.data/kafka-security/passwords.json: | .venv/.synced
	bash deploy/kafka.sh secure

# the token issuers' key pairs of development (contract section 2): `mash token` and
# `mash console-link` sign with dev.ed25519, the console with console.ed25519 (owner-only);
# services are given only the public JWKS files
.data/keys/jwks.json: | .venv/.synced
	.venv/bin/python -m mash_tools.keys ensure

# Zipkin, the trace UI, from Maven Central (the server's exec jar)
.data/zipkin/.complete: deploy/zipkin.sh
	bash deploy/zipkin.sh fetch

# the console's front-end assets (GOV.UK Frontend, Chart.js; axe-core for its tests),
# served by the console itself: nothing loads from the internet at run time
services/console/node_modules/.complete: services/console/package.json services/console/package-lock.json
	npm ci --prefix services/console --no-audit --no-fund --loglevel=error
	@touch $@

# a fresh pseudonym key for this checkout, never committed
.env:
	@umask 077; python3 -c "import secrets; print(f'MASH_PSEUDONYM_KEY={secrets.token_urlsafe(32)}')" > $@
	@echo "wrote .env with fresh secrets"

run: setup
	.venv/bin/mash run

cluster: setup
	.venv/bin/mash cluster

chaos: setup
	.venv/bin/mash chaos

test: setup
	bash deploy/test.sh

test-fast: setup
	.venv/bin/pytest tests/unit -q

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check shared services tests deploy
	.venv/bin/mypy

format: setup
	.venv/bin/ruff format shared services tests deploy
	.venv/bin/ruff check --fix .

bench: setup
	PYTHONPATH=. .venv/bin/python deploy/bench.py $(if $(filter quick,$(BENCH)),--quick,)

# a year of a large force stored through triage's handlers in process, then a trial over it
bench-trial: setup
	PYTHONPATH=. .venv/bin/python deploy/bench_trial.py --trial-incidents $(or $(INCIDENTS),100000)

demo: setup
	.venv/bin/mash demo

clean:
	rm -rf .data/*.db .data/kafka .data/traces .data/prometheus

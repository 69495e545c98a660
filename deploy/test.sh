#!/usr/bin/env bash
# `make test`: the whole suite. The session starts its own Kafka broker and PostgreSQL
# server (tests/conftest.py) and stops them at the end. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "== lint: ruff (rules and format) and mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet shared services tests deploy
.venv/bin/mypy
echo "== tests: unit, integration (real Kafka, SQLite and PostgreSQL), e2e (the stack as make run starts it)"
exec .venv/bin/pytest tests -p no:cacheprovider -q "$@"

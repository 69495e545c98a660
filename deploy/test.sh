#!/usr/bin/env bash
# `make test`: the whole suite. The session starts its own Kafka broker and PostgreSQL
# server (tests/conftest.py) and stops them at the end. Extra arguments go to pytest.
#
# Every process the run starts must be gone when it ends, whether it passed, failed or
# was interrupted: the last step looks for any that is left (it carries the run's marker
# in its environment, or the run's temporary directory on its command line), kills it
# and fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "== lint: ruff (rules and format) and mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet shared services tests deploy
.venv/bin/mypy
# Every Python process the suite starts (each service of `mash run`, the cluster's
# replicas, `mash` itself) imports the same few thousand modules. Without their bytecode on
# disk (uv installs without it; PYTHONDONTWRITEBYTECODE, when set, stops imports writing
# it) each process compiled them again: about 2 s of CPU a process. Compiled once here; a
# later run only checks their times (docs/testing.md has the figures).
echo "== bytecode: the virtualenv's and the project's modules, compiled once"
.venv/bin/python -m compileall -q -j 0 .venv/lib shared/src services/*/src deploy/tools/src \
  >/dev/null || echo "(a module did not compile ahead: it is compiled when imported)"
echo "== tests: unit, integration (real Kafka, SQLite and PostgreSQL), e2e (the stack as make run starts it)"

RUN_ID=$(python3 -c 'import uuid; print(uuid.uuid4().hex)')
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mash-test-XXXXXX")
chmod 755 "$RUN_TMP"  # PostgreSQL runs as `postgres` and must reach its directory

leftovers() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    if grep -qsaF "MASH_TEST_RUN=$RUN_ID" "$dir/environ" 2>/dev/null \
        || grep -qsaF "$RUN_TMP" "$dir/cmdline" 2>/dev/null; then
      echo "$pid"
    fi
  done
}

PYTEST_PID=
forward() { if [ -n "$PYTEST_PID" ]; then kill -"$1" "$PYTEST_PID" 2>/dev/null || true; fi; }
trap 'forward INT' INT
trap 'forward TERM' TERM

# Three workers (pytest-xdist), each with its own broker and PostgreSQL (the session's
# fixtures), take whole modules in turn: a module's fixtures (a stack, a browser) are
# started once. Most of a test's time is spent waiting on a broker, a server or a browser,
# so three share the two cores well (docs/testing.md). Modules go out in the order collected,
# the end-to-end ones (the longest) first, not by xdist's default of the most tests first,
# which left the chaos campaign to the end. MASH_TEST_WORKERS=0 runs in one process.
WORKERS=${MASH_TEST_WORKERS:-3}
status=0
MASH_TEST_RUN=$RUN_ID TMPDIR=$RUN_TMP .venv/bin/pytest tests -p no:cacheprovider -q \
  -n "$WORKERS" --dist loadfile --no-loadscope-reorder --basetemp "$RUN_TMP/pytest" "$@" &
PYTEST_PID=$!
while true; do
  wait "$PYTEST_PID" && status=0 || status=$?
  kill -0 "$PYTEST_PID" 2>/dev/null || break  # `wait` returned early for a signal
done

# a watchdog's `sleep` may take a moment to go; a server still there after that has leaked
left=""
for _ in $(seq 1 20); do
  left=$(leftovers)
  [ -z "$left" ] && break
  sleep 0.5
done
if [ -n "$left" ]; then
  echo "== FAILED: processes started by the test run are still running:" >&2
  # shellcheck disable=SC2086
  ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" >&2 || true
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
  [ "$status" = 0 ] && status=1
else
  rm -rf "$RUN_TMP"
fi
exit "$status"

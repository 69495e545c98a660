#!/usr/bin/env bash
# Zipkin, the trace UI, on loopback (in-memory storage: traces last until it stops).
#
#   deploy/zipkin.sh fetch   fetch the server's exec jar from Maven Central (once)
#   deploy/zipkin.sh up      run it in the foreground until SIGINT/SIGTERM (or the death of
#                            the process that started it)
#
# Environment (defaults): ZIPKIN_PORT (9411), ZIPKIN_VERSION (3.5.1),
# ZIPKIN_DIR (.data/zipkin), ZIPKIN_HEAP (512m). The UI is at /zipkin/. It listens on
# 127.0.0.1 only (Armeria's port settings: `--server.address` alone binds every interface).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${ZIPKIN_VERSION:-3.5.1}
DIR=${ZIPKIN_DIR:-$ROOT/.data/zipkin}
JAR=$DIR/zipkin-server-$VERSION-exec.jar
PORT=${ZIPKIN_PORT:-9411}
# shellcheck source=deploy/tether.sh
. "$ROOT/deploy/tether.sh"

fetch() {
  if [ -f "$JAR" ]; then return; fi
  echo "fetching Zipkin $VERSION from Maven Central..." >&2
  mkdir -p "$DIR"
  mvn -q -B dependency:copy "-Dartifact=io.zipkin:zipkin-server:$VERSION:jar:exec" \
    "-DoutputDirectory=$DIR"
}

up() {
  fetch
  tethered java "-Xmx${ZIPKIN_HEAP:-512m}" -XX:+UseSerialGC -jar "$JAR" \
    "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$PORT" \
    "--armeria.ports[0].protocols[0]=http" \
    --logging.level.root=WARN --spring.main.banner-mode=off
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  *) echo "usage: $0 fetch|up" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Prometheus for the hub, from Debian's packages.
#
#   deploy/prometheus.sh install       install Debian's prometheus (with promtool) when missing
#   deploy/prometheus.sh check         promtool: the configuration, the rules, the rule tests
#   deploy/prometheus.sh up CONFIG     run Prometheus with CONFIG in the foreground on loopback,
#                                      until SIGINT/SIGTERM or the death of whoever started it
#
# Environment (defaults): PROMETHEUS_PORT (9090), PROMETHEUS_DATA_DIR (.data/prometheus).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/deploy/prometheus
# shellcheck source=deploy/tether.sh
. "$ROOT/deploy/tether.sh"

install() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then return; fi
  echo "installing Prometheus from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # we run our own server when asked; the distribution's service is not needed
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
    systemctl disable prometheus 2>/dev/null || true
  fi
}

check() {
  install
  promtool check config "$HERE/prometheus.yml"
  promtool check rules "$HERE/rules.yml"
  (cd "$HERE" && promtool test rules rules.test.yml)
}

up() {
  local config=$1 data=${PROMETHEUS_DATA_DIR:-$ROOT/.data/prometheus}
  mkdir -p "$data"
  tethered prometheus "--config.file=$config" "--storage.tsdb.path=$data/tsdb" \
    "--web.listen-address=127.0.0.1:${PROMETHEUS_PORT:-9090}" --log.level=warn
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  up) up "$2" ;;
  *) echo "usage: $0 install | check | up CONFIG" >&2; exit 2 ;;
esac

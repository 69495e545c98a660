#!/usr/bin/env bash
# Chromium from Debian's packages, for the headless page tests (/docs with no network).
#
#   deploy/chromium.sh install   install Debian's chromium when missing
set -euo pipefail

install() {
  if command -v chromium >/dev/null; then return; fi
  echo "installing Chromium from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Headless Chromium for the console's browser tests: Debian's package, installed when
# missing (Playwright drives the system browser; it downloads none of its own).
#
#   deploy/chromium.sh install   print the browser's path, installing it first if needed
set -euo pipefail

find_browser() {
  local b
  for b in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; return; fi
  done
  return 1
}

install() {
  if find_browser; then return; fi
  echo "installing Chromium from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  find_browser
}

"${1:-install}"

#!/usr/bin/env bash
# Install Debian's chromium (/usr/bin/chromium), the browser the tests in tests/e2e drive with
# Playwright. Playwright's own browser download is not used: it needs hosts other than the
# package registries. Does nothing if /usr/bin/chromium exists. Quiet unless it fails.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: /usr/bin/chromium is missing and there is no apt-get; install Chromium so that /usr/bin/chromium runs it" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "error: /usr/bin/chromium is missing; as root run: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi

echo "Installing Debian's chromium for the browser tests (apt-get)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${sudo[@]}" apt-get update -qq &&
       "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
     >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: could not install chromium (see above)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "error: apt-get installed chromium but /usr/bin/chromium is missing" >&2
  exit 1
fi

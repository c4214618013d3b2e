#!/usr/bin/env bash
# Chromium (Debian's package) for the report's browser test: it loads
# report.html headless, looks for broken images and console errors and
# saves a screenshot (tests/functional/test_report_browser.py).
#   bash tools/services/40-chromium.sh up|down
# Nothing runs between tests: 'up' only installs the browser and writes
# its path to $STATE/binary (or the reason to $STATE/unavailable, and the
# test skips); 'down' has nothing to stop.
set -euo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/chromium
mkdir -p "$STATE"
say() { echo "[chromium] $*"; }

find_browser() {
    command -v chromium || command -v chromium-browser || true
}

unavailable() {
    echo "$1" > "$STATE/unavailable"
    rm -f "$STATE/binary"
    say "unavailable: $1 (the browser test will skip)"
    exit 0
}

up() {
    rm -f "$STATE/unavailable"
    local browser
    browser=$(find_browser)
    if [ -z "$browser" ]; then
        command -v apt-get >/dev/null || unavailable "no apt-get to install chromium"
        export DEBIAN_FRONTEND=noninteractive
        if ! { "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null &&
               "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
                   --no-install-recommends chromium >/dev/null; }; then
            unavailable "apt-get install chromium failed"
        fi
        browser=$(find_browser)
        [ -n "$browser" ] || unavailable "chromium installed but not on PATH"
    fi
    echo "$browser" > "$STATE/binary"
    say "using $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
}

case "${1:-}" in
    up) up ;;
    down) : ;;  # nothing started
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

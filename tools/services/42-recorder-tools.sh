#!/usr/bin/env bash
# The programs tools/record_app_run.py drives (Redis, PostgreSQL, nginx
# and their load generators; ip, unshare, setpriv, gcc) for its
# functional test
# (tests/functional/test_record_app_run.py).
#   bash tools/services/42-recorder-tools.sh up|down
# Nothing runs between tests: the recorder starts its own Redis in its
# own namespaces.  'up' only installs what is missing (or writes the
# reason to $STATE/unavailable, and the test skips); 'down' has nothing
# to stop.
set -euo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/recorder-tools
mkdir -p "$STATE"
say() { echo "[recorder-tools] $*"; }

# program -> Debian package
declare -A PACKAGE=([redis-server]=redis-server [redis-benchmark]=redis-tools
                    [redis-cli]=redis-tools [ip]=iproute2 [unshare]=util-linux
                    [setpriv]=util-linux [gcc]=gcc
                    [pg_config]=postgresql [pgbench]=postgresql-client
                    [psql]=postgresql-client [pg_isready]=postgresql-client
                    [nginx]=nginx [ab]=apache2-utils)

unavailable() {
    echo "$1" > "$STATE/unavailable"
    say "unavailable: $1 (the recorder's test will skip)"
    exit 0
}

up() {
    rm -f "$STATE/unavailable"
    local missing=() program
    for program in "${!PACKAGE[@]}"; do
        command -v "$program" >/dev/null || missing+=("${PACKAGE[$program]}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        command -v apt-get >/dev/null || unavailable "no apt-get to install ${missing[*]}"
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        say "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! { "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null &&
               "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
                   --no-install-recommends "${missing[@]}" >/dev/null; }; then
            unavailable "apt-get install ${missing[*]} failed"
        fi
    fi
    # the packages start a system Redis, PostgreSQL or nginx where they
    # can; the recorder runs its own in its own network namespace and
    # needs none of them
    say "ready: $(redis-server --version | cut -d' ' -f1-3)," \
        "$("$(pg_config --bindir)/postgres" --version), $(nginx -v 2>&1)"
}

case "${1:-}" in
    up) up ;;
    down) : ;;  # nothing started
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

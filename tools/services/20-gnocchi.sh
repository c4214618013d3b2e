#!/usr/bin/env bash
# A real Gnocchi 4.7.1 for the functional tests: API under uwsgi with
# basic auth, gnocchi-metricd, file storage, PostgreSQL indexer.
#   bash tools/services/20-gnocchi.sh up|down
# PostgreSQL: the one on 127.0.0.1:5432 when it answers (this machine
# kind starts it), else a private cluster on port 5439 under the state
# dir.  The server lives in its own virtualenv so that it never mixes
# with the project's.  See tools/services/README.rst for the contract.
set -euo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/gnocchi
PORT=${WA_GNOCCHI_PORT:-8041}
PG_PRIVATE_PORT=${WA_PG_PORT:-5439}
PYTHON=${PYTHON:-python3}
# pyuwsgi: uWSGI as a binary wheel, the same server and ``uwsgi`` command
# as the uwsgi sdist, which compiled for 2-5 minutes on a fresh machine
PKGS="gnocchi==4.7.1 gnocchiclient==7.2.0 pyuwsgi==2.0.30.post1 psycopg2-binary==2.9.10 oslo.db sqlalchemy sqlalchemy-utils alembic keystonemiddleware==13.0.1"
mkdir -p "$STATE"
# shellcheck source=tools/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$(date +%s)
say() { echo "[gnocchi $(( $(date +%s) - started ))s] $*"; }

unavailable() {
    echo "$1" > "$STATE/unavailable"
    # nothing half-started stays behind
    stop_pid gnocchi-api "$STATE/api.pid" INT >/dev/null 2>&1 || true
    stop_pid gnocchi-metricd "$STATE/metricd.pid" TERM >/dev/null 2>&1 || true
    say "unavailable: $1 (functional tests that need Gnocchi will skip)"
    exit 0
}

apt_install() {
    command -v apt-get >/dev/null || return 1
    export DEBIAN_FRONTEND=noninteractive
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q "$@" >/dev/null
}

port_busy() {  # port_busy port: something listens on 127.0.0.1:port
    "$PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

up() {
    rm -f "$STATE/unavailable"
    if [ -f "$STATE/api.pid" ] && kill -0 "$(cat "$STATE/api.pid")" 2>/dev/null \
        && [ -s "$STATE/endpoint" ] \
        && curl -sf -u admin: "$(cat "$STATE/endpoint")/v1/status" >/dev/null; then
        say "already running at $(cat "$STATE/endpoint")"
        return 0
    fi
    # what an earlier, failed 'up' of this state directory left running
    stop_pid gnocchi-api "$STATE/api.pid" INT
    stop_pid gnocchi-metricd "$STATE/metricd.pid" TERM
    # build tools (for the host agent's libvirt-python), curl and psql
    if ! command -v gcc >/dev/null || ! command -v curl >/dev/null \
        || ! command -v psql >/dev/null \
        || [ ! -e "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
        apt_install build-essential python3-dev curl postgresql-client \
            || unavailable "cannot install build tools (no apt-get?)"
    fi
    # the server's own virtualenv
    if [ "$(cat "$STATE/venv.stamp" 2>/dev/null)" != "$PKGS" ]; then
        rm -rf "$STATE/venv"
        "$PYTHON" -m venv "$STATE/venv"
        say "installing the server virtualenv: $PKGS (log: $STATE/pip.log)"
        # pip's output (builds' setuptools deprecation warnings) to a log
        # shellcheck disable=SC2086  # PKGS is a list: split it
        "$STATE/venv/bin/pip" install -q --disable-pip-version-check $PKGS \
            >"$STATE/pip.log" 2>&1 || tail -n 20 "$STATE/pip.log" >&2
        "$STATE/venv/bin/python" -c "import gnocchi, psycopg2" \
            || unavailable "pip could not install $PKGS"
        echo "$PKGS" > "$STATE/venv.stamp"
        say "server virtualenv ready"
    fi
    # PostgreSQL
    local pg_port=5432
    if ! port_busy 5432; then
        pg_port=$PG_PRIVATE_PORT
        local pgbin
        pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
        if [ ! -d "$pgbin" ]; then
            apt_install postgresql || unavailable "cannot install PostgreSQL"
            pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
        fi
        mkdir -p "$STATE/pg"
        chown -R postgres:postgres "$STATE/pg" 2>/dev/null || true
        if [ ! -f "$STATE/pg/data/PG_VERSION" ]; then
            runuser -u postgres -- "$pgbin/initdb" -D "$STATE/pg/data" -A trust \
                -U postgres -E UTF8 >"$STATE/pg/initdb.log"
        fi
        if ! port_busy "$pg_port"; then
            runuser -u postgres -- "$pgbin/pg_ctl" -D "$STATE/pg/data" \
                -l "$STATE/pg/pg.log" -w -o "-p $pg_port -k $STATE/pg \
                -c listen_addresses=127.0.0.1" start >/dev/null
            head -1 "$STATE/pg/data/postmaster.pid" > "$STATE/postgres.pid"
        fi
        say "private PostgreSQL on $pg_port"
    fi
    # one database per state directory: its file storage belongs to it
    local db
    db="gnocchi_wa_$(echo "$STATE" | md5sum | cut -c1-8)"
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
        || psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc \
            "CREATE DATABASE $db" \
        || unavailable "cannot create the $db database"
    # a test indexer: no fsync per commit (loading 10,000 resources, one
    # transaction each, is twice as fast; a crash loses the last commits
    # of test data at worst)
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc \
        "ALTER DATABASE $db SET synchronous_commit TO off" \
        || unavailable "cannot configure the $db database"
    mkdir -p "$STATE/storage"
    # the port is chosen just before the server starts (two checkouts
    # starting at once must not both pick it); another Gnocchi (or
    # anything) on it is not ours: take the next free one
    for _ in $(seq 1 20); do
        port_busy "$PORT" || break
        PORT=$((PORT + 1))
    done
    cat > "$STATE/gnocchi.conf" <<CONF
[DEFAULT]
debug = false
[api]
auth_mode = basic
host = 127.0.0.1
port = $PORT
uwsgi_mode = http
workers = 2
[indexer]
url = postgresql://postgres@127.0.0.1:$pg_port/$db
[storage]
driver = file
file_basepath = $STATE/storage
[metricd]
metric_processing_delay = 1
workers = 2
CONF
    "$STATE/venv/bin/gnocchi-upgrade" --config-file "$STATE/gnocchi.conf" \
        >"$STATE/upgrade.log" 2>&1 \
        || unavailable "gnocchi-upgrade failed, see $STATE/upgrade.log"
    # gnocchi-api execs uwsgi: $! is the uwsgi master.  uwsgi takes its
    # Python home from VIRTUAL_ENV when set: a caller's activated venv
    # would leave it with no application
    VIRTUAL_ENV="$STATE/venv" PATH="$STATE/venv/bin:$PATH" \
        setsid nohup "$STATE/venv/bin/gnocchi-api" \
        --config-file "$STATE/gnocchi.conf" >"$STATE/api.log" 2>&1 </dev/null &
    echo $! > "$STATE/api.pid"
    setsid nohup "$STATE/venv/bin/gnocchi-metricd" \
        --config-file "$STATE/gnocchi.conf" >"$STATE/metricd.log" 2>&1 </dev/null &
    echo $! > "$STATE/metricd.pid"
    for _ in $(seq 1 240); do
        curl -sf -u admin: "http://127.0.0.1:$PORT/v1/status" >/dev/null && break
        sleep 0.5
    done
    curl -sf -u admin: "http://127.0.0.1:$PORT/v1/status" >/dev/null \
        || unavailable "gnocchi-api did not answer, see $STATE/api.log"
    kill -0 "$(cat "$STATE/api.pid")" 2>/dev/null \
        || unavailable "gnocchi-api exited, see $STATE/api.log"
    seed
    echo "http://127.0.0.1:$PORT" > "$STATE/endpoint"
    say "up: http://127.0.0.1:$PORT (basic auth, user admin)"
}

seed() {
    # an archive policy for 5-minute data and Ceilometer's resource types
    local api="http://127.0.0.1:$PORT/v1" j="Content-Type: application/json"
    curl -sf -u admin: "$api/archive_policy/watcher-adaptive" >/dev/null ||
        curl -sf -u admin: -H "$j" -X POST "$api/archive_policy" -d '{
          "name": "watcher-adaptive",
          "back_window": 0,
          "aggregation_methods": ["mean", "max", "min", "sum", "count",
                                  "rate:mean"],
          "definition": [{"granularity": "60s", "timespan": "2 days"},
                         {"granularity": "300s", "timespan": "30 days"}]}' \
        >/dev/null
    curl -sf -u admin: "$api/resource_type/instance" >/dev/null ||
        curl -sf -u admin: -H "$j" -X POST "$api/resource_type" -d '{
          "name": "instance", "attributes": {
            "display_name": {"type": "string", "required": false},
            "host": {"type": "string", "required": false},
            "flavor_name": {"type": "string", "required": false},
            "flavor_id": {"type": "string", "required": false},
            "image_ref": {"type": "string", "required": false},
            "server_group": {"type": "string", "required": false},
            "vcpus": {"type": "number", "required": false},
            "memory": {"type": "number", "required": false}}}' >/dev/null
}

down() {
    stop_pid gnocchi-api "$STATE/api.pid" INT
    stop_pid gnocchi-metricd "$STATE/metricd.pid" TERM
    # a private PostgreSQL only (SIGINT: fast shutdown)
    stop_pid postgresql "$STATE/postgres.pid" INT
    rm -f "$STATE/endpoint"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real Aetos (OpenStack's Keystone-aware proxy in front of Prometheus)
# with a Keystone of its own, for the Aetos datasource's functional test.
#   bash tools/services/55-aetos.sh up|down
# Keystone (SQLite database, fernet tokens, admin/admin bootstrapped)
# and Aetos 3 (its keystonemiddleware pipeline, default policy) each run
# under gunicorn on 127.0.0.1; the catalog's metric-storage endpoint is
# this Aetos, which forwards to the Prometheus of 50-prometheus.sh
# (127.0.0.1:$WA_PROMETHEUS_PORT, connected per request: that server
# need not be up yet).  Both live in one virtualenv
# ($WA_AETOS_VENV, default ~/.cache/watcher-adaptive/aetos-venv),
# pinned by tools/services/openstack/constraints.txt.
# WA_AETOS=0 leaves it out.  tools/run-tests.sh waits for it only
# before the functional tests (its first virtualenv install took 1.5 min
# here, a start with the virtualenv there 40 s).
# Writes $STATE/aetos.json (URLs, credentials), or $STATE/unavailable.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/services/lib.sh
. "$HERE/lib.sh"
ROOT_STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
STATE=$ROOT_STATE/aetos
VENV=${WA_AETOS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/watcher-adaptive/aetos-venv}
CONSTRAINTS=$HERE/openstack/constraints.txt
PROM_PORT=${WA_PROMETHEUS_PORT:-19090}
KS_PORT=${WA_AETOS_KEYSTONE_PORT:-19501}
AETOS_PORT=${WA_AETOS_PORT:-19502}
PASSWORD=wa-aetos-admin
PKGS=(keystone aetos==3.0.0 gunicorn)
mkdir -p "$STATE"
say() { echo "[aetos] $*"; }

unavailable() { give_up "$1" "the Aetos datasource tests"; }

port_busy() { curl -s -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null; }

value() {  # value KEY: a value of $STATE/aetos.json
    json_get "$STATE/aetos.json" "d['$1']"
}

start() {  # start NAME COMMAND...: a daemon, its PID in $STATE/NAME.pid
    local name=$1; shift
    daemon "$STATE/$name.pid" "$STATE/$name.log" "$@"
}

http_up() {  # http_up NAME URL: an HTTP answer within 120 s
    wait_http "$1" "$2" "$STATE/$1.pid" "$STATE/$1.log" 120
}

ensure_venv() {
    # aetos is not in the constraints: its own pins come from its
    # requirements, the shared ones from the file
    venv_install "$VENV" \
        "$(cat "$CONSTRAINTS" <(printf '%s\n' "${PKGS[@]}") | md5sum | cut -c1-12)" \
        "Keystone and Aetos" "$STATE/pip.log" -c "$CONSTRAINTS" "${PKGS[@]}"
}

configure_keystone() {
    rm -rf "$STATE/keystone"
    mkdir -p "$STATE/keystone/fernet" "$STATE/keystone/credential"
    cat > "$STATE/keystone/keystone.conf" <<CONF
[DEFAULT]
log_file = $STATE/keystone-app.log
[database]
connection = sqlite:///$STATE/keystone/keystone.db
[fernet_tokens]
key_repository = $STATE/keystone/fernet
[credential]
key_repository = $STATE/keystone/credential
CONF
    keystone_bootstrap "$VENV/bin/keystone-manage" \
        "$STATE/keystone/keystone.conf" "$KS_PORT" "$PASSWORD" RegionOne \
        "$STATE/keystone-manage.log"
}

configure_aetos() {
    local paste
    paste=$("$VENV/bin/python" -c 'import aetos, os; print(os.path.dirname(aetos.__file__))')/api-paste.ini
    # keystonemiddleware reads its options from the file its paste filter
    # names, not from the one Aetos was given
    sed -e "s|^oslo_config_project = aetos|oslo_config_project = aetos\noslo_config_file = $STATE/aetos.conf|" \
        "$paste" > "$STATE/api-paste.ini"
    cat > "$STATE/aetos.conf" <<CONF
[DEFAULT]
auth_mode = keystone
paste_config = $STATE/api-paste.ini
log_file = $STATE/aetos-app.log
[prometheus]
host = 127.0.0.1
port = $PROM_PORT
CONF
    ks_authtoken "$KS_PORT" "$PASSWORD" RegionOne keystone_authtoken \
        >> "$STATE/aetos.conf"
}

catalog() {  # the metric-storage service and its endpoints: this Aetos
    "$VENV/bin/python" - "$KS_PORT" "$AETOS_PORT" "$PASSWORD" <<'PY'
import sys
from keystoneauth1 import session
from keystoneauth1.identity import v3

ks, aetos, password = sys.argv[1:]
sess = session.Session(auth=v3.Password(
    auth_url=f"http://127.0.0.1:{ks}/v3", username="admin",
    password=password, project_name="admin", user_domain_name="Default",
    project_domain_name="Default"))
url = f"http://127.0.0.1:{ks}/v3"
service = sess.post(f"{url}/services", json={"service": {
    "type": "metric-storage", "name": "aetos"}}).json()["service"]
for interface in ("public", "internal", "admin"):
    sess.post(f"{url}/endpoints", json={"endpoint": {
        "service_id": service["id"], "interface": interface,
        "region_id": "RegionOne", "url": f"http://127.0.0.1:{aetos}"}})
PY
}

up() {
    rm -f "$STATE/unavailable"
    if [ "${WA_AETOS:-1}" = 0 ]; then
        unavailable "off (WA_AETOS=0)"
    fi
    if alive "$STATE/keystone.pid" && alive "$STATE/aetos.pid" \
        && [ -s "$STATE/aetos.json" ] \
        && curl -sf "$(value aetos_url)/healthcheck" >/dev/null; then
        say "already running (Aetos $(value aetos_url))"
        return 0
    fi
    down >/dev/null
    command -v curl >/dev/null || unavailable "no curl"
    # another checkout's pair (or anything) on the ports: the next pair
    local _
    for _ in $(seq 1 20); do
        port_busy "$KS_PORT" || port_busy "$AETOS_PORT" || break
        KS_PORT=$((KS_PORT + 2)) AETOS_PORT=$((AETOS_PORT + 2))
    done
    port_busy "$KS_PORT" && unavailable "no free port pair from $KS_PORT (set WA_AETOS_KEYSTONE_PORT, WA_AETOS_PORT)"
    port_busy "$AETOS_PORT" && unavailable "no free port pair from $AETOS_PORT (set WA_AETOS_KEYSTONE_PORT, WA_AETOS_PORT)"
    ensure_venv
    configure_keystone
    configure_aetos
    # Keystone's WSGI module reads sys.argv: openstack/wsgi_app.py gives
    # it its own
    start keystone env "WA_WSGI_APP=keystone.wsgi.api:application" \
        "PYTHONPATH=$HERE/openstack" \
        "OS_KEYSTONE_CONFIG_FILES=$STATE/keystone/keystone.conf" \
        "WA_WSGI_ARGV=--config-file $STATE/keystone/keystone.conf" \
        "$VENV/bin/gunicorn" --bind "127.0.0.1:$KS_PORT" --workers 1 \
        --threads 4 --timeout 120 --graceful-timeout 5 \
        --no-control-socket wsgi_app:application
    start aetos "$VENV/bin/gunicorn" --bind "127.0.0.1:$AETOS_PORT" \
        --workers 1 --threads 4 --timeout 120 --graceful-timeout 5 \
        --no-control-socket \
        "aetos.app:build_wsgi_app(argv=['--config-file', '$STATE/aetos.conf'])"
    http_up keystone "http://127.0.0.1:$KS_PORT/v3"
    catalog >"$STATE/catalog.log" 2>&1 \
        || unavailable "the Keystone catalog could not be made, see $STATE/catalog.log"
    http_up aetos "http://127.0.0.1:$AETOS_PORT/healthcheck"
    cat > "$STATE/aetos.json" <<JSON
{"auth_url": "http://127.0.0.1:$KS_PORT/v3", "username": "admin",
 "password": "$PASSWORD", "project_name": "admin",
 "user_domain_name": "Default", "project_domain_name": "Default",
 "region_name": "RegionOne", "aetos_url": "http://127.0.0.1:$AETOS_PORT",
 "prometheus_port": $PROM_PORT}
JSON
    say "up: Keystone http://127.0.0.1:$KS_PORT/v3, Aetos http://127.0.0.1:$AETOS_PORT -> Prometheus :$PROM_PORT"
}

down() {
    stop_pid aetos "$STATE/aetos.pid" TERM
    stop_pid keystone "$STATE/keystone.pid" TERM
    rm -f "$STATE/aetos.json"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real OpenStack for the operator-path tests: Keystone, Placement, Nova
# (API, conductor, scheduler and two nova-compute with the libvirt
# driver on the two namespace libvirt hosts of 30-libvirt-hosts.sh),
# Glance, Watcher (API, decision engine, applier) with this project's
# plugins, a nova-adaptive-agent per host and a Keystone front of the
# Gnocchi of 20-gnocchi.sh; Neutron is a stand-in (servers boot with no
# network: tools/services/openstack/neutron_standin.py).
#   bash tools/services/45-openstack.sh up|down|status|rss
#   bash tools/services/45-openstack.sh stop-compute|start-compute A|B
# (stop-compute / start-compute: one host's nova-compute, for the tests
# of a host Nova reports down)
#
# The OpenStack packages live in their own virtualenv
# ($WA_OPENSTACK_VENV, default ~/.cache/watcher-adaptive/openstack-venv),
# pinned by tools/services/openstack/constraints.txt; this checkout's
# package is laid beside it under the state directory (PYTHONPATH), so
# two checkouts share the virtualenv and each runs its own plugins.
# Databases (MariaDB on 127.0.0.1:3306, root) and ports are per state
# directory: wa_os_<hash>_<service>, ports from $WA_OPENSTACK_PORT_BASE.
# Watcher's, nova-compute's and the agents' plugin options are written by
# the DevStack plugin's functions (devstack/lib/watcher-adaptive through
# tools/services/openstack/devstack-shim.sh).
#
# Needs the services of 10-rabbitmq.sh, 20-gnocchi.sh and
# 30-libvirt-hosts.sh: tools/run-tests.sh starts them side by side, so
# 'up' installs its virtualenv first and then waits (up to
# $WA_OPENSTACK_WAIT_S, 1200 s) for their files in the state directory.
# On by default; WA_OPENSTACK=0 leaves it out (up writes 'unavailable'
# and tests/functional/test_openstack_stack.py skips).
# Writes $STATE/stack.json (URLs, credentials, hosts), $STATE/openrc and
# $STATE/clouds.yaml, or $STATE/unavailable (the reason) and exits 0.
# See tools/services/README.rst for the contract.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=tools/services/lib.sh
. "$HERE/lib.sh"
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
ROOT_STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
STATE=$ROOT_STATE/openstack
CONSTRAINTS=$HERE/openstack/constraints.txt
VENV=${WA_OPENSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/watcher-adaptive/openstack-venv}
WAIT_S=${WA_OPENSTACK_WAIT_S:-1200}
# per state directory: database names and ports
H=$(printf '%s' "$STATE" | md5sum | cut -c1-6)
DB_PREFIX=wa_os_$H
BASE=${WA_OPENSTACK_PORT_BASE:-$(( 21000 + 16#${H:0:3} % 300 * 10 ))}
KS_PORT=$BASE PLACEMENT_PORT=$((BASE + 1)) NOVA_PORT=$((BASE + 2))
GLANCE_PORT=$((BASE + 3)) WATCHER_PORT=$((BASE + 4))
NEUTRON_PORT=$((BASE + 5)) GNOCCHI_PORT=$((BASE + 6))
PASSWORD=wa-os-admin
REGION=RegionOne
DB_URL="mysql+pymysql://root@127.0.0.1:3306"
# what goes into the virtualenv (versions from the constraints file)
PKGS=(keystone openstack-placement nova glance python-watcher
      python-watcherclient python-openstackclient gnocchiclient gunicorn
      PyMySQL libvirt-python setuptools wheel)
SYS_PKGS=(mariadb-server qemu-utils libvirt-dev pkg-config python3-dev
          build-essential)
mkdir -p "$STATE"
say() { echo "[openstack ${SECONDS}s] $*"; }

unavailable() { give_up "$1" "the tests over the OpenStack stack"; }

install_system_packages() {
    local missing=() p
    for p in "${SYS_PKGS[@]}"; do
        installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "${missing[@]}" >/dev/null \
        || unavailable "apt-get could not install ${missing[*]}"
}

mariadb_up() {
    mysql -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1 && return 0
    # this machine kind starts MariaDB before every session; elsewhere
    # start Debian's as its init script would
    if [ -x /etc/init.d/mariadb ]; then
        /etc/init.d/mariadb start >/dev/null 2>&1 || true
    fi
    for _ in $(seq 1 60); do
        mysql -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 1
    done
    unavailable "MariaDB does not answer on 127.0.0.1:3306 as root"
}

ensure_venv() {
    local reqs
    reqs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$REPO/requirements.txt")
    # shellcheck disable=SC2086  # one requirement per word
    venv_install "$VENV" "$( (cat "$CONSTRAINTS" "$REPO/requirements.txt"
                              echo "${PKGS[*]}") | sha256sum | cut -c1-16)" \
        "the OpenStack packages" "$STATE/pip.log" \
        -c "$CONSTRAINTS" "${PKGS[@]}" $reqs
}

# this checkout's package, beside the virtualenv: its entry points
# (the strategy, the action, the agent) are found through PYTHONPATH
install_overlay() {
    rm -rf "$STATE/site"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps \
        --no-build-isolation --target "$STATE/site" "$REPO" \
        >"$STATE/overlay.log" 2>&1 \
        || unavailable "cannot install this checkout beside the virtualenv, see $STATE/overlay.log"
}

wait_for() {  # wait_for WHAT FILE UNAVAILABLE_FILE
    local deadline=$(( $(date +%s) + WAIT_S ))
    until [ -s "$2" ]; do
        [ -s "$3" ] && unavailable "$1 is unavailable: $(cat "$3")"
        [ "$(date +%s)" -lt "$deadline" ] \
            || unavailable "no $1 after ${WAIT_S} s ($2)"
        sleep 2
    done
}

db_create() {  # db_create NAME: a fresh database
    mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS ${DB_PREFIX}_$1;
        CREATE DATABASE ${DB_PREFIX}_$1 CHARACTER SET utf8mb4;"
}

start() {  # start NAME COMMAND...: a daemon, its PID in $STATE/pids/NAME
    local name=$1; shift
    daemon "$STATE/pids/$name" "$STATE/logs/$name.log" \
        env "PYTHONPATH=$STATE/site" "$@"
}

gunicorn_start() {  # gunicorn_start NAME PORT MODULE:APP [ENV=VALUE...]
    # through openstack/wsgi_app.py: the applications that read
    # sys.argv get their own arguments (WA_WSGI_ARGV), not gunicorn's
    local name=$1 port=$2 app=$3; shift 3
    start "$name" env "WA_WSGI_APP=$app" "PYTHONPATH=$STATE/site:$HERE/openstack" \
        "$@" "$VENV/bin/gunicorn" --bind "127.0.0.1:$port" \
        --workers 1 --threads 4 --timeout 600 --graceful-timeout 5 \
        --no-control-socket \
        --name "wa-os-$name" wsgi_app:application
}

http_up() {  # http_up NAME URL: any HTTP answer within 300 s
    wait_http "$1" "$2" "$STATE/pids/$1" "$STATE/logs/$1.log" 300
}

authtoken() {  # authtoken SECTION...: Keystone client sections
    ks_authtoken "$KS_PORT" "$PASSWORD" "$REGION" "$@"
}

configure_keystone() {
    mkdir -p "$STATE/etc/keystone" "$STATE/keystone/fernet" \
        "$STATE/keystone/credential"
    cat > "$STATE/etc/keystone/keystone.conf" <<CONF
[DEFAULT]
log_file = $STATE/logs/keystone-app.log
[database]
connection = $DB_URL/${DB_PREFIX}_keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $STATE/keystone/fernet
[credential]
key_repository = $STATE/keystone/credential
CONF
    db_create keystone
    keystone_bootstrap "$VENV/bin/keystone-manage" \
        "$STATE/etc/keystone/keystone.conf" "$KS_PORT" "$PASSWORD" "$REGION" \
        "$STATE/logs/keystone-manage.log"
}

configure_placement() {
    mkdir -p "$STATE/etc/placement"
    { cat <<CONF
[DEFAULT]
log_file = $STATE/logs/placement-app.log
[api]
auth_strategy = keystone
[placement_database]
connection = $DB_URL/${DB_PREFIX}_placement
CONF
      authtoken keystone_authtoken; } > "$STATE/etc/placement/placement.conf"
    db_create placement
    OS_PLACEMENT_CONFIG_DIR=$STATE/etc/placement \
        "$VENV/bin/placement-manage" --config-dir "$STATE/etc/placement" db sync \
        >"$STATE/logs/placement-manage.log" 2>&1
}

nova_common() {  # nova_common DEFAULT_LINES MORE_SECTIONS: a nova.conf
    cat <<CONF
[DEFAULT]
transport_url = $TRANSPORT_URL
debug = true
$1
[api]
auth_strategy = keystone
[api_database]
connection = $DB_URL/${DB_PREFIX}_nova_api
[database]
connection = $DB_URL/${DB_PREFIX}_nova
[glance]
region_name = $REGION
$(authtoken neutron)
endpoint_override = http://127.0.0.1:$NEUTRON_PORT
[oslo_concurrency]
lock_path = $STATE/nova/locks
[oslo_messaging_notifications]
driver = messagingv2
[notifications]
notification_format = both
[vnc]
enabled = false
[spice]
enabled = false
[scheduler]
discover_hosts_in_cells_interval = 5
workers = 1
[conductor]
workers = 1
[wsgi]
api_paste_config = $STATE/etc/nova/api-paste.ini
$2
CONF
    authtoken keystone_authtoken placement service_user
}

configure_nova() {
    mkdir -p "$STATE/etc/nova" "$STATE/nova/locks" "$STATE/nova/instances"
    cp "$VENV/etc/nova/api-paste.ini" "$STATE/etc/nova/api-paste.ini"
    nova_common "state_path = $STATE/nova
log_file = $STATE/logs/nova-api-app.log" "" > "$STATE/etc/nova/nova.conf"
    local X x ip uri
    for X in A B; do
        x=$(echo "$X" | tr AB ab)
        ip=$(json_get "$HOSTS_JSON" "d['hosts']['$X']['ip']")
        uri=$(json_get "$HOSTS_JSON" "d['hosts']['$X']['uri']")
        mkdir -p "$STATE/nova-cpu-$X"
        # Nova takes instances_path to be the same path on every
        # compute (the destination's domain XML keeps the source's disk
        # paths): each nova-compute runs in its libvirt host's mount
        # namespace, where /var/lib/libvirt is that host's own
        # directory (30-libvirt-hosts.sh), so one path names a separate
        # directory on each host.  Local disks: libvirt refuses them as
        # "unsafe" unless migrated, so Nova block-migrates the 1 MiB root
        # disk (the guest lives in its initramfs).  state_path (the
        # compute node's identity) is per compute.
        nova_common "host = host$x.wa.test
my_ip = $ip
state_path = $STATE/nova-cpu-$X
instances_path = /var/lib/libvirt/nova-instances
compute_driver = libvirt.LibvirtDriver
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
log_file = $STATE/logs/nova-compute-$X-app.log" "[compute]
live_migration_wait_for_vif_plug = false
[libvirt]
virt_type = qemu
cpu_mode = none
connection_uri = $uri
live_migration_scheme = tcp
live_migration_inbound_addr = $ip
# post-copy for certain: the first pre-copy pass is slowed to 8 MiB/s,
# and the completion timeout (1 s per GiB, 2 GiB at least) makes Nova
# switch to post-copy 2-3 s into it
live_migration_bandwidth = 8
live_migration_completion_timeout = 1
live_migration_timeout_action = force_complete
[workarounds]
# the kernel (aki) fails the format inspector's safety check when the
# destination fetches it for the block migration (ImageUnacceptable)
disable_deep_image_inspection = true
[nova_sys_admin]
helper_command = $VENV/bin/privsep-helper --config-file $STATE/etc/nova/nova-cpu-$X.conf" \
            > "$STATE/etc/nova/nova-cpu-$X.conf"
    done
    local nm=("$VENV/bin/nova-manage" --config-file "$STATE/etc/nova/nova.conf")
    db_create nova_api; db_create nova; db_create nova_cell0
    {
        "${nm[@]}" api_db sync
        "${nm[@]}" cell_v2 map_cell0 \
            --database_connection "$DB_URL/${DB_PREFIX}_nova_cell0"
        "${nm[@]}" cell_v2 create_cell --name cell1
        "${nm[@]}" db sync
    } >"$STATE/logs/nova-manage.log" 2>&1
}

configure_glance() {
    mkdir -p "$STATE/etc/glance" "$STATE/glance/images" \
        "$STATE/glance/staging" "$STATE/glance/tasks"
    cp "$VENV/etc/glance/glance-api-paste.ini" "$STATE/etc/glance/"
    { cat <<CONF
[DEFAULT]
log_file = $STATE/logs/glance-app.log
enabled_backends = fs:file
worker_self_reference_url = http://127.0.0.1:$GLANCE_PORT
[database]
connection = $DB_URL/${DB_PREFIX}_glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $STATE/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $STATE/etc/glance/glance-api-paste.ini
CONF
      authtoken keystone_authtoken; } > "$STATE/etc/glance/glance-api.conf"
    : > "$STATE/etc/glance/glance-image-import.conf"
    db_create glance
    "$VENV/bin/glance-manage" --config-file "$STATE/etc/glance/glance-api.conf" \
        db_sync >"$STATE/logs/glance-manage.log" 2>&1
}

configure_watcher() {
    mkdir -p "$STATE/etc/watcher" "$STATE/watcher"
    local conf=$STATE/etc/watcher/watcher.conf
    { cat <<CONF
[DEFAULT]
transport_url = $TRANSPORT_URL
debug = true
[database]
connection = $DB_URL/${DB_PREFIX}_watcher
[api]
host = 127.0.0.1
port = $WATCHER_PORT
[oslo_messaging_notifications]
driver = messagingv2
[collector]
collector_plugins = compute
[watcher_cluster_data_model_collectors.compute]
period = 10
[watcher_datasources]
datasources = gnocchi
[watcher_decision_engine]
action_plan_expiry = 60
[oslo_concurrency]
lock_path = $STATE/watcher
CONF
      authtoken keystone_authtoken watcher_clients_auth; } > "$conf"
    # the plugin's options, as DevStack writes them (in a subshell:
    # DevStack's globals stay there)
    # shellcheck disable=SC2030,SC2031
    (
        export OS_VENV=$VENV OS_TRANSPORT_URL=$TRANSPORT_URL OS_REPO=$REPO
        export ENABLED_SERVICES=watcher-decision-engine
        export OS_ADMIN_PASSWORD=$PASSWORD OS_AUTH_URL=http://127.0.0.1:$KS_PORT/v3
        # shellcheck source=tools/services/openstack/devstack-shim.sh
        . "$HERE/openstack/devstack-shim.sh"
        WATCHER_ADAPTIVE_DIR=$REPO
        WATCHER_ADAPTIVE_DATA_DIR=$STATE/watcher
        WATCHER_ADAPTIVE_GNOCCHI_AUTH=none
        # shellcheck source=devstack/settings
        . "$REPO/devstack/settings"
        # shellcheck source=devstack/lib/watcher-adaptive
        . "$REPO/devstack/lib/watcher-adaptive"
        WATCHER_CONF=$conf configure_watcher_adaptive_strategy
    )
    db_create watcher
    # shellcheck disable=SC2031  # conf: this function's own
    PYTHONPATH="$STATE/site" "$VENV/bin/watcher-db-manage" --config-file "$conf" \
        upgrade >"$STATE/logs/watcher-db-manage.log" 2>&1
}

configure_computes_and_agents() {  # nova-cpu post-copy + the agents
    local X x
    for X in A B; do
        x=$(echo "$X" | tr AB ab)
        mkdir -p "$STATE/agent-$X/markers"
        # shellcheck disable=SC2030,SC2031
        (
            export OS_VENV=$VENV OS_TRANSPORT_URL=$TRANSPORT_URL OS_REPO=$REPO
            export ENABLED_SERVICES=watcher-adaptive-agent
            export OS_ADMIN_PASSWORD=$PASSWORD OS_AUTH_URL=http://127.0.0.1:$KS_PORT/v3
            export PYTHONPATH=$STATE/site
            # shellcheck source=tools/services/openstack/devstack-shim.sh
            . "$HERE/openstack/devstack-shim.sh"
            WATCHER_ADAPTIVE_DIR=$REPO
            WATCHER_ADAPTIVE_DATA_DIR=$STATE/agent-$X
            WATCHER_ADAPTIVE_AGENT_CONF_DIR=$STATE/etc/agent-$X
            WATCHER_ADAPTIVE_AGENT_HOST=host$x.wa.test
            WATCHER_ADAPTIVE_MARKER_DIR=$STATE/agent-$X/markers
            # shellcheck source=devstack/settings
            . "$REPO/devstack/settings"
            # shellcheck source=devstack/lib/watcher-adaptive
            . "$REPO/devstack/lib/watcher-adaptive"
            configure_watcher_adaptive_agent
            NOVA_CPU_CONF=$STATE/etc/nova/nova-cpu-$X.conf \
                configure_watcher_adaptive_nova_cpu
        ) >"$STATE/logs/devstack-agent-$X.log" 2>&1 \
            || unavailable "the DevStack plugin's agent configuration failed, see $STATE/logs/devstack-agent-$X.log"
        # what DevStack's host has at the system paths, this one has
        # under the libvirt host's directories
        local conf=$STATE/etc/agent-$X/nova-adaptive-agent.conf
        python3 "$HERE/openstack/iniset.py" "$conf" agent libvirt_uri \
            "$(json_get "$HOSTS_JSON" "d['hosts']['$X']['uri']")"
        python3 "$HERE/openstack/iniset.py" "$conf" agent qemu_run_dir \
            "$(json_get "$HOSTS_JSON" "d['hosts']['$X']['qemu_run_dir']")"
        python3 "$HERE/openstack/iniset.py" "$conf" agent qemu_log_dir \
            "$(json_get "$HOSTS_JSON" "d['hosts']['$X']['serial_dir']")"
        python3 "$HERE/openstack/iniset.py" "$conf" DEFAULT log_file \
            "$STATE/logs/agent-$X-app.log"
        # the operator's choice the plugin leaves open: the core guests
        # are moved to during post-copy (here the machine's last one)
        python3 "$HERE/openstack/iniset.py" "$conf" resource_manager \
            guest_cpus "$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')"
    done
}

gnocchi_front() {  # Gnocchi's API with Keystone auth, on 20-gnocchi's data
    local g=$ROOT_STATE/gnocchi
    mkdir -p "$STATE/etc/gnocchi"
    local paste
    paste=$("$g/venv/bin/python" -c 'import gnocchi.rest, os; print(os.path.dirname(gnocchi.rest.__file__))')/api-paste.ini
    # keystonemiddleware reads its options from this file, not from the
    # one gnocchi-api was given
    sed -e "s|^oslo_config_project = gnocchi|oslo_config_project = gnocchi\noslo_config_file = $STATE/etc/gnocchi/gnocchi.conf|" \
        "$paste" > "$STATE/etc/gnocchi/api-paste.ini"
    sed -e "s|^auth_mode = .*|auth_mode = keystone\npaste_config = $STATE/etc/gnocchi/api-paste.ini|" \
        -e "s/^port = .*/port = $GNOCCHI_PORT/" \
        -e "s/^workers = .*/workers = 1/" \
        "$g/gnocchi.conf" > "$STATE/etc/gnocchi/gnocchi.conf"
    authtoken keystone_authtoken >> "$STATE/etc/gnocchi/gnocchi.conf"
    "$g/venv/bin/python" -c "import keystonemiddleware" 2>/dev/null \
        || unavailable "20-gnocchi.sh's virtualenv has no keystonemiddleware"
    VIRTUAL_ENV="$g/venv" PATH="$g/venv/bin:$PATH" start gnocchi-keystone \
        "$g/venv/bin/gnocchi-api" --config-file "$STATE/etc/gnocchi/gnocchi.conf"
}

write_stack_json() {
    local g
    g=$(json_get "$HOSTS_JSON" "json.dumps(d['guest'])")
    cat > "$STATE/stack.json.tmp" <<JSON
{
  "auth_url": "http://127.0.0.1:$KS_PORT/v3",
  "username": "admin",
  "password": "$PASSWORD",
  "project_name": "admin",
  "user_domain_name": "Default",
  "project_domain_name": "Default",
  "region": "$REGION",
  "compute_url": "http://127.0.0.1:$NOVA_PORT/v2.1",
  "placement_url": "http://127.0.0.1:$PLACEMENT_PORT",
  "image_url": "http://127.0.0.1:$GLANCE_PORT",
  "watcher_url": "http://127.0.0.1:$WATCHER_PORT",
  "network_url": "http://127.0.0.1:$NEUTRON_PORT",
  "metric_url": "http://127.0.0.1:$GNOCCHI_PORT",
  "gnocchi_basic_url": "$(cat "$ROOT_STATE/gnocchi/endpoint")",
  "transport_url": "$TRANSPORT_URL",
  "hosts_json": "$HOSTS_JSON",
  "computes": {"A": "hosta.wa.test", "B": "hostb.wa.test"},
  "agents": {
    "A": {"conf": "$STATE/etc/agent-A/nova-adaptive-agent.conf",
          "journal": "$STATE/agent-A/nova-adaptive-agent/journal.jsonl"},
    "B": {"conf": "$STATE/etc/agent-B/nova-adaptive-agent.conf",
          "journal": "$STATE/agent-B/nova-adaptive-agent/journal.jsonl"}},
  "watcher_conf": "$STATE/etc/watcher/watcher.conf",
  "logs": "$STATE/logs",
  "pids": "$STATE/pids",
  "venv": "$VENV",
  "site": "$STATE/site",
  "image_name": "wa-tiny",
  "flavor_name": "wa-tiny",
  "guest_mem_mib": $(json_get "$HOSTS_JSON" "d['guest']['memory_mib']"),
  "guest": $g
}
JSON
    mv "$STATE/stack.json.tmp" "$STATE/stack.json.draft"
    cat > "$STATE/openrc" <<RC
export OS_AUTH_URL=http://127.0.0.1:$KS_PORT/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin OS_PASSWORD=$PASSWORD OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export PATH=$VENV/bin:\$PATH
RC
    cat > "$STATE/clouds.yaml" <<YAML
clouds:
  wa-test:
    auth:
      auth_url: http://127.0.0.1:$KS_PORT/v3
      username: admin
      password: $PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
YAML
}

services_answer() {
    local f
    [ -s "$STATE/stack.json" ] || return 1
    for f in "$STATE"/pids/*; do
        alive "$f" || return 1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$KS_PORT/v3"
}

rss_mib() {  # the resident memory of every daemon here and its children
    "$VENV/bin/python" - "$STATE/pids" <<'PY'
import pathlib, sys, psutil
total = 0
for f in pathlib.Path(sys.argv[1]).iterdir():
    try:
        p = psutil.Process(int(f.read_text().split()[0]))
        procs = [p, *p.children(recursive=True)]
    except (psutil.Error, ValueError):
        continue
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
print(round(total / 2**20))
PY
}

up() {
    rm -f "$STATE/unavailable"
    if [ "${WA_OPENSTACK:-1}" = 0 ]; then
        # the opt-out (see README.rst here)
        echo "turned off: WA_OPENSTACK=0" > "$STATE/unavailable"
        say "skipped (WA_OPENSTACK=0)"
        return 0
    fi
    if services_answer; then
        say "already running: $(json_get "$STATE/stack.json" "d['auth_url']")"
        return 0
    fi
    trap 'unavailable "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
    [ "$(id -u)" -eq 0 ] || unavailable "needs root (libvirt hosts, privsep)"
    down >/dev/null 2>&1 || true
    install_system_packages
    ensure_venv
    install_overlay
    say "virtualenv ready: $VENV"
    TRANSPORT_URL=
    wait_for RabbitMQ "$ROOT_STATE/rabbitmq/transport_url" "$ROOT_STATE/rabbitmq/unavailable"
    TRANSPORT_URL=$(cat "$ROOT_STATE/rabbitmq/transport_url")
    HOSTS_JSON=$ROOT_STATE/libvirt/hosts.json
    wait_for "the libvirt hosts" "$HOSTS_JSON" "$ROOT_STATE/libvirt/unavailable"
    wait_for Gnocchi "$ROOT_STATE/gnocchi/endpoint" "$ROOT_STATE/gnocchi/unavailable"
    mariadb_up
    # from here on: the stack itself (what stack_up_s measures)
    local t0
    t0=$(date +%s%N)
    mkdir -p "$STATE/logs" "$STATE/pids"
    configure_keystone
    gunicorn_start keystone "$KS_PORT" keystone.wsgi.api:application \
        "OS_KEYSTONE_CONFIG_FILES=$STATE/etc/keystone/keystone.conf" \
        "WA_WSGI_ARGV=--config-file $STATE/etc/keystone/keystone.conf"
    # the others' schemas side by side, while Keystone starts
    local step pids=() steps=(configure_placement configure_nova
                               configure_glance configure_watcher)
    for step in "${steps[@]}"; do
        ( trap - ERR; "$step" ) >"$STATE/logs/$step.out" 2>&1 &
        pids+=($!)
    done
    configure_computes_and_agents
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || unavailable "${steps[$i]} failed: $(tail -3 "$STATE/logs/${steps[$i]}.out")"
    done
    write_stack_json
    http_up keystone "http://127.0.0.1:$KS_PORT/v3"
    PYTHONPATH='' "$VENV/bin/python" "$HERE/openstack/bootstrap.py" catalog \
        "$STATE/stack.json.draft" >"$STATE/logs/bootstrap.log" 2>&1 \
        || unavailable "the Keystone catalog could not be made, see $STATE/logs/bootstrap.log"
    say "keystone up, catalog made"
    start neutron-standin "$VENV/bin/python" "$HERE/openstack/neutron_standin.py" "$NEUTRON_PORT"
    gunicorn_start placement "$PLACEMENT_PORT" placement.wsgi.api:application \
        "OS_PLACEMENT_CONFIG_DIR=$STATE/etc/placement"
    gunicorn_start nova-api "$NOVA_PORT" nova.wsgi.osapi_compute:application \
        "OS_NOVA_CONFIG_DIR=$STATE/etc/nova"
    gunicorn_start glance "$GLANCE_PORT" glance.wsgi.api:application \
        "OS_GLANCE_CONFIG_DIR=$STATE/etc/glance"
    start nova-conductor "$VENV/bin/nova-conductor" --config-file "$STATE/etc/nova/nova.conf"
    start nova-scheduler "$VENV/bin/nova-scheduler" --config-file "$STATE/etc/nova/nova.conf"
    local X
    for X in A B; do
        start_compute "$X"
        # the console scripts of this checkout's package are not in
        # the virtualenv's bin: its modules are on PYTHONPATH
        start "agent-$X" "$VENV/bin/python" -m nova_hooks.cmd.agent \
            --config-file "$STATE/etc/agent-$X/nova-adaptive-agent.conf"
    done
    gunicorn_start watcher-api "$WATCHER_PORT" watcher.wsgi.api:application \
        "WA_WSGI_ARGV=--config-file $STATE/etc/watcher/watcher.conf"
    start watcher-decision-engine "$VENV/bin/watcher-decision-engine" \
        --config-file "$STATE/etc/watcher/watcher.conf"
    start watcher-applier "$VENV/bin/watcher-applier" \
        --config-file "$STATE/etc/watcher/watcher.conf"
    gnocchi_front
    http_up placement "http://127.0.0.1:$PLACEMENT_PORT/"
    http_up nova-api "http://127.0.0.1:$NOVA_PORT/"
    http_up glance "http://127.0.0.1:$GLANCE_PORT/"
    http_up watcher-api "http://127.0.0.1:$WATCHER_PORT/"
    http_up gnocchi-keystone "http://127.0.0.1:$GNOCCHI_PORT/"
    say "APIs answer"
    PYTHONPATH='' "$VENV/bin/python" "$HERE/openstack/bootstrap.py" resources \
        "$STATE/stack.json.draft" >>"$STATE/logs/bootstrap.log" 2>&1 \
        || unavailable "the image or flavor could not be made, see $STATE/logs/bootstrap.log"
    wait_computes
    mv "$STATE/stack.json.draft" "$STATE/stack.json"
    local up_s rss
    up_s=$(( ($(date +%s%N) - t0) / 100000000 ))
    up_s=$(( up_s / 10 )).$(( up_s % 10 ))
    rss=$(rss_mib)
    echo "{\"stack_up_s\": $up_s, \"services_rss_mib\": $rss}" > "$STATE/up.json"
    trap - ERR
    say "up in $up_s s (services RSS $rss MiB): $STATE/stack.json, $STATE/openrc"
}

start_compute() {  # start_compute A|B: host X's nova-compute
    # in host X's mount namespace (its /var/lib/libvirt), in the root
    # network namespace (the services on 127.0.0.1); the namespace of
    # host X's libvirtd now (its PID file: restart-libvirtd of
    # 30-libvirt-hosts.sh gives it a new one, hosts.json keeps the first)
    local X=$1 H
    H=$(dirname "$(json_get "$HOSTS_JSON" "d['hosts']['$X']['log_dir']")")
    mkdir -p "$H/lib/nova-instances"
    start "nova-compute-$X" nsenter -m -t "$(head -1 "$H/libvirtd.pid")" \
        -- "$VENV/bin/nova-compute" \
        --config-file "$STATE/etc/nova/nova-cpu-$X.conf"
}

compute_cmd() {  # compute_cmd stop|start A|B (a test's fault and its repair)
    local X=${2:-}
    case "$X" in A|B) ;; *) echo "usage: $0 $1-compute A|B" >&2; exit 2 ;; esac
    [ -s "$STATE/stack.json" ] || { echo "no stack: $STATE/stack.json" >&2; exit 1; }
    HOSTS_JSON=$(json_get "$STATE/stack.json" "d['hosts_json']")
    if [ "$1" = stop ]; then
        stop_pid "nova-compute-$X" "$STATE/pids/nova-compute-$X" TERM "" 10
    elif alive "$STATE/pids/nova-compute-$X"; then
        say "nova-compute-$X already running ($(head -1 "$STATE/pids/nova-compute-$X"))"
    else
        start_compute "$X"
        say "nova-compute-$X started ($(head -1 "$STATE/pids/nova-compute-$X"))"
    fi
}

wait_computes() {  # both computes in the cell, up and enabled
    local n i
    for i in $(seq 1 300); do
        n=$(mysql -uroot -h127.0.0.1 -N -e "SELECT COUNT(*) FROM
            ${DB_PREFIX}_nova.compute_nodes WHERE deleted = 0" 2>/dev/null || echo 0)
        [ "$n" -ge 2 ] && break
        for X in A B; do
            alive "$STATE/pids/nova-compute-$X" \
                || unavailable "nova-compute $X exited, see $STATE/logs/nova-compute-$X.log: $(grep -E 'ERROR|Error' "$STATE/logs/nova-compute-$X.log" | tail -2)"
        done
        sleep 1
    done
    [ "$n" -ge 2 ] || unavailable "the computes did not register in 300 s"
    "$VENV/bin/nova-manage" --config-file "$STATE/etc/nova/nova.conf" \
        cell_v2 discover_hosts >>"$STATE/logs/nova-manage.log" 2>&1
    say "both computes registered"
}

down() {
    local f
    if [ -d "$STATE/pids" ]; then
        # the Watcher and Nova services first (they call the APIs), then
        # the rest; side by side, 10 s each at most before SIGKILL
        for f in watcher-applier watcher-decision-engine agent-A agent-B \
                 nova-compute-A nova-compute-B nova-scheduler \
                 nova-conductor; do
            stop_pid "$f" "$STATE/pids/$f" TERM "" 10 &
        done
        wait
        for f in "$STATE"/pids/*; do
            [ -e "$f" ] && stop_pid "$(basename "$f")" "$f" TERM "" 10 &
        done
        wait
    fi
    # the guests Nova left on the libvirt hosts go with those hosts
    # (30-libvirt-hosts.sh down); the databases with the next 'up'
    rm -f "$STATE/stack.json" "$STATE/stack.json.draft"
    return 0
}

status() {
    local f
    for f in "$STATE"/pids/*; do
        [ -e "$f" ] || continue
        if alive "$f"; then
            echo "$(basename "$f"): running ($(head -1 "$f"))"
        else
            echo "$(basename "$f"): not running"
        fi
    done
    [ -s "$STATE/up.json" ] && cat "$STATE/up.json"
    return 0
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    rss) rss_mib ;;
    stop-compute) compute_cmd stop "${2:-}" ;;
    start-compute) compute_cmd start "${2:-}" ;;
    *) echo "usage: $0 up|down|status|rss|stop-compute X|start-compute X" >&2
       exit 2 ;;
esac

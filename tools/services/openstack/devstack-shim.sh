# shellcheck shell=bash
# The few DevStack functions and globals devstack/lib/watcher-adaptive
# calls, for tools/services/45-openstack.sh: the test stack's Watcher,
# nova-compute and nova-adaptive-agent configuration is written by the
# DevStack plugin's own functions, so what DevStack writes is what runs.
#
# Inputs (environment): ENABLED_SERVICES (as DevStack's), OS_VENV (the
# OpenStack virtualenv), OS_TRANSPORT_URL, OS_REPO (this repository).
# tests/unit/devstack/stub-devstack.sh sources it too.

# Read by devstack/settings and devstack/lib/watcher-adaptive.
# shellcheck disable=SC2034

is_service_enabled() {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}

trueorfalse() {
    local default=$1
    local value=${!2:-$default}
    case "${value,,}" in
    1|yes|true|on) echo True ;;
    0|no|false|off) echo False ;;
    *) echo "$default" ;;
    esac
}

iniset() {
    if [[ "$1" == "-sudo" ]]; then
        shift
    fi
    python3 "$OS_REPO/tools/services/openstack/iniset.py" "$@"
}

warn() { shift; echo "warning: $*" >&2; }
echo_summary() { echo "$*"; }
get_python_exec_prefix() { echo "$OS_VENV/bin"; }
get_transport_url() { echo "$OS_TRANSPORT_URL"; }
# the script runs as root and starts, restarts and stops its daemons
# itself (by PID file)
sudo() { "$@"; }
pip_install() { :; }
run_process() { :; }
stop_process() { :; }
restart_service() { :; }

STACK_USER=$(id -un)
DEST=${DEST:-/opt/stack}
DATA_DIR=${DATA_DIR:-$DEST/data}
SERVICE_DOMAIN_NAME=Default
SERVICE_HOST=127.0.0.1
ADMIN_PASSWORD=${OS_ADMIN_PASSWORD:-}
KEYSTONE_SERVICE_URI=${OS_AUTH_URL:-}
DEFAULT_IMAGE_NAME=${OS_IMAGE_NAME:-}

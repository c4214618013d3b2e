# shellcheck shell=bash
# A stand-in for the parts of DevStack the watcher-adaptive plugin uses,
# for tests/unit/devstack/test_plugin.py: every function records its call
# in $STUB_CALLS (one line per call, arguments separated by \x1f) instead
# of touching the system, except iniset, which really edits the file (so
# the test can load what the plugin wrote), and sudo, which just runs the
# command (the test points every path into a temporary directory).
#
# Inputs (environment): STUB_CALLS, STUB_BIN (what get_python_exec_prefix
# answers), STUB_PYTHON, STUB_INI (the iniset helper), ENABLED_SERVICES,
# STUB_OPENSTACK_EXISTING (names `openstack ... show` finds).

# The globals at the end are read by the plugin, not here.
# shellcheck disable=SC2034

_stub_record() {
    local IFS=$'\x1f'
    printf '%s\n' "$*" >> "$STUB_CALLS"
}

# is_service_enabled and trueorfalse (DevStack's normalisation of yes
# and no) as tools/services/45-openstack.sh has them; what follows
# replaces the rest of that shim with recording stand-ins.
# shellcheck source=tools/services/openstack/devstack-shim.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../tools/services/openstack/devstack-shim.sh"

iniset() {
    if [[ "$1" == "-sudo" ]]; then
        shift
    fi
    _stub_record iniset "$@"
    "$STUB_PYTHON" "$STUB_INI" "$@"
}

run_process() {
    # DevStack's own run_process starts nothing for a disabled service.
    if is_service_enabled "$1"; then
        _stub_record run_process "$@"
    fi
}

stop_process() { _stub_record stop_process "$@"; }
pip_install() { _stub_record pip_install "$@"; }
restart_service() { _stub_record restart_service "$@"; }
warn() { _stub_record warn "$@"; }
echo_summary() { _stub_record echo_summary "$@"; }
get_python_exec_prefix() { echo "$STUB_BIN"; }
get_transport_url() { echo "rabbit://stackrabbit:secret@192.0.2.10:5672/"; }
sudo() { "$@"; }

openstack() {
    _stub_record openstack "$@"
    local name=${*: -1}
    if [[ " $* " == *" show "* ]]; then
        [[ ",${STUB_OPENSTACK_EXISTING:-}," == *",$name,"* ]]
    fi
}

# The globals stack.sh has set by the time it sources a plugin.
STACK_USER=$(id -un)
SERVICE_HOST=192.0.2.10
KEYSTONE_SERVICE_URI=http://192.0.2.10/identity
SERVICE_DOMAIN_NAME=Default
ADMIN_PASSWORD=secret
DEFAULT_IMAGE_NAME=cirros-0.6.2-x86_64-disk

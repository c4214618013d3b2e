#!/usr/bin/env bash
# The operator's path on a real OpenStack, end to end: audit -> action
# plan -> adaptive_migrate -> Nova's post-copy live migration between
# the two libvirt hosts -> the destination agent acting during post-copy.
#   bash tools/openstack-e2e.sh [--keep] [--scenario NAME]
#
# Starts whatever of the stack is not already running, with the service
# scripts the test command uses (tools/services/10-rabbitmq.sh,
# 20-gnocchi.sh, 30-libvirt-hosts.sh, 45-openstack.sh), and stops what it
# started on exit unless --keep.  The scenario itself is
# tools/openstack_e2e.py (the `openstack optimize ...` CLI); scenarios:
# overload (default), calm, dest-disabled, dest-down, migration-fails.
#
# The last line of stdout is one JSON object: audit_state, actions,
# action_plan_state, migrated, postcopy, agent_acted, stack_up_s
# (seconds to bring the OpenStack services up in this run, packages
# installed; null when they were already up), e2e_s, services_rss_mib.
# Logs go to stderr.  Exit 0 when the scenario ran, 1 when it failed to,
# 2 for bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=
scenario=overload
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --scenario)
            [ $# -ge 2 ] || { echo "error: --scenario needs a name" >&2; exit 2; }
            scenario=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument '$1' (--keep, --scenario NAME)" >&2
           exit 2 ;;
    esac
    shift
done
case "$scenario" in
    overload|calm|dest-disabled|dest-down|migration-fails) ;;
    *) echo "error: unknown scenario '$scenario' (overload, calm," \
            "dest-disabled, dest-down, migration-fails)" >&2; exit 2 ;;
esac
export WA_STATE_DIR=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
export WA_OPENSTACK=1
mkdir -p "$WA_STATE_DIR"
OS_STATE=$WA_STATE_DIR/openstack
exec 3>&1 1>&2          # stdout: the JSON line only

# what is already running: each script's own files say so
running() {
    case "$1" in
        10-rabbitmq) [ -s "$WA_STATE_DIR/rabbitmq/transport_url" ] ;;
        20-gnocchi) [ -s "$WA_STATE_DIR/gnocchi/endpoint" ] \
                        && curl -sf -u admin: "$(cat "$WA_STATE_DIR/gnocchi/endpoint")/v1/status" >/dev/null ;;
        30-libvirt-hosts) [ -s "$WA_STATE_DIR/libvirt/hosts.json" ] ;;
        45-openstack) [ -s "$OS_STATE/stack.json" ] \
                          && bash tools/services/45-openstack.sh status \
                             | grep -q ': running' \
                          && ! bash tools/services/45-openstack.sh status \
                             | grep -q 'not running' ;;
    esac
}
started=()
# shellcheck disable=SC2317,SC2329  # run by the EXIT trap
stop_started() {
    local i
    [ -n "$keep" ] && return 0
    for (( i=${#started[@]}-1; i>=0; i-- )); do
        bash "tools/services/${started[$i]}.sh" down || true
    done
}
trap stop_started EXIT
stack_up_s=null
# the three the stack needs side by side, then the stack
pids=() names=()
for s in 10-rabbitmq 20-gnocchi 30-libvirt-hosts; do
    running "$s" && continue
    echo "==> starting $s"
    bash "tools/services/$s.sh" up >"$WA_STATE_DIR/e2e-$s.log" 2>&1 &
    pids+=($!) names+=("$s") started+=("$s")
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$WA_STATE_DIR/e2e-${names[$i]}.log"; exit 1; }
    cat "$WA_STATE_DIR/e2e-${names[$i]}.log"
done
if ! running 45-openstack; then
    echo "==> starting 45-openstack"
    started+=(45-openstack)
    bash tools/services/45-openstack.sh up
    if [ -s "$OS_STATE/unavailable" ] || [ ! -s "$OS_STATE/stack.json" ]; then
        echo "error: the OpenStack stack is unavailable:" \
             "$(cat "$OS_STATE/unavailable" 2>/dev/null)"
        exit 1
    fi
    stack_up_s=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stack_up_s"])' "$OS_STATE/up.json")
fi
venv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["venv"])' "$OS_STATE/stack.json")
site=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["site"])' "$OS_STATE/stack.json")
rc=0
line=$(PYTHONPATH="$site" "$venv/bin/python" tools/openstack_e2e.py \
    "$OS_STATE/stack.json" --scenario "$scenario" | tail -1) || rc=$?
[ -n "$line" ] || { echo "error: the scenario printed nothing"; exit 1; }
rss=$(bash tools/services/45-openstack.sh rss)
python3 - "$line" "$stack_up_s" "$rss" >&3 <<'PY'
import json, sys
d = json.loads(sys.argv[1])
d["stack_up_s"] = None if sys.argv[2] == "null" else float(sys.argv[2])
d["services_rss_mib"] = int(sys.argv[3]) if sys.argv[3].isdigit() else None
keys = ["audit_state", "actions", "action_plan_state", "migrated",
        "postcopy", "agent_acted", "stack_up_s", "e2e_s",
        "services_rss_mib"]
out = {k: d.get(k) for k in keys}
out.update({k: v for k, v in d.items() if k not in out})
print(json.dumps(out))
PY
exit "$rc"

#!/usr/bin/env bash
# The destination agent's levers during post-copy, benchmarked on the two
# local libvirt hosts: plain / reclaim / reclaim + pre-paging, >= 3
# repetitions each (benchmarks/bench_dest_levers.py; its arguments pass
# through, e.g. --reps 5).  Starts the hosts through
# tools/services/30-libvirt-hosts.sh when they are not running and adds a
# swap file when the host has no swap (MADV_PAGEOUT of anonymous guest
# RAM needs one); stops and removes only what it started.  The last line
# of stdout is the benchmark's JSON object.
#   WA_STATE_DIR=/tmp/wa-state-me bash tools/bench-agent.sh [--reps N]
set -euo pipefail
cd "$(dirname "$0")/.."
export WA_STATE_DIR=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
PY=${PYTHON:-$([ -x .venv-test/bin/python ] && echo .venv-test/bin/python || echo python3)}
for a in "$@"; do
    case "$a" in -h|--help) exec "$PY" benchmarks/bench_dest_levers.py --help ;; esac
done
# bad arguments: said before anything starts
WA_BENCH_CHECK_ARGS_ONLY=1 "$PY" benchmarks/bench_dest_levers.py "$@"
"$PY" -c "import libvirt" 2>/dev/null || {
    echo "bench-agent: libvirt-python missing in $PY (pip install libvirt-python)" >&2
    exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench-agent: needs root (libvirt hosts, swap)" >&2; exit 2; }
started_hosts=''
swapfile=''
cleanup() {
    if [ -n "$swapfile" ]; then
        swapoff "$swapfile" 2>/dev/null || true
        rm -f "$swapfile"
        echo "bench-agent: removed the swap file it added" >&2
    fi
    if [ -n "$started_hosts" ]; then
        bash tools/services/30-libvirt-hosts.sh down >&2 || true
    fi
}
trap cleanup EXIT
hosts=$WA_STATE_DIR/libvirt/hosts.json
if [ ! -s "$hosts" ] || ! "$PY" - "$hosts" <<'PYCHECK' 2>/dev/null
import json, subprocess, sys
h = json.load(open(sys.argv[1]))
for x in h["hosts"].values():
    subprocess.run(["virsh", "-c", x["uri"], "hostname"], check=True,
                   capture_output=True, timeout=30)
PYCHECK
then
    echo "bench-agent: starting the libvirt hosts" >&2
    bash tools/services/30-libvirt-hosts.sh up >&2
    started_hosts=1
    if [ -f "$WA_STATE_DIR/libvirt/unavailable" ]; then
        echo "bench-agent: $(cat "$WA_STATE_DIR/libvirt/unavailable")" >&2
        exit 2
    fi
fi
if [ "$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)" = 0 ]; then
    swapfile=$WA_STATE_DIR/bench-agent.swap
    dd if=/dev/zero of="$swapfile" bs=1M count=512 status=none
    chmod 600 "$swapfile"
    mkswap "$swapfile" >/dev/null
    swapon "$swapfile"
    echo "bench-agent: added a 512 MiB swap file ($swapfile)" >&2
fi
"$PY" benchmarks/bench_dest_levers.py "$@"

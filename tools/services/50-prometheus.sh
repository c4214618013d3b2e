#!/usr/bin/env bash
# A real Prometheus (Debian's package) for the datasource tests.
#   bash tools/services/50-prometheus.sh up|down
# Private server on 127.0.0.1:$WA_PROMETHEUS_PORT (19090), its own data
# directory under $WA_STATE_DIR/prometheus (emptied at each start), with:
#  * the remote-write receiver and a 30-day out-of-order window: tests
#    and benchmarks load hours of history at once
#    (tests/functional/prometheus_history.py);
#  * file service discovery from $STATE/targets/*.json, scraped every
#    second: a test registers its own exporter (e.g. the collector's
#    /metrics) with the labels it wants (fqdn, ...);
#  * the admin API: a test deletes its own series afterwards.
# Writes $STATE/endpoint, or $STATE/unavailable (the reason).
set -euo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/prometheus
PORT=${WA_PROMETHEUS_PORT:-19090}
mkdir -p "$STATE"
# shellcheck source=tools/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
say() { echo "[prometheus] $*"; }

unavailable() {
    echo "$1" > "$STATE/unavailable"
    rm -f "$STATE/endpoint"
    stop_pid prometheus "$STATE/prometheus.pid" TERM >/dev/null 2>&1 || true
    say "unavailable: $1 (tests that need Prometheus will skip)"
    exit 0
}

ready() {
    curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1
}

up() {
    rm -f "$STATE/unavailable"
    if [ -s "$STATE/prometheus.pid" ] \
        && kill -0 "$(cat "$STATE/prometheus.pid")" 2>/dev/null && ready; then
        echo "http://127.0.0.1:$PORT" > "$STATE/endpoint"
        say "already running at http://127.0.0.1:$PORT"
        return 0
    fi
    stop_pid prometheus "$STATE/prometheus.pid" TERM
    if ! command -v prometheus >/dev/null || ! command -v curl >/dev/null; then
        command -v apt-get >/dev/null || unavailable "no apt-get to install prometheus"
        export DEBIAN_FRONTEND=noninteractive
        # no recommends: node-exporter & co. would start system services
        if ! { "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null &&
               "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
                   --no-install-recommends prometheus curl >/dev/null; }; then
            unavailable "apt-get install prometheus failed"
        fi
    fi
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
        unavailable "port $PORT is taken by another program (set WA_PROMETHEUS_PORT)"
    fi
    rm -rf "$STATE/data"
    mkdir -p "$STATE/data" "$STATE/targets"
    cat > "$STATE/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 15s
storage:
  tsdb:
    # remote-written history older than the newest sample is kept
    out_of_order_time_window: 30d
scrape_configs:
  - job_name: tests
    file_sd_configs:
      - files: ["$STATE/targets/*.json"]
        refresh_interval: 1s
EOF
    setsid nohup prometheus --config.file="$STATE/prometheus.yml" \
        --storage.tsdb.path="$STATE/data" \
        --storage.tsdb.retention.time=30d \
        --web.listen-address="127.0.0.1:$PORT" \
        --web.enable-remote-write-receiver --web.enable-admin-api \
        --query.max-samples=100000000 \
        >"$STATE/prometheus.log" 2>&1 </dev/null &
    echo $! > "$STATE/prometheus.pid"
    for _ in $(seq 1 120); do
        ready && break
        kill -0 "$(cat "$STATE/prometheus.pid")" 2>/dev/null || break
        sleep 0.5
    done
    ready || unavailable "prometheus did not become ready, see $STATE/prometheus.log"
    echo "http://127.0.0.1:$PORT" > "$STATE/endpoint"
    say "up: http://127.0.0.1:$PORT ($(prometheus --version 2>&1 | head -1))"
}

down() {
    stop_pid prometheus "$STATE/prometheus.pid" TERM
    rm -f "$STATE/endpoint"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# RabbitMQ for the oslo.messaging tests.
#   bash tools/services/10-rabbitmq.sh up|down|private-restart
# Reuses a broker that already answers on 127.0.0.1:5672 with guest/guest
# (this machine kind starts one before every session); otherwise installs
# Debian's rabbitmq-server and starts a private node on port 5673 with its
# own mnesia/log directories under $WA_STATE_DIR/rabbitmq.
# Writes $STATE/transport_url, or $STATE/unavailable (the reason).
# The private node is also started when the shared broker is there, for
# the tests that restart a broker for real (never the shared one):
# $STATE/private_transport_url; 'private-restart' stops and starts it.
# Each URL names a virtual host of this run's own (wa-test-<random>),
# made by 'up' and deleted with everything in it by 'down': the queues
# and exchanges the tests declare die with the run, and no run sees
# another's.  Where rabbitmqctl cannot reach a broker, its URL keeps
# the default vhost "/" (said so; the tests' names are unique anyway).
set -euo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/rabbitmq
PRIVATE_PORT=5673
NODE=wa-test@localhost
mkdir -p "$STATE"
# shellcheck source=tools/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
say() { echo "[rabbitmq] $*"; }

private_unavailable() {  # only the restart tests skip
    echo "$1" > "$STATE/private_unavailable"
    rm -f "$STATE/private_transport_url"
    say "private node unavailable: $1 (the broker restart tests will skip)"
    exit 1
}

unavailable() {
    echo "$1" > "$STATE/unavailable"
    rm -f "$STATE/transport_url"
    say "unavailable: $1 (tests that need RabbitMQ will skip)"
    exit 0
}

amqp_answers() {  # amqp_answers port: the AMQP greeting comes back
    python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    s.sendall(b"AMQP\x00\x00\x09\x01")
    ok = s.recv(8)[:1] == b"\x01"    # connection.start frame
except OSError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

ctl() {  # ctl shared|private ARGS...: rabbitmqctl for that broker
    local which=$1; shift
    if [ "$which" = private ]; then
        su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq && \
            HOME=/var/lib/rabbitmq timeout 60 \
            /usr/lib/rabbitmq/bin/rabbitmqctl -n $NODE -q $(printf '%q ' "$@")"
    else
        timeout 60 rabbitmqctl -q "$@"
    fi
}

add_vhost() {  # add_vhost shared|private: this run's vhost on it
    local which=$1 name
    drop_vhost "$which"          # a crashed run's, if any
    name=wa-test-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    if ctl "$which" add_vhost "$name" >/dev/null 2>&1 &&
            ctl "$which" set_permissions -p "$name" guest '.*' '.*' '.*' \
                >/dev/null 2>&1; then
        echo "$name" > "$STATE/${which}_vhost"
        say "$which broker: vhost $name of this run (deleted by 'down')"
    else
        say "$which broker: rabbitmqctl cannot reach it; the tests use" \
            "its default vhost, and what they declare there stays"
    fi
}

drop_vhost() {  # drop_vhost shared|private: the vhost 'up' made there
    local which=$1 file
    file=$STATE/${which}_vhost
    [ -s "$file" ] || return 0
    if ctl "$which" delete_vhost "$(cat "$file")" >/dev/null 2>&1; then
        say "$which broker: deleted vhost $(cat "$file") and what the" \
            "tests left in it"
    fi
    rm -f "$file"
}

url() {  # url shared|private PORT: the transport URL, with the vhost
    local vhost=
    if [ -s "$STATE/${1}_vhost" ]; then
        vhost=$(cat "$STATE/${1}_vhost")
    fi
    echo "rabbit://guest:guest@127.0.0.1:$2/$vhost"
}

up() {
    rm -f "$STATE/unavailable"
    if amqp_answers 5672; then
        add_vhost shared
        url shared 5672 > "$STATE/transport_url"
        say "using the broker on 127.0.0.1:5672"
        # the restart tests' own node; its failure only skips those tests
        rm -f "$STATE/private_unavailable"
        ( start_private private_unavailable && add_vhost private &&
          url private "$PRIVATE_PORT" > "$STATE/private_transport_url" ) \
            || true
        return 0
    fi
    start_private
    add_vhost private
    url private "$PRIVATE_PORT" > "$STATE/private_transport_url"
    cp "$STATE/private_transport_url" "$STATE/transport_url"
}

start_private() {  # start_private FAIL: FAIL reason runs when it cannot
    local fail=${1:-unavailable}
    if amqp_answers "$PRIVATE_PORT"; then
        url private "$PRIVATE_PORT" > "$STATE/private_transport_url"
        say "private node already up on $PRIVATE_PORT"
        return 0
    fi
    if ! command -v rabbitmq-server >/dev/null 2>&1 && \
            [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        command -v apt-get >/dev/null || "$fail" "no apt-get to install rabbitmq-server"
        export DEBIAN_FRONTEND=noninteractive
        if ! { "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null &&
               "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
                   --no-install-recommends rabbitmq-server >/dev/null; }; then
            "$fail" "apt-get install rabbitmq-server failed"
        fi
    fi
    mkdir -p "$STATE/mnesia" "$STATE/log"
    chown -R rabbitmq:rabbitmq "$STATE" 2>/dev/null || true
    local epmd_before=0
    (exec 3<>/dev/tcp/127.0.0.1/4369) 2>/dev/null && epmd_before=1
    # its own config and plugins files: the system's rabbitmq.conf may
    # name port 5672 (a listener setting beats RABBITMQ_NODE_PORT)
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\n' \
        "$PRIVATE_PORT" > "$STATE/rabbitmq.conf"
    : > "$STATE/enabled_plugins"
    chown rabbitmq:rabbitmq "$STATE/rabbitmq.conf" "$STATE/enabled_plugins" \
        2>/dev/null || true
    export RABBITMQ_CONFIG_FILE=$STATE/rabbitmq.conf \
           RABBITMQ_ENABLED_PLUGINS_FILE=$STATE/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$STATE/mnesia RABBITMQ_LOG_BASE=$STATE/log \
           RABBITMQ_PID_FILE=$STATE/rabbit.pid \
           RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
           RABBITMQ_NODE_PORT=$PRIVATE_PORT RABBITMQ_NODENAME=$NODE \
           RABBITMQ_DIST_PORT=25673
    su rabbitmq -s /bin/sh -c \
        "/usr/lib/rabbitmq/bin/rabbitmq-server -detached" \
        >"$STATE/start.log" 2>&1 || "$fail" "rabbitmq-server did not start, see $STATE/start.log"
    su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq \
        /usr/lib/rabbitmq/bin/rabbitmqctl -n $NODE wait $STATE/rabbit.pid \
        --timeout 120" >/dev/null 2>&1 \
        || "$fail" "RabbitMQ node $NODE did not come up, see $STATE/log"
    if [ "$epmd_before" = 0 ]; then
        ss -ltnpH 'sport = :4369' 2>/dev/null | grep -o 'pid=[0-9]*' \
            | head -1 | cut -d= -f2 > "$STATE/epmd.pid" || true
    fi
    amqp_answers "$PRIVATE_PORT" || "$fail" "private node does not answer AMQP"
    url private "$PRIVATE_PORT" > "$STATE/private_transport_url"
    say "private node up on 127.0.0.1:$PRIVATE_PORT"
}

stop_private() {
    stop_pid "private node" "$STATE/rabbit.pid" TERM "" 20 nokill
}

down() {
    drop_vhost shared
    drop_vhost private
    stop_private
    if [ -s "$STATE/epmd.pid" ]; then
        kill -TERM "$(cat "$STATE/epmd.pid")" 2>/dev/null || true
        rm -f "$STATE/epmd.pid"
    fi
    rm -f "$STATE/transport_url" "$STATE/private_transport_url"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    private-restart) stop_private; start_private private_unavailable ;;
    *) echo "usage: $0 up|down|private-restart" >&2; exit 2 ;;
esac

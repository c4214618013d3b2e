# shellcheck shell=bash
# Shared by the service scripts here: stop a daemon by its PID file.
#
#   stop_pid NAME PIDFILE [SIGNAL] [COMM_PREFIX] [WAIT_S] [nokill]
#
# Sends SIGNAL (TERM) to the PID in PIDFILE's first line when that
# process is alive and, if COMM_PREFIX is given, its /proc/PID/comm
# starts with it (a PID reused by another program is left alone); waits
# up to WAIT_S (30) seconds, then kills it (not with "nokill"); says
# "stopped NAME (PID)"; removes PIDFILE either way.
stop_pid() {
    local name=$1 file=$2 sig=${3:-TERM} comm=${4:-} wait_s=${5:-30}
    local nokill=${6:-} pid
    [ -s "$file" ] || return 0
    pid=$(head -1 "$file")
    if kill -0 "$pid" 2>/dev/null \
            && { [ -z "$comm" ] \
                 || grep -q "^$comm" "/proc/$pid/comm" 2>/dev/null; }; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 1 $(( wait_s * 5 ))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        [ "$nokill" = nokill ] || { kill -0 "$pid" 2>/dev/null \
            && kill -KILL "$pid" 2>/dev/null; }
        echo "stopped $name ($pid)"
    fi
    rm -f "$file"
}

# alive PIDFILE [COMM_PREFIX]: the process of PIDFILE runs (and its comm
# starts with COMM_PREFIX)
alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -1 "$1")
    [ -d "/proc/$pid" ] || return 1
    [ -z "${2:-}" ] || grep -q "^$2" "/proc/$pid/comm" 2>/dev/null
}

# installed PACKAGE: Debian's dpkg has PACKAGE installed
installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null \
        | grep -q "install ok installed"
}

# give_up REASON WHO_SKIPS: the service cannot run here; write REASON to
# $STATE/unavailable (the tests read it and skip), stop what this "up"
# started (the calling script's down), say so and exit 0
give_up() {
    trap - ERR
    echo "$1" > "$STATE/unavailable"
    say "unavailable: $1 ($2 will skip)"
    down >/dev/null 2>&1 || true
    exit 0
}

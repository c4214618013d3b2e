# shellcheck shell=bash
# Shared by the service scripts here: daemons by PID file, their HTTP
# answer, virtualenvs, Keystone client sections, JSON values.
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

# json_get FILE PYTHON_EXPRESSION_ON_d: the expression's value for the
# JSON document of FILE (d), printed
json_get() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# daemon PIDFILE LOGFILE COMMAND...: COMMAND in a session of its own,
# detached, its output appended to LOGFILE, its PID in PIDFILE (setsid,
# nohup and env exec: the PID is COMMAND's)
daemon() {
    local pidfile=$1 log=$2; shift 2
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
    setsid nohup "$@" >>"$log" 2>&1 </dev/null &
    echo $! > "$pidfile"
}

# wait_http NAME URL PIDFILE LOGFILE SECONDS: any HTTP answer at URL
# within SECONDS; gives up (the calling script's "unavailable") at once
# when the daemon of PIDFILE has exited, with its log's last lines
wait_http() {
    local name=$1 url=$2 pidfile=$3 log=$4 seconds=$5 _
    for _ in $(seq 1 $(( seconds * 2 ))); do
        curl -s -o /dev/null "$url" && return 0
        alive "$pidfile" \
            || unavailable "$name exited, see $log: $(tail -2 "$log")"
        sleep 0.5
    done
    unavailable "$name did not answer at $url in $seconds s, see $log"
}

# venv_install VENV STAMP WHAT LOG PIP_ARGUMENTS...: a virtualenv holding
# what pip installs with PIP_ARGUMENTS, made again when VENV/.stamp is
# not STAMP (a digest of what it should hold); gives up with WHAT in the
# reason when pip fails
venv_install() {
    local venv=$1 stamp=$2 what=$3 log=$4; shift 4
    if [ -x "$venv/bin/python" ] \
        && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    say "installing $what into $venv (log: $log)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" \
        >"$log" 2>&1 \
        || unavailable "pip could not install $what: $(tail -3 "$log")"
    echo "$stamp" > "$venv/.stamp"
}

# ks_authtoken KS_PORT PASSWORD REGION SECTION...: the sections (a
# service's [keystone_authtoken], its clients' auth) that log in to the
# Keystone on 127.0.0.1:KS_PORT as admin
ks_authtoken() {
    local port=$1 password=$2 region=$3 section; shift 3
    for section in "$@"; do
        cat <<CONF
[$section]
auth_type = password
auth_url = http://127.0.0.1:$port/v3
www_authenticate_uri = http://127.0.0.1:$port/v3
username = admin
password = $password
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = $region
CONF
    done
}

# keystone_bootstrap KEYSTONE_MANAGE CONF PORT PASSWORD REGION LOG: a
# new Keystone's keys and its admin (password PASSWORD) with the
# identity endpoints on 127.0.0.1:PORT; gives up when keystone-manage
# fails
keystone_bootstrap() {
    local km=("$1" --config-file "$2") port=$3 password=$4 region=$5 log=$6
    {
        "${km[@]}" db_sync
        "${km[@]}" fernet_setup --keystone-user root --keystone-group root
        "${km[@]}" credential_setup --keystone-user root --keystone-group root
        "${km[@]}" bootstrap --bootstrap-password "$password" \
            --bootstrap-admin-url "http://127.0.0.1:$port/v3" \
            --bootstrap-internal-url "http://127.0.0.1:$port/v3" \
            --bootstrap-public-url "http://127.0.0.1:$port/v3" \
            --bootstrap-region-id "$region"
    } >"$log" 2>&1 || unavailable "keystone-manage failed, see $log"
}

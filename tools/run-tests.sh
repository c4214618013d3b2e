#!/usr/bin/env bash
# The whole test suite on a fresh machine: creates .venv-test, installs the
# package with its test requirements, installs the system packages and
# starts the local services the functional tests need (tools/services/),
# runs the linter, the type checker and the layer contracts, then pytest,
# and stops what it started.
#   bash tools/run-tests.sh [pytest arguments...]
#   bash tools/run-tests.sh --quick [pytest arguments...]
# --quick is the edit loop: ruff and the unit tests, no services.
# WA_OPENSTACK=0 leaves the OpenStack stack (tools/services/45-openstack.sh)
# and its tests out of a full run.
# Tests run in random order (pytest-randomly); the seed is printed, and
# --randomly-seed=N repeats an order.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
quick=
if [ "${1:-}" = "--quick" ]; then
    quick=1
    shift
fi
# shellcheck source=tools/venv.sh
. tools/venv.sh
VENV=${WATCHER_ADAPTIVE_TEST_VENV:-.venv-test}
export WA_STATE_DIR=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
mkdir -p "$WA_STATE_DIR"
# One OpenMP thread per test process: scikit-learn's gradient boosting
# runs an OpenMP team of one thread per core, and on a loaded machine its
# threads wait on each other at every barrier.  Measured beside other work
# (load average 11-17 on the 2 cores): test_predictor.py's training
# fixture took over 900 s (the per-test timeout) with the default
# threads, 14 s with one; the xdist workers of the quick lane would also
# run 2 x 2 threads on 2 cores.  See tests/conftest.py for a plain pytest.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# the seed: printed before the run, so that a failure's order can be
# repeated (pytest -q hides pytest-randomly's own header line)
seed_args=()
case " $* " in
    *" -p no:randomly "*|*" --randomly-seed"*) ;;
    *) seed=${WA_TEST_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
       seed_args=(-p randomly "--randomly-seed=$seed") ;;
esac
say_seed() {
    if [ ${#seed_args[@]} -eq 0 ]; then
        echo "==> test order as the arguments say (-p no:randomly or" \
             "--randomly-seed given)"
    else
        echo "==> random order, seed $seed (repeat it:" \
             "--randomly-seed=$seed, or WA_TEST_SEED=$seed)"
    fi
}

if [ -n "$quick" ]; then
    ensure_venv "$VENV" requirements.txt test-requirements.txt
    export PATH="$PWD/$VENV/bin:$PATH"
    echo "==> ruff"
    ruff check .
    say_seed
    echo "==> pytest (the tests not marked functional, two workers)"
    set +e
    python -m pytest -q -p no:cacheprovider -m "not functional" \
        -n 2 --durations=15 "${seed_args[@]}" "$@"
    rc=$?
    set -e
    echo "==> quick lane finished in $(( $(date +%s) - started )) s" \
         "(exit $rc)"
    exit "$rc"
fi

services=()
for script in tools/services/[0-9]*.sh; do
    [ -e "$script" ] && services+=("$script")
done
# shellcheck disable=SC2317,SC2329  # called by the EXIT trap
stop_services() {
    local i
    [ -z "${unit_pid:-}" ] || kill "$unit_pid" 2>/dev/null || true
    # a late job still coming up is let finish first: its 'down' would
    # not stop what it has not started yet
    wait_late_jobs >/dev/null 2>&1 || true
    for (( i=${#services[@]}-1; i>=0; i-- )); do
        bash "${services[$i]}" down || true
    done
}
trap stop_services EXIT

# The services start side by side, and beside the virtualenv's install:
# none needs another (their apt-get calls take turns on a lock), and most
# of each is downloading, compiling or waiting.  libvirt-python (the host
# agent's extra) compiles against libvirt-dev, which the libvirt hosts'
# script installs: its build starts once both that and the virtualenv are
# there, while Gnocchi's server may still be installing.  Each job's
# output goes to its log, printed whole when it ends.
logs="$WA_STATE_DIR/setup-logs"
rm -rf "$logs"
mkdir -p "$logs"
jobs_=() pids=()
start_job() {  # start_job NAME COMMAND...: in the background, logged
    local name=$1; shift
    echo "==> $name (in the background; log: $logs/$name.log)"
    ( rc=0; "$@" >"$logs/$name.log" 2>&1 || rc=$?; echo "$rc" >"$logs/$name.rc"
      exit "$rc" ) &
    jobs_+=("$name") pids+=($!)
}
# shellcheck disable=SC2317,SC2329  # run by start_job
libvirt_python() {
    local libvirt_job=$1
    until [ -e "$logs/venv.rc" ] && [ -e "$logs/$libvirt_job.rc" ]; do
        sleep 1
    done
    [ "$(cat "$logs/venv.rc")" = 0 ] || return 0
    if [ ! -s "$WA_STATE_DIR/libvirt/hosts.json" ]; then
        echo "no libvirt hosts: libvirt-python not needed"
    elif "$VENV/bin/python" -c "import libvirt" 2>/dev/null; then
        echo "libvirt-python already in $VENV"
    else
        pip_step "$VENV" "libvirt-python (the host-agent extra)" \
            'libvirt-python>=9.0.0'
        "$VENV/bin/python" -c "import libvirt" 2>/dev/null || echo \
            "warning: libvirt-python did not build; the libvirt tests skip"
    fi
}
start_job venv ensure_venv "$VENV" requirements.txt test-requirements.txt
libvirt_job=
for script in "${services[@]}"; do
    name="$(basename "$script" .sh)-up"
    start_job "$name" bash "$script" up
    case "$script" in *libvirt*) libvirt_job=$name ;; esac
done
[ -z "$libvirt_job" ] || start_job libvirt-python libvirt_python "$libvirt_job"
# The OpenStack stack is the longest job (its virtualenv, then 2-3 min of
# schema migrations once the others are up) and only the functional
# tests use it: ruff, mypy, lint-imports and the unit tests run while it
# comes up, and the functional tests wait for it (wait_late_jobs).  So
# does Aetos's Keystone (its virtualenv, then Keystone's schema).
is_late() {
    case "$1" in *-openstack-up|*-aetos-up) return 0 ;; esac
    return 1
}
# wait for job $1 (an index of jobs_), print its exit (and $2) and its
# log; returns its exit status
reap_job() {
    local rc=0
    wait "${pids[$1]}" || rc=$?
    echo "==> ${jobs_[$1]}: exit $rc${2:-}"
    sed 's/^/    /' "$logs/${jobs_[$1]}.log"
    return "$rc"
}
setup_rc=0
for i in "${!jobs_[@]}"; do
    is_late "${jobs_[$i]}" && continue
    rc=0
    reap_job "$i" || rc=$?
    [ "$rc" -eq 0 ] || setup_rc=$rc
done
late_waited=
# shellcheck disable=SC2317,SC2329  # also run by the EXIT trap
wait_late_jobs() {
    local i rc late_rc=0 t0
    [ -z "$late_waited" ] || return 0
    late_waited=1
    t0=$(date +%s)
    for i in "${!jobs_[@]}"; do
        is_late "${jobs_[$i]}" || continue
        rc=0
        reap_job "$i" " (waited for it $(( $(date +%s) - t0 )) s here)" \
            || rc=$?
        [ "$rc" -eq 0 ] || late_rc=$rc
    done
    echo "==> set up in $(( $(date +%s) - started )) s, the late jobs included"
    return "$late_rc"
}
echo "==> set up in $(( $(date +%s) - started )) s (the OpenStack stack" \
     "may still be coming up: the functional tests wait for it)"
[ "$setup_rc" -eq 0 ] || exit "$setup_rc"
export PATH="$PWD/$VENV/bin:$PATH"

echo "==> ruff"
ruff check .

# the cores and the hint contract typed strictly, the layers kept (both
# configured in pyproject.toml / setup.cfg; a few seconds each)
echo "==> mypy --strict (cores, hint contract)"
mypy
echo "==> lint-imports (layer contracts)"
lint-imports --no-cache

say_seed
echo "==> pytest"
# the hardening cases' outcomes and records (tests/hardening.py)
export WA_HARDENING_LOG="$WA_STATE_DIR/hardening.jsonl"
rm -f "$WA_HARDENING_LOG"
set +e
if [ $# -eq 0 ]; then
    # The unit and the functional tests at the same time, each on two
    # workers, both in the random order of the one seed printed above.
    # Most of a functional test is waiting (a migration, a periodic
    # task, a service's answer) and the unit tests fill that time.  The
    # functional tests do not wait for the late jobs: the tests that need
    # the OpenStack stack or Aetos's Keystone wait for their job
    # (WA_LATE_JOBS, tests/functional/conftest.py).  The unit tests'
    # output goes to a log, printed whole when they end.
    export WA_LATE_JOBS="$logs"
    unit_log="$logs/pytest-unit.log"
    echo "==> pytest (unit, two workers, beside the functional tests;" \
         "log: $unit_log)"
    python -m pytest -q -p no:cacheprovider --timeout=900 --durations=15 \
        -n 2 "${seed_args[@]}" tests/unit >"$unit_log" 2>&1 &
    unit_pid=$!
    # the functional tests on two workers, each taking whole groups
    # (tests/functional/conftest.py): those sharing the libvirt hosts or
    # Gnocchi's instance list one after the other, every other module
    # beside them
    echo "==> pytest (functional, two workers)"
    python -m pytest -q -p no:cacheprovider --timeout=900 --durations=15 \
        -n 2 --dist loadgroup "${seed_args[@]}" tests/functional
    rc=$?
    unit_rc=0
    wait "$unit_pid" || unit_rc=$?
    unit_pid=
    echo "==> pytest (unit): exit $unit_rc"
    cat "$unit_log"
    [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] || rc=$unit_rc
    wait_late_jobs || { [ "$rc" -ne 0 ] || rc=1; }
else
    wait_late_jobs || true
    python -m pytest -q -p no:cacheprovider --timeout=900 --durations=15 \
        "${seed_args[@]}" "$@"
    rc=$?
fi
set -e
if [ "$rc" -eq 5 ]; then
    echo "warning: pytest collected no tests" >&2
    rc=0
fi
echo "==> hardening report"
report_rc=0
python tools/hardening_report.py --log "$WA_HARDENING_LOG" \
    --out "${WA_HARDENING_REPORT:-$WA_STATE_DIR/hardening-report.rst}" \
    ${WA_HARDENING_STRICT:+--strict} || report_rc=$?
[ "$rc" -ne 0 ] || rc=$report_rc
echo "==> test command finished in $(( $(date +%s) - started )) s (exit $rc)"
exit "$rc"

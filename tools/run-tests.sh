#!/usr/bin/env bash
# The whole test suite on a fresh machine: creates .venv-test, installs the
# package with its test requirements, installs the system packages and
# starts the local services the functional tests need (tools/services/),
# runs the linter and pytest, and stops what it started.
#   bash tools/run-tests.sh [pytest arguments...]
#   bash tools/run-tests.sh --quick [pytest arguments...]
# --quick is the edit loop: ruff and the unit tests, no services.
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

# the seed: printed before the run, so that a failure's order can be
# repeated (pytest -q hides pytest-randomly's own header line)
seed_args=()
case " $* " in
    *" -p no:randomly "*|*" --randomly-seed"*) ;;
    *) seed=${WA_TEST_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
       seed_args=(-p randomly "--randomly-seed=$seed") ;;
esac
say_seed() {
    [ ${#seed_args[@]} -eq 0 ] \
        || echo "==> random order, seed $seed (repeat it:" \
                "--randomly-seed=$seed, or WA_TEST_SEED=$seed)"
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
    for (( i=${#services[@]}-1; i>=0; i-- )); do
        bash "${services[$i]}" down || true
    done
}
trap stop_services EXIT

# The services start side by side, and beside the virtualenv's install:
# none needs another (their apt-get calls queue on the dpkg lock), and
# most of each is downloading, building or waiting.  Each one's output
# goes to its log, printed whole when it ends.
logs="$WA_STATE_DIR/service-logs"
mkdir -p "$logs"
pids=()
for script in "${services[@]}"; do
    echo "==> $script up (in the background; log: $logs/$(basename "$script").log)"
    bash "$script" up >"$logs/$(basename "$script").log" 2>&1 &
    pids+=($!)
done
venv_rc=0
ensure_venv "$VENV" requirements.txt test-requirements.txt || venv_rc=$?
services_rc=0
for i in "${!services[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    echo "==> ${services[$i]} up: exit $rc"
    sed 's/^/    /' "$logs/$(basename "${services[$i]}").log"
    [ "$rc" -eq 0 ] || services_rc=$rc
done
[ "$venv_rc" -eq 0 ] || exit "$venv_rc"
[ "$services_rc" -eq 0 ] || exit "$services_rc"
export PATH="$PWD/$VENV/bin:$PATH"

# the host agent's libvirt-python builds against libvirt-dev, which the
# libvirt hosts' service script installs: add it once that is there
if [ -s "$WA_STATE_DIR/libvirt/hosts.json" ] && \
        ! python -c "import libvirt" 2>/dev/null; then
    pip_step "$VENV" "libvirt-python (the host-agent extra)" \
        'libvirt-python>=9.0.0'
    python -c "import libvirt" 2>/dev/null \
        || echo "warning: libvirt-python did not build; the libvirt tests skip" >&2
fi

echo "==> ruff"
ruff check .

say_seed
echo "==> pytest"
# the hardening cases' outcomes and records (tests/hardening.py)
export WA_HARDENING_LOG="$WA_STATE_DIR/hardening.jsonl"
rm -f "$WA_HARDENING_LOG"
set +e
python -m pytest -q -p no:cacheprovider --timeout=900 --durations=15 \
    "${seed_args[@]}" "$@"
rc=$?
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

#!/usr/bin/env bash
# The whole test suite on a fresh machine: creates .venv-test, installs the
# package with its test requirements, installs the system packages and
# starts the local services the functional tests need (tools/services/),
# runs the linter, the type checker and the layer contracts, then pytest,
# and stops what it started.
#   bash tools/run-tests.sh [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
# shellcheck source=tools/venv.sh
. tools/venv.sh
VENV=${WATCHER_ADAPTIVE_TEST_VENV:-.venv-test}
ensure_venv "$VENV" requirements.txt test-requirements.txt
export PATH="$PWD/$VENV/bin:$PATH"
export WA_STATE_DIR=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}
mkdir -p "$WA_STATE_DIR"

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
for script in "${services[@]}"; do
    echo "==> $script up"
    bash "$script" up
done

# the host agent's libvirt-python builds against libvirt-dev, which the
# libvirt hosts' service script installs: add it once that is there
if [ -s "$WA_STATE_DIR/libvirt/hosts.json" ] && \
        ! python -c "import libvirt" 2>/dev/null; then
    echo "==> libvirt-python (the host-agent extra) into $VENV"
    python -m pip install -q --disable-pip-version-check \
        'libvirt-python>=9.0.0' \
        || echo "warning: libvirt-python did not build; the libvirt tests skip" >&2
fi

echo "==> ruff"
ruff check .

# the cores and the hint contract typed strictly, the layers kept (both
# configured in pyproject.toml / setup.cfg; a few seconds each)
echo "==> mypy --strict (cores, hint contract)"
mypy
echo "==> lint-imports (layer contracts)"
lint-imports --no-cache

echo "==> pytest"
# the hardening cases' outcomes and records (tests/hardening.py)
export WA_HARDENING_LOG="$WA_STATE_DIR/hardening.jsonl"
rm -f "$WA_HARDENING_LOG"
set +e
python -m pytest -q -p no:cacheprovider --timeout=900 "$@"
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

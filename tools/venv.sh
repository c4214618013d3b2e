# shellcheck shell=bash
# Shared by run-main.sh and run-tests.sh: create (or reuse) a virtualenv
# and install the requirement files into it.  Reuse is keyed on a hash of
# the files, so a second run with nothing changed installs nothing.
#   ensure_venv DIR REQUIREMENT_FILE...
ensure_venv() {
    local dir=$1; shift
    local python=${PYTHON:-python3}
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; install Python 3.10 or newer" >&2
        return 1
    fi
    if [ ! -x "$dir/bin/python" ]; then
        echo "==> creating virtualenv $dir"
        if ! "$python" -m venv "$dir"; then
            echo "error: '$python -m venv' failed; on Debian/Ubuntu install" \
                 "python3-venv (apt-get install python3-venv)" >&2
            return 1
        fi
    fi
    local stamp="$dir/.stamp-requirements"
    local want
    want=$(cat "$@" setup.cfg | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "==> virtualenv $dir is up to date"
        return 0
    fi
    echo "==> installing requirements into $dir (first run: a few minutes)"
    local args=()
    for req in "$@"; do args+=(-r "$req"); done
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        -U pip 2>&1 | grep -v "^WARNING: Location" || true
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        "${args[@]}" 2>&1 | grep -v "^WARNING: Location" || true
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
    # pip's own exit status is hidden by the filter: check the result
    "$dir/bin/python" -c "import watcher_adaptive, numpy, pandas, sklearn" \
        || { echo "error: installation into $dir failed" >&2; return 1; }
    echo "$want" > "$stamp"
}

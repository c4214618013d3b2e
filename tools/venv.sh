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
    echo "==> installing into $dir (first run: a few minutes; pip's" \
         "output goes to $dir/pip.log)"
    local args=()
    for req in "$@"; do args+=(-r "$req"); done
    : > "$dir/pip.log"
    pip_step "$dir" "pip (upgrade)" -U pip
    pip_step "$dir" "the requirements in $*" "${args[@]}"
    pip_step "$dir" "watcher-adaptive itself (editable, no deps)" \
        --no-deps -e .
    # a step that failed said so: what counts is that all of it imports
    "$dir/bin/python" -c "import watcher_adaptive, numpy, pandas, sklearn" \
        || { echo "error: installation into $dir failed; the end of" \
                  "$dir/pip.log:" >&2
             tail -n 40 "$dir/pip.log" >&2; return 1; }
    echo "$want" > "$stamp"
}

# pip_step DIR WHAT PIP_ARGS...: one line saying what is installed; pip's
# own output (builds' setuptools deprecation warnings: a hundred lines
# and more on a first install) goes to DIR/pip.log, shown when it fails
pip_step() {
    local dir=$1 what=$2; shift 2
    local t0=$SECONDS
    printf '    %s ... ' "$what"
    if "$dir/bin/python" -m pip install -q --disable-pip-version-check \
            "$@" >>"$dir/pip.log" 2>&1; then
        echo "done ($(( SECONDS - t0 )) s)"
    else
        echo "FAILED (see $dir/pip.log)"
        tail -n 20 "$dir/pip.log" >&2
    fi
}

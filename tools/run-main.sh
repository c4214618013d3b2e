#!/usr/bin/env bash
# The main job: replay the embedded default traces under the baseline and
# Watcher strategies and write the report (results.json, report.html,
# plots) to the directory given (default: report/).  Needs only python3.
#   bash tools/run-main.sh [OUTPUT_DIR] [extra simulate options...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/venv.sh
. tools/venv.sh
VENV=${WATCHER_ADAPTIVE_VENV:-.venv}
ensure_venv "$VENV" requirements.txt
out=${1:-report}
[ $# -gt 0 ] && shift
exec "$VENV/bin/watcher-adaptive" simulate --output "$out" "$@"

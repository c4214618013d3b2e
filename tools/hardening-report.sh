#!/usr/bin/env bash
# The hardening report: starts the real services like the test command,
# runs every test marked 'hardening' (faults, load and hostile input of
# tests/hardening.py) and writes doc/source/admin/hardening-report.rst.
# Exits non-zero unless every case was proven.
#   bash tools/hardening-report.sh [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
export WA_HARDENING_REPORT=${WA_HARDENING_REPORT:-doc/source/admin/hardening-report.rst}
export WA_HARDENING_STRICT=1
exec bash tools/run-tests.sh -m hardening "$@"

#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up both environments, run the backend's
# tests in the backend environment and the add-on's tests in Blender's.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh all || exit 1
export LATENTDREAMER_BACKEND_PYTHON="$root/.venv-backend/bin/python"
status=0
.venv-backend/bin/python -m pytest tests/backend "$@" || status=$?
if [ -d tests/addon ] && ls tests/addon/test_*.py >/dev/null 2>&1; then
  .venv-blender/bin/python -m pytest tests/addon "$@"; s=$?
  # pytest exits 5 when it collected nothing; that is not a failure of the suite.
  [ $s -eq 5 ] && s=0
  [ $status -eq 5 ] && status=0
  [ $s -ne 0 ] && status=$s
fi
[ $status -eq 5 ] && status=0
exit $status

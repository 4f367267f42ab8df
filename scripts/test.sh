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
# The add-on's tests run in Blender's own Python: 4.2 LTS (the manifest's minimum), 4.5 LTS
# and 5.2 LTS (the current release). Each runs the installed-zip end-to-end test.
for venv in .venv-blender42 .venv-blender .venv-blender52; do
  echo "== add-on tests with $($venv/bin/python -c 'import bpy; print("Blender", bpy.app.version_string)' 2>/dev/null)"
  $venv/bin/python -m pytest tests/addon "$@"; s=$?
  # pytest exits 5 when it collected nothing; that is not a failure of the suite.
  [ $s -ne 0 ] && [ $s -ne 5 ] && status=$s
done
[ $status -eq 5 ] && status=0
exit $status

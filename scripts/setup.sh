#!/usr/bin/env bash
# Idempotent set-up of the two environments the project runs in (as in real use):
#   .venv-backend  the PyTorch backend (numpy 2, torch, numba ...)
#   .venv-blender  Blender's side for tests: bpy 4.5 LTS (pins numpy < 2) and pytest
#   .venv-blender5 the same on Blender 5.0, so the add-on is checked on both
# Usage: scripts/setup.sh [backend|blender|all]   (default: backend)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-backend}"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || py=python3

# torch==2.13.0 is the CPU build; a GPU user sets LATENTDREAMER_TORCH to the CUDA build
# they want (e.g. "torch==2.13.0" with PIP_INDEX_URL pointing at a CUDA wheel index).
torch_spec="${LATENTDREAMER_TORCH:-torch==2.13.0}"

stamp_ok() { [ -f "$1/.ld-stamp" ] && [ "$(cat "$1/.ld-stamp")" = "$2" ]; }

if [ "$what" = backend ] || [ "$what" = all ]; then
  key="$(cat backend/pyproject.toml | sha256sum | cut -c1-16)-$torch_spec"
  if ! stamp_ok .venv-backend "$key"; then
    echo "== setting up .venv-backend"
    [ -x .venv-backend/bin/python ] || "$py" -m venv .venv-backend
    .venv-backend/bin/pip install -q --disable-pip-version-check "$torch_spec"
    .venv-backend/bin/pip install -q --disable-pip-version-check -e "backend[test,diffusion]"
    echo "$key" > .venv-backend/.ld-stamp
  fi
fi

setup_blender() {  # venv folder, bpy requirement
  if ! stamp_ok "$1" "$2"; then
    echo "== setting up $1"
    [ -x "$1/bin/python" ] || "$py" -m venv "$1"
    "$1/bin/pip" install -q --disable-pip-version-check "$2" "pytest>=8"
    echo "$2" > "$1/.ld-stamp"
  fi
}

if [ "$what" = blender ] || [ "$what" = all ]; then
  setup_blender .venv-blender "bpy==4.5.*"
  setup_blender .venv-blender5 "bpy==5.0.*"
fi

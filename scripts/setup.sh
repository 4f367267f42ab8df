#!/usr/bin/env bash
# Idempotent set-up of the two environments the project runs in (as in real use):
#   .venv-backend  the PyTorch backend (numpy 2, torch, numba ...)
#   .venv-blender42 Blender's side for tests on the manifest's minimum: bpy 4.2 LTS (pins numpy < 2)
#   .venv-blender   the same on bpy 4.5 LTS
#   .venv-blender52 the same on bpy 5.2 LTS, the current release (needs Python 3.13)
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
    .venv-backend/bin/pip install -q --disable-pip-version-check -e "backend[test,diffusion,segmentation,farm]"
    echo "$key" > .venv-backend/.ld-stamp
  fi
fi

setup_blender() {  # venv folder, bpy requirement, Python to build it with
  if ! stamp_ok "$1" "$2"; then
    echo "== setting up $1"
    [ -x "$1/bin/python" ] || "$3" -m venv "$1"
    "$1/bin/pip" install -q --disable-pip-version-check "$2" "pytest>=8"
    echo "$2" > "$1/.ld-stamp"
  fi
}

# bpy 5.2 is built for Python 3.13 only. pyenv's `python3.13` shim may refuse when 3.13 is
# not the selected version, so the interpreter itself is looked up under pyenv's versions/.
find_py313() {
  [ -n "${PYTHON313:-}" ] && { echo "$PYTHON313"; return; }
  for cand in "$(command -v pyenv >/dev/null && pyenv root)"/versions/3.13*/bin/python3.13 \
              "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    [ -x "$cand" ] && "$cand" -c 'import sys' 2>/dev/null && { echo "$cand"; return; }
  done
  echo ""
}

if [ "$what" = blender ] || [ "$what" = all ]; then
  setup_blender .venv-blender42 "bpy==4.2.*" "$py"
  setup_blender .venv-blender "bpy==4.5.*" "$py"
  py313="$(find_py313)"
  if [ -z "$py313" ]; then
    echo "error: bpy 5.2 needs Python 3.13 (set PYTHON313 to its interpreter)" >&2
    exit 1
  fi
  setup_blender .venv-blender52 "bpy==5.2.*" "$py313"
fi

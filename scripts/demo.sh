#!/usr/bin/env bash
# The main job on a fresh machine: set up the backend environment, then run the demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" backend
exec "$root/.venv-backend/bin/latentdreamer" demo --out "${1:-$root/out/demo}"

#!/usr/bin/env bash
# CUDA readiness on a machine with an NVIDIA GPU, in one prepared run (under 8 minutes):
#   1. the tests that have CUDA paths (they skip on a CPU-only machine);
#   2. benchmarks/gpu_check.py: CUDA against the CPU for the rasteriser's torch path,
#      nvdiffrast when importable, FlexiCubes, SAE decode and a whole tiny generation; every
#      preset timed on CUDA; the tiny Zero123++ sampler in fp16 with its peak memory.
# The report is written to $OUT/gpu_check.md when OUT is set (the device tool's folder),
# else to docs/gpu_check.md; commit it with the date and the GPU it names.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="${LATENTDREAMER_PYTHON:-$root/.venv-backend/bin/python}"
[ -x "$py" ] || { scripts/setup.sh backend >&2 || exit 1; }
report="${OUT:+$OUT/gpu_check.md}"
report="${report:-docs/gpu_check.md}"
"$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)' ||
  { echo "no CUDA GPU visible to torch ($("$py" -c 'import torch; print(torch.__version__)')): nothing to check" >&2; exit 3; }
nvidia-smi -L || true
status=0
echo "== tests with CUDA paths"
timeout 240 "$py" -m pytest -q tests/backend/test_device.py tests/backend/render tests/backend/geometry/flexicubes \
  tests/backend/worker/test_execute.py tests/backend/worker/test_end_to_end.py -k "not slow" || status=$?
echo "== gpu_check.py"
timeout 300 "$py" benchmarks/gpu_check.py --device cuda --out "$report" || status=$?
echo "report: $report"
exit $status
